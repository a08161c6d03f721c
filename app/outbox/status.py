"""What the provider tells us about a message: outcomes, status callbacks, contact flags."""

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from app.contacts.models import Contact
from app.contacts.services import mark_opted_out
from app.extensions import db
from app.outbox import channel_plan
from app.outbox.models import (
    ANSWERS,
    FINAL_STATUSES,
    STATUS_RANK,
    EarlyStatusCallback,
    OutboxMessage,
)
from app.participation.services import record_event

# Async (callback) error codes meaning the number will never receive SMS.
DEAD_NUMBER_CODES = {"30005", "30006"}
OPTED_OUT_CODES = {"21610"}
UNDELIVERABLE_CODES = {"21211", "21614"} | DEAD_NUMBER_CODES
PARTICIPATION_KIND = {
    "delivered": "sms_delivered",
    "undelivered": "sms_undelivered",
    "failed": "sms_failed",
}
TWILIO_TO_OUTBOX = {
    "queued": "sent",
    "accepted": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "canceled",
    "read": "delivered",
}
# WhatsApp's "read" is not a rank of its own: the row is (at least) delivered, and its first
# read is recorded in `read_at`. A callback kept early keeps "read" as its status.
READ = "read"


def cancel_pending_for_contact(contact_id: int, *, reason: str, now: datetime) -> int:
    """Cancel every not-yet-sent campaign message of a contact (opt-out, dead number)."""
    return db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.contact_id == contact_id,
            OutboxMessage.status.in_(("scheduled", "held")),
            OutboxMessage.purpose != "system",
        )
        .values(status="canceled", skip_reason=reason, final_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def flag_contact_from_error(contact: Contact, code: str | None, *, now: datetime) -> None:
    if code in OPTED_OUT_CODES:
        if not mark_opted_out(contact, channel="carrier", now=now):
            return  # already opted out (maybe by a concurrent callback): one event only
        cancel_pending_for_contact(contact.id, reason="opted_out", now=now)
        record_event(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            kind="opt_out",
            channel="sms",
            occurred_at=now,
            detail=code,
        )
    elif code in UNDELIVERABLE_CODES and not contact.undeliverable:
        contact.undeliverable, contact.undeliverable_at = True, now
        cancel_pending_for_contact(contact.id, reason="undeliverable", now=now)


def set_final_status(
    row: OutboxMessage,
    status: str,
    *,
    now: datetime,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Move `row` forward to `status` (never backwards). Returns False when ignored."""
    current, new = STATUS_RANK.get(row.status, 0), STATUS_RANK.get(status, -1)
    if new < current or status == row.status or (new == current and row.status in FINAL_STATUSES):
        return False  # late, duplicate or conflicting callback: the first final state wins
    row.status = status
    if error_code:
        row.error_code, row.error_message = error_code, (error_message or "")[:200] or None
    if status in PARTICIPATION_KIND:
        row.final_at = now
        if row.purpose not in ANSWERS:
            record_event(
                organization_id=row.organization_id,
                contact_id=row.contact_id,
                kind=PARTICIPATION_KIND[status],
                channel="sms",
                occurred_at=now,
                campaign_id=row.campaign_id,
                message_id=row.message_id,
                workshop_id=row.workshop_id,
                outbox_id=row.id,
                detail=error_code,
            )
        if error_code and row.contact_id is not None:  # not a staff alert
            contact = db.session.get(Contact, row.contact_id)
            flag_contact_from_error(contact, error_code, now=now)
            if row.channel == "whatsapp" and status != "delivered":
                # Not on WhatsApp -> SMS once; outside the window -> the template.
                channel_plan.after_failure(row, error_code, now=now)
    return True


def apply_status(
    row: OutboxMessage, status: str, *, now: datetime, error_code: str | None = None
) -> bool:
    """`set_final_status`, where `status` may also be READ: the first read is recorded in
    `read_at` (a read arriving before "delivered" makes the row delivered too; a later or
    repeated one changes nothing). Returns whether anything changed."""
    if status != READ:
        return set_final_status(row, status, now=now, error_code=error_code)
    first_read = row.read_at is None
    if first_read:
        row.read_at = now
    return set_final_status(row, "delivered", now=now) or first_read


def _already_kept(sid: str, status: str, error_code: str | None) -> bool:
    return (
        db.session.scalar(
            select(EarlyStatusCallback.id)
            .where(
                EarlyStatusCallback.twilio_sid == sid,
                EarlyStatusCallback.status == status,
                EarlyStatusCallback.error_code.is_(None)
                if error_code is None
                else EarlyStatusCallback.error_code == error_code,
            )
            .limit(1)
        )
        is not None
    )


def apply_status_callback(
    sid: str, twilio_status: str, error_code: str | None, *, now: datetime
) -> bool:
    """Apply a Twilio status callback; idempotent, never moves a message backwards."""
    twilio_status = (twilio_status or "").lower()
    status = READ if twilio_status == READ else TWILIO_TO_OUTBOX.get(twilio_status)
    if status is None or not sid:
        return False
    row = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.twilio_sid == sid).with_for_update()
    )
    if row is None:  # early (the worker has not recorded the SID yet) or not ours: keep it
        if status == "sent" or _already_kept(sid, status, error_code or None):
            db.session.rollback()  # "sent": the worker records it itself; a repeat: no news
            return False
        # Concurrent twins may each add a copy: harmless, since applying is idempotent.
        db.session.add(
            EarlyStatusCallback(
                twilio_sid=sid, status=status, error_code=error_code or None, received_at=now
            )
        )
        db.session.commit()
        return False
    changed = apply_status(row, status, now=now, error_code=error_code or None)
    db.session.commit()
    return changed


EARLY_CALLBACKS_KEPT = timedelta(days=3)


def apply_early_callbacks(*, now: datetime, limit: int = 500) -> int:
    """Apply kept callbacks whose SID is now recorded (worker maintenance); forget those
    older than EARLY_CALLBACKS_KEPT (another application's messages on the same account).
    Safe with several workers: each callback is deleted first, and only the worker whose
    delete took it applies it. Returns how many were applied."""
    matches = db.session.execute(
        select(EarlyStatusCallback.id, OutboxMessage.id)
        .join(OutboxMessage, OutboxMessage.twilio_sid == EarlyStatusCallback.twilio_sid)
        .order_by(EarlyStatusCallback.id)
        .limit(limit)
    ).all()
    db.session.commit()
    applied = 0
    for callback_id, outbox_id in matches:
        callback = db.session.scalar(
            delete(EarlyStatusCallback)
            .where(EarlyStatusCallback.id == callback_id)
            .returning(EarlyStatusCallback)
        )
        if callback is None:  # another worker took it
            db.session.rollback()
            continue
        row = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update()
        )
        if row is None:  # moved to the archive meanwhile (app/outbox/archive.py): next pass
            db.session.rollback()
            continue
        applied += apply_status(
            row, callback.status, now=callback.received_at, error_code=callback.error_code
        )
        db.session.commit()
    db.session.execute(
        delete(EarlyStatusCallback).where(
            EarlyStatusCallback.received_at < now - EARLY_CALLBACKS_KEPT
        )
    )
    db.session.commit()
    return applied
