"""Signed webhooks are never lost to database errors (issue 12, item 11): dropped
connections are retried, and while the database stays unreachable the signed request is
kept in a durable local spool that is replayed, in order and once, when it is back."""

import json
import os
import stat
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import OperationalError

from app.contacts.models import Contact
from app.extensions import db
from app.outbox import spool
from app.outbox.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from tests.factories import make_contact, make_outbox_row
from tests.support import NOW
from tests.webhooks.signing import (
    INBOUND_URL,
    STATUS_URL,
    TOKEN,
    inbound_params,
    post,
    status_params,
)

SID = "SM" + "5" * 32


@pytest.fixture(autouse=True)
def webhook_setup(app, tmp_path, monkeypatch):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    app.config["INBOUND_SPOOL_DIR"] = str(tmp_path / "spool")
    monkeypatch.setattr(spool, "RETRY_PAUSES", (0, 0))  # keep the retries, skip the waits


@pytest.fixture
def spool_file(app):
    return spool.spool_dir() / spool.SPOOL_NAME


def spooled(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Database:
    """Makes every statement fail as an unreachable server would (`fail` times, or until
    `up()`), whatever the dialect."""

    def __init__(self, engine):
        self.engine, self.remaining, self.failures = engine, 0, 0

    def _fail(self, *args, **kwargs):
        if self.remaining:
            self.remaining -= 1
            self.failures += 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    def down(self, times=10**9):
        self.remaining = times
        event.listen(self.engine, "before_cursor_execute", self._fail)

    def up(self):
        self.remaining = 0
        if event.contains(self.engine, "before_cursor_execute", self._fail):
            event.remove(self.engine, "before_cursor_execute", self._fail)


@pytest.fixture
def database(app):
    database = Database(db.engine)
    yield database
    database.up()


@pytest.fixture
def contact(make_org):
    contact = make_contact(make_org())
    make_outbox_row(contact, body="Campaña", due_at=NOW + timedelta(days=1))
    db.session.refresh(contact)  # tests read contact.phone while the database is down
    return contact


def inbound_count() -> int:
    db.session.expire_all()
    return db.session.query(InboundMessage).count()


def opted_out_at(contact):
    db.session.expire_all()
    return db.session.get(Contact, contact.id).opted_out_at


def test_an_unreachable_database_spools_the_request_and_the_replay_stores_it_once(
    client, contact, database, spool_file
):
    database.down()
    response = post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA", SID))
    assert response.status_code == 200
    assert "<Response></Response>" in response.get_data(as_text=True)
    assert database.failures == 1 + len(spool.RETRY_PAUSES)  # tried, retried, then spooled
    database.up()

    [entry] = spooled(spool_file)
    assert entry["kind"] == "inbound"
    assert entry["fields"] == {
        "MessageSid": SID,
        "From": contact.phone,
        "To": "+15005550006",
        "Body": "BAJA",
        "MessagingServiceSid": "",
    }
    assert stat.S_IMODE(os.stat(spool_file).st_mode) == 0o600  # phone numbers and bodies
    assert inbound_count() == 0 and opted_out_at(contact) is None

    assert spool.drain() == 1
    received = datetime.fromisoformat(entry["received_at"])
    assert inbound_count() == 1 and opted_out_at(contact) == received
    assert spooled(spool_file) == []
    assert spool.drain() == 0

    # A crash between storing and truncating replays it again: still stored once.
    spool.append(entry)
    assert spool.drain() == 1
    assert inbound_count() == 1
    assert db.session.query(OutboxMessage).filter_by(purpose="system").count() == 1
    # And the same webhook again (same MessageSid) is a duplicate, answered 200.
    again = post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA", SID))
    assert again.status_code == 200 and inbound_count() == 1


def test_dropped_connections_are_retried_before_anything_is_spooled(
    client, contact, database, spool_file
):
    database.down(times=len(spool.RETRY_PAUSES))  # the last attempt gets through
    assert post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA", SID)).status_code == 200
    assert inbound_count() == 1 and opted_out_at(contact) is not None
    assert not spool_file.exists()


def test_replay_keeps_arrival_order_and_waits_while_the_database_is_down(
    client, contact, database, spool_file
):
    phone = contact.phone
    database.down()
    for n, body in enumerate(("BAJA", "ALTA")):
        sid = f"SM{n:032d}"
        response = post(client, INBOUND_URL, inbound_params(phone, body, sid))
        assert response.status_code == 200
    assert spool.drain() == 0  # still down: nothing lost, nothing reordered
    assert [e["fields"]["Body"] for e in spooled(spool_file)] == ["BAJA", "ALTA"]
    database.up()

    assert spool.drain() == 2
    assert opted_out_at(contact) is None  # opted out, then back in: the order they were sent
    kinds = db.session.scalars(
        select(ParticipationEvent.kind).order_by(ParticipationEvent.id)
    ).all()
    assert kinds == ["opt_out", "opt_in"]


def test_new_webhooks_queue_behind_spooled_ones_and_drain_them(
    client, contact, database, spool_file
):
    database.down()
    post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA", "SM" + "1" * 32))
    database.up()
    # The database is back: this request appends itself behind the spooled STOP, then
    # replays both in order (so a START is never overtaken by the STOP sent before it).
    assert (
        post(
            client, INBOUND_URL, inbound_params(contact.phone, "ALTA", "SM" + "2" * 32)
        ).status_code
        == 200
    )
    assert spooled(spool_file) == []
    assert inbound_count() == 2 and opted_out_at(contact) is None


def test_a_spooled_status_callback_is_replayed(client, contact, database, spool_file):
    row = OutboxMessage(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        language="es",
        body="Hola",
        due_at=NOW,
        status="sent",
        sent_at=NOW,
        twilio_sid=SID,
    )
    db.session.add(row)
    db.session.commit()
    database.down()
    assert post(client, STATUS_URL, status_params(SID, "undelivered", "30003")).status_code == 204
    database.up()
    assert [e["kind"] for e in spooled(spool_file)] == ["status"]
    assert spool.drain() == 1
    db.session.refresh(row)
    assert (row.status, row.error_code) == ("undelivered", "30003")


def test_an_entry_that_cannot_be_processed_is_set_aside_not_retried_forever(
    contact, spool_file, caplog
):
    spool.append({"v": 1, "kind": "bogus", "received_at": NOW.isoformat(), "fields": {}})
    spool.append(
        {
            "v": 1,
            "kind": "inbound",
            "received_at": NOW.isoformat(),
            "fields": {
                "MessageSid": SID,
                "From": contact.phone,
                "To": "",
                "Body": "hola",
                "MessagingServiceSid": "",
            },
        }
    )
    assert spool.drain() == 2
    assert inbound_count() == 1 and spooled(spool_file) == []
    failed = spool.spool_dir() / spool.FAILED_NAME
    assert [e["kind"] for e in spooled(failed)] == ["bogus"]
    assert stat.S_IMODE(os.stat(failed).st_mode) == 0o600
    assert "set aside" in caplog.text


def test_when_even_the_spool_cannot_be_written_the_answer_is_500(
    app, client, contact, database, tmp_path
):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    app.config["INBOUND_SPOOL_DIR"] = str(not_a_directory)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    database.down()
    response = post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA", SID))
    assert response.status_code == 500  # never a 200 for a message that was not kept


def test_the_spool_is_private_whatever_the_umask(contact, spool_file):
    previous = os.umask(0)
    try:
        spool.append({"v": 1, "kind": "inbound", "received_at": NOW.isoformat(), "fields": {}})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(spool_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(spool_file.parent).st_mode) == 0o700


def test_logs_name_no_phone_and_no_body(client, contact, database, caplog):
    caplog.set_level("DEBUG")
    database.down()
    post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA por favor", SID))
    database.up()
    spool.drain()
    assert "spooled" in caplog.text
    assert contact.phone not in caplog.text and contact.phone[1:] not in caplog.text
    assert "por favor" not in caplog.text


def test_the_worker_replays_the_spool_before_sending(app, client, contact, database):
    from tests.outreach.helpers import make_worker
    from tests.support import Clock

    database.down()
    post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA", SID))
    database.up()
    worker = make_worker(app, Clock(NOW))
    try:
        worker.maintenance()
    finally:
        worker.close()
    assert inbound_count() == 1 and opted_out_at(contact) is not None


# -- PostgreSQL: real dropped connections ---------------------------------------------------
@pytest.fixture
def admin_engine(postgres_only, test_config):
    engine = create_engine(test_config.SQLALCHEMY_DATABASE_URI, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def terminate(admin_engine, pid=None) -> int:
    """pg_terminate_backend, waiting until the backend is gone (PostgreSQL 14+)."""
    with admin_engine.connect() as conn:
        if pid is not None:
            return int(
                conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
            )
        return len(
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        )


def test_a_connection_terminated_in_the_middle_of_a_request_is_retried(
    app, client, contact, admin_engine, spool_file
):
    """The connection dies after the request's first statement: the transaction is
    retried on a new connection and the message is stored, not answered with a 500."""
    killed = []

    def kill_once(conn, cursor, statement, parameters, context, executemany):
        if not killed and "inbound_messages" in statement:
            pid = conn.connection.dbapi_connection.info.backend_pid
            killed.append(terminate(admin_engine, pid))

    event.listen(db.engine, "before_cursor_execute", kill_once)
    try:
        response = post(client, INBOUND_URL, inbound_params(contact.phone, "BAJA", SID))
    finally:
        event.remove(db.engine, "before_cursor_execute", kill_once)
    assert killed == [1]
    assert response.status_code == 200
    assert inbound_count() == 1 and opted_out_at(contact) is not None
    assert not spool_file.exists()


def test_connections_terminated_between_requests_lose_nothing(
    client, make_org, admin_engine, spool_file
):
    org = make_org()
    phones = [make_contact(org).phone for _ in range(8)]
    for n, phone in enumerate(phones):
        assert terminate(admin_engine) >= 1  # every connection of the app, as in the report
        response = post(client, INBOUND_URL, inbound_params(phone, "hola", f"SM{n:032d}"))
        assert response.status_code == 200
    assert inbound_count() == 8 and not spool_file.exists()


def test_several_replayers_process_each_entry_once(
    app, client, make_org, database, spool_file, postgres_only
):
    org = make_org()
    phones = [make_contact(org).phone for _ in range(20)]
    database.down()
    for n, phone in enumerate(phones):
        post(client, INBOUND_URL, inbound_params(phone, "hola", f"SM{n:032d}"))
    database.up()
    assert len(spooled(spool_file)) == 20
    counts, errors, barrier = [], [], threading.Barrier(4)

    def replay():
        with app.app_context():
            try:
                barrier.wait()
                counts.append(spool.drain())
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=replay) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(counts) == 20  # each entry replayed by exactly one of them
    assert inbound_count() == 20 and spooled(spool_file) == []
