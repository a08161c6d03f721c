"""Sending at the provider's limit (issue 15): the worker sizes itself (Little's law within
bounds), prefetches the next batch while one sends, and records each outcome in one
statement on a per-thread AUTOCOMMIT connection, never losing exactly-once."""

import math
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from app.contacts.models import Contact
from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.messaging.gateway import SendResult
from app.messaging.twilio_gateway import TwilioGateway
from app.outbox import worker as worker_module
from app.outbox.budget import LocalSendBudget
from app.outbox.dispatch import (
    BATCH_PER_THREAD,
    DispatchSettings,
    LatencyMeter,
    claim_due,
    plan_dispatch,
    recover_expired_leases,
    settings_from_config,
)
from app.outbox.models import OutboxMessage
from app.outbox.preparing import prepare_batch
from app.outbox.sending import SessionWriter, record_sent, start_row
from app.outbox.worker import build_budget
from tests.factories import CONSENTED, make_campaign
from tests.fake_twilio import MESSAGING_SERVICE_SID, FakeTwilioServer
from tests.outreach.helpers import NoBudget, make_worker
from tests.support import Clock, utc

DUE = utc(2026, 12, 2, 1, 0)  # 17:00 in Tijuana on 1 December


def seed_outbox(org, n: int) -> list[str]:
    """`n` due campaign rows, one per new contact; returns the phones."""
    campaign = make_campaign(org)
    phones = [f"+5266456{i:05d}" for i in range(n)]
    db.session.execute(
        insert(Contact),
        [
            dict(
                organization_id=org.id,
                phone=phone,
                language="es",
                birth_year=2000,
                country="MX",
                state_code="02",
                timezone="America/Tijuana",
                consent_source="workshop",
                consent_at=CONSENTED,
                guardian_consent=False,
                undeliverable=False,
            )
            for phone in phones
        ],
    )
    ids = db.session.scalars(select(Contact.id).where(Contact.organization_id == org.id)).all()
    db.session.execute(
        insert(OutboxMessage),
        [
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
        ],
    )
    db.session.commit()
    return phones


def rows():
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


class SlowGateway(FakeSmsGateway):
    """The fake gateway with a provider latency (real seconds)."""

    def __init__(self, latency, **kwargs):
        super().__init__(**kwargs)
        self.latency = latency

    def send(self, to, body, *, status_callback=None, sender=None):
        time.sleep(self.latency)
        return super().send(to, body, status_callback=status_callback, sender=sender)


# -- sizing ---------------------------------------------------------------------------------
def test_threads_follow_littles_law_within_bounds():
    auto = DispatchSettings(max_mps=100, concurrency_min=4, concurrency_max=64)
    # 100 msg/s × 0.1 s = 10 calls in flight, × 1.5 headroom.
    assert plan_dispatch(auto, 0.1).concurrency == math.ceil(100 * 0.1 * 1.5) == 15
    assert plan_dispatch(auto, 0.3).concurrency == 45
    assert plan_dispatch(auto, 2.0).concurrency == 64  # the max bound
    assert plan_dispatch(auto, 0.001).concurrency == 4  # the min bound
    # No limit: the max bound, whatever the latency.
    assert plan_dispatch(DispatchSettings(max_mps=0, concurrency_max=48), 0.01).concurrency == 48


def test_an_explicit_concurrency_or_batch_wins():
    fixed = DispatchSettings(concurrency=7, max_mps=1000)
    assert plan_dispatch(fixed, 0.5).concurrency == 7
    assert plan_dispatch(fixed, 0.5).batch_size == 70
    assert plan_dispatch(DispatchSettings(concurrency=7, batch_size=33), 0.5).batch_size == 33


@pytest.mark.parametrize("mps", [0, 1, 10, 100, 1000])
@pytest.mark.parametrize("latency", [0.01, 0.1, 0.25, 1.0])
def test_an_auto_batch_is_at_least_ten_times_the_threads(mps, latency):
    plan = plan_dispatch(DispatchSettings(max_mps=mps), latency)
    assert plan.batch_size >= 10 * plan.concurrency and BATCH_PER_THREAD >= 10


