"""Workshops: units of work for the workshop pages, and the queries behind them.

Every public function checks its rules first, changes nothing when one fails (raising
`DomainError` with a translatable message and the form field concerned), and commits once.

Times: coordinators type the start and end in the VENUE's local wall time; the venue's
IANA zone comes from its state and municipality (`derive_timezone`) unless one is chosen.
Rows store aware UTC instants plus the zone, so pages, SMS and the iCalendar feed can show
the venue's local time in any season. A wall time that does not exist (inside a spring-
forward gap) is refused rather than silently moved.

Codes: 4 random digits, unique within the organization for ever (a database constraint), so
"SI 4821" can never mean two workshops, not even a past one; creation retries on the rare
collision with a concurrent creation.
"""

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError

from app.contacts.geography import MX_STATES, US_STATES, derive_timezone
from app.contacts.models import Contact
from app.errors import DomainError
from app.extensions import db
from app.organizations.models import Organization, new_calendar_token
from app.outbox import api as outbox
from app.outbox.models import OutboxMessage
from app.outbox.timing import local_to_utc
from app.outreach.fanout import body_sql
from app.outreach.models import OutreachSend
from app.outreach.services import mark_sends_canceled, schedule_send
from app.security_log import security_event
from app.workshops import reminders, rsvp
from app.workshops.labels import REGISTRATION_STATUS_LABELS
from app.workshops.models import DELIVERY_LANGUAGES, KINDS, Workshop, WorkshopRegistration
from app.workshops.reminders import ReminderResult

MAX_CAPACITY = 5000
MAX_DURATION = timedelta(hours=12)
MAX_ADDRESS = 500
CODE_ATTEMPTS = 5
COUNTRIES = ("MX", "US")
# A workshop belongs to a campaign that is still being planned or running.
OPEN_CAMPAIGN_STATUSES = ("draft", "active", "paused")
WORKSHOP_PURPOSES = ("invitation", "reminder", "workshop_notice")
PENDING = outbox.PENDING


# --- Validation ------------------------------------------------------------------------------


def _text(value) -> str:
    return " ".join((value or "").split())


def _required(value, *, field: str, max_length: int, message) -> str:
    text = _text(value)
    if not text:
        raise DomainError(message, field=field)
    if len(text) > max_length:
        raise DomainError(_l("At most %(n)d characters.", n=max_length), field=field)
    return text


def _optional(value, *, field: str, max_length: int) -> str | None:
    text = (value or "").strip()
    if len(text) > max_length:
        raise DomainError(_l("At most %(n)d characters.", n=max_length), field=field)
    return text or None


def _clean(
    *,
    title_es,
    title_en,
    kind,
    venue_name,
    venue_address,
    country,
    state_code,
    municipality,
    timezone,
    capacity,
    facilitator,
    language,
) -> dict:
    """Validated, normalized workshop fields (everything but the times)."""
    values = {
        "title_es": _required(
            title_es, field="title_es", max_length=160, message=_l("Enter the title in Spanish.")
        ),
        "title_en": _required(
            title_en, field="title_en", max_length=160, message=_l("Enter the title in English.")
        ),
    }
    if kind not in KINDS:
        raise DomainError(_l("Choose the kind of workshop."), field="kind")
    values["kind"] = kind
    values["venue_name"] = _required(
        venue_name, field="venue_name", max_length=160, message=_l("Enter the name of the venue.")
    )
    values["venue_address"] = _optional(
        venue_address, field="venue_address", max_length=MAX_ADDRESS
    )
    country = (country or "").strip().upper()
    states = {"MX": MX_STATES, "US": US_STATES}.get(country)
    if states is None or state_code not in states:
        raise DomainError(_l("Choose the state where the venue is."), field="state")
    values["country"], values["state_code"] = country, state_code
    values["municipality"] = _text(municipality) or None
    if values["municipality"] and len(values["municipality"]) > 80:
        raise DomainError(_l("At most %(n)d characters.", n=80), field="municipality")
    timezone = (timezone or "").strip()
    if timezone and timezone not in available_timezones():
        raise DomainError(_l("Unknown time zone."), field="timezone")
    values["timezone"] = timezone or derive_timezone(country, state_code, values["municipality"])
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise DomainError(_l("Enter how many people fit."), field="capacity")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise DomainError(
            _l("The capacity must be between 1 and %(max)d people.", max=MAX_CAPACITY),
            field="capacity",
        )
    values["capacity"] = capacity
    values["facilitator"] = _optional(_text(facilitator), field="facilitator", max_length=120)
    if language not in DELIVERY_LANGUAGES:
        raise DomainError(_l("Choose the language of the workshop."), field="language")
    values["language"] = language
    return values


