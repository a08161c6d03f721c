"""The send-rate budget shared by every worker process through Redis.

N workers together never exceed TWILIO_MAX_MPS: each send takes a slot in a moving one-second
window kept in Redis (the `limits` library's atomic Lua scripts).
"""
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RedisSendBudget:
    def __init__(self, redis_url: str, per_second: float, *, key: str = "alcance-send-budget",
                 sleep=time.sleep):
        self.item = RateLimitItemPerSecond(max(1, int(per_second)))
        self.limiter = MovingWindowRateLimiter(storage_from_string(redis_url))
        self.key, self._sleep = key, sleep
        self._pause = 1.0 / max(1.0, per_second) / 2

    def acquire(self) -> None:
        while not self.limiter.hit(self.item, self.key):
            self._sleep(self._pause)
