"""Many processes, one truth (issue 7), on PostgreSQL with real worker processes.

Each test creates its own scratch database on TEST_DATABASE_URL's server (create_all,
dropped at the end), runs the in-process fake Twilio HTTP server (tests/fake_twilio.py) with
latency and fault injection, and starts `flask --app wsgi outreach worker --once` processes
whose real TwilioGateway talks to it. The fake's record of created messages is the ground
truth for "sent exactly once".

(a) 8 workers × 10,000 due messages, 20 ms latency, 1 % of recipients answered 429 once:
    every message is created exactly once on the provider and every row is `sent` with a
    distinct SID that the provider knows.
(b) 3,000 due messages, 2 s lease, 3 s reconcile grace, "accept then hang" faults on 1 % of
    recipients (the fake creates the message, then never answers: the worker's 15 s read
    timeout fires, or it is killed first). 20 rounds: start 4 workers, wait until they are
    up, sleep 0.2-1.5 s, SIGKILL a random non-empty subset of the live workers (all of them
    one round in four); survivors work on into the next rounds. Random choices are seeded.
    Then workers run until nothing is left: nobody got a message twice, nothing is left
    scheduled, claimed or unknown, everything is `sent`, and lookups (find_sent) happened.
    3,000 rather than 10,000 (and a 20 messages/s budget per worker, so that the last rounds
    still find work) keeps the three tests within about 3 minutes on an idle 2-core machine.
(c) A job (app/jobs) claimed by a worker process that is SIGKILLed mid-run is left alone while
    its lease holds, then recovered and run to completion by another worker.

No assertion here is about speed: the deadlines only bound how long a test waits before it
declares the system stuck.
"""

import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import text

from config import TestingConfig
from tests.fake_twilio import HANG, RATE_LIMIT, FakeTwilioServer
from tests.scale.fleet import (
    ROOT,
    Fleet,
    Outbox,
    create_schema_and_seed,
    drain,
    scratch_database,
    worker_env,
)

DATABASE_URL = TestingConfig.SQLALCHEMY_DATABASE_URI
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not DATABASE_URL.startswith("postgresql"),
        reason="scale tests need PostgreSQL (FOR UPDATE SKIP LOCKED across "
        "processes): set TEST_DATABASE_URL=postgresql+psycopg://...",
    ),
]
SEED = 20261127


@pytest.fixture
def scale_db():
    with scratch_database(DATABASE_URL) as url:
        yield url


@pytest.fixture
def fake(monkeypatch):
    from tests import fake_twilio

    default = fake_twilio._Server.handle_error

    def handle_error(self, request, client_address):  # a SIGKILLed client resets its socket
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            default(self, request, client_address)

    monkeypatch.setattr(fake_twilio._Server, "handle_error", handle_error)
    # hang_seconds above the gateway's 15 s read timeout: a HANG ends in a real ReadTimeout.
    with FakeTwilioServer(latency=0.02, hang_seconds=20.0) as server:
        yield server


def assert_each_sent_exactly_once(fake, outbox: Outbox, phones: list[str]) -> None:
    created = Counter(m["to"] for m in fake.messages)
    twice = {to: n for to, n in created.items() if n > 1}
    assert not twice, f"{len(twice)} recipients got more than one message: {list(twice)[:10]}"
    assert set(created) == set(phones), f"{len(set(phones) - set(created))} never sent"
    accepted = Counter(r.form["To"] for r in fake.creates if r.status == 201)
    assert max(accepted.values()) == 1
    rows = outbox.rows()
    assert Counter(status for _, status, _ in rows) == Counter({"sent": len(phones)})
    sids = [sid for _, _, sid in rows]
    assert len(set(sids)) == len(sids) == len(phones) and None not in sids
    provider = {m["sid"]: m["to"] for m in fake.messages}
    assert all(provider.get(sid) == phone for phone, _, sid in rows), (
        "an outbox row holds a SID the provider created for someone else (or never created)"
    )


