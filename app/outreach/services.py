"""Scheduling and managing sends (units of work for the outreach pages and the worker)."""

from dataclasses import dataclass
from datetime import date, datetime, time

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.campaigns.models import Campaign
from app.contacts.audiences import audience_contacts_query
from app.contacts.models import Contact
from app.db_dialect import lock_rows
from app.errors import DomainError
from app.extensions import db
from app.jobs.services import enqueue
from app.outbox import api as outbox
from app.outbox.models import OutboxMessage
from app.outreach.fanout import enroll_audience, fan_out
from app.outreach.invitations import invitation_of
from app.outreach.models import SEND_KINDS, OutreachSend

MAX_WEEKS = 52
MAX_DAY_OFFSET = 365
MAX_YEARS_AHEAD = 5  # a send further ahead is a typo (and past year 9999, an overflow)


def _check_once(*, local_date, local_time, fixed_at, **_):
    if fixed_at is None and (local_date is None or local_time is None):
        raise DomainError(_l("Choose a date and a time."), field="local_date")
    if fixed_at is not None and fixed_at.tzinfo is None:
        raise DomainError(_l("The fixed instant needs a time zone."), field="fixed_at")


def _check_recurring(*, local_date, local_time, weekdays, weeks, **_):
    if local_date is None or local_time is None:
        raise DomainError(_l("Choose the first date and the time."), field="local_date")
    if not weekdays or not set(weekdays) <= set(range(7)):
        raise DomainError(_l("Choose at least one weekday."), field="weekdays")
    if not weeks or not 1 <= weeks <= MAX_WEEKS:
        raise DomainError(_l("The number of weeks must be between 1 and 52."), field="weeks")


def _check_sequence(*, local_time, day_offset, **_):
    if local_time is None:
        raise DomainError(_l("Choose the time of day."), field="local_time")
    if day_offset is None or not 0 <= day_offset <= MAX_DAY_OFFSET:
        raise DomainError(
            _l("The day must be between 0 and 365 after joining."), field="day_offset"
        )


_CHECKS = {"once": _check_once, "recurring": _check_recurring, "sequence": _check_sequence}


def _validate(kind, *, local_date, now, **schedule):
    if kind not in SEND_KINDS:
        raise DomainError(_l("Unknown kind of send."), field="kind")
    _CHECKS[kind](local_date=local_date, **schedule)
    if local_date is not None and local_date.year < now.year - 1:
        raise DomainError(_l("The date is too far in the past."), field="local_date")
    if local_date is not None and local_date.year > now.year + MAX_YEARS_AHEAD:
        raise DomainError(_l("The date is too far in the future."), field="local_date")


def schedule_send(
    campaign,
    *,
    message,
    audience,
    kind: str,
    user_id: int | None,
    now: datetime,
    local_date: date | None = None,
    local_time: time | None = None,
    fixed_at: datetime | None = None,
    weekdays=None,
    weeks=None,
    day_offset=None,
    workshop=None,
) -> tuple[OutreachSend, int]:
    """Create a send and fan it out into the outbox. Returns (send, rows created).

    An audience larger than OUTREACH_INLINE_FANOUT is fanned out by a background job
    instead (`send.job_id`; 0 rows created here): the request only records the send.

    With `workshop` (one of the campaign's workshops) the send is an invitation: rows get
    purpose "invitation", the workshop's placeholders and RSVP line, and every recipient an
    "invited" registration (see fanout.py), recorded as an "invited" participation event.
    """
    if campaign.status not in ("active", "paused"):
        raise DomainError(_l("Activate the campaign before scheduling messages."))
    if message.campaign_id != campaign.id or audience.organization_id != campaign.organization_id:
        raise DomainError(_l("The message or audience does not belong to this campaign."))
    if workshop is not None and workshop.campaign_id != campaign.id:
        raise DomainError(_l("The workshop does not belong to this campaign."))
    _validate(
        kind,
        local_date=local_date,
        local_time=local_time,
        fixed_at=fixed_at,
        weekdays=weekdays,
        weeks=weeks,
        day_offset=day_offset,
        now=now,
    )
    send = OutreachSend(
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        message=message,
        audience=audience,
        kind=kind,
        local_date=local_date,
        local_time=local_time,
        fixed_at=fixed_at,
        weekdays=sorted(weekdays) if weekdays else None,
        weeks=weeks,
        day_offset=day_offset,
        created_by=user_id,
        created_at=now,
        workshop_id=workshop.id if workshop is not None else None,
    )
    send.campaign = campaign
    send.workshop = workshop
    db.session.add(send)
    db.session.flush()
    recipients = count_recipients(send, today=now.date())
    if recipients > current_app.config["OUTREACH_INLINE_FANOUT"]:
        # Long work never runs inside a request: a worker makes the rows (fanout_jobs.py).
        db.session.commit()
        job = enqueue(
            "send_fanout",
            organization_id=send.organization_id,
            user_id=user_id,
            payload={"send_id": send.id},
            total=recipients,
            now=now,
        )
        send.job_id = job.id
        db.session.commit()
        return send, 0
    return send, fan_out_now(send, now=now)


