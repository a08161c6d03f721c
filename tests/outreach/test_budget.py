"""The send-rate budget: never more than TWILIO_MAX_MPS, per process or across processes."""
import os
import threading
import time
import uuid

import pytest

from app.outreach.budget import LocalSendBudget


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
    assert all(b - a >= 0.099 for a, b in zip(moments, moments[1:]))


def test_redis_budget_is_shared_between_workers():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    from app.outreach.budget_redis import RedisSendBudget

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
