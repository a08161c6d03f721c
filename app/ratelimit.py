"""Sign-in limits shared by every process: Redis when REDIS_URL is set, memory otherwise.

A limit is checked and consumed in one atomic step *before* a password is verified
(`take`), so concurrent attempts cannot all pass a check made before any of them was
counted. A slot taken by an attempt that turns out right can be given back (`give_back`).
When Redis does not answer, each process falls back to its own memory — logged once per
interval and counted in /metrics — rather than refusing every sign-in.
"""

import hashlib
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from limits import parse

logger = logging.getLogger("alcance.ratelimit")

# A sign-in never waits long on a dead or unreachable Redis.
REDIS_TIMEOUT_SECONDS = 1.0
# After a failure Redis is not tried again for this long: no timeout on every request.
REDIS_RETRY_SECONDS = 5.0
# Repeated warnings (Redis down, rejected webhooks) are logged at most this often.
WARN_EVERY_SECONDS = 60.0


class Every:
    """`due()` is true at most once per `seconds` in this process: for log lines that
    would otherwise repeat on every request or worker pass."""

    def __init__(self, seconds: float, *, clock=time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._next: float | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            now = self.clock()
            if self._next is not None and now < self._next:
                return False
            self._next = now + self.seconds
            return True

    def reset(self) -> None:
        with self._lock:
            self._next = None


@dataclass(frozen=True)
class Slot:
    """One attempt counted in a window; `in_redis` says where, to give it back there."""

    key: str
    token: str
    in_redis: bool


class MemoryWindows:
    """Moving windows in this process's memory; one lock makes check-and-consume atomic."""

    SWEEP_EVERY = 1000  # takes between sweeps of expired keys (bounded memory)

    def __init__(self):
        self._events: dict[str, tuple[float, deque]] = {}
        self._lock = threading.Lock()
        self._takes = 0

    def take(self, key: str, amount: int, seconds: float, now: float, token: str) -> bool:
        with self._lock:
            self._takes += 1
            if self._takes % self.SWEEP_EVERY == 0:
                self._sweep(now)
            _, events = self._events.setdefault(key, (seconds, deque()))
            while events and events[0][0] <= now - seconds:
                events.popleft()
            if len(events) >= amount:
                return False
            events.append((now, token))
            return True

    def give_back(self, key: str, token: str) -> None:
        with self._lock:
            _, events = self._events.get(key, (0, deque()))
            for entry in [e for e in events if e[1] == token]:
                events.remove(entry)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key, (seconds, events) in list(self._events.items()):
            if not events or events[-1][0] <= now - seconds:
                del self._events[key]


# KEYS[1] a sorted set of attempts scored by time; ARGV now, window seconds, limit, token.
_TAKE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return 1
"""


class RedisWindows:
    """The same windows in Redis: one Lua script checks and consumes atomically for every
    process. Raises `self.error` (redis.RedisError) when Redis does not answer."""

    def __init__(self, url: str, prefix: str):
        # Imported here, the only place: processes without REDIS_URL never load the client.
        import redis

        self.error = redis.RedisError
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        self.prefix = prefix
        self._take = self.client.register_script(_TAKE_SCRIPT)

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def take(self, key: str, amount: int, seconds: float, now: float, token: str) -> bool:
        return bool(self._take(keys=[self.key(key)], args=[repr(now), seconds, amount, token]))

    def give_back(self, key: str, token: str) -> None:
        self.client.zrem(self.key(key), token)

    def clear(self, key: str) -> None:
        self.client.delete(self.key(key))

    def ping(self) -> bool:
        return bool(self.client.ping())


@dataclass(frozen=True)
class LimitStatus:
    configured: bool  # REDIS_URL is set
    shared: bool  # limits currently kept in Redis (else this process's memory)
    fallbacks: int  # attempts this process counted in memory because Redis failed


class Limiter:
    """The limits of one app: Redis with a per-process memory fallback, or memory only."""

    def __init__(self, redis_url: str, prefix: str, *, clock=time.time, monotonic=time.monotonic):
        self.memory = MemoryWindows()
        self.redis = RedisWindows(redis_url, prefix) if redis_url else None
        self.clock, self.monotonic = clock, monotonic
        self.fallbacks = 0
        self.degraded = False
        self.retry_at = 0.0  # monotonic moment before which Redis is not tried again
        self._warn = Every(WARN_EVERY_SECONDS, clock=monotonic)

    def with_redis(self, operation):
        """(True, operation(redis)) when Redis is configured and answers, else (False, None).
        A failure is logged (once per interval) and Redis is left alone for a short pause."""
        if self.redis is None or self.monotonic() < self.retry_at:
            return False, None
        try:
            result = operation(self.redis)
        except self.redis.error as error:
            self.retry_at = self.monotonic() + REDIS_RETRY_SECONDS
            self.degraded = True
            if self._warn.due():
                logger.warning(
                    "Redis does not answer (%s): sign-in limits (and webhook "
                    "rejection counts) fall back to per-process memory until it "
                    "does",
                    type(error).__name__,
                )
            return False, None
        if self.degraded:
            self.degraded = False
            self._warn.reset()
            logger.info("Redis answers again: sign-in limits are shared again")
        return True, result

    def take(self, key: str, amount: int, seconds: float) -> Slot | None:
        now, token = self.clock(), uuid.uuid4().hex
        ok, granted = self.with_redis(lambda r: r.take(key, amount, seconds, now, token))
        if not ok:
            if self.redis is not None:
                self.fallbacks += 1
            granted = self.memory.take(key, amount, seconds, now, token)
        return Slot(key, token, ok) if granted else None

    def give_back(self, slot: Slot) -> None:
        if slot.in_redis:
            self.with_redis(lambda r: r.give_back(slot.key, slot.token))
        else:
            self.memory.give_back(slot.key, slot.token)

    def clear(self, key: str) -> None:
        self.memory.clear(key)
        self.with_redis(lambda r: r.clear(key))

    def status(self) -> LimitStatus:
        return LimitStatus(
            configured=self.redis is not None,
            shared=self.redis is not None and not self.degraded,
            fallbacks=self.fallbacks,
        )

    def redis_state(self) -> str:
        """ "ok", "unreachable" or "not_configured": asks Redis now (health checks)."""
        if self.redis is None:
            return "not_configured"
        try:
            return "ok" if self.redis.ping() else "unreachable"
        except self.redis.error:
            return "unreachable"


@lru_cache(maxsize=32)
def _parsed(limit: str) -> tuple[int, int]:
    item = parse(limit)
    return item.amount, item.get_expiry()


class RateLimits:
    """Counts attempts per key in a moving window (e.g. sign-ins per account)."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app) -> None:
        app.extensions["rate_limits"] = Limiter(
            app.config.get("REDIS_URL") or "", app.config.get("RATELIMIT_KEY_PREFIX", "alcance")
        )

    @staticmethod
    def limiter() -> Limiter:
        return current_app.extensions["rate_limits"]

    @staticmethod
    def _key(scope: str, value: str) -> str:
        # Keys never hold an e-mail or IP in clear text.
        secret = current_app.config["SECRET_KEY"].encode()
        return f"{scope}:{hashlib.sha256(secret + value.encode()).hexdigest()[:32]}"

    def take(self, limit: str, scope: str, value: str) -> Slot | None:
        """Count one attempt now, atomically; None (nothing counted) when over the limit."""
        amount, seconds = _parsed(limit)
        return self.limiter().take(self._key(scope, value), amount, seconds)

    def give_back(self, slot: Slot) -> None:
        """Uncount an attempt that `take` counted (it turned out not to be a failure)."""
        self.limiter().give_back(slot)

    def clear(self, scope: str, value: str) -> None:
        self.limiter().clear(self._key(scope, value))

    def status(self) -> LimitStatus:
        return self.limiter().status()

    def redis_state(self) -> str:
        return self.limiter().redis_state()


rate_limits = RateLimits()