def count_recipients(send: OutreachSend, *, today: date) -> int:
    """How many contacts the send's audience can message today."""
    query = audience_contacts_query(send.organization_id, send.audience.filters, today=today)
    return db.session.scalar(
        select(func.count()).select_from(query.with_only_columns(Contact.id).subquery())
    )


def fan_out_now(send: OutreachSend, *, now: datetime) -> int:
    """Enrol the audience, write the outbox rows (and invitations), commit. Returns rows.

    Serialized with `cancel_send` by the send's row lock (PostgreSQL; SQLite has one
    writer), and the status is read again before committing: a send canceled while its
    background fan-out ran ends with every row canceled."""
    _lock_send(send.id)
    enroll_audience(send, today=now.date(), now=now)
    created = fan_out(send, today=now.date(), now=now)
    invitation = invitation_of(send)
    if invitation is not None:
        invitation.after_first_fan_out(send, now)
    if send.campaign.status == "paused":
        outbox.set_status(("scheduled",), "held", send_id=send.id)
    status_now = db.session.scalar(select(OutreachSend.status).where(OutreachSend.id == send.id))
    if status_now == "canceled":
        outbox.cancel_pending(reason="send_canceled", now=now, send_id=send.id)
    send.fanned_out_at = now
    db.session.commit()
    return created


def _lock_send(send_id: int) -> None:
    lock_rows(select(OutreachSend.id).where(OutreachSend.id == send_id))


@dataclass(frozen=True)
class CancelResult:
    canceled: int  # messages that will never go out
    with_provider: int  # already handed to the provider when the send was canceled


def cancel_send(send: OutreachSend, *, now: datetime) -> CancelResult:
    """Cancel every message of `send` not yet handed to the provider.

    That includes rows a worker has claimed but not started: the worker re-checks the send
    right before each provider call (sending.start_row), under the same row lock. Rows whose
    outcome is unknown stay unknown; if the provider never accepted them, reconciliation
    cancels them instead of requeueing them."""
    _lock_send(send.id)  # waits for a running fan-out job (fan_out_now)
    db.session.refresh(send)
    if send.status == "canceled":
        raise DomainError(_l("This send is already canceled."))
    send.status = "canceled"
    count = outbox.cancel_pending(
        reason="send_canceled", now=now, claimed_too=True, send_id=send.id
    )
    with_provider = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.send_id == send.id,
            OutboxMessage.send_started_at.is_not(None),
            OutboxMessage.status.in_(("claimed", "unknown", "sent", "delivered", "undelivered")),
        )
    )
    db.session.commit()
    return CancelResult(count, with_provider)


def mark_sends_canceled(**filters) -> int:
    """Mark the matching sends (by campaign_id or workshop_id) canceled, e.g. when their
    workshop is canceled or their campaign completed; their messages are canceled by the
    caller in the same unit of work. No commit."""
    conditions = [getattr(OutreachSend, name) == value for name, value in filters.items()]
    return db.session.execute(
        update(OutreachSend)
        .where(*conditions, OutreachSend.status != "canceled")
        .values(status="canceled")
        .execution_options(synchronize_session=False)
    ).rowcount


def cancelable(counts: dict) -> bool:
    """Whether a send still has messages that a cancel would stop (not with the provider)."""
    return any(counts.get(status) for status in ("scheduled", "held", "claimed"))


def status_counts(*, send_ids=None, campaign_id=None) -> dict:
    """{send_id: {status: count}} for the given sends, or {status: count} for a campaign."""
    if campaign_id is not None:
        rows = db.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.campaign_id == campaign_id)
            .group_by(OutboxMessage.status)
        )
        return dict(rows.all())
    result: dict = {}
    if send_ids:
        rows = db.session.execute(
            select(OutboxMessage.send_id, OutboxMessage.status, func.count())
            .where(OutboxMessage.send_id.in_(send_ids))
            .group_by(OutboxMessage.send_id, OutboxMessage.status)
        )
        for send_id, status, count in rows:
            result.setdefault(send_id, {})[status] = count
    return result


def enroll_late_joiners(*, now: datetime) -> int:
    """Contacts who joined a sequence's audience after it was scheduled get the whole sequence."""
    sends = db.session.scalars(
        select(OutreachSend)
        .join(Campaign, Campaign.id == OutreachSend.campaign_id)
        .where(
            OutreachSend.kind == "sequence",
            OutreachSend.status == "scheduled",
            OutreachSend.audience_id.is_not(None),
            Campaign.status == "active",
            OutreachSend.fanned_out_at.is_not(None),
        )  # else its fan-out job is pending
    ).all()
    created = 0
    for send in sends:
        enroll_audience(send, today=now.date(), now=now)
        created += fan_out(send, today=now.date(), now=now)
    db.session.commit()
    return created


def mark_reviewed(inbound, *, now: datetime) -> None:
    outbox.mark_reviewed(inbound, now=now)
    db.session.commit()