def test_eight_workers_send_ten_thousand_messages_exactly_once(scale_db, fake, tmp_path):
    n = 10_000
    phones = create_schema_and_seed(scale_db, n)
    rng = random.Random(SEED)
    rate_limited = rng.sample(phones, n // 100)
    for phone in rate_limited:  # occasional 429: not processed, retried with backoff
        fake.inject(RATE_LIMIT, to=phone, times=1)
    # Nobody dies here: a lease far longer than any batch (even on a loaded machine).
    env = worker_env(
        scale_db, fake, OUTREACH_LEASE_SECONDS=300, OUTREACH_RECONCILE_GRACE_SECONDS=10
    )
    fleet, outbox = Fleet(env, tmp_path, concurrency=4, batch=100), Outbox(scale_db)
    try:
        wave = fleet.start(8)
        fleet.wait_exit(wave, timeout=600)
        # 429'd rows come due again after their backoff (1-2 s): run until none is left.
        drain(fleet, outbox, workers=2, timeout=300)
        fleet.check_clean_exits()

        assert_each_sent_exactly_once(fake, outbox, phones)
        answered_429 = [r for r in fake.creates if r.status == 429]
        assert sorted(r.form["To"] for r in answered_429) == sorted(rate_limited)
        worked = sum("claimed=" in w.tail(10**7) for w in wave)
        assert worked >= 2, "the workers did not share the queue"
    finally:
        fleet.close()
        outbox.close()


def test_workers_killed_at_random_moments_never_send_twice_nor_lose_a_message(
    scale_db, fake, tmp_path
):
    n = 3_000
    phones = create_schema_and_seed(scale_db, n)
    rng = random.Random(SEED + 1)
    hanging = rng.sample(phones, n // 100)
    for phone in hanging:  # accepted by the provider, then no answer
        fake.inject(HANG, to=phone, times=1)
    # A per-worker budget of 20 messages/s (no Redis) and small batches, so that the queue
    # is still being worked on in the last rounds instead of being emptied in the first few.
    env = worker_env(
        scale_db,
        fake,
        OUTREACH_LEASE_SECONDS=2,
        OUTREACH_RECONCILE_GRACE_SECONDS=3,
        TWILIO_MAX_MPS=20,
    )
    fleet, outbox = Fleet(env, tmp_path, concurrency=4, batch=20), Outbox(scale_db)
    killed = 0
    try:
        for _ in range(20):
            wave = fleet.start(4)
            fleet.wait_started(wave)
            time.sleep(rng.uniform(0.2, 1.5))
            alive = fleet.alive
            if not alive:
                continue
            victims = (
                alive if rng.random() < 0.25 else rng.sample(alive, rng.randint(1, len(alive)))
            )
            for worker in victims:
                worker.kill()
            killed += len(victims)
        # Survivors finish (a hung request ends with the 15 s read timeout), then the leases
        # of the dead expire and their unknown outcomes are reconciled.
        fleet.wait_exit(fleet.alive, timeout=120)
        drain(fleet, outbox, workers=4, timeout=300)
        fleet.check_clean_exits()

        assert_each_sent_exactly_once(fake, outbox, phones)
        assert killed >= 20
        hung = [r for r in fake.creates if r.status is None]
        assert hung, "no accept-then-hang fault was exercised"
        lookups = [r for r in fake.requests if r.method == "GET"]
        assert lookups, "no unknown outcome was reconciled through find_sent"
    finally:
        fleet.close()
        outbox.close()


TEXT_A, TEXT_B = "pairA: una pastilla falsa puede tener fentanilo.", "pairB: pide ayuda, es gratis."


def test_chaos_round_two_sends_faults_kills_and_a_cancel(scale_db, fake, tmp_path):
    """(d) Issue 12's chaos round: 3 workers; two sends to the same 400 contacts due in the
    same minute; on 5 % of the recipients each: accepted-then-500, accepted-then-hang,
    500-before-accepting, both messages 500 with only the second accepted, and 429;
    SIGKILLs; send B canceled mid-way. Then: every (To, text) the
    provider accepted maps to exactly one outbox row with that SID and that text; nothing of
    send B went to the provider after the cancel except what was already with it; no text
    carries the opt-out line twice; nothing is left unresolved."""
    from tests.fake_twilio import SERVER_ERROR
    from tests.scale.fleet import cancel_send_now, seed_two_sends

    n = 400
    phones, send_a, send_b = seed_two_sends(scale_db, n, (TEXT_A, TEXT_B))
    rng = random.Random(SEED + 3)
    faults = {
        "accepted_then_500": (SERVER_ERROR, True),
        "accepted_then_hang": (HANG, None),
        "500_before_accepting": (SERVER_ERROR, False),
    }
    for fault, record in faults.values():
        for phone in rng.sample(phones, n // 20):
            fake.inject(fault, to=phone, times=1, record=record)
    # Both of a contact's messages answered 500, only the second accepted: the case where
    # matching by number and time attaches the wrong SID. And 429s: retried, re-prepared.
    for phone in rng.sample(phones, n // 20):
        fake.inject(SERVER_ERROR, to=phone, times=1, record=False)
        fake.inject(SERVER_ERROR, to=phone, times=1, record=True)
    for phone in rng.sample(phones, n // 20):
        fake.inject(RATE_LIMIT, to=phone, times=1)
    env = worker_env(
        scale_db,
        fake,
        OUTREACH_LEASE_SECONDS=3,
        OUTREACH_RECONCILE_GRACE_SECONDS=4,
        TWILIO_MAX_MPS=25,
    )
    fleet, outbox = Fleet(env, tmp_path, concurrency=4, batch=20), Outbox(scale_db)
    killed, canceled_at, started_at_cancel = 0, None, set()
    try:
        for round_ in range(8):
            wave = fleet.start(3)
            fleet.wait_started(wave)
            pause_until = time.monotonic() + rng.uniform(0.3, 1.5)
            while time.monotonic() < pause_until:
                # Cancel send B mid-way: as soon as its first row is with the provider, not at a
                # fixed round (on a slow machine both sends were out before round 3 came).
                if canceled_at is None and outbox.started(send_b):
                    canceled_at, started_at_cancel = cancel_send_now(scale_db, send_b)
                time.sleep(0.05)
            alive = fleet.alive
            if alive and round_ % 2 == 0:
                victims = rng.sample(alive, rng.randint(1, len(alive)))
                for worker in victims:
                    worker.kill()
                killed += len(victims)
        fleet.wait_exit(fleet.alive, timeout=120)
        assert canceled_at is not None, "send B never started within the rounds"
        drain(fleet, outbox, workers=3, timeout=300)
        fleet.check_clean_exits()

        with outbox.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT o.id, o.send_id, c.phone, o.body, o.status, o.twilio_sid "
                    "FROM outbox_messages o JOIN contacts c ON c.id = o.contact_id"
                )
            ).all()
            notice = "Responde BAJA para no recibir"
        by_sid = {r.twilio_sid: r for r in rows if r.twilio_sid}
        accepted = fake.messages
        pairs = Counter((m["to"], m["body"]) for m in accepted)
        duplicates = sum(k - 1 for k in pairs.values() if k > 1)
        unmapped = [
            m
            for m in accepted
            if m["sid"] not in by_sid
            or (by_sid[m["sid"]].phone, by_sid[m["sid"]].body) != (m["to"], m["body"])
        ]
        lost = [r for r in rows if r.send_id == send_a and r.status != "sent"]
        after_cancel = [
            m
            for m in accepted
            if m["body"].startswith("pairB")
            and by_sid.get(m["sid"]) is not None
            and by_sid[m["sid"]].id not in started_at_cancel
        ]
        double_notice = [m for m in accepted if m["body"].count(notice) > 1]
        answered_500 = sum(1 for r in fake.creates if r.status == 500)
        hung = sum(1 for r in fake.creates if r.status is None)
        print(
            f"\n[chaos] messages: {len(rows)} rows, {len(accepted)} accepted by the provider; "
            f"faults injected: {6 * (n // 20)} ({answered_500} answered 500, {hung} hung); "
            f"kills: {killed}; duplicates: {duplicates}; "
            f"unmapped: {len(unmapped)}; lost: {len(lost)}; sent after cancel: "
            f"{len(after_cancel)}; send B canceled: "
            f"{sum(1 for r in rows if r.send_id == send_b and r.status == 'canceled')}; "
            f"double opt-out line: {len(double_notice)}"
        )

        assert duplicates == 0 and not unmapped and not lost
        assert not after_cancel and not double_notice
        assert {r.status for r in rows} <= {"sent", "canceled"}
        assert all(
            r.status == "canceled" and r.twilio_sid is None
            for r in rows
            if r.send_id == send_b and r.status != "sent"
        )
        assert any(r.status == "canceled" for r in rows if r.send_id == send_b)
        assert killed >= 4 and canceled_at is not None
        assert answered_500 and hung
    finally:
        fleet.close()
        outbox.close()


def test_a_job_claimed_by_a_dead_worker_is_recovered(scale_db, fake, tmp_path):
    """(c) A worker process claims a job with a 4 s lease and is SIGKILLed while running it;
    nobody else takes the job while the lease holds; once it has expired the job is queued
    again with a visible error, and another worker runs it to completion."""
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from app.jobs.models import Job
    from app.jobs.runner import run_pending
    from app.jobs.services import HANDLERS, enqueue, job_handler, recover_expired
    from app.timeutil import utcnow

    create_schema_and_seed(scale_db, 0)

    class JobsConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = scale_db
        REDIS_URL = ""

    app = create_app(JobsConfig)
    kind = "scale_test_recovery"
    ran = []

    @job_handler(kind)
    def finishes(job, progress):
        ran.append(job.id)
        return {"recovered": True}

    env = worker_env(scale_db, fake)
    log_path = tmp_path / "job-child.log"
    outbox = Outbox(scale_db)
    child = None
    try:
        with app.app_context():
            job_id = enqueue(kind, organization_id=None, payload={"n": 1}, now=utcnow()).id
            db.session.remove()
        with open(log_path, "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.scale.job_child", kind, "4"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while f"RUNNING {job_id}" not in log_path.read_text(errors="replace"):
            assert child.poll() is None, log_path.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the child never started the job"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()

        with outbox.engine.connect() as conn:
            status, claimed_by, expires = conn.execute(
                text("SELECT status, claimed_by, lease_expires_at FROM jobs WHERE id = :id"),
                {"id": job_id},
            ).one()
        left = None if expires is None else (expires - utcnow()).total_seconds()
        assert (status, claimed_by) == ("running", f"doomed:{kind}")
        if left is not None and left > 1.0:  # the lease still holds: nobody steals it
            assert run_pending(app, "survivor") == 0
            assert ran == []

        deadline = time.monotonic() + 60
        with app.app_context():
            while not recover_expired(now=utcnow()):  # poll until the lease has expired
                assert time.monotonic() < deadline, "the dead worker's job was never recovered"
                time.sleep(0.2)
            job = db.session.get(Job, job_id)
            assert (job.status, job.claimed_by) == ("queued", None)
            assert job.error and "stopped" in job.error  # visible while it waits for a retry
            db.session.remove()
        assert run_pending(app, "survivor") == 1
        with app.app_context():
            job = db.session.get(Job, job_id)
            assert (job.status, job.attempts, job.result) == ("succeeded", 2, {"recovered": True})
            assert job.claimed_by is None and job.finished_at is not None
            db.session.remove()
            db.engine.dispose()
        assert ran == [job_id]
    finally:
        HANDLERS.pop(kind, None)
        if child is not None and child.poll() is None:
            child.kill()
        if child is not None:
            child.wait()
        outbox.close()