def _instant(day: date, wall: time, zone: str, *, field: str) -> datetime:
    moment = local_to_utc(day, wall, zone)
    if moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None) != datetime.combine(
        day, wall.replace(tzinfo=None, second=0, microsecond=0)
    ):
        raise DomainError(
            _l(
                "That time does not exist on that day in the venue's time zone "
                "(the clocks go forward). Choose another time."
            ),
            field=field,
        )
    return moment


def _times(local_date, start_time, end_time, zone: str, *, now: datetime):
    """(starts_at, ends_at) in UTC from the venue's local date and wall times."""
    if local_date is None:
        raise DomainError(_l("Choose the date."), field="local_date")
    if start_time is None:
        raise DomainError(_l("Choose the start time."), field="start_time")
    if end_time is None:
        raise DomainError(_l("Choose the end time."), field="end_time")
    start_time = start_time.replace(second=0, microsecond=0)
    end_time = end_time.replace(second=0, microsecond=0)
    if end_time <= start_time:
        raise DomainError(_l("The workshop must end after it starts."), field="end_time")
    starts_at = _instant(local_date, start_time, zone, field="start_time")
    ends_at = _instant(local_date, end_time, zone, field="end_time")
    if ends_at - starts_at > MAX_DURATION:
        raise DomainError(_l("A workshop lasts at most 12 hours."), field="end_time")
    if starts_at <= now:
        raise DomainError(_l("The start must be in the future."), field="local_date")
    return starts_at, ends_at


def local_parts(workshop) -> tuple[date, time, time]:
    """The workshop's local date, start and end wall times (venue's zone), for forms."""
    zone = ZoneInfo(workshop.timezone)
    start, end = workshop.starts_at.astimezone(zone), workshop.ends_at.astimezone(zone)
    return start.date(), start.time().replace(tzinfo=None), end.time().replace(tzinfo=None)


def _new_code(organization_id: int) -> str:
    taken = set(
        db.session.scalars(select(Workshop.code).where(Workshop.organization_id == organization_id))
    )
    if len(taken) >= 9_000:
        raise DomainError(_l("Every workshop code is in use. Contact support."))
    while True:  # 1000-9999: no leading zero for young people to drop when they reply
        code = str(1000 + secrets.randbelow(9_000))
        if code not in taken:
            return code


# --- Creating and editing -------------------------------------------------------------------


def create_workshop(
    campaign,
    *,
    now: datetime,
    local_date: date | None,
    start_time: time | None,
    end_time: time | None,
    **fields,
) -> Workshop:
    """Create a scheduled workshop of `campaign` with a fresh 4-digit code.

    `fields`: title_es, title_en, kind, venue_name, venue_address, country, state_code,
    municipality, timezone (blank: derived), capacity, facilitator, language.
    """
    if campaign.status not in OPEN_CAMPAIGN_STATUSES:
        raise DomainError(
            _l("Workshops can only be added to draft, active or paused campaigns."),
            field="campaign_id",
        )
    values = _clean(**fields)
    starts_at, ends_at = _times(local_date, start_time, end_time, values["timezone"], now=now)
    workshop = None
    for attempt in range(CODE_ATTEMPTS):
        workshop = Workshop(
            organization_id=campaign.organization_id,
            campaign_id=campaign.id,
            code=_new_code(campaign.organization_id),
            starts_at=starts_at,
            ends_at=ends_at,
            status="scheduled",
            sequence=0,
            created_at=now,
            updated_at=now,
            **values,
        )
        db.session.add(workshop)
        try:
            db.session.commit()
        except IntegrityError:  # another coordinator took the same code a moment ago
            db.session.rollback()
            if attempt == CODE_ATTEMPTS - 1:
                raise
        else:
            break
    return workshop


