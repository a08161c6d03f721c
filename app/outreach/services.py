"""Scheduling and managing sends (units of work for the outreach pages and the worker)."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

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
from app.outbox.timing import is_within, local_to_utc, org_window, rules_for, weekly_occurrences
from app.outreach.estimates import SendEstimate, channel_ways, estimate_send
from app.outreach.fanout import enroll_audience, fan_out, refresh_pending
from app.outreach.invitations import invitation_of
from app.outreach.models import SEND_KINDS, OutreachSend
from app.timeutil import utcnow

MAX_WEEKS = 52
MAX_DAY_OFFSET = 365
MAX_YEARS_AHEAD = 5  # a send further ahead is a typo (and past year 9999, an overflow)
# The form has minute precision and filling it in takes a moment: a time this recent still
# counts as "now" (it goes out at once, within each recipient's allowed hours).
PAST_GRACE = timedelta(minutes=5)


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


def _new_send(
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
) -> OutreachSend:
    """A checked, not yet saved send (DomainError when a rule refuses it)."""
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
        message_id=message.id,
        audience_id=audience.id,
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
        status="scheduled",
    )
    send.campaign, send.message, send.audience, send.workshop = (
        campaign,
        message,
        audience,
        workshop,
    )
    check_not_past(send, now=now)
    return send


@dataclass(frozen=True)
class SendReview:
    """What the coordinator confirms: the figures and when the messages go out."""

    send: OutreachSend  # not saved
    estimate: SendEstimate
    late: int  # recipients for whom the chosen time has already passed (they get it now)
    outside_hours: int  # recipients outside their allowed hours then (they wait)
    ways: list = field(default_factory=list)  # estimates.WayCount: WhatsApp or SMS, and why


def review_send(campaign, **schedule) -> SendReview:
    """Check a send as `schedule_send` would and estimate it, without saving anything.
    Takes `schedule_send`'s arguments."""
    send = _new_send(campaign, **schedule)
    now = schedule["now"]
    late, outside = timing_summary(send, now=now)
    estimate = estimate_send(send, today=now.date())
    ways = channel_ways(send, now=now) if estimate.recipients else []
    return SendReview(send, estimate, late, outside, ways)


def schedule_send(campaign, **schedule) -> tuple[OutreachSend, int]:
    """Create a send and fan it out into the outbox. Returns (send, rows created).

    Arguments: message, audience, kind, user_id, now and the schedule (local_date,
    local_time or fixed_at; weekdays and weeks; day_offset), optionally workshop. A moment
    already past (beyond PAST_GRACE) for every recipient is refused.

    An audience larger than OUTREACH_INLINE_FANOUT is fanned out by a background job
    instead (`send.job_id`; 0 rows created here): the request only records the send.

    With `workshop` (one of the campaign's workshops) the send is an invitation: rows get
    purpose "invitation", the workshop's placeholders and RSVP line, and every recipient an
    "invited" registration (see fanout.py), recorded as an "invited" participation event.
    """
    send = _new_send(campaign, **schedule)
    now, user_id = schedule["now"], schedule.get("user_id")
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


def _first_moment(send: OutreachSend, tz: str) -> datetime | None:
    """When the send's first message is meant for a recipient in zone `tz` (None: sequence)."""
    if send.kind == "once":
        return send.fixed_at or local_to_utc(send.local_date, send.local_time, tz)
    if send.kind == "recurring":
        occurrences = weekly_occurrences(
            send.local_date, send.local_time, set(send.weekdays), send.weeks, tz
        )
        return occurrences[0] if occurrences else None
    return None


def _recipient_places(send: OutreachSend, today: date) -> list:
    """(time zone, country, state code, count) of the send's recipients."""
    query = audience_contacts_query(send.organization_id, send.audience.filters, today=today)
    columns = (Contact.timezone, Contact.country, Contact.state_code)
    return db.session.execute(
        query.with_only_columns(*columns, func.count()).group_by(*columns)
    ).all()


def check_not_past(send: OutreachSend, *, now: datetime) -> None:
    """Refuse a send whose (first) moment has already passed for every recipient (for an
    audience with nobody yet: in the organization's zone)."""
    if send.kind == "sequence":
        return
    zones = {row[0] for row in _recipient_places(send, now.date())} or {
        send.campaign.organization.timezone
    }
    moments = [_first_moment(send, tz) for tz in sorted(zones)]
    if all(moment is not None and moment < now - PAST_GRACE for moment in moments):
        raise DomainError(
            _l("That date and time have already passed. Choose a later time, or use “Send now”."),
            field="local_time" if send.local_time is not None else None,
        )


