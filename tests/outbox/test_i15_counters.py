"""The outbox's status counters (issue 15): whatever changes outbox rows (a fan-out, the
worker, callbacks, reconciliation, cancels, opt-outs, erasure, deletes, raw SQL), the
figures read through app.outbox.api.status_counts equal a GROUP BY over the rows, before
and after a fold; folds are idempotent and, on PostgreSQL, never count twice."""

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, delete, func, insert, select, text, update

from app import create_app
from app.campaigns.models import Campaign
from app.contacts.models import Contact
from app.contacts.retention import purge_inactive_contacts
from app.contacts.services import erase_contact
from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.messaging.gateway import OutcomeUnknownSmsError
from app.outbox import api
from app.outbox.counters import fold
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage, OutboxStatusCount, OutboxStatusDelta
from app.outbox.sending import reconcile_unknown
from app.outbox.status import apply_status_callback
from app.outreach import services as outreach
from app.outreach.models import OutreachSend
from tests.factories import make_campaign, make_contact, make_message, make_outbox_row
from tests.outreach.helpers import make_worker, schedule_once
from tests.support import NOW, ON_POSTGRES, Clock, utc

SCHEDULED_AT = utc(2026, 11, 27, 18, 0)
DUE = utc(2026, 12, 2, 1, 0)  # 17:00 in Tijuana on 1 December (schedule_once's default)
M = OutboxMessage


def truth() -> dict:
    """{(organization, campaign or 0, send or 0, status): rows}, counted from the rows."""
    key = (M.organization_id, func.coalesce(M.campaign_id, 0), func.coalesce(M.send_id, 0))
    rows = db.session.execute(select(*key, M.status, func.count()).group_by(*key, M.status))
    return {tuple(row[:4]): row[4] for row in rows}


def _sum(facts: dict, keep) -> dict:
    out: Counter = Counter()
    for (org, campaign, send, status), n in facts.items():
        if keep(org, campaign, send):
            out[status] += n
    return dict(out)


def assert_exact() -> None:
    """Every organization's, campaign's and send's figures (those with rows, and those the
    counters ever knew) equal the GROUP BY, and so does the installation's."""
    db.session.commit()  # what a page would see: committed state
    facts = truth()
    known = {k[:3] for k in facts}
    for model in (OutboxStatusCount, OutboxStatusDelta):
        known |= set(
            db.session.execute(select(model.organization_id, model.campaign_id, model.send_id))
        )
    assert api.status_counts() == _sum(facts, lambda o, c, s: True)
    for org in {k[0] for k in known}:
        assert api.status_counts(org) == _sum(facts, lambda o, c, s, org=org: o == org)
    for org, campaign in {k[:2] for k in known if k[1]}:
        expected = _sum(facts, lambda o, c, s, campaign=campaign: c == campaign)
        assert api.status_counts(org, campaign_id=campaign) == expected
        assert outreach.status_counts(campaign_id=campaign) == expected
        assert api.status_counts(campaign_id=campaign) == expected
    sends = sorted({k[2] for k in known if k[2]})
    expected = {}
    for send in sends:
        if per_send := _sum(facts, lambda o, c, s, send=send: s == send):
            expected[send] = per_send
    assert api.status_counts(send_ids=sends) == expected
    assert outreach.status_counts(send_ids=sends) == expected


def assert_exact_and_fold() -> None:
    """Exact before a fold, after it, and after a second one (which has nothing to do);
    once folded, the counts table alone holds the truth."""
    assert_exact()
    fold()
    assert_exact()
    assert db.session.scalar(select(func.count()).select_from(OutboxStatusDelta)) == 0
    counts = db.session.execute(
        select(
            OutboxStatusCount.organization_id,
            OutboxStatusCount.campaign_id,
            OutboxStatusCount.send_id,
            OutboxStatusCount.status,
            OutboxStatusCount.count,
        )
    )
    assert {tuple(row[:4]): row[4] for row in counts} == truth()  # no zero rows kept
    assert fold() == 0
    assert_exact()


def deltas() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxStatusDelta))