def _has_audience(workshop) -> bool:
    """Anyone invited, registered or with a pending invitation SMS for this workshop."""
    registered = db.session.scalar(
        select(func.count()).where(
            WorkshopRegistration.workshop_id == workshop.id,
            WorkshopRegistration.status.in_(rsvp.OPEN_STATUSES),
        )
    )
    pending = db.session.scalar(
        select(func.count()).where(
            OutboxMessage.workshop_id == workshop.id, OutboxMessage.status.in_(PENDING)
        )
    )
    return bool(registered or pending)


def update_workshop(workshop, *, now: datetime, **fields) -> int:
    """Save a workshop's details (not its date and time: see `reschedule_workshop`).

    A larger capacity fills the new seats from the waitlist (each promoted contact is told
    by SMS); a capacity below the confirmed seats is refused. A venue in another time zone
    keeps the local wall times, so it is only accepted while nobody is invited yet.
    Returns how many waitlisted contacts were promoted.
    """
    org = db.session.get(Organization, workshop.organization_id)
    workshop = rsvp.lock_workshop(workshop.id)
    if workshop.status == "canceled":
        raise DomainError(_l("A canceled workshop cannot be edited."))
    values = _clean(**fields)
    confirmed = rsvp.count_by_status(workshop.id, "confirmed")
    if values["capacity"] < confirmed:
        raise DomainError(
            lazy_ngettext(
                "%(num)d person already has a seat: the capacity cannot be lower.",
                "%(num)d people already have a seat: the capacity cannot be lower.",
                confirmed,
            ),
            field="capacity",
        )
    if values["timezone"] != workshop.timezone:
        if workshop.starts_at <= now or _has_audience(workshop):
            raise DomainError(
                _l(
                    "This place is in another time zone, which would change the "
                    "time of the workshop. Cancel it and create a new one."
                ),
                field="state",
            )
        local_date, start, end = local_parts(workshop)
        workshop.starts_at, workshop.ends_at = _times(
            local_date, start, end, values["timezone"], now=now
        )
        workshop.sequence += 1
    for key, value in values.items():
        setattr(workshop, key, value)
    workshop.updated_at = now
    promoted = rsvp.promote_waitlisted(workshop, org, now=now)
    db.session.commit()
    return len(promoted)


# --- Rescheduling, canceling, completing -----------------------------------------------------


@dataclass
class ChangeResult:
    notified: int = 0
    messages_canceled: int = 0
    invitations_updated: int = 0
    reminders: ReminderResult = field(default_factory=ReminderResult)


def _people(workshop, statuses) -> list[WorkshopRegistration]:
    return db.session.scalars(
        select(WorkshopRegistration)
        .where(
            WorkshopRegistration.workshop_id == workshop.id,
            WorkshopRegistration.status.in_(statuses),
        )
        .order_by(WorkshopRegistration.id)
    ).all()


def _rerender_invitations(workshop, org) -> int:
    """Pending invitation SMS carry the new date and time (same rendering as fan-out)."""
    updated = 0
    sends = db.session.scalars(
        select(OutreachSend).where(OutreachSend.workshop_id == workshop.id)
    ).all()
    for send in sends:
        language, body = body_sql(send)
        updated += outbox.reword_pending(
            {"body": body, "language": language, "expires_at": workshop.starts_at},
            where=(OutboxMessage.contact_id == Contact.id,),
            send_id=send.id,
        )
    return updated


