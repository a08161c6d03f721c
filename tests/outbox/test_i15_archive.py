"""The outbox archive (issue 15; app/outbox/archive.py): on PostgreSQL old, finished
messages move out of the live table, every reader still sees them unchanged, the status
counters stay exact through later callbacks, erasure and cascades, a fan-out never
re-creates an archived message, and a move never runs inside a fan-out. SQLite has no
archive."""

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, func, select, text

from app import create_app
from app.campaigns.models import Campaign
from app.contacts.models import Contact
from app.contacts.services import erase_contact
from app.extensions import db
from app.links.models import TrackedLink
from app.messaging.fake import FakeSmsGateway
from app.messaging.gateway import OutcomeUnknownSmsError
from app.outbox import api
from app.outbox.archive import (
    ARCHIVE_LOCK,
    _references,
    archive_outbox,
    archived_count,
    hold_archive_shared,
)
from app.outbox.models import ARCHIVE, EarlyStatusCallback, OutboxMessage
from app.outbox.status import apply_early_callbacks, apply_status_callback
from app.outreach.fanout import fan_out
from app.outreach.models import OutreachSend
from tests.factories import make_contact, make_outbox_row
from tests.outbox.test_i15_counters import DUE, SCHEDULED_AT, assert_exact_and_fold, run_worker
from tests.outreach.helpers import schedule_once
from tests.support import ON_POSTGRES, Clock

M = OutboxMessage
LATER = DUE + timedelta(days=200)  # more than 6 × 30 days after the send
COLUMNS = [c.name for c in M.__table__.columns]

postgres = pytest.mark.skipif(not ON_POSTGRES, reason="the archive is PostgreSQL's")


def every_row() -> dict:
    """{id: every column} of the outbox as readers see it (the archive included)."""
    db.session.expire_all()
    return {
        row.id: {name: getattr(row, name) for name in COLUMNS}
        for row in db.session.scalars(select(M))
    }


def archived_ids() -> set[int]:
    return set(db.session.scalars(text(f"SELECT id FROM ONLY {ARCHIVE}")))


def live_ids() -> set[int]:
    return set(db.session.scalars(text("SELECT id FROM ONLY outbox_messages")))


def sent_send(app, org, contacts: int, *, unknown: int = 0):
    """A one-off send to every contact of `org`, sent by the real worker at DUE; the first
    `unknown` messages get no answer from the provider. Returns (send, gateway)."""
    for _ in range(contacts):
        make_contact(org)
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    for _ in range(unknown):
        gateway.fail_next(OutcomeUnknownSmsError("500"), sent=True)
    run_worker(app, clock, gateway)
    return send, gateway


@postgres
def test_only_old_finished_unreferenced_rows_move_and_readers_see_no_change(app, make_org):
    org = make_org()
    send, gateway = sent_send(app, org, 6, unknown=1)
    rows = {r.twilio_sid: r for r in db.session.scalars(select(M).where(M.send_id == send.id))}
    sids = [s.sid for s in gateway.sent if s.sid in rows]  # the unknown one has none
    assert len(sids) == 5
    apply_status_callback(sids[1], "delivered", None, now=DUE)
    apply_status_callback(sids[2], "undelivered", "30003", now=DUE)
    unknown = db.session.scalar(select(M).where(M.send_id == send.id, M.status == "unknown"))
    linked = rows[sids[3]]
    db.session.add(
        TrackedLink(
            organization_id=org.id,
            code=uuid.uuid4().hex[:12],
            outbox_id=linked.id,
            contact_id=linked.contact_id,
            campaign_id=linked.campaign_id,
            destination="https://example.org/ayuda",
            expires_at=DUE + timedelta(days=90),
        )
    )
    db.session.commit()
    contact = db.session.get(Contact, linked.contact_id)
    old = DUE - timedelta(days=10)
    original = make_outbox_row(
        contact, channel="whatsapp", status="failed", due_at=old, final_at=old, error_code="63016"
    )
    fallback = make_outbox_row(
        contact, status="delivered", due_at=old, final_at=old, fallback_of_id=original.id
    )
    held = make_outbox_row(contact, status="held", due_at=old)
    recent = make_outbox_row(contact, status="delivered", due_at=LATER - timedelta(days=30))
    reply = make_outbox_row(contact, purpose="system", status="sent", due_at=old, sent_at=old)
    before = every_row()

    # The worker's task moves a few batches a run (max_batches); the CLI moves everything.
    assert archive_outbox(now=LATER, months=6, batch=2, max_batches=1) == 2
    moved = 2 + archive_outbox(now=LATER, months=6, batch=2)  # several batches

    expected = {rows[sid].id for sid in sids if rows[sid].id != linked.id} - {unknown.id}
    expected |= {reply.id}
    assert moved == len(expected) == archived_count()
    assert archived_ids() == expected
    assert live_ids() == set(before) - expected
    assert {linked.id, unknown.id, original.id, fallback.id, held.id, recent.id} <= live_ids()
    assert every_row() == before  # the same rows, the same values, through the parent
    assert db.session.get(M, reply.id).body == "Hola"
    assert_exact_and_fold()
    assert archive_outbox(now=LATER, months=6) == 0  # nothing left to move
    assert archive_outbox(now=LATER, months=0) == 0  # off