def run_worker(app, clock, gateway, **settings):
    worker = make_worker(app, clock, gateway, **{"concurrency": 1, **settings})
    try:
        worker.run(once=True)
    finally:
        worker.close()
    db.session.expire_all()


def test_fan_out_sending_callbacks_and_reconciliation(app, make_org):
    org, other = make_org(), make_org()
    for _ in range(4):
        make_contact(org)
    make_contact(other)
    send, created = schedule_once(org, now=SCHEDULED_AT)  # the INSERT ... SELECT fan-out
    schedule_once(other, now=SCHEDULED_AT)
    assert created == 4
    # PostgreSQL's statement triggers add one delta per key and statement, not per row.
    assert deltas() == (2 if ON_POSTGRES else 5)
    assert api.status_counts(send_ids=[send.id]) == {send.id: {"scheduled": 4}}
    assert_exact_and_fold()

    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    # The provider accepts the first message and then answers 500: its row is unknown.
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=True)
    run_worker(app, clock, gateway)
    assert outreach.status_counts(send_ids=[send.id])[send.id] == {"unknown": 1, "sent": 3}
    assert_exact()  # not folded: the worker's deltas are added on read

    sids = [s.sid for s in gateway.sent]
    apply_status_callback(sids[1], "delivered", None, now=DUE)
    apply_status_callback(sids[2], "undelivered", "30003", now=DUE)
    apply_status_callback(sids[2], "delivered", None, now=DUE)  # late: ignored
    assert_exact()
    clock.now = DUE + timedelta(hours=1)
    reconcile_unknown(gateway=gateway, clock=clock, settings=make_worker(app, clock).settings)
    assert outreach.status_counts(send_ids=[send.id])[send.id] == {
        "sent": 2,
        "delivered": 1,
        "undelivered": 1,
    }
    assert_exact_and_fold()


def test_hold_release_cancel_and_delete_never_sent(app, make_org):
    org = make_org()
    for _ in range(3):
        make_contact(org)
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    campaign = db.session.get(Campaign, send.campaign_id)
    api.set_status(("scheduled",), "held", campaign_id=campaign.id)  # a paused campaign
    db.session.commit()
    assert outreach.status_counts(campaign_id=campaign.id) == {"held": 3}
    assert_exact()
    api.set_status(("held",), "scheduled", campaign_id=campaign.id)
    db.session.commit()
    fold()
    outreach.cancel_send(db.session.get(OutreachSend, send.id), now=NOW)
    assert api.status_counts(org.id, campaign_id=campaign.id) == {"canceled": 3}
    assert_exact_and_fold()
    assert api.delete_never_sent(send_id=send.id) == 3
    db.session.commit()
    assert api.status_counts(send_ids=[send.id]) == {}
    assert_exact_and_fold()


def test_opt_out_opt_in_and_erasure(app, make_org):
    org = make_org()
    contacts = [make_contact(org) for _ in range(3)]
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    fold()
    receive_sms(sid="SM" + "1" * 32, from_number=contacts[0].phone, body="BAJA", now=NOW)
    assert outreach.status_counts(send_ids=[send.id])[send.id] == {"scheduled": 2, "canceled": 1}
    assert_exact()  # the confirmation reply (a system message, no campaign) counts too
    later = NOW + timedelta(hours=1)
    receive_sms(sid="SM" + "2" * 32, from_number=contacts[0].phone, body="ALTA", now=later)
    assert outreach.status_counts(send_ids=[send.id])[send.id] == {"scheduled": 3}
    assert_exact_and_fold()
    erase_contact(db.session.get(Contact, contacts[1].id), today=NOW.date(), now=NOW)
    assert outreach.status_counts(send_ids=[send.id])[send.id] == {"scheduled": 2, "canceled": 1}
    assert_exact_and_fold()