def test_settings_from_config_reads_auto_and_numbers(app):
    config = dict(app.config)
    config.update(
        OUTREACH_CONCURRENCY="auto",
        OUTREACH_BATCH="auto",
        TWILIO_MAX_MPS=30.0,
        OUTREACH_CONCURRENCY_MIN=2,
        OUTREACH_CONCURRENCY_MAX=20,
    )
    settings = settings_from_config(config)
    assert (settings.concurrency, settings.batch_size, settings.max_mps) == (None, None, 30.0)
    assert (settings.concurrency_min, settings.concurrency_max) == (2, 20)
    config.update(OUTREACH_CONCURRENCY=12, OUTREACH_BATCH="300")
    settings = settings_from_config(config)
    assert (settings.concurrency, settings.batch_size) == (12, 300)
    assert settings_from_config(config, concurrency=3).concurrency == 3  # the CLI's option
    for bad in ("fast", "0", "-2"):
        config["OUTREACH_CONCURRENCY"] = bad
        with pytest.raises(ValueError):
            settings_from_config(config)


def test_the_latency_average_replaces_the_guess_then_moves_slowly():
    meter = LatencyMeter(initial=0.25)
    meter.observe(0.1)
    assert meter.value == pytest.approx(0.1)  # the first call replaces the guess
    for _ in range(50):
        meter.observe(0.1)
    meter.observe(1.1)  # one slow call moves the average by a tenth of the difference
    assert meter.value == pytest.approx(0.2)


def test_the_worker_resizes_from_the_observed_latency(app, make_org):
    seed_outbox(make_org(), 12)
    clock = Clock(DUE)
    gateway = SlowGateway(0.02, clock=clock)
    worker = make_worker(
        app, clock, gateway, concurrency=None, batch_size=None, max_mps=200, concurrency_max=16
    )
    shared = app.config["SQLALCHEMY_DATABASE_URI"] in ("sqlite://", "sqlite:///:memory:")
    # Before any call: the 0.25 s guess (200 × 0.25 × 1.5 = 75), within the max bound.
    assert worker.plan.concurrency == (1 if shared else 16)
    try:
        worker.run(once=True)
    finally:
        worker.close()
    assert worker.latency.samples == 12
    assert worker.latency.value == pytest.approx(0.02, abs=0.015)
    worker.run_pass()  # re-plans before claiming
    if shared:
        assert worker.plan.concurrency == 1  # one shared connection: one thread
    else:
        assert worker.plan.concurrency == math.ceil(200 * worker.latency.value * 1.5)
        assert worker.plan.batch_size == 10 * worker.plan.concurrency
    worker.close()
    assert {r.status for r in rows()} == {"sent"}


def test_pools_are_sized_to_the_threads(app, postgres_only):
    with FakeTwilioServer() as fake:
        gateway = TwilioGateway(
            fake.account_sid,
            fake.auth_token,
            messaging_service_sid=MESSAGING_SERVICE_SID,
            api_base_url=fake.base_url,
        )
        try:
            worker = make_worker(app, Clock(DUE), gateway, concurrency=48)
            adapter = gateway.http_client.session.get_adapter(fake.base_url)
            assert adapter.poolmanager.connection_pool_kw["maxsize"] == 48
            assert gateway.http_client.pool_maxsize == 48
            engine = worker.sending_engine()
            # The threads share a few connections (a statement holds one for ~1 ms).
            assert engine.pool.size() == 8
            with engine.connect() as connection:
                assert connection.connection.dbapi_connection.autocommit
            worker.close()
            few = make_worker(app, Clock(DUE), gateway, concurrency=3, db_connections=8)
            assert few.sending_engine().pool.size() == 3  # never more than the threads
            few.close()
        finally:
            gateway.close()