@postgres
def test_counters_stay_exact_through_callbacks_erasure_and_cascades(app, make_org):
    org = make_org()
    send, gateway = sent_send(app, org, 4)
    send_id, campaign_id = send.id, send.campaign_id
    sids = [s.sid for s in gateway.sent]
    assert archive_outbox(now=LATER, months=6) == 4
    assert_exact_and_fold()
    # A late delivery receipt reaches the archived row (an UPDATE through the parent).
    assert api.status_counts(send_ids=[send_id]) == {send_id: {"sent": 4}}
    apply_status_callback(sids[0], "delivered", None, now=LATER)
    db.session.commit()
    assert api.status_counts(send_ids=[send_id]) == {send_id: {"sent": 3, "delivered": 1}}
    assert db.session.scalar(select(M.status).where(M.twilio_sid == sids[0])) == "delivered"
    assert_exact_and_fold()
    # Erasure blanks the archived texts too.
    erased = db.session.scalar(select(M).where(M.twilio_sid == sids[1]))
    erase_contact(db.session.get(Contact, erased.contact_id), today=LATER.date(), now=LATER)
    db.session.expire_all()
    assert db.session.get(M, erased.id).body != "Hola"
    assert_exact_and_fold()
    # A contact deleted outright: its archived row goes by the archive's own cascade.
    gone = db.session.execute(select(M.id, M.contact_id).where(M.twilio_sid == sids[2])).one()
    db.session.execute(delete(Contact).where(Contact.id == gone.contact_id))
    db.session.commit()
    assert gone.id not in archived_ids()
    assert_exact_and_fold()
    # The campaign deleted: the rest goes.
    db.session.execute(delete(Campaign).where(Campaign.id == campaign_id))
    db.session.commit()
    assert archived_count() == 0
    assert api.status_counts(send_ids=[send_id]) == {}
    assert_exact_and_fold()


@postgres
def test_a_fan_out_never_creates_an_archived_message_again(app, make_org):
    """Enrolment passes re-run a send's fan-out (ON CONFLICT DO NOTHING on the live table's
    unique key, which cannot see the archive): the archived keys are left out."""
    org = make_org()
    send, _gateway = sent_send(app, org, 3)
    assert archive_outbox(now=LATER, months=6) == 3
    newcomer = make_contact(org)
    send = db.session.get(OutreachSend, send.id)
    assert fan_out(send, today=LATER.date(), now=LATER) == 1
    db.session.commit()
    rows = db.session.scalars(select(M).where(M.send_id == send.id)).all()
    assert len(rows) == 4
    assert [r.contact_id for r in rows if r.id in live_ids()] == [newcomer.id]
    assert fan_out(send, today=LATER.date(), now=LATER) == 0


@postgres
def test_a_move_waits_for_a_fan_out_in_flight(app, make_org):
    org = make_org()
    sent_send(app, org, 2)
    hold_archive_shared()  # this session is a fan-out between its check and its insert
    result = {}

    def archiver():
        with app.app_context():
            result["moved"] = archive_outbox(now=LATER, months=6)
            db.session.remove()

    thread = threading.Thread(target=archiver)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # waiting on ARCHIVE_LOCK
    waiting = db.session.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = :key"
        ),
        {"key": ARCHIVE_LOCK},
    )
    assert waiting == 1
    assert archived_count() == 0
    db.session.commit()  # the fan-out's transaction ends
    thread.join(timeout=30)
    assert result == {"moved": 2}


def test_every_reference_to_an_outbox_row_keeps_it_live():
    assert _references() == [("survey_responses", "last_outbox_id"), ("tracked_links", "outbox_id")]


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's side")
def test_sqlite_keeps_one_table(app, make_org):
    org = make_org()
    contact = make_contact(org)
    make_outbox_row(contact, status="delivered", due_at=DUE, final_at=DUE)
    assert archive_outbox(now=LATER, months=6) == 0
    assert archived_count() == 0
    assert db.session.scalar(select(func.count()).select_from(M)) == 1


