"""Dispatch: claim due outbox rows with a lease, send them once, record what happened.

The delivery guarantee (README "Delivery guarantee"):
1. A row is claimed (status `claimed`, worker id, lease expiry) in one statement:
   `FOR UPDATE SKIP LOCKED` on PostgreSQL, `UPDATE ... RETURNING` under `BEGIN IMMEDIATE`
   on SQLite. Two workers never hold the same row.
2. The batch is prepared (preparing.py: every send-time rule; the row's text becomes
   final). Right before its own provider call, each row gets `send_started_at` in one
   conditional UPDATE that re-checks it is still this worker's and still allowed (send not
   canceled, campaign active, contact not opted out). From then on it is never re-sent
   blindly; a crash leaves only the rows in flight unknown.
3. The outcome is committed right after the call (a success, on PostgreSQL, in one
   statement with those that arrive meanwhile: sending.BatchWriter): `sent` + SID; a
   retryable error (429, no connection) goes back to `scheduled` with exponential backoff
   and jitter, up to `max_attempts`, then `failed`; a permanent error is `failed` with its
   code; an unknown outcome (5xx, read timeout) is `unknown`.
4. Expired leases: rows never started go back to `scheduled`; rows started become `unknown`.
5. `unknown` rows are reconciled: looked up on the provider by recipient and matched by
   exact text and sender; found → `sent` with its SID; not found after a grace period →
   the provider never accepted it, so it is `scheduled` again (or `canceled` if its send
   was canceled); ambiguous, or the lookup keeps failing → it stays `unknown` (visible)
   and after `unknown_escalation` becomes `failed_unknown`, never re-sent.

Sizing (`plan_dispatch`, issue 15). Settings (config.py):
- `OUTREACH_CONCURRENCY`: "auto" (default) or a number of sending threads, which then wins.
  Auto follows Little's law: threads = ceil(TWILIO_MAX_MPS × latency × 1.5 headroom), where
  latency is a moving average of the provider call's duration (`LatencyMeter`, starting at
  0.25 s until calls are observed), kept within [`OUTREACH_CONCURRENCY_MIN` (4),
  `OUTREACH_CONCURRENCY_MAX` (64)]. With no limit (TWILIO_MAX_MPS 0) it is the max bound.
  TWILIO_MAX_MPS unset means its default, 10/s (config.py), which is a limit.
- `OUTREACH_BATCH`: "auto" (default) = 10 × threads, so the next batch can be claimed while
  half of the current one is still queued; a number wins.
- `OUTREACH_DB_CONNECTIONS` (8): database connections the sending threads share, per
  worker (each statement holds one for about a millisecond; see worker.py).
The worker sizes its HTTP connection pool to the threads.
"""

import logging
import math
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update

from app.db_dialect import is_postgres, take_write_lock
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.outbox.preparing import _among as among

logger = logging.getLogger("alcance.outreach")


BATCH_PER_THREAD = 10
INITIAL_LATENCY = 0.25  # seconds: a typical Twilio create, until calls are observed
AUTO = "auto"


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int | None = None  # None: auto, BATCH_PER_THREAD × the threads
    concurrency: int | None = None  # None: auto, sized by plan_dispatch
    concurrency_min: int = 4
    concurrency_max: int = 64
    max_mps: float = 0.0  # the provider's rate the threads are sized for; 0: no limit
    headroom: float = 1.5  # threads beyond Little's law: latency jitter, database time
    db_connections: int = 8  # the sending threads' database connections (per worker)
    lease: timedelta = timedelta(minutes=2)
    max_attempts: int = 5
    backoff_base: float = 2.0  # seconds; doubled per attempt
    backoff_cap: float = 300.0
    reconcile_grace: timedelta = timedelta(minutes=10)
    # An unknown row the provider cannot resolve for this long becomes failed_unknown.
    unknown_escalation: timedelta = timedelta(hours=6)


