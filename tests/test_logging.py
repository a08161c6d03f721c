"""Logs carry no personal data and, with LOG_JSON=1, every line is one JSON object.

A faulty run (database errors whose statements carry a phone number and an SMS text, an
unhandled error in a request, a logged exception quoting a number) is logged through every
handler of the process; the output is scanned for the phone, the name and the text.
"""

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError, PendingRollbackError

from app import create_app
from app.contacts.models import Contact
from app.extensions import db
from app.logging_setup import JSONFormatter, configure_logging
from app.outbox.models import InboundMessage, OutboxMessage
from tests.factories import make_contact

ROOT = Path(__file__).resolve().parent.parent
PHONE = "+526641239876"
NAME = "Rel7"
BODY = "Soy Rel7, mi otro cel es 664 555 0199"
SECRETS = (PHONE, PHONE[3:], NAME, "mi otro cel", "555 0199")


def process_handlers():
    """Every handler of every logger, except pytest's own capture handlers."""
    loggers = [logging.getLogger()] + [
        log for log in logging.root.manager.loggerDict.values() if isinstance(log, logging.Logger)
    ]
    return [
        (log, h)
        for log in loggers
        for h in log.handlers
        if not type(h).__module__.startswith("_pytest") and not isinstance(h, logging.NullHandler)
    ]  # libraries' "no output" default


@pytest.fixture
def json_logs(app):
    """LOG_JSON=1, and the output of every stream handler in the process."""
    app.config["LOG_JSON"] = True
    configure_logging(app)
    buffers, saved = [], []
    for _log, handler in process_handlers():
        if isinstance(handler, logging.StreamHandler):
            buffer = io.StringIO()
            saved.append((handler, handler.setStream(buffer)))
            buffers.append(buffer)
    yield lambda: "".join(b.getvalue() for b in buffers)
    for handler, stream in saved:
        handler.setStream(stream)
    app.config["LOG_JSON"] = False
    configure_logging(app)


def fail_and_log(statement, params=None) -> None:
    try:
        db.session.execute(statement, params or {})
        db.session.flush()
    except (DBAPIError, PendingRollbackError):
        logging.getLogger("alcance.outreach").exception("send failed unexpectedly outbox_id=7")
    db.session.rollback()


def test_a_faulty_run_logs_json_lines_without_personal_data(app, client, make_org, json_logs):
    org = make_org()
    contact = make_contact(org, phone=PHONE, first_name=NAME)
    org_id, contact_id = org.id, contact.id
    db.session.add(
        InboundMessage(
            organization_id=org_id,
            contact_id=contact_id,
            body=BODY,
            twilio_sid="SM" + "1" * 32,
            intent="other",
        )
    )
    db.session.commit()

    # A duplicate SID (two webhook deliveries racing) with the reply's text.
    fail_and_log(
        insert(InboundMessage).values(
            organization_id=org_id,
            contact_id=contact_id,
            body=BODY,
            twilio_sid="SM" + "1" * 32,
            intent="other",
        )
    )
    # A duplicate phone, and a message row missing a column (PostgreSQL quotes whole rows).
    fail_and_log(
        insert(Contact).values(
            organization_id=org_id,
            phone=PHONE,
            first_name=NAME,
            country="MX",
            timezone="America/Tijuana",
        )
    )
    fail_and_log(
        insert(OutboxMessage).values(
            organization_id=org_id,
            contact_id=contact_id,
            body=f"Hola {NAME}, {BODY}",
            language=None,
            due_at=db.func.now(),
        )
    )
    # A session used again after a failed flush quotes the original error.
    db.session.add(
        OutboxMessage(
            organization_id=org_id,
            contact_id=contact_id,
            language=None,
            body=f"Hola {NAME}, {BODY}",
            due_at=db.func.now(),
        )
    )
    with contextlib.suppress(DBAPIError):
        db.session.flush()
    fail_and_log(text("SELECT 1"))
    if db.engine.dialect.name == "postgresql":
        # A dropped connection in the middle of a statement carrying the text.
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        fail_and_log(text("SELECT :body"), {"body": BODY})

    # An unhandled error in a request: Flask logs it with its traceback.
    @app.post("/boom")
    def boom():
        db.session.execute(
            insert(Contact).values(
                organization_id=org_id,
                phone=PHONE,
                first_name=NAME,
                country="MX",
                timezone="America/Tijuana",
            )
        )
        return "unreachable"

    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/boom").status_code == 500
    db.session.rollback()

    # A provider error quoting the number.
    try:
        raise RuntimeError(f"The 'To' number {PHONE} is not a valid phone number.")
    except RuntimeError:
        logging.getLogger("alcance.messaging.twilio").exception("send to %s failed", PHONE)

    output = json_logs()
    lines = output.splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert sum(1 for r in records if "IntegrityError" in r.get("exc", "")) >= 3
    assert any(r["logger"] == "app" and "/boom" in r["msg"] for r in records)
    assert any("RuntimeError" in r.get("exc", "") for r in records)
    assert any("PendingRollbackError" in r.get("exc", "") for r in records)
    for secret in SECRETS:
        assert secret not in output, secret


def test_every_handler_formats_json_and_flask_adds_none_of_its_own(app, json_logs):
    app.logger.error("touch the Flask logger")
    for log, handler in process_handlers():
        assert isinstance(handler.formatter, JSONFormatter), (log.name, handler)
    assert any(isinstance(h.formatter, JSONFormatter) for h in logging.getLogger().handlers)
    assert not app.logger.handlers  # Flask's own (plain text) handler is not installed


def test_the_engine_hides_statement_parameters(app):
    assert db.engine.hide_parameters


def test_create_app_with_log_json_formats_every_line_as_json(test_config):
    class JsonConfig(test_config):
        LOG_JSON = True

    try:
        create_app(JsonConfig)
        ours = [h for h in logging.getLogger().handlers if getattr(h, "_alcance", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JSONFormatter)
    finally:
        create_app(test_config)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_alcance", False)]
    assert len(ours) == 1 and not isinstance(ours[0].formatter, JSONFormatter)


GUNICORN = f"""
import logging
from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.glogging import Logger

sys_argv = ["gunicorn", "-c", "python:app.gunicorn_conf", "wsgi:app"]
import sys
sys.argv = sys_argv
application = WSGIApplication()
log = Logger(application.cfg)
log.info("Booting worker with pid: %s", 42)
try:
    raise RuntimeError("could not send to {PHONE}")
except RuntimeError:
    log.exception("Error handling request /webhooks/twilio/inbound")
"""


def test_gunicorn_error_log_is_json_without_phone_numbers():
    env = dict(os.environ, LOG_JSON="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", GUNICORN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["logger"] for r in records] == ["gunicorn.error", "gunicorn.error"]
    assert "RuntimeError" in records[1]["exc"]
    assert PHONE not in done.stderr
