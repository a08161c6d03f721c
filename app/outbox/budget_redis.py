"""The send-rate budget shared by every worker process through Redis.

N workers together never exceed TWILIO_MAX_MPS: each send takes a slot in a moving one-second
window kept in Redis (the `limits` library's atomic Lua scripts).

Without Redis there is no shared budget, so the budget fails closed: nothing is sent. The
worker asks `available()` before it claims a batch and skips the pass while Redis does not
answer (no row is claimed that could not be sent); a send already under way when Redis drops
waits in `acquire()` until Redis answers. Either way one warning per interval, no traceback.
"""

import logging
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.ratelimit import REDIS_TIMEOUT_SECONDS, WARN_EVERY_SECONDS, Every

logger = logging.getLogger("alcance.outreach")


class RedisSendBudget:
    retry_seconds = 1.0  # how often a waiting send asks Redis again

    def __init__(
        self,
        redis_url: str,
        per_second: float,
        *,
        key: str = "alcance-send-budget",
        sleep=time.sleep,
        monotonic=time.monotonic,
    ):
        self.item = RateLimitItemPerSecond(max(1, int(per_second)))
        # Short timeouts: an unreachable Redis must not hold a pass for minutes.
        self.storage = storage_from_string(
            redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.key, self._sleep = key, sleep
        self._pause = 1.0 / max(1.0, per_second) / 2
        self._warn = Every(WARN_EVERY_SECONDS, clock=monotonic)
        self._down = False

    def available(self) -> bool:
        """Whether Redis answers, so sends can be granted. Checked before claiming a batch."""
        try:
            self.storage.get_connection().ping()
        except self.storage.base_exceptions as error:
            self._unreachable(error)
            return False
        self._answered()
        return True

    def acquire(self) -> None:
        """Block until one send is allowed; while Redis does not answer, keep waiting."""
        while True:
            try:
                granted = self.limiter.hit(self.item, self.key)
            except self.storage.base_exceptions as error:
                self._unreachable(error)
                self._sleep(self.retry_seconds)
                continue
            self._answered()
            if granted:
                return
            self._sleep(self._pause)

    def _unreachable(self, error: Exception) -> None:
        self._down = True
        if self._warn.due():
            logger.warning(
                "send budget unavailable: Redis does not answer (%s); no messages "
                "are sent until it does",
                type(error).__name__,
            )

    def _answered(self) -> None:
        if self._down:
            self._down = False
            self._warn.reset()
            logger.info("send budget available again: Redis answers again")
