"""Recently computed report figures and their rendered HTML, reused for
REPORTS_CACHE_SECONDS (default 60).

Figures come from the rollups (participation.rollups), yet a national dashboard still
takes tens of milliseconds to compute and more to turn into tables, charts and HTML;
evaluators and coordinators reload the same dashboards all day. Entries are keyed by
everything they depend on (organization, campaign, period, local date, granularity; for
HTML also the viewer's suppression threshold, language and links) and kept at most a
minute: pages say "figures as of HH:MM", so nobody mistakes them for live counters.

Shared, not per process, when REDIS_URL is set: every web process then serves the same
copy of a key (the first one computed wins, `SET NX`), so the dashboard and the reports
page never show figures computed at different moments by different processes. Keying by
a data version instead (the rollups' last change) would have needed a counter row that
every event insert updates, a lock all concurrent writers of an organization would queue
on. Figures are aggregates (no names, no phones), and a rendered fragment holds only what
its key's viewers may see. Without Redis, or when it does not answer, each process keeps
its own copies (the previous behaviour).

A fragment is cached under its figures' key and `computed_at`, so it is always the
rendering of the figures shown beside it.
"""

import hashlib
import logging
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from flask import current_app

from app.timeutil import utcnow

logger = logging.getLogger("alcance.reports")

MAX_ENTRIES = 256  # figures and fragments in use at once per process; bounded memory
REDIS_PREFIX = "alcance:reports:v2:"  # v2: (value, fresh until) pairs
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_SECONDS = 30  # after a Redis failure, this process keeps its own copies
# A copy older than REPORTS_CACHE_SECONDS is recomputed by one request (per process, or per
# deployment through Redis); meanwhile the others get that copy, up to this many times the
# setting old: a national dashboard takes seconds to compute, and 50 users reloading it
# must not all compute it at once the moment it expires.
STALE_FACTOR = 10
FLIGHT_SECONDS = 120  # the lock of a computation, in case its process dies
WAIT_SECONDS = 30  # nothing to show yet: how long to wait for another process computing it


@dataclass(frozen=True)
class Computed:
    value: Any
    computed_at: datetime


_lock = threading.Lock()
_caches: dict[int, TTLCache] = {}  # one per TTL setting (tests change it)
# One computation of a key at a time: a fixed set of locks (bounded memory), a key's by its
# hash; two keys sharing one only take turns.
_flights = [threading.Lock() for _ in range(64)]
_clients: dict[str, Any] = {}  # one Redis client per URL
_redis_down_until = [0.0]


def _cache(seconds: int) -> TTLCache:
    with _lock:
        if seconds not in _caches:
            _caches[seconds] = TTLCache(maxsize=MAX_ENTRIES, ttl=seconds * STALE_FACTOR)
        return _caches[seconds]


def _redis():
    """The shared store's client, or None (not configured, or failing lately)."""
    url = current_app.config.get("REDIS_URL")
    if not url or time.monotonic() < _redis_down_until[0]:
        return None
    with _lock:
        if url not in _clients:
            import redis  # only processes with REDIS_URL load the client

            _clients[url] = redis.Redis.from_url(
                url,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
        return _clients[url]


def _redis_failed(error: Exception) -> None:
    _redis_down_until[0] = time.monotonic() + REDIS_RETRY_SECONDS
    logger.warning("report cache: Redis unavailable (%s); per-process copies", type(error).__name__)


def _redis_key(full_key: tuple) -> str:
    return REDIS_PREFIX + hashlib.sha256(repr(full_key).encode()).hexdigest()


def _shared(full_key: tuple, seconds: int, compute: Callable[[], Any]) -> Any | None:
    """Through Redis: the fresh stored value; else one process (the holder of the key's
    lock) computes and stores it while the others show the stale copy, or, when there is
    none yet, wait for it. None when Redis is not available (the caller falls back to this
    process's cache)."""
    client = _redis()
    if client is None:
        return None
    import redis

    key = _redis_key(full_key)
    try:
        stored = client.get(key)
        entry = pickle.loads(stored) if stored is not None else None  # noqa: S301 - ours
        if entry is not None and entry[1] > time.time():
            return entry[0]
        if client.set(key + ":lock", b"1", nx=True, ex=FLIGHT_SECONDS):
            try:
                value = compute()
                stored = pickle.dumps((value, time.time() + seconds))
                client.set(key, stored, ex=seconds * STALE_FACTOR)
            finally:
                client.delete(key + ":lock")
            return value
        if entry is not None:
            return entry[0]  # being recomputed by another process: the last copy meanwhile
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            stored = client.get(key)
            if stored is not None:
                return pickle.loads(stored)[0]  # noqa: S301
        return compute()  # the other process is taking too long: do not wait longer
    except (redis.RedisError, OSError) as error:
        _redis_failed(error)
        return None


@dataclass(frozen=True)
class _Entry:
    value: Any
    fresh_until: float  # time.monotonic()


def _flight(full_key: tuple) -> threading.Lock:
    return _flights[hash(full_key) % len(_flights)]


def _local(full_key: tuple, seconds: int, compute: Callable[[], Any]) -> Any:
    """This process's copy, with the same single flight as `_shared` between threads."""
    cache = _cache(seconds)
    with _lock:
        entry = cache.get(full_key)
    if entry is not None and entry.fresh_until > time.monotonic():
        return entry.value
    flight = _flight(full_key)
    if entry is not None and not flight.acquire(blocking=False):
        return entry.value  # another thread is recomputing it: the last copy meanwhile
    if entry is None:
        flight.acquire()  # nothing to show yet: wait for the thread computing it, if any
        with _lock:
            entry = cache.get(full_key)
        if entry is not None and entry.fresh_until > time.monotonic():
            flight.release()
            return entry.value
    try:
        value = compute()
        with _lock:
            cache[full_key] = _Entry(value, time.monotonic() + seconds)
        return value
    finally:
        flight.release()


def _get_or_compute(key: tuple, compute: Callable[[], Any]) -> Any:
    seconds = current_app.config.get("REPORTS_CACHE_SECONDS", 0)
    if seconds <= 0:
        return compute()
    full_key = (current_app.config["SQLALCHEMY_DATABASE_URI"],) + key
    computed = []

    def once():  # a Redis failure after computing must not compute twice
        if not computed:
            computed.append(compute())
        return computed[0]

    shared = _shared(full_key, seconds, once)
    if shared is not None:
        return shared
    return _local(full_key, seconds, once)


def cached(key: tuple, compute: Callable[[], Any]) -> Computed:
    """`compute()` or the same key's result from the last REPORTS_CACHE_SECONDS."""
    return _get_or_compute(("figures",) + key, lambda: Computed(compute(), utcnow()))


def cached_fragment(figures_key: tuple, computed: Computed, variant: tuple, render) -> str:
    """The HTML `render()` makes from the figures `computed` (cached under `figures_key`),
    for one `variant` of viewer (suppression threshold, language, links), reused like
    the figures. The key holds `computed_at`: new figures, new HTML."""
    return _get_or_compute(("fragment", computed.computed_at) + figures_key + variant, render)


def clear() -> None:
    """Forget every copy (tests; the minute's expiry does it otherwise)."""
    with _lock:
        for cache in _caches.values():
            cache.clear()
    _redis_down_until[0] = 0.0
    try:
        client = _redis()
    except RuntimeError:  # outside an application context: no shared store to clear
        client = None
    if client is None:
        return
    import redis

    try:
        keys = list(client.scan_iter(match=REDIS_PREFIX + "*", count=1000))
        if keys:
            client.delete(*keys)
    except (redis.RedisError, OSError) as error:
        _redis_failed(error)