def reschedule_workshop(
    workshop,
    *,
    local_date: date | None,
    start_time: time | None,
    end_time: time | None,
    now: datetime,
) -> ChangeResult:
    """Move a scheduled workshop to a new local date and time (the venue's zone).

    Bumps the calendar SEQUENCE, cancels pending reminders and queues new ones for the
    confirmed contacts, updates pending invitations, and notifies confirmed and waitlisted
    contacts by SMS (quiet hours apply).
    """
    org = db.session.get(Organization, workshop.organization_id)
    workshop = rsvp.lock_workshop(workshop.id)
    if workshop.status != "scheduled":
        raise DomainError(_l("Only scheduled workshops can be rescheduled."))
    starts_at, ends_at = _times(local_date, start_time, end_time, workshop.timezone, now=now)
    if (starts_at, ends_at) == (workshop.starts_at, workshop.ends_at):
        raise DomainError(_l("Choose a different date or time."), field="local_date")
    workshop.starts_at, workshop.ends_at = starts_at, ends_at
    workshop.sequence += 1
    workshop.updated_at = now
    result = ChangeResult()
    result.messages_canceled = reminders.cancel_pending(
        workshop.id, purposes=("reminder",), reason="workshop_rescheduled", now=now
    )
    result.messages_canceled += reminders.cancel_pending(
        workshop.id, purposes=("workshop_notice",), reason="superseded", now=now
    )
    result.invitations_updated = _rerender_invitations(workshop, org)
    for registration in _people(workshop, ("confirmed", "waitlisted")):
        contact = registration.contact
        if registration.status == "confirmed":
            result.reminders += reminders.queue_reminders(contact, workshop, org, now=now)
        reminders.queue_notice(contact, workshop, org, "workshop_rescheduled", now=now)
        result.notified += 1
    db.session.commit()
    return result


def cancel_workshop(workshop, *, now: datetime) -> ChangeResult:
    """Cancel a scheduled workshop: pending invitations, reminders and notices are
    canceled, and confirmed and waitlisted contacts are told by SMS."""
    org = db.session.get(Organization, workshop.organization_id)
    workshop = rsvp.lock_workshop(workshop.id)
    if workshop.status != "scheduled":
        raise DomainError(_l("Only scheduled workshops can be canceled."))
    workshop.status = "canceled"
    workshop.sequence += 1
    workshop.updated_at = now
    result = ChangeResult()
    result.messages_canceled = reminders.cancel_pending(
        workshop.id, purposes=WORKSHOP_PURPOSES, reason="workshop_canceled", now=now
    )
    mark_sends_canceled(workshop_id=workshop.id)
    if workshop.starts_at > now:
        for registration in _people(workshop, ("confirmed", "waitlisted")):
            reminders.queue_notice(
                registration.contact, workshop, org, "workshop_canceled", now=now
            )
            result.notified += 1
    db.session.commit()
    return result


# --- Invitations --------------------------------------------------------------------------------


def invite_audience(
    workshop,
    *,
    message,
    audience,
    local_date: date | None,
    local_time: time | None,
    user_id: int | None,
    now: datetime,
):
    """Invite an audience through the outreach scheduler. Returns (send, rows created).

    The SMS goes out at `local_time` in each recipient's zone; quiet hours, language and
    the frequency cap apply. Each row gets the workshop's placeholders and RSVP line and
    expires at the start; each recipient gets an "invited" registration.
    """
    if workshop.status != "scheduled" or workshop.starts_at <= now:
        raise DomainError(_l("Invitations are only possible for scheduled, upcoming workshops."))
    if local_date is None or local_time is None:
        raise DomainError(_l("Choose the date and time of the invitation."), field="local_date")
    if local_to_utc(local_date, local_time, workshop.timezone) >= workshop.starts_at:
        raise DomainError(
            _l("The invitation must go out before the workshop starts."), field="local_date"
        )
    return schedule_send(
        workshop.campaign,
        message=message,
        audience=audience,
        kind="once",
        user_id=user_id,
        now=now,
        local_date=local_date,
        local_time=local_time,
        workshop=workshop,
    )


def regenerate_calendar_token(org, *, actor_id: int) -> str:
    """A new secret for the organization's calendar feed; the old URL stops working."""
    org.calendar_token = new_calendar_token()
    db.session.commit()
    security_event("calendar_token_regenerated", user_id=actor_id, org_id=org.id)
    return org.calendar_token


# --- Queries -------------------------------------------------------------------------------------


def parse_week(text: str | None, *, today: date) -> date:
    """The Monday of an ISO week ("2026-W49"); the current week when blank or invalid."""
    try:
        year, week = (text or "").upper().split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        return today - timedelta(days=today.weekday())