def _fixed_or_auto(value) -> int | None:
    """A configured number, or None for "auto" (also None/""). Raises ValueError otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", AUTO)):
        return None
    number = int(value)
    if number < 1:
        raise ValueError(f"expected a positive number or {AUTO!r}, got {value!r}")
    return number


def settings_from_config(config, **overrides) -> "DispatchSettings":
    values = dict(
        concurrency=_fixed_or_auto(config["OUTREACH_CONCURRENCY"]),
        batch_size=_fixed_or_auto(config["OUTREACH_BATCH"]),
        concurrency_min=max(1, int(config.get("OUTREACH_CONCURRENCY_MIN", 4))),
        concurrency_max=max(1, int(config.get("OUTREACH_CONCURRENCY_MAX", 64))),
        max_mps=max(0.0, float(config.get("TWILIO_MAX_MPS") or 0)),
        db_connections=max(1, int(config.get("OUTREACH_DB_CONNECTIONS", 8))),
        lease=timedelta(seconds=config["OUTREACH_LEASE_SECONDS"]),
        reconcile_grace=timedelta(seconds=config["OUTREACH_RECONCILE_GRACE_SECONDS"]),
        unknown_escalation=timedelta(seconds=config["OUTREACH_UNKNOWN_ESCALATION_SECONDS"]),
    )
    values.update({k: v for k, v in overrides.items() if v is not None})
    return DispatchSettings(**values)


@dataclass(frozen=True)
class DispatchPlan:
    """What a worker runs with now: sending threads (also the size of its HTTP connection
    pool and of its sending database connections) and rows claimed per batch."""

    concurrency: int
    batch_size: int


def plan_dispatch(settings: DispatchSettings, latency: float) -> DispatchPlan:
    """Threads and batch for the settings and the observed provider latency (seconds).

    Little's law: sending `max_mps` messages a second when each call takes `latency` seconds
    keeps max_mps × latency calls in flight, one per thread; `headroom` covers jitter and the
    database time around each call. An explicit concurrency wins; no limit means the max."""
    if settings.concurrency:
        threads = settings.concurrency
    elif settings.max_mps <= 0:
        threads = settings.concurrency_max
    else:
        wanted = math.ceil(settings.max_mps * max(latency, 0.0) * settings.headroom)
        threads = min(settings.concurrency_max, max(settings.concurrency_min, wanted))
    return DispatchPlan(threads, settings.batch_size or BATCH_PER_THREAD * threads)


def most_threads(settings: DispatchSettings) -> int:
    """The most sending threads a worker with these settings may ever run."""
    return settings.concurrency or max(settings.concurrency_max, 1)


class LatencyMeter:
    """Moving average (exponentially weighted) of the provider call's duration, fed by the
    sending threads and read by the worker when it re-plans."""

    def __init__(self, initial: float = INITIAL_LATENCY, weight: float = 0.1):
        self.value, self.weight, self.samples = float(initial), weight, 0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.samples += 1
            # The first calls replace the guess quickly; later ones move the average slowly.
            weight = max(self.weight, 1.0 / self.samples)
            self.value += weight * (seconds - self.value)


def backoff_delay(attempt: int, settings: DispatchSettings, rng=random.random) -> timedelta:
    """Exponential backoff with full jitter: uniform in [0.5, 1] × base × 2^(attempt-1)."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=ceiling * (0.5 + rng() / 2))


def claim_due(worker_id: str, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Atomically claim up to `limit` due rows for `worker_id`; returns their ids."""
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "scheduled", OutboxMessage.due_at <= now)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )
    values = dict(
        status="claimed", claimed_by=worker_id, lease_expires_at=now + lease, send_started_at=None
    )
    if is_postgres():
        # Two statements in one transaction: lock the batch (skipping rows other workers
        # hold), then update exactly those rows. (Inside `UPDATE ... WHERE id IN (subquery
        # LIMIT n)` PostgreSQL may re-run the subquery per row and claim far more than n.)
        ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
        if ids:
            db.session.execute(
                update(OutboxMessage)
                .where(among(OutboxMessage.id, ids))  # one array parameter, not n
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        return ids
    # SQLite has no row locks (SQLAlchemy drops FOR UPDATE there): take the write lock
    # first so the SELECT inside the UPDATE cannot race another worker.
    db.session.rollback()
    take_write_lock()
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.status == "scheduled")
        .values(**values)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(db.session.scalars(stmt))
    db.session.commit()
    return ids


def recover_expired_leases(*, now: datetime) -> tuple[int, int]:
    """Give back rows of dead workers. Returns (requeued, marked unknown)."""
    expired = and_(OutboxMessage.status == "claimed", OutboxMessage.lease_expires_at < now)
    requeued = db.session.execute(
        update(OutboxMessage)
        .where(expired, OutboxMessage.send_started_at.is_(None))
        .values(status="scheduled", claimed_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    unknown = db.session.execute(
        update(OutboxMessage)
        .where(expired, OutboxMessage.send_started_at.is_not(None))
        .values(status="unknown", lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if requeued or unknown:
        logger.warning("recovered expired leases requeued=%d unknown=%d", requeued, unknown)
    return requeued, unknown


def release_unstarted(ids: list[int], *, worker_id: str) -> int:
    """Give back rows this worker claimed but never started (a worker stopping with a queue):
    they go back to `scheduled` now instead of at lease expiry. Returns how many."""
    if not ids:
        return 0
    released = db.session.execute(
        update(OutboxMessage)
        .where(
            among(OutboxMessage.id, ids),
            OutboxMessage.status == "claimed",
            OutboxMessage.claimed_by == worker_id,
            OutboxMessage.send_started_at.is_(None),
        )
        .values(status="scheduled", claimed_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return released


def known_sids(sids: list[str]) -> set[str]:
    if not sids:
        return set()
    return set(
        db.session.scalars(
            select(OutboxMessage.twilio_sid).where(OutboxMessage.twilio_sid.in_(sids))
        )
    )
