"""Logging: plain or JSON lines, UTC timestamps, and no personal data from libraries.

One handler on the root logger formats every record of the process (ours, Flask's,
libraries'); gunicorn's own loggers get the same formatters (see `gunicorn_logconfig`).
Database errors quote the rows they failed on (PostgreSQL's DETAIL, SQLAlchemy's
`[parameters: ...]`), which hold phone numbers and SMS text: the engine hides its
parameters (config.py, `hide_parameters`) and the formatters print a database error as
its class, first line and SQL only. Phone numbers left in any message are masked.
"""

import json
import logging
import re
import time
import traceback

from flask.logging import default_handler
from sqlalchemy.exc import StatementError

# E.164 ("+526641234567") or a bare run of 10 to 15 digits ("6641234567").
_PHONE = re.compile(r"(?<![\w+])\+?\d{10,15}(?!\w)")
_QUOTED = re.compile(r'"[^"]*"')
_DIAG_FIELDS = ("sqlstate", "table_name", "column_name", "constraint_name")
# PostgreSQL's secondary fields quote row values ("Failing row contains (...)"); other
# errors repeat them (SQLAlchemy's PendingRollbackError: "Original exception was: ...").
_PG_DETAILS = re.compile(
    r"\n(?:DETAIL|HINT|CONTEXT|WHERE):.*?(?=\n\[SQL|\n\(Background|\Z)", re.DOTALL
)


def redact(text: str) -> str:
    """`text` with anything that looks like a phone number masked."""
    return _PHONE.sub("[phone]", text)


def _database_error_text(error: BaseException) -> str | None:
    """What may be logged of a database error: never the values of the rows it quotes."""
    if isinstance(error, StatementError):
        orig = error.orig
        text = "StatementError"
        if orig is not None:  # a driver error, or a Python one raised binding a value
            text = f"({type(orig).__module__}.{type(orig).__qualname__}) " + (
                _database_error_text(orig) or ""
            )
        return f"{text.rstrip()}\n[SQL: {error.statement}]" if error.statement else text
    diag = getattr(error, "diag", None)
    if diag is not None and hasattr(diag, "message_primary"):  # psycopg (PostgreSQL)
        # The primary message may quote a value ('invalid input syntax ... "abc"'); the
        # names of the table, column and constraint are given apart.
        primary = _QUOTED.sub('"…"', diag.message_primary or str(error).split("\n", 1)[0])
        fields = [
            f"{name}={getattr(diag, name, None) or getattr(error, name, None)}"
            for name in _DIAG_FIELDS
            if getattr(diag, name, None) or getattr(error, name, None)
        ]
        return f"{primary} [{', '.join(fields)}]" if fields else primary
    if type(error).__module__ == "sqlite3":  # schema names only ("UNIQUE constraint failed")
        return str(error).split("\n", 1)[0]
    return None


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost last (the order tracebacks print them)."""
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return chain[::-1]


def format_exception_safely(error: BaseException) -> str:
    """A traceback (frames and exception types) with database errors reduced to
    `_database_error_text` and phone numbers masked."""
    parts = []
    for index, item in enumerate(_chain(error)):
        if index:
            parts.append(_CAUSE if item.__cause__ is not None else _CONTEXT)
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(item.__traceback__))
        message = _database_error_text(item)
        if message is None:
            message = _PG_DETAILS.sub("", str(item))
        name = type(item).__qualname__
        module = type(item).__module__
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        parts.append(f"{name}: {message}" if message else name)
    return redact("".join(parts).rstrip("\n"))


class UTCFormatter(logging.Formatter):
    """Plain lines with UTC timestamps; exceptions and messages without personal data."""

    converter = time.gmtime

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging API name)
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + (
            f".{int(record.msecs):03d}Z"
        )

    def formatException(self, ei):  # noqa: N802 (logging API name)
        return format_exception_safely(ei[1]) if ei and ei[1] is not None else ""

    def format(self, record):
        # Never reuse `record.exc_text`: another handler may have cached the unsafe one.
        record.message = redact(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + redact(self.formatStack(record.stack_info))
        return text


class JSONFormatter(UTCFormatter):
    """One JSON object per record, on one line."""

    def format(self, record):
        data = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if getattr(record, "security_event", None):
            data["event"] = record.security_event
            data.update({k: v for k, v in record.fields.items() if v is not None})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(data, ensure_ascii=False, default=str)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def make_formatter(json_lines: bool) -> logging.Formatter:
    return JSONFormatter() if json_lines else UTCFormatter(PLAIN_FORMAT)


def configure_logging(app) -> None:
    """Route every logger of the process through one root handler in the configured format
    (idempotent: a later app in the same process updates the format)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_alcance", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._alcance = True
        root.addHandler(handler)
    handler.setFormatter(make_formatter(app.config["LOG_JSON"]))
    # Flask adds its own plain-text handler when none is found above its logger.
    app.logger.removeHandler(default_handler)
    logging.getLogger("alcance").setLevel(logging.INFO)
    # The Twilio SDK logs full request bodies (phone numbers, message text) at INFO/DEBUG.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)


def gunicorn_logconfig(*, json_lines: bool) -> dict:
    """gunicorn's `logconfig_dict`: its error and access logs in our formats. The root
    logger is left to the application (`configure_logging`), so no line is written twice."""
    if json_lines:
        formatters = {
            "error": {"()": "app.logging_setup.JSONFormatter"},
            "access": {"()": "app.logging_setup.JSONFormatter"},
        }
    else:  # gunicorn's own plain layouts (the access line is the message alone)
        formatters = {
            "error": {
                "()": "app.logging_setup.UTCFormatter",
                "fmt": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            },
            "access": {"()": "app.logging_setup.UTCFormatter", "fmt": "%(message)s"},
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": {
                "level": "INFO",
                "handlers": ["error_console"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
            "gunicorn.access": {
                "level": "INFO",
                "handlers": ["console"],
                "propagate": False,
                "qualname": "gunicorn.access",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "error",
                "stream": "ext://sys.stderr",
            },
        },
        "formatters": formatters,
    }