def week_label(monday: date) -> str:
    year, week, _day = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _counts():
    r = WorkshopRegistration
    return (
        select(
            r.workshop_id,
            func.sum(case((r.status == "confirmed", 1), else_=0)).label("confirmed"),
            func.sum(case((r.status == "waitlisted", 1), else_=0)).label("waitlisted"),
        )
        .group_by(r.workshop_id)
        .subquery()
    )


def workshops_between(organization_id: int, start: datetime, end: datetime) -> list[tuple]:
    """(workshop, confirmed, waitlisted) starting in [start, end), by start time."""
    counts = _counts()
    rows = db.session.execute(
        select(
            Workshop, func.coalesce(counts.c.confirmed, 0), func.coalesce(counts.c.waitlisted, 0)
        )
        .outerjoin(counts, counts.c.workshop_id == Workshop.id)
        .where(
            Workshop.organization_id == organization_id,
            Workshop.starts_at >= start,
            Workshop.starts_at < end,
        )
        .order_by(Workshop.starts_at, Workshop.id)
    )
    return [tuple(row) for row in rows]


def week_bounds(monday: date, zone: str) -> tuple[datetime, datetime]:
    """UTC bounds of the week starting `monday`, in the organization's zone."""
    return (
        local_to_utc(monday, time(0, 0), zone),
        local_to_utc(monday + timedelta(days=7), time(0, 0), zone),
    )


def registrations_by_status(workshop) -> dict[str, list[tuple]]:
    """{status: [(registration, contact)]}: waitlist in order, others by name."""
    rows = db.session.execute(
        select(WorkshopRegistration, Contact)
        .join(Contact, Contact.id == WorkshopRegistration.contact_id)
        .where(
            WorkshopRegistration.workshop_id == workshop.id,
            WorkshopRegistration.organization_id == workshop.organization_id,
        )
        .order_by(
            WorkshopRegistration.waitlisted_at,
            func.lower(Contact.first_name),
            WorkshopRegistration.id,
        )
    ).all()
    grouped: dict[str, list[tuple]] = {status: [] for status in REGISTRATION_STATUS_LABELS}
    for registration, contact in rows:
        grouped.setdefault(registration.status, []).append((registration, contact))
    return grouped


@dataclass(frozen=True)
class Funnel:
    invited: int
    confirmed: int
    attended: int
    waitlisted: int
    declined: int


def funnel(workshop) -> Funnel:
    """invited → confirmed → attended for one workshop (walk-ins count as attended only)."""
    r = WorkshopRegistration
    row = db.session.execute(
        select(
            func.count(r.invited_at),
            func.sum(
                case(
                    (r.walk_in.is_(True), 0),
                    (r.status == "confirmed", 1),
                    (r.attended_at.is_not(None), 1),
                    else_=0,
                )
            ),
            func.count(r.attended_at),
            func.sum(case((r.status == "waitlisted", 1), else_=0)),
            func.sum(case((r.status.in_(("declined", "canceled")), 1), else_=0)),
        ).where(r.workshop_id == workshop.id)
    ).one()
    return Funnel(*(int(value or 0) for value in row))


def message_counts(workshop) -> dict[str, dict[str, int]]:
    """{purpose: {status: count}} of the workshop's SMS (invitations, reminders, notices)."""
    result: dict[str, dict[str, int]] = {}
    rows = db.session.execute(
        select(OutboxMessage.purpose, OutboxMessage.status, func.count())
        .where(
            OutboxMessage.workshop_id == workshop.id,
            OutboxMessage.organization_id == workshop.organization_id,
            OutboxMessage.purpose.in_(WORKSHOP_PURPOSES),
        )
        .group_by(OutboxMessage.purpose, OutboxMessage.status)
    )
    for purpose, status, count in rows:
        result.setdefault(purpose, {})[status] = count
    return result


def upcoming_count(organization_id: int, *, now: datetime) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                Workshop.organization_id == organization_id,
                and_(Workshop.status == "scheduled", Workshop.starts_at > now),
            )
        )
        or 0
    )
