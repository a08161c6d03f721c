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
3. The outcome is committed right after the call: `sent` + SID; a retryable error (429, no
   connection) goes back to `scheduled` with exponential backoff and jitter, up to
   `max_attempts`, then `failed`; a permanent error is `failed` with its code; an unknown
   outcome (5xx, read timeout) is `unknown`.
4. Expired leases: rows never started go back to `scheduled`; rows started become `unknown`.
5. `unknown` rows are reconciled: looked up on the provider by recipient and matched by
   exact text and sender; found → `sent` with its SID; not found after a grace period →
   the provider never accepted it, so it is `scheduled` again (or `canceled` if its send
   was canceled); ambiguous, or the lookup keeps failing → it stays `unknown` (visible)
   and after `unknown_escalation` becomes `failed_unknown`, never re-sent.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update

from app.db_dialect import is_postgres, take_write_lock
from app.extensions import db
from app.outbox.models import OutboxMessage

logger = logging.getLogger("alcance.outreach")


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int = 200
    concurrency: int = 8
    lease: timedelta = timedelta(minutes=2)
    max_attempts: int = 5
    backoff_base: float = 2.0  # seconds; doubled per attempt
    backoff_cap: float = 300.0
    reconcile_grace: timedelta = timedelta(minutes=10)
    # An unknown row the provider cannot resolve for this long becomes failed_unknown.
    unknown_escalation: timedelta = timedelta(hours=6)


def settings_from_config(config, **overrides) -> "DispatchSettings":
    values = dict(
        concurrency=config["OUTREACH_CONCURRENCY"],
        batch_size=config["OUTREACH_BATCH"],
        lease=timedelta(seconds=config["OUTREACH_LEASE_SECONDS"]),
        reconcile_grace=timedelta(seconds=config["OUTREACH_RECONCILE_GRACE_SECONDS"]),
        unknown_escalation=timedelta(seconds=config["OUTREACH_UNKNOWN_ESCALATION_SECONDS"]),
    )
    values.update({k: v for k, v in overrides.items() if v is not None})
    return DispatchSettings(**values)


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
                .where(OutboxMessage.id.in_(ids))
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


def known_sids(sids: list[str]) -> set[str]:
    if not sids:
        return set()
    return set(
        db.session.scalars(
            select(OutboxMessage.twilio_sid).where(OutboxMessage.twilio_sid.in_(sids))
        )
    )
