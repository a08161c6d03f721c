"""The send-rate budget: never more than TWILIO_MAX_MPS, per process or across processes."""

import os
import threading
import time
import uuid
from itertools import pairwise

import pytest

from app.outbox.budget import LocalSendBudget


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_local_budget_spaces_sends_at_the_rate():
    fake = FakeTime()
    budget = LocalSendBudget(10, clock=fake.clock, sleep=fake.sleep)
    moments = []
    for _ in range(50):
        budget.acquire()
        moments.append(fake.now)
    # 1 immediately, then one every 0.1 s: 50 sends take 4.9 s of (fake) time.
    assert moments[-1] == pytest.approx(4.9, abs=0.01)
    assert all(b - a >= 0.099 for a, b in pairwise(moments))


def test_redis_budget_is_shared_between_workers():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    from app.outbox.budget_redis import RedisSendBudget

    key = f"test-budget-{uuid.uuid4().hex}"
    budgets = [RedisSendBudget(url, 5, key=key) for _ in range(2)]  # two "processes"
    moments, lock = [], threading.Lock()

    def send(budget):
        for _ in range(6):
            budget.acquire()
            with lock:
                moments.append(time.monotonic())

    threads = [threading.Thread(target=send, args=(b,)) for b in budgets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moments.sort()
    # In any one-second window, at most 5 sends in total.
    for i, start in enumerate(moments):
        assert sum(1 for m in moments[i:] if m - start < 0.98) <= 5


# --- Redis down: the budget fails closed, and the worker claims nothing it cannot send ------

DOWN_REDIS = "redis://127.0.0.1:6390/0"  # nothing listens there


def _due_rows(make_org, n=3):
    from tests.factories import make_contact
    from tests.outreach.helpers import schedule_once
    from tests.support import utc

    org = make_org()
    for _ in range(n):
        make_contact(org)
    schedule_once(org, now=utc(2026, 11, 27, 18, 0))
    return utc(2026, 12, 2, 1, 0)  # due: 17:00 in Tijuana on 1 December


def _rows():
    from sqlalchemy import select

    from app.extensions import db
    from app.outbox.models import OutboxMessage

    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def _run_once(app, clock, gateway, budget, passes=1):
    from tests.outreach.helpers import make_worker

    worker = make_worker(app, clock, gateway, budget=budget)
    try:
        for _ in range(passes):
            worker.run(once=True)
    finally:
        worker.close()


def test_worker_claims_nothing_while_redis_is_down(app, make_org, caplog):
    import logging

    from app.messaging.fake import FakeSmsGateway
    from app.outbox.budget_redis import RedisSendBudget
    from tests.support import Clock

    clock = Clock(_due_rows(make_org))
    gateway = FakeSmsGateway(clock=clock)
    caplog.set_level(logging.INFO, logger="alcance")
    _run_once(app, clock, gateway, RedisSendBudget(DOWN_REDIS, 10), passes=3)
    assert gateway.sent == []
    rows = _rows()
    assert {r.status for r in rows} == {"scheduled"}  # never claimed, so never "unknown"
    assert all(r.claimed_by is None and r.send_started_at is None for r in rows)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis" in warnings[0] and "no messages" in warnings[0]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_worker_sends_once_redis_answers(app, make_org):
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    from app.messaging.fake import FakeSmsGateway
    from app.outbox.budget_redis import RedisSendBudget
    from tests.support import Clock

    clock = Clock(_due_rows(make_org))
    gateway = FakeSmsGateway(clock=clock)
    _run_once(app, clock, gateway, RedisSendBudget(DOWN_REDIS, 10))
    assert gateway.sent == []
    _run_once(app, clock, gateway, RedisSendBudget(url, 10, key=f"test-{uuid.uuid4().hex}"))
    assert len(gateway.sent) == 3 and {r.status for r in _rows()} == {"sent"}


def test_redis_budget_waits_without_granting_when_redis_drops_mid_batch(caplog):
    """A batch already claimed when Redis drops: each send waits (fails closed) instead of
    failing the row, with one warning, and goes on when Redis answers again."""
    import logging

    import redis

    from app.outbox.budget_redis import RedisSendBudget

    fake = FakeTime()
    budget = RedisSendBudget(DOWN_REDIS, 10, sleep=fake.sleep, monotonic=fake.clock)
    answers = [redis.ConnectionError("down")] * 5 + [True]

    class FlakyLimiter:
        def hit(self, item, key):
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    budget.limiter = FlakyLimiter()
    caplog.set_level(logging.INFO, logger="alcance")
    budget.acquire()
    assert answers == [] and fake.now == pytest.approx(5 * budget.retry_seconds)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "no messages are sent" in messages[0] and "answers again" in messages[1]


def test_local_budget_is_always_available():
    assert LocalSendBudget(10).available()