def test_no_rate_limit_needs_no_shared_budget(app):
    app.config.update(TWILIO_MAX_MPS=0, REDIS_URL="redis://127.0.0.1:1/0")
    budget = build_budget(app)
    assert isinstance(budget, LocalSendBudget) and budget.rate == 0


# -- the one-statement outcome path ---------------------------------------------------------
def claimed_and_started(app, worker_id="w1"):
    ids = claim_due(worker_id, now=DUE, limit=10, lease=timedelta(minutes=2))
    ready = prepare_batch(ids, worker_id=worker_id, now=DUE)
    return ready


def test_the_fast_outcome_path_writes_the_row_as_before(app, make_org):
    seed_outbox(make_org(), 2)
    worker = make_worker(app, Clock(DUE))
    settings = worker.settings
    first, second = claimed_and_started(app)
    later = DUE + timedelta(seconds=3)
    writers = [SessionWriter(), worker.open_writer()]
    try:
        for item, writer in zip((first, second), writers, strict=True):
            assert start_row(item, now=DUE, settings=settings, writer=writer) is None
            result = SendResult(sid=f"SM{item.id:032x}", status="queued", num_segments=2)
            assert record_sent(item, result, now=later, writer=writer) == "sent"
    finally:
        for writer in writers:
            writer.close()
        worker.close()
    for row in rows():
        assert row.status == "sent" and row.twilio_sid == f"SM{row.id:032x}"
        assert (row.segments, row.sent_at, row.send_started_at) == (2, later, DUE)
        assert row.claimed_by is None and row.lease_expires_at is None and row.attempts == 1


def test_the_fast_outcome_path_refuses_a_row_no_longer_ours(app, make_org):
    seed_outbox(make_org(), 2)
    worker = make_worker(app, Clock(DUE))
    mine, recovered = claimed_and_started(app)
    writer = worker.open_writer()
    try:
        for item in (mine, recovered):
            assert start_row(item, now=DUE, settings=worker.settings, writer=writer) is None
        # Another worker holds the first row now (whatever the path): never overwritten.
        taken = db.session.get(OutboxMessage, mine.id)
        taken.claimed_by, taken.lease_expires_at = "w2", DUE + timedelta(hours=1)
        db.session.commit()
        result = SendResult(sid="SM" + "a" * 32, status="queued", num_segments=1)
        assert record_sent(mine, result, now=DUE, writer=writer) == "lease_lost"
        # The second one's lease expired during the call: recovery made it unknown. The
        # answer in hand resolves it as reconciliation would (same SID, never re-sent).
        assert recover_expired_leases(now=DUE + timedelta(minutes=3)) == (0, 1)
        late = SendResult(sid="SM" + "b" * 32, status="queued", num_segments=1)
        assert record_sent(recovered, late, now=DUE, writer=writer) == "sent"
        assert record_sent(recovered, late, now=DUE, writer=writer) == "lease_lost"
    finally:
        writer.close()
        worker.close()
    first, second = rows()
    assert (first.status, first.claimed_by, first.twilio_sid) == ("claimed", "w2", None)
    assert (second.status, second.twilio_sid) == ("sent", "SM" + "b" * 32)


def test_one_statement_per_step_on_the_threads_connection(app, make_org, postgres_only):
    """A successful send costs the sending connection two statements (start, sent), no
    BEGIN/COMMIT and no pre-ping, and nothing on the app's engine."""
    seed_outbox(make_org(), 1)
    worker = make_worker(app, Clock(DUE))
    (item,) = claimed_and_started(app)
    engine = worker.sending_engine()
    writer = worker.open_writer()  # connected (first-connect queries) before counting
    statements, app_statements, commits, pings = [], [], [], []
    ping = engine.dialect.do_ping

    def on_sending(conn, cursor, statement, *args):
        statements.append(statement)

    def on_app(conn, cursor, statement, *args):
        app_statements.append(statement)

    def on_commit(conn):
        commits.append(conn)

    event.listen(engine, "before_cursor_execute", on_sending)
    event.listen(engine, "commit", on_commit)
    event.listen(db.engine, "before_cursor_execute", on_app)
    engine.dialect.do_ping = lambda connection: pings.append(1) or ping(connection)
    try:
        outcome = worker.send(item, writer)
        on_app_engine = list(app_statements)
        again = worker.send(item, writer)  # a second go is refused by the start guard
    finally:
        event.remove(db.engine, "before_cursor_execute", on_app)
        engine.dialect.do_ping = ping
        writer.close()
    assert outcome == "sent" and again == "lease_lost"
    assert len(statements) == 3  # start, sent; then the refused start
    assert all(s.split()[0] == "UPDATE" for s in statements)
    assert "RETURNING" in statements[0] and "send_started_at" in statements[0]
    assert "twilio_sid" in statements[1]
    assert not commits and not pings and not on_app_engine
    worker.close()


