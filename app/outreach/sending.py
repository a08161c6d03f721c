"""Sending prepared outbox rows, and reconciling rows whose outcome is unknown."""
import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ..contacts.models import Contact
from ..extensions import db
from ..messaging.gateway import PermanentSmsError, RetryableSmsError, SmsError
from .dispatch import DispatchSettings, backoff_delay, known_sids
from .models import OutboxMessage
from .preparing import Prepared
from .status import TWILIO_TO_OUTBOX, set_final_status

logger = logging.getLogger("alcance.outreach")


def _finish_error(outbox_id: int, status: str, *, error_code, error_message, now) -> None:
    row = db.session.get(OutboxMessage, outbox_id)
    set_final_status(row, status, now=now, error_code=error_code, error_message=error_message)
    row.claimed_by = row.lease_expires_at = None
    db.session.commit()


def renew_leases(ids: list[int], *, worker_id: str, now: datetime,
                 settings: DispatchSettings) -> set[int]:
    """Extend this worker's lease on rows it still holds; returns the ids it holds.

    A row is held while it is "claimed" by this worker, even past its expiry: recovery
    moves it out of "claimed" (under the row lock), so either recovery or this renewal
    wins, never both."""
    if not ids:
        return set()
    held = db.session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "claimed",
               OutboxMessage.claimed_by == worker_id)
        .values(lease_expires_at=now + settings.lease)
        .returning(OutboxMessage.id).execution_options(synchronize_session=False)).all()
    db.session.commit()
    return set(held)


def _still_ours(item: Prepared, now: datetime, settings: DispatchSettings) -> bool:
    """True when the lease is certainly still this worker's for the whole call.

    Within the first half of the lease nobody can have recovered the row (recovery waits
    for expiry; half a lease covers clock skew between machines and the HTTP timeout).
    Later — a slow rate budget, a long batch — re-check and extend it in the database,
    so a row another worker already recovered is never sent a second time."""
    if now < item.lease_expires_at - settings.lease / 2:
        return True
    return bool(renew_leases([item.id], worker_id=item.worker_id, now=now, settings=settings))


def send_prepared(item: Prepared, *, gateway, clock, budget, settings: DispatchSettings,
                  status_callback: str | None) -> str:
    """Send one prepared row and record the outcome right after the call."""
    budget.acquire()
    if not _still_ours(item, clock(), settings):
        logger.warning("lease lost before sending outbox_id=%s; left to recovery", item.id)
        return "lease_lost"
    try:
        result = gateway.send(item.to, item.body, status_callback=status_callback)
    except RetryableSmsError as error:
        row = db.session.get(OutboxMessage, item.id)
        code = str(error.code or error.status or "retry")
        if row.attempts >= settings.max_attempts:
            _finish_error(item.id, "failed", error_code=code, error_message=str(error), now=clock())
            return "failed"
        row.status, row.send_started_at, row.claimed_by, row.lease_expires_at = (
            "scheduled", None, None, None)
        row.error_code, row.error_message = code, str(error)[:200]
        row.due_at = clock() + backoff_delay(row.attempts, settings)
        db.session.commit()
        return "retry"
    except PermanentSmsError as error:
        _finish_error(item.id, "failed", error_code=str(error.code or error.status),
                      error_message=str(error), now=clock())
        return "failed"
    except SmsError as error:  # OutcomeUnknownSmsError and anything unexpected from the gateway
        # Only a row still ours: another worker may have reconciled it meanwhile.
        db.session.execute(update(OutboxMessage).where(
            OutboxMessage.id == item.id, OutboxMessage.status.in_(("claimed", "unknown"))).values(
            status="unknown", error_message=str(error)[:200], claimed_by=None,
            lease_expires_at=None).execution_options(synchronize_session=False))
        db.session.commit()
        logger.warning("send outcome unknown outbox_id=%s; will reconcile", item.id)
        return "unknown"

    now = clock()
    final = result.status if result.status in ("delivered", "failed", "undelivered") else None
    if final is None and getattr(gateway, "name", "") == "simulator":
        final = "delivered"  # the simulated handset receives at once
    # The common case is one UPDATE; the rare final status goes through the ORM path.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == item.id).values(
        status="sent", twilio_sid=result.sid, sent_at=now, segments=result.num_segments or None,
        claimed_by=None, lease_expires_at=None).execution_options(synchronize_session=False))
    if final:
        set_final_status(db.session.get(OutboxMessage, item.id), final, now=now)
    db.session.commit()
    return "sent"


def reconcile_unknown(*, gateway, clock, settings: DispatchSettings, limit: int = 100) -> dict:
    """Resolve `unknown` rows by asking the provider; never re-send what it accepted."""
    counts = {"found": 0, "requeued": 0, "pending": 0}
    ids = list(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "unknown")
                                  .order_by(OutboxMessage.send_started_at).limit(limit)))
    db.session.commit()
    for row_id in ids:
        # Several workers reconcile at once: lock the row and re-check it is still unknown.
        row = db.session.scalar(select(OutboxMessage).where(
            OutboxMessage.id == row_id, OutboxMessage.status == "unknown")
            .with_for_update(skip_locked=True))
        if row is None:
            db.session.rollback()
            continue
        contact = db.session.get(Contact, row.contact_id)
        now = clock()
        started = row.send_started_at or row.due_at
        since = started - timedelta(minutes=2)
        found = []
        if contact.phone:
            try:
                found = [m for m in gateway.find_sent(contact.phone, since=since)
                         if m.date_created >= since]
            except SmsError:
                counts["pending"] += 1
                db.session.rollback()
                continue
        taken = known_sids([m.sid for m in found]) - {row.twilio_sid}
        candidates = sorted((m for m in found if m.sid not in taken), key=lambda m: m.date_created)
        if candidates:
            match = candidates[0]
            row.twilio_sid, row.sent_at = match.sid, match.date_created
            row.status = "sent"
            final = TWILIO_TO_OUTBOX.get(match.status, "sent")
            if final != "sent":
                set_final_status(row, final, now=now,
                                 error_code=str(match.error_code) if match.error_code else None)
            counts["found"] += 1
        elif now - started > settings.reconcile_grace:
            # The provider has no record after the grace period: it never accepted it.
            row.status, row.send_started_at, row.due_at = "scheduled", None, now
            counts["requeued"] += 1
        else:
            counts["pending"] += 1
        db.session.commit()
    return counts
