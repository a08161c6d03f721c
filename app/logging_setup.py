"""Logging: plain or JSON lines, UTC timestamps, and no personal data from libraries."""
import json
import logging
import time


class UTCFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging API name)
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + (
            ".%03dZ" % record.msecs
        )


class JSONFormatter(UTCFormatter):
    def format(self, record):
        data = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if getattr(record, "security_event", None):
            data["event"] = record.security_event
            data.update({k: v for k, v in record.fields.items() if v is not None})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(app) -> None:
    handler = logging.StreamHandler()
    if app.config["LOG_JSON"]:
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(UTCFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("alcance")
    if not any(getattr(h, "_alcance", False) for h in root.handlers):
        handler._alcance = True
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The Twilio SDK logs full request bodies (phone numbers, message text) at INFO/DEBUG.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)