def test_the_cli_moves_and_counts(app, make_org, runner):
    org = make_org()
    contact = make_contact(org)
    make_outbox_row(contact, status="delivered", due_at=DUE, final_at=DUE)
    result = runner.invoke(
        args=["partitions", "archive", "--months", "6"], env={"ALCANCE_LANG": "en"}
    )
    assert result.exit_code == 0, result.output
    if ON_POSTGRES:
        assert result.output.strip() == "0 messages moved to the archive; it now holds 0."
        db.session.execute(
            text(
                "UPDATE outbox_messages SET due_at = due_at - interval '400 days',"
                " final_at = final_at - interval '400 days'"
            )
        )
        db.session.commit()
        result = runner.invoke(args=["partitions", "archive"], env={"ALCANCE_LANG": "es"})
        assert result.output.strip() == "1 mensaje pasó al archivo, que ahora tiene 1."
    else:
        assert "SQLite" in result.output
    result = runner.invoke(args=["partitions", "archive", "--months", "0"])
    assert result.exit_code == 2  # click's range check: nothing moved


# --- the archive's shape --------------------------------------------------------------------


def describe(conn, table: str) -> dict:
    """Keys, indexes, foreign keys and triggers of `table` as PostgreSQL holds them."""
    oid = conn.scalar(text("SELECT CAST(CAST(:t AS regclass) AS oid)"), {"t": table})
    constraints = conn.execute(
        text(
            "SELECT contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = :oid"
            " AND contype IN ('p', 'u', 'f')"
        ),
        {"oid": oid},
    ).all()
    indexes = conn.execute(
        text(
            "SELECT regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '')"
            " FROM pg_index WHERE indrelid = :oid"
        ),
        {"oid": oid},
    ).all()
    triggers = conn.execute(
        text(
            "SELECT regexp_replace(pg_get_triggerdef(oid), '^CREATE TRIGGER \\S+ ', '')"
            " FROM pg_trigger WHERE tgrelid = :oid AND NOT tgisinternal"
        ),
        {"oid": oid},
    ).all()
    return {
        "constraints": sorted(tuple(r) for r in constraints),
        "indexes": sorted(r[0] for r in indexes),
        "triggers": sorted(re.sub(r" ON \S+ ", " ON <table> ", r[0]) for r in triggers),
    }


@postgres
def test_the_archive_has_the_parents_foreign_keys_indexes_and_triggers(app):
    with db.engine.connect() as conn:
        parent = describe(conn, "outbox_messages")
        archive = describe(conn, ARCHIVE)
    foreign = [c for c in parent["constraints"] if c[0] == "f"]
    assert [c for c in archive["constraints"] if c[0] == "f"] == foreign
    # Every index of the parent but the fallback key (fallbacks stay live) is there.
    assert set(parent["indexes"]) - set(archive["indexes"]) == {"btree (fallback_of_id)"}
    assert parent["triggers"] == archive["triggers"]


@pytest.fixture
def empty_database_url(test_config):
    name = f"alcance_arch_{uuid.uuid4().hex[:10]}"
    admin = create_engine(test_config.SQLALCHEMY_DATABASE_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{test_config.SQLALCHEMY_DATABASE_URI.rsplit('/', 1)[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@postgres
def test_the_migration_builds_the_same_archive(app, empty_database_url, test_config):
    with db.engine.connect() as conn:
        created = describe(conn, ARCHIVE)

    class Config(test_config):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    migrated_app = create_app(Config)
    with migrated_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            migrated = describe(conn, ARCHIVE)
        db.engine.dispose()
    assert migrated == created


@postgres
def test_a_kept_callback_reaches_a_row_archived_under_it(app, make_org):
    """A callback kept for later (its row had no SID yet) is applied by the worker. If the
    row moves to the archive while the worker waits for its lock, the worker finds nothing
    under that id in its snapshot: it keeps the callback for the next pass, which applies it
    through the parent."""
    org = make_org()
    send, gateway = sent_send(app, org, 1)
    sid = gateway.sent[0].sid
    row_id = db.session.scalar(select(M.id).where(M.twilio_sid == sid))
    db.session.add(
        EarlyStatusCallback(twilio_sid=sid, status="delivered", error_code=None, received_at=LATER)
    )
    db.session.commit()
    mover = db.engine.connect()
    mover.begin()
    mover.execute(
        text(
            f"WITH moved AS (DELETE FROM ONLY outbox_messages WHERE id = :id RETURNING *)"
            f" INSERT INTO {ARCHIVE} SELECT * FROM moved"
        ),
        {"id": row_id},
    )
    committer = threading.Timer(0.5, lambda: (mover.commit(), mover.close()))
    committer.start()
    assert apply_early_callbacks(now=LATER) == 0  # waited for the move, then kept it
    committer.join()
    assert db.session.scalar(select(func.count()).select_from(EarlyStatusCallback)) == 1
    assert apply_early_callbacks(now=LATER) == 1
    assert row_id in archived_ids()
    assert db.session.scalar(select(M.status).where(M.id == row_id)) == "delivered"
    assert_exact_and_fold()