# -- prefetch and exactly-once under threads ------------------------------------------------
def test_prefetch_claims_while_sending_and_never_twice(app, make_org, monkeypatch, postgres_only):
    phones = seed_outbox(make_org(), 120)
    claims = []
    real_claim = worker_module.claim_due

    def claim_and_record(worker_id, **kwargs):
        pool = workers[0]._pool
        outstanding = pool.outstanding if pool else 0
        ids = real_claim(worker_id, **kwargs)
        claims.append((outstanding, ids))
        return ids

    monkeypatch.setattr(worker_module, "claim_due", claim_and_record)
    clock = Clock(DUE)
    gateway = SlowGateway(0.03, clock=clock)
    workers = [make_worker(app, clock, gateway, concurrency=4, batch_size=20)]
    try:
        workers[0].run(once=True)
    finally:
        workers[0].close()
    claimed = [i for _, ids in claims for i in ids]
    assert len(claimed) == len(set(claimed)) == 120  # no row claimed twice
    # Every claim after the first came while earlier rows were still queued or in flight.
    assert all(outstanding > 0 for outstanding, ids in claims[1:] if ids)
    assert sum(1 for _, ids in claims if ids) == 6
    counts = Counter(s.to for s in gateway.sent)
    assert set(counts) == set(phones) and max(counts.values()) == 1
    assert {r.status for r in rows()} == {"sent"}


def test_threaded_workers_side_by_side_send_each_row_once(app, make_org, postgres_only):
    phones = seed_outbox(make_org(), 600)
    clock = Clock(DUE)
    gateway = SlowGateway(0.002, clock=clock)
    workers = [
        make_worker(
            app,
            clock,
            gateway,
            worker_id=f"w{i}",
            concurrency=None,  # auto: no limit, so the max bound
            batch_size=None,
            max_mps=0,
            concurrency_max=8,
        )
        for i in range(3)
    ]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for w in workers:
        assert w.plan.concurrency == 8 and w.plan.batch_size == 80
        w.close()
    counts = Counter(s.to for s in gateway.sent)
    assert set(counts) == set(phones) and max(counts.values()) == 1
    final = rows()
    assert {r.status for r in final} == {"sent"}
    assert len({r.twilio_sid for r in final}) == 600


def test_a_stopping_worker_gives_back_the_rows_it_never_started(app, make_org, postgres_only):
    seed_outbox(make_org(), 40)
    clock = Clock(DUE)
    stop = threading.Event()

    class StopsAfterThree(SlowGateway):
        def send(self, to, body, *, status_callback=None, sender=None):
            result = super().send(to, body, status_callback=status_callback, sender=sender)
            if len(self.sent) >= 3:
                stop.set()
            return result

    gateway = StopsAfterThree(0.05, clock=clock)
    worker = make_worker(app, clock, gateway, concurrency=2, batch_size=40, budget=NoBudget())
    worker.run(stop=stop, poll_seconds=0.05)
    worker.close()
    statuses = Counter(r.status for r in rows())
    # The threads finished what they had started; the rest went back at once, not at
    # lease expiry, and nothing is left claimed.
    assert statuses["sent"] == len(gateway.sent) and statuses["claimed"] == 0
    assert statuses["scheduled"] == 40 - len(gateway.sent) > 0