def timing_summary(send: OutreachSend, *, now: datetime) -> tuple[int, int]:
    """(recipients for whom the first moment has passed and who get it now, recipients
    outside their allowed hours at that moment, who get it when their window opens)."""
    if send.kind == "sequence":
        return 0, 0
    window = org_window(send.campaign.organization)
    late = outside = 0
    for tz, country, state_code, count in _recipient_places(send, now.date()):
        moment = _first_moment(send, tz)
        if moment is None:
            continue
        if moment < now:
            late += count
            moment = now
        if not is_within(moment, tz, rules_for(country, state_code, window).window):
            outside += count
    return late, outside


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
    send.status, send.canceled_at = "canceled", now
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


def _handed_over(send_id: int) -> int:
    """How many of the send's messages a worker has claimed or handed to the provider."""
    return db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.send_id == send_id, OutboxMessage.status.in_(outbox.HANDED_OVER))
    )


def editable(send: OutreachSend, counts: dict) -> bool:
    """Whether the send may still be changed: not canceled, not a workshop invitation (its
    workshop's page manages it), and none of its messages on its way out yet."""
    return (
        send.status != "canceled"
        and send.workshop_id is None
        and not any(counts.get(status) for status in outbox.HANDED_OVER)
    )


def _refuse_once_started(send_id: int) -> None:
    if _handed_over(send_id):
        db.session.rollback()
        raise DomainError(
            _l(
                "Its first messages are already going out, so this send can no longer be "
                "changed. You can still cancel the messages that have not gone out."
            )
        )


def edit_send(
    send: OutreachSend,
    *,
    message,
    now: datetime,
    local_date: date | None = None,
    local_time: time | None = None,
    fixed_at: datetime | None = None,
) -> int:
    """Change the message and the time of a send until its first message goes out (any of
    its messages claimed by a worker or handed to the provider); afterwards only a cancel.

    Not fanned out yet: only the send changes (its fan-out uses the new values). Fanned
    out: its messages not yet claimed get the new text and due times. A worker may claim
    some meanwhile: the send's row lock serializes the edit with fan-out and cancel, the
    outbox changes only unclaimed rows (and on PostgreSQL keeps them locked until the
    commit), and the check is made again after the change; if a row went out in between,
    nothing changes. Returns how many messages changed."""
    if send.workshop_id is not None:
        raise DomainError(_l("Change a workshop invitation from its workshop's page."))
    _lock_send(send.id)
    db.session.refresh(send)
    if send.status == "canceled":
        raise DomainError(_l("This send is canceled; it can no longer be changed."))
    if message.campaign_id != send.campaign_id:
        raise DomainError(_l("The message or audience does not belong to this campaign."))
    if send.kind != "once":
        fixed_at = None
    _validate(
        send.kind,
        local_date=local_date if send.kind != "sequence" else None,
        local_time=local_time,
        fixed_at=fixed_at,
        weekdays=send.weekdays,
        weeks=send.weeks,
        day_offset=send.day_offset,
        now=now,
    )
    _refuse_once_started(send.id)
    send.message, send.message_id = message, message.id
    if send.kind != "sequence":
        send.local_date = local_date
    send.local_time, send.fixed_at = local_time, fixed_at
    try:
        check_not_past(send, now=now)
    except DomainError:
        db.session.rollback()
        raise
    changed = refresh_pending(send, now=now) if send.fanned_out_at is not None else 0
    _refuse_once_started(send.id)  # a worker may have claimed a row meanwhile
    db.session.commit()
    return changed


def mark_sends_canceled(*, now: datetime | None = None, **filters) -> int:
    """Mark the matching sends (by campaign_id or workshop_id) canceled, e.g. when their
    workshop is canceled or their campaign completed; their messages are canceled by the
    caller in the same unit of work. No commit."""
    conditions = [getattr(OutreachSend, name) == value for name, value in filters.items()]
    return db.session.execute(
        update(OutreachSend)
        .where(*conditions, OutreachSend.status != "canceled")
        .values(status="canceled", canceled_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def cancelable(counts: dict) -> bool:
    """Whether a send still has messages that a cancel would stop (not with the provider)."""
    return any(counts.get(status) for status in ("scheduled", "held", "claimed"))


def status_counts(*, send_ids=None, campaign_id=None) -> dict:
    """{send_id: {status: count}} for the given sends, or {status: count} for a campaign
    (the outbox's status counters: no page counts the messages themselves)."""
    if campaign_id is not None:
        return outbox.status_counts(campaign_id=campaign_id)
    return outbox.status_counts(send_ids=list(send_ids or ()))


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