def test_deletes_cascades_and_raw_sql(app, make_org):
    org = make_org()
    contacts = [make_contact(org) for _ in range(3)]
    first, _ = schedule_once(org, now=SCHEDULED_AT)
    second, _ = schedule_once(org, now=SCHEDULED_AT)
    loose = make_outbox_row(contacts[0], purpose="system", status="sent")  # no campaign
    assert_exact_and_fold()
    # Raw SQL, moving rows between sends and campaigns as well as statuses.
    db.session.execute(
        text(
            "UPDATE outbox_messages SET send_id = :to, occurrence = 9, status = 'held'"
            " WHERE id = :id"
        ),
        {"to": second.id, "id": db.session.scalar(select(M.id).where(M.send_id == first.id))},
    )
    db.session.execute(update(M).where(M.id == loose.id).values(campaign_id=first.campaign_id))
    assert_exact()
    # A contact deleted outright: its rows go by cascade.
    db.session.execute(delete(Contact).where(Contact.id == contacts[2].id))
    assert_exact()
    # A campaign deleted: its sends and their rows go by cascade.
    db.session.execute(delete(Campaign).where(Campaign.id == first.campaign_id))
    assert db.session.scalar(select(func.count()).where(M.campaign_id == first.campaign_id)) == 0
    assert api.status_counts(org.id, campaign_id=first.campaign_id) == {}
    assert_exact_and_fold()


def test_updates_that_keep_status_and_links_add_no_deltas(app, make_org):
    """Texts, leases, errors and the retention purge's blanking change no figure, and add
    nothing to fold."""
    org = make_org()
    make_contact(org)
    schedule_once(org, now=SCHEDULED_AT)
    old = NOW - timedelta(days=400)
    stale = make_contact(org, created_at=old, updated_at=old)  # after the send: not in it
    make_outbox_row(stale, status="delivered", sent_at=old, final_at=old, due_at=old)
    fold()
    db.session.execute(update(M).values(body="Otro texto", attempts=M.attempts + 1))
    db.session.commit()
    assert deltas() == 0
    assert purge_inactive_contacts(months=6, now=NOW) == 1
    assert db.session.get(Contact, stale.id).erased_at is not None
    assert deltas() == 0
    assert_exact_and_fold()


def test_reading_nothing_and_bad_ids(app, make_org):
    org = make_org()
    assert api.status_counts(org.id) == {}
    assert api.status_counts(send_ids=[]) == {}
    assert api.status_counts(send_ids=[0, None]) == {}  # 0 is the counters' "no send"
    assert outreach.status_counts() == {}
    assert api.status_counts(org.id, campaign_id=10**6) == {}


def test_the_worker_maintenance_folds(app, make_org):
    org = make_org()
    make_contact(org)
    schedule_once(org, now=SCHEDULED_AT)
    assert deltas() > 0
    clock = Clock(DUE)
    worker = make_worker(app, clock, FakeSmsGateway(clock=clock))
    try:
        worker.maintenance()
    finally:
        worker.close()
    assert deltas() == 0
    assert_exact()


# --- PostgreSQL: concurrent writers, folds and workers ------------------------------------


def _seed(org, n: int) -> Campaign:
    campaign = make_campaign(org)
    make_message(campaign)
    db.session.execute(
        insert(Contact),
        [
            dict(
                organization_id=org.id,
                phone=f"+5266466{i:05d}",
                language="es",
                birth_year=2000,
                country="MX",
                state_code="02",
                timezone="America/Tijuana",
                consent_source="workshop",
                consent_at=NOW - timedelta(days=30),
                guardian_consent=False,
                undeliverable=False,
            )
            for i in range(n)
        ],
    )
    db.session.commit()
    return campaign


