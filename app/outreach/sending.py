"""Sending one claimed outbox row, and reconciling rows whose outcome is unknown."""
import logging
from datetime import datetime, timedelta

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import exists, select

from ..campaigns.models import Campaign
from ..contacts.eligibility import block_reason
from ..contacts.models import Contact
from ..extensions import db
from ..messaging.gateway import OutcomeUnknownSmsError, PermanentSmsError, RetryableSmsError, SmsError
from ..organizations.models import Organization
from .dispatch import DispatchSettings, backoff_delay, known_sids, mark_started
from .fanout import org_window
from .models import OutboxMessage
from .status import TWILIO_TO_OUTBOX, set_final_status
from .timing import FrequencyCap, is_within, next_allowed, plan_send, rules_for

logger = logging.getLogger("alcance.outreach")


def sms_text(template: str, language: str, **context) -> str:
    """A system SMS (templates/outreach/sms/*.txt) in the recipient's language."""
    with force_locale(language):
        return " ".join(render_template(f"outreach/sms/{template}.txt", **context).split())


def _release(row: OutboxMessage, status: str, *, due_at=None, reason=None, now=None) -> str:
    row.status, row.claimed_by, row.lease_expires_at = status, None, None
    if due_at is not None:
        row.due_at = due_at
    if reason:
        row.skip_reason = reason
    if status in ("skipped", "canceled"):
        row.final_at = now
    db.session.commit()
    return reason or status


def lock_contact(contact_id: int) -> None:
    """Serialize the send-time checks of one contact across threads and workers (cap,
    first-message notice): a row lock on PostgreSQL, the write lock on SQLite. Held only
    until the start of the send is committed, never during the provider call."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(Contact.id).where(Contact.id == contact_id).with_for_update())
    else:
        db.session.commit()
        db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _in_flight_or_sent():
    """Rows that count as sent: handed to the provider, whatever the outcome so far."""
    return OutboxMessage.send_started_at.is_not(None) & OutboxMessage.status.in_(
        ("claimed", "unknown", "sent", "delivered", "undelivered"))


def _needs_notice(row: OutboxMessage, org: Organization) -> bool:
    if row.purpose != "campaign":
        return False
    if org.opt_out_notice == "always":
        return True
    earlier = select(OutboxMessage.id).where(
        OutboxMessage.contact_id == row.contact_id, OutboxMessage.purpose == "campaign",
        _in_flight_or_sent(), OutboxMessage.id != row.id)
    return not db.session.scalar(select(exists(earlier)))


def _gate_campaign_message(row, contact, org, now) -> str | None:
    """Re-check everything at send time. Returns the outcome when the row must not go now."""
    campaign = db.session.get(Campaign, row.campaign_id)
    if campaign.status == "paused":
        return _release(row, "held")
    if campaign.status != "active":
        return _release(row, "canceled", reason="campaign_" + campaign.status, now=now)
    reason = block_reason(contact, today=now.date())
    if reason:
        return _release(row, "skipped", reason=reason, now=now)
    rules = rules_for(contact.country, contact.state_code, org_window(org))
    if not is_within(now, contact.timezone, rules.window):
        return _release(row, "scheduled", due_at=next_allowed(now, contact.timezone, rules.window),
                        reason=None)
    cap = FrequencyCap(org.cap_messages, org.cap_days)
    recent = list(db.session.scalars(select(OutboxMessage.send_started_at).where(
        OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "campaign",
        OutboxMessage.id != row.id, _in_flight_or_sent(),
        OutboxMessage.send_started_at > now - timedelta(days=max(cap.days, 1)))))
    planned = plan_send(now, contact.timezone, rules, recent, cap)
    if planned is None:
        return _release(row, "skipped", reason="frequency_cap", now=now)
    if planned > now:
        return _release(row, "scheduled", due_at=planned)
    return None


def process_one(outbox_id: int, *, worker_id: str, gateway, clock, budget,
                settings: DispatchSettings, status_callback: str | None) -> str:
    """Send one claimed row (see dispatch.py for the guarantee). Returns the outcome."""
    row = db.session.get(OutboxMessage, outbox_id)
    if row is None or row.status != "claimed" or row.claimed_by != worker_id:
        return "lost"
    budget.acquire()
    lock_contact(row.contact_id)
    row = db.session.get(OutboxMessage, outbox_id)
    now = clock()
    contact = db.session.get(Contact, row.contact_id)
    org = db.session.get(Organization, row.organization_id)
    if row.purpose == "campaign":
        gated = _gate_campaign_message(row, contact, org, now)
        if gated:
            return gated
    elif contact.erased_at is not None or contact.undeliverable or not contact.phone:
        return _release(row, "skipped", reason="unreachable", now=now)

    body = row.body
    notice = _needs_notice(row, org)
    if notice:
        body = f"{body}\n{sms_text('opt_out_notice', row.language)}"
    if not mark_started(row.id, worker_id, now=now):
        return "lost"
    try:
        result = gateway.send(contact.phone, body, status_callback=status_callback)
    except RetryableSmsError as error:
        row = db.session.get(OutboxMessage, outbox_id)
        row.error_code, row.error_message = str(error.code or error.status or ""), str(error)[:200]
        if row.attempts >= settings.max_attempts:
            set_final_status(row, "failed", now=clock(), error_code=row.error_code or "retry")
            row.claimed_by = row.lease_expires_at = None
            db.session.commit()
            return "failed"
        row.send_started_at = None
        return _release(row, "scheduled", due_at=clock() + backoff_delay(row.attempts, settings))
    except PermanentSmsError as error:
        row = db.session.get(OutboxMessage, outbox_id)
        set_final_status(row, "failed", now=clock(), error_code=str(error.code or error.status),
                         error_message=str(error))
        row.claimed_by = row.lease_expires_at = None
        db.session.commit()
        return "failed"
    except (OutcomeUnknownSmsError, SmsError) as error:
        row = db.session.get(OutboxMessage, outbox_id)
        row.status, row.error_message = "unknown", str(error)[:200]
        row.claimed_by = row.lease_expires_at = None
        db.session.commit()
        logger.warning("send outcome unknown outbox_id=%s; will reconcile", outbox_id)
        return "unknown"

    row = db.session.get(OutboxMessage, outbox_id)
    row.status, row.twilio_sid, row.sent_at = "sent", result.sid, clock()
    row.body, row.with_opt_out_notice = body, notice
    row.segments = result.num_segments or None
    row.claimed_by = row.lease_expires_at = None
    if result.status in ("delivered", "failed", "undelivered"):
        set_final_status(row, result.status, now=clock())
    elif getattr(gateway, "name", "") == "simulator":  # the simulated handset receives at once
        set_final_status(row, "delivered", now=clock())
    db.session.commit()
    return "sent"


def reconcile_unknown(*, gateway, clock, settings: DispatchSettings, limit: int = 100) -> dict:
    """Resolve `unknown` rows by asking the provider; never re-send what it accepted."""
    counts = {"found": 0, "requeued": 0, "pending": 0}
    rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "unknown")
                                   .order_by(OutboxMessage.send_started_at).limit(limit)))
    for row in rows:
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
                continue
        taken = known_sids([m.sid for m in found])
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
