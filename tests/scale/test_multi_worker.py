"""Many processes, one truth (issue 7), on PostgreSQL with real worker processes.

Each test creates its own scratch database on TEST_DATABASE_URL's server (create_all,
dropped at the end), runs the in-process fake Twilio HTTP server (tests/fake_twilio.py) with
latency and fault injection, and starts `flask --app wsgi outreach worker --once` processes
whose real TwilioGateway talks to it. The fake's record of created messages is the ground
truth for "sent exactly once".

(a) 8 workers × 10,000 due messages, 20 ms latency, 1 % of recipients answered 429 once:
    every message is created exactly once on the provider and every row is `sent` with a
    distinct SID that the provider knows.
(b) 3,000 due messages; 20 rounds of 4 workers SIGKILLed at random moments (seeded), with
    "accept then hang" faults on 1 % of recipients (the fake creates the message, then never
    answers: the worker's read timeout fires or it is killed first) and a 2 s lease / 3 s
    reconcile grace; then workers run until nothing is left: nobody got a message twice,
    nothing is left scheduled, claimed or unknown, and everything is `sent`.
    3,000 rather than 10,000 keeps both tests within about 3 minutes on a 2-core machine.

No assertion here is about speed: the deadlines only bound how long a test waits before it
declares the system stuck.
"""
import random
import time
from collections import Counter

import pytest

from config import TestingConfig
from tests.fake_twilio import HANG, RATE_LIMIT, FakeTwilioServer
from tests.scale.fleet import Fleet, Outbox, create_schema_and_seed, drain, scratch_database, \
    worker_env

DATABASE_URL = TestingConfig.SQLALCHEMY_DATABASE_URI
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                       reason="scale tests need PostgreSQL (FOR UPDATE SKIP LOCKED across "
                              "processes): set TEST_DATABASE_URL=postgresql+psycopg://..."),
]
SEED = 20261127


@pytest.fixture
def scale_db():
    with scratch_database(DATABASE_URL) as url:
        yield url


@pytest.fixture
def fake():
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
    assert all(provider.get(sid) == phone for phone, _, sid in rows), \
        "an outbox row holds a SID the provider created for someone else (or never created)"


def test_eight_workers_send_ten_thousand_messages_exactly_once(scale_db, fake, tmp_path):
    n = 10_000
    phones = create_schema_and_seed(scale_db, n)
    rng = random.Random(SEED)
    rate_limited = rng.sample(phones, n // 100)
    for phone in rate_limited:  # occasional 429: not processed, retried with backoff
        fake.inject(RATE_LIMIT, to=phone, times=1)
    env = worker_env(scale_db, fake, OUTREACH_LEASE_SECONDS=60,
                     OUTREACH_RECONCILE_GRACE_SECONDS=10)
    fleet, outbox = Fleet(env, tmp_path, concurrency=4, batch=100), Outbox(scale_db)
    try:
        wave = fleet.start(8)
        fleet.wait_exit(wave, timeout=150)
        # 429'd rows come due again after their backoff (1-2 s): run until none is left.
        drain(fleet, outbox, workers=2, timeout=60)
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
        scale_db, fake, tmp_path):
    n = 3_000
    phones = create_schema_and_seed(scale_db, n)
    rng = random.Random(SEED + 1)
    hanging = rng.sample(phones, n // 100)
    for phone in hanging:  # accepted by the provider, then no answer
        fake.inject(HANG, to=phone, times=1)
    env = worker_env(scale_db, fake, OUTREACH_LEASE_SECONDS=2,
                     OUTREACH_RECONCILE_GRACE_SECONDS=3)
    # Small batches and a little concurrency, so that the 20 rounds still find work.
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
            victims = alive if rng.random() < 0.25 else rng.sample(alive, rng.randint(1, len(alive)))
            for worker in victims:
                worker.kill()
            killed += len(victims)
        # Survivors finish (a hung request ends with the 15 s read timeout), then the leases
        # of the dead expire and their unknown outcomes are reconciled.
        fleet.wait_exit(fleet.alive, timeout=60)
        drain(fleet, outbox, workers=4, timeout=90)
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
