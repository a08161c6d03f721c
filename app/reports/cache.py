"""Recently computed report figures, reused for REPORTS_CACHE_SECONDS (default 60).

A dashboard's figures at national scale take tens of milliseconds to seconds of database
work; evaluators and coordinators reload the same dashboards all day. Each web process
keeps the figures it computed, keyed by everything they depend on (organization,
campaign, period, local date, granularity), for at most a minute: pages say "figures as
of HH:MM", so nobody mistakes them for live counters. Per process (no shared store): no
serialization, nothing personal leaves the process, and a figure is never older than the
setting whichever process answers.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from flask import current_app

from app.timeutil import utcnow

MAX_ENTRIES = 64  # dashboards in use at once per process; bounded memory


@dataclass(frozen=True)
class Computed:
    value: Any
    computed_at: datetime


_lock = threading.Lock()
_caches: dict[int, TTLCache] = {}  # one per TTL setting (tests change it)


def _cache(seconds: int) -> TTLCache:
    with _lock:
        if seconds not in _caches:
            _caches[seconds] = TTLCache(maxsize=MAX_ENTRIES, ttl=seconds)
        return _caches[seconds]


def cached(key: tuple, compute: Callable[[], Any]) -> Computed:
    """`compute()` or the same key's result from the last REPORTS_CACHE_SECONDS."""
    seconds = current_app.config.get("REPORTS_CACHE_SECONDS", 0)
    if seconds <= 0:
        return Computed(compute(), utcnow())
    cache = _cache(seconds)
    full_key = (current_app.config["SQLALCHEMY_DATABASE_URI"],) + key
    with _lock:
        hit = cache.get(full_key)
    if hit is not None:
        return hit
    # Computed outside the lock: two requests may compute the same key at once, harmless.
    result = Computed(compute(), utcnow())
    with _lock:
        cache[full_key] = result
    return result


def clear() -> None:
    with _lock:
        for cache in _caches.values():
            cache.clear()