def test_concurrent_folds_never_count_twice(app, make_org, postgres_only):
    org = make_org()
    campaign = _seed(org, 60)
    ids = db.session.scalars(select(Contact.id).where(Contact.organization_id == org.id)).all()
    stop, errors = threading.Event(), []

    def writer(part):
        with app.app_context():
            try:
                for cid in ids[part::3]:
                    row = OutboxMessage(
                        organization_id=org.id,
                        campaign_id=campaign.id,
                        contact_id=cid,
                        language="es",
                        body="Hola",
                        due_at=DUE,
                    )
                    db.session.add(row)
                    db.session.commit()
                    db.session.execute(update(M).where(M.id == row.id).values(status="sent"))
                    db.session.commit()
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    def folder():
        with app.app_context():
            try:
                while not stop.is_set():
                    fold()
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    folders = [threading.Thread(target=folder) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for t in folders + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in folders:
        t.join()
    assert errors == []
    assert api.status_counts(org.id, campaign_id=campaign.id) == {"sent": 60}
    assert_exact_and_fold()


def test_concurrent_workers_then_fold(app, make_org, postgres_only):
    org = make_org()
    campaign = _seed(org, 120)
    ids = db.session.scalars(select(Contact.id).where(Contact.organization_id == org.id)).all()
    rows = [
        dict(
            organization_id=org.id,
            campaign_id=campaign.id,
            contact_id=cid,
            language="es",
            body="Mensaje",
            due_at=DUE,
            status="scheduled",
            purpose="campaign",
        )
        for cid in ids
    ]
    db.session.execute(insert(OutboxMessage), rows)
    db.session.commit()
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    workers = [
        make_worker(app, clock, gateway, worker_id=f"w{i}", batch_size=20, concurrency=4)
        for i in range(2)
    ]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in workers:
        w.close()
    assert len(gateway.sent) == 120
    assert api.status_counts(org.id) == {"sent": 120}
    assert_exact_and_fold()


def test_a_read_with_many_deltas_folds(app, make_org, monkeypatch, postgres_only):
    from app.outbox import counters

    n = 3
    monkeypatch.setattr(counters, "FOLD_AT", n)
    org = make_org()
    for _ in range(n):
        make_outbox_row(make_contact(org))  # one INSERT (one delta) each
    assert deltas() == n
    assert api.status_counts(org.id) == {"scheduled": n}  # exact, and it folded
    db.session.commit()
    assert deltas() == 0
    assert api.status_counts(org.id) == {"scheduled": n}


# --- the migration ---------------------------------------------------------------------------


@pytest.fixture
def empty_database_url(tmp_path, test_config):
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'counters.sqlite3'}"
        return
    name = f"alcance_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(test_config.SQLALCHEMY_DATABASE_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield test_config.SQLALCHEMY_DATABASE_URI.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_migration_backfills_and_adds_the_triggers(empty_database_url, test_config):
    class Config(test_config):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    migrated = create_app(Config)
    with migrated.app_context():
        upgrade(revision="f0fc2aba0ef9")
        values = {"now": NOW}
        for statement in (
            "INSERT INTO organizations (id, name, slug, country, timezone, default_language,"
            " calendar_token, created_at)"
            " VALUES (7, 'Org', 'org', 'MX', 'America/Tijuana', 'es', 'token', :now)",
            "INSERT INTO contacts (id, organization_id, language, country, timezone,"
            " guardian_consent, undeliverable, created_at, updated_at)"
            " VALUES (3, 7, 'es', 'MX', 'America/Tijuana', false, false, :now, :now)",
            *(
                "INSERT INTO outbox_messages (organization_id, contact_id, occurrence, purpose,"
                " language, body, due_at, status, attempts, with_opt_out_notice, created_at)"
                f" VALUES (7, 3, {i}, 'system', 'es', 'Hola', :now, '{status}', 0, false, :now)"
                for i, status in enumerate(("scheduled", "sent", "sent"))
            ),
        ):
            db.session.execute(text(statement), values)
        db.session.commit()
        upgrade(revision="c0a7e5d1b015")
        counts = db.session.execute(
            text(
                "SELECT organization_id, campaign_id, send_id, status, count"
                " FROM outbox_status_counts"
            )
        ).all()
        assert sorted(tuple(row) for row in counts) == [
            (7, 0, 0, "scheduled", 1),
            (7, 0, 0, "sent", 2),
        ]
        db.session.execute(
            text("UPDATE outbox_messages SET status = 'delivered' WHERE status = 'sent'")
        )
        db.session.commit()
        assert api.status_counts(7) == {"scheduled": 1, "delivered": 2}  # the triggers work
        db.session.commit()  # the read's transaction would hold off the downgrade's DDL
        downgrade(revision="f0fc2aba0ef9")
        db.session.execute(text("UPDATE outbox_messages SET status = 'failed'"))  # no trigger
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
