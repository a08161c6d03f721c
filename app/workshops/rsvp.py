"""RSVP by SMS: "SI 4821" / "YES 4821" saves a spot, "NO 4821" gives it back.

Grammar (see app/outbox/keywords.py; accents, case and punctuation are ignored):

- YES/SI + code: confirm a seat at the organization's scheduled, upcoming workshop with
  that code, or join its waitlist when it is full. NO + code: cancel (a confirmed seat
  goes to the first on the waitlist, who is told by SMS), leave the waitlist, or decline.
- Without a code: it applies to the contact's only open invitation (registration invited,
  confirmed or waitlisted for a scheduled workshop that has not started). With several,
  the reply lists their codes and titles and asks again; with none, the reply says so and
  the message stays in the inbox for the team.
- A code that names no upcoming workshop of the contact's organization gets an "unknown
  code" reply (codes of other organizations are unknown too).
- Opted-out contacts are never registered by a reply: a bare YES is Twilio's opt-in
  keyword, so it opts them back in (as inbound.py does); anything else is just stored.

Capacity holds under concurrency: the workshop row is locked (`SELECT ... FOR UPDATE` on
PostgreSQL; the database write lock on SQLite) while seats are counted and assigned, so two
replies for the last seat never both get it. Every answer gets a reply in the contact's
language; participation events record rsvp_yes (confirmed), waitlisted and rsvp_no.

The handlers run inside `inbound.receive_sms`, which stores the message and commits once.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import and_, func, or_, select

from app.contacts.models import Contact
from app.db_dialect import is_postgres, write_lock_in_transaction
from app.extensions import db
from app.outbox import inbound, keywords
from app.outbox.inbound import InboundContext, handler, queue_reply
from app.participation.services import record_event
from app.workshops.events import registration_changed
from app.workshops.models import Workshop, WorkshopRegistration
from app.workshops.reminders import cancel_pending, queue_notice, queue_reminders
from app.workshops.texts import workshop_values

OPEN_STATUSES = ("invited", "confirmed", "waitlisted")
MAX_CHOICES = 5  # invitations listed in one clarifying SMS


# --- Queries ------------------------------------------------------------------------------


def upcoming(now: datetime):
    return and_(Workshop.status == "scheduled", Workshop.starts_at > now)


def open_registrations(contact, *, now: datetime) -> list[tuple[WorkshopRegistration, Workshop]]:
    """The contact's open invitations, soonest first."""
    rows = db.session.execute(
        select(WorkshopRegistration, Workshop)
        .join(Workshop, Workshop.id == WorkshopRegistration.workshop_id)
        .where(
            WorkshopRegistration.contact_id == contact.id,
            WorkshopRegistration.organization_id == contact.organization_id,
            WorkshopRegistration.status.in_(OPEN_STATUSES),
            upcoming(now),
        )
        .order_by(Workshop.starts_at, Workshop.id)
    )
    return [tuple(row) for row in rows]


def workshop_by_code(organization_id: int, code: str, *, now: datetime) -> Workshop | None:
    return db.session.scalar(
        select(Workshop).where(
            Workshop.organization_id == organization_id, Workshop.code == code, upcoming(now)
        )
    )


def lock_workshop(workshop_id: int) -> Workshop:
    """Lock the workshop row until the transaction ends, and return it fresh.

    PostgreSQL: a row lock. SQLite has no row locks (SQLAlchemy drops FOR UPDATE there):
    take the database write lock instead. SQLite's driver only opens a transaction at the
    first write, so an open one already holds that lock; otherwise BEGIN IMMEDIATE.
    """
    stmt = select(Workshop).where(Workshop.id == workshop_id)
    if is_postgres():
        stmt = stmt.with_for_update()
    else:
        write_lock_in_transaction()
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def registration_of(workshop_id: int, contact_id: int) -> WorkshopRegistration | None:
    return db.session.scalar(
        select(WorkshopRegistration)
        .where(
            WorkshopRegistration.workshop_id == workshop_id,
            WorkshopRegistration.contact_id == contact_id,
        )
        .execution_options(populate_existing=True)
    )


def count_by_status(workshop_id: int, status: str) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                WorkshopRegistration.workshop_id == workshop_id,
                WorkshopRegistration.status == status,
            )
        )
        or 0
    )


def waitlist_position(registration: WorkshopRegistration) -> int:
    """1 for the first on the waitlist (order: waitlisted_at, then id)."""
    r = WorkshopRegistration
    ahead = db.session.scalar(
        select(func.count()).where(
            r.workshop_id == registration.workshop_id,
            r.status == "waitlisted",
            or_(
                r.waitlisted_at < registration.waitlisted_at,
                and_(r.waitlisted_at == registration.waitlisted_at, r.id < registration.id),
            ),
        )
    )
    return (ahead or 0) + 1


# --- State changes (the caller holds the workshop lock and commits) ----------------------


def _event(
    registration,
    workshop,
    kind: str,
    *,
    now: datetime,
    detail: str | None = None,
    previous: str | None = None,
):
    registration_changed(
        workshop,
        registration.contact_id,
        registration.status,
        now=now,
        registration=registration,
        previous=previous,
        cause=detail or "rsvp",
    )
    record_event(
        organization_id=workshop.organization_id,
        contact_id=registration.contact_id,
        kind=kind,
        channel="sms",
        occurred_at=now,
        campaign_id=workshop.campaign_id,
        workshop_id=workshop.id,
        detail=detail,
    )


def _seat_or_waitlist(registration, workshop, org, *, now: datetime) -> str:
    previous = registration.status
    if count_by_status(workshop.id, "confirmed") < workshop.capacity:
        registration.status, registration.waitlisted_at = "confirmed", None
        _event(registration, workshop, "rsvp_yes", now=now, previous=previous)
        queue_reminders(registration.contact, workshop, org, now=now)
        return "confirmed"
    registration.status, registration.waitlisted_at = "waitlisted", now
    _event(registration, workshop, "waitlisted", now=now, previous=previous)
    return "waitlisted"


def _open(workshop, now: datetime) -> bool:
    return workshop.status == "scheduled" and workshop.starts_at > now


def accept(workshop_id: int, contact, org, *, now: datetime) -> tuple[str, WorkshopRegistration]:
    """YES: confirm a seat, or join the waitlist when the workshop is full.

    Returns (outcome, registration); outcome is "confirmed", "waitlisted",
    "already_confirmed", "already_waitlisted", or "closed" (canceled or started meanwhile).
    """
    workshop = lock_workshop(workshop_id)
    if not _open(workshop, now):
        return "closed", None
    registration = registration_of(workshop.id, contact.id)
    if registration is not None and registration.status in ("confirmed", "waitlisted"):
        return "already_" + registration.status, registration
    if registration is None:  # not invited, but knows the code (a friend passed it on)
        registration = WorkshopRegistration(
            organization_id=workshop.organization_id,
            workshop_id=workshop.id,
            contact_id=contact.id,
            status="invited",
            created_at=now,
        )
        db.session.add(registration)
    registration.contact = contact
    registration.responded_at = now
    return _seat_or_waitlist(registration, workshop, org, now=now), registration


def decline(workshop_id: int, contact, org, *, now: datetime) -> tuple[str, WorkshopRegistration]:
    """NO: give back a confirmed seat (promoting the waitlist), leave the waitlist, or
    decline an invitation. Outcome: "canceled", "left_waitlist", "declined" or
    "already_declined", or "closed"."""
    workshop = lock_workshop(workshop_id)
    if not _open(workshop, now):
        return "closed", None
    registration = registration_of(workshop.id, contact.id)
    if registration is None:
        registration = WorkshopRegistration(
            organization_id=workshop.organization_id,
            workshop_id=workshop.id,
            contact_id=contact.id,
            status="invited",
            created_at=now,
        )
        db.session.add(registration)
    previous = registration.status
    if previous in ("declined", "canceled"):
        return "already_declined", registration
    registration.responded_at = now
    if previous == "confirmed":
        registration.status = "canceled"
        cancel_pending(
            workshop.id,
            contact_id=contact.id,
            purposes=("reminder",),
            reason="rsvp_canceled",
            now=now,
        )
        _event(registration, workshop, "rsvp_no", now=now, detail="canceled", previous=previous)
        db.session.flush()
        promote_waitlisted(workshop, org, now=now)
        return "canceled", registration
    if previous == "waitlisted":
        registration.status = "canceled"
        _event(
            registration, workshop, "rsvp_no", now=now, detail="left_waitlist", previous=previous
        )
        return "left_waitlist", registration
    registration.status = "declined"
    _event(registration, workshop, "rsvp_no", now=now, detail="declined", previous=previous)
    return "declined", registration


def promote_waitlisted(workshop, org, *, now: datetime) -> list[WorkshopRegistration]:
    """Fill free seats from the waitlist, first come first served; each promoted contact
    gets reminders and an SMS. Contacts we can no longer text (opted out, erased) keep
    their place in the list but are passed over: they could not learn about the seat.
    The caller holds the workshop lock."""
    if not _open(workshop, now):
        return []
    free = workshop.capacity - count_by_status(workshop.id, "confirmed")
    if free <= 0:
        return []
    promoted = db.session.scalars(
        select(WorkshopRegistration)
        .join(Contact, Contact.id == WorkshopRegistration.contact_id)
        .where(
            WorkshopRegistration.workshop_id == workshop.id,
            WorkshopRegistration.status == "waitlisted",
            Contact.opted_out_at.is_(None),
            Contact.erased_at.is_(None),
        )
        .order_by(WorkshopRegistration.waitlisted_at, WorkshopRegistration.id)
        .limit(free)
    ).all()
    for registration in promoted:
        registration.status = "confirmed"
        _event(
            registration, workshop, "rsvp_yes", now=now, detail="promoted", previous="waitlisted"
        )
        queue_reminders(registration.contact, workshop, org, now=now)
        queue_notice(registration.contact, workshop, org, "workshop_promoted", now=now)
    return promoted


# --- SMS handlers ---------------------------------------------------------------------------

REPLIES = {
    "confirmed": "workshop_confirmed",
    "already_confirmed": "workshop_already_confirmed",
    "waitlisted": "workshop_waitlisted",
    "already_waitlisted": "workshop_waitlisted",
    "canceled": "workshop_rsvp_canceled",
    "left_waitlist": "workshop_left_waitlist",
    "declined": "workshop_declined",
    "already_declined": "workshop_declined",
}


def _choices_text(rows, language: str) -> str:
    """ "4821 Decide tú (sáb 5 dic); 1234 …" for a clarifying SMS."""
    items = []
    for _registration, workshop in rows[:MAX_CHOICES]:
        day = workshop.starts_at.astimezone(ZoneInfo(workshop.timezone)).date()
        items.append(
            f"{workshop.code} {workshop.title_for(language)} "
            f"({format_date(day, 'EEE d MMM', locale=language)})"
        )
    return "; ".join(items)


def _reply_about(ctx: InboundContext, workshop, template: str, **extra) -> None:
    values = workshop_values(workshop, ctx.contact.language, ctx.contact.country)
    queue_reply(
        ctx.contact,
        template,
        now=ctx.now,
        campaign_id=workshop.campaign_id,
        title=values["workshop_title"],
        date=values["workshop_date"],
        time=values["workshop_time"],
        venue=values["workshop_venue"],
        code=values["workshop_code"],
        **extra,
    )


def _rsvp(ctx: InboundContext, *, yes: bool) -> str:
    contact = ctx.contact
    if contact.opted_out_at is not None:
        if keywords.is_twilio_opt_in(ctx.intent):
            ctx.inbound.intent = keywords.OPT_IN  # shown as what it was: an opt-in
        return inbound.record_reply(ctx)  # the default path: Twilio's YES opt-in, else stored
    code = ctx.intent.code
    if code:
        workshop = workshop_by_code(contact.organization_id, code, now=ctx.now)
        if workshop is None:
            queue_reply(
                contact,
                "workshop_unknown_code",
                now=ctx.now,
                campaign_id=ctx.inbound.campaign_id,
                code=code,
            )
            return "rsvp_unknown_code"
    else:
        rows = open_registrations(contact, now=ctx.now)
        if not rows:
            queue_reply(
                contact, "workshop_none_open", now=ctx.now, campaign_id=ctx.inbound.campaign_id
            )
            record_event(
                organization_id=contact.organization_id,
                contact_id=contact.id,
                kind="reply",
                channel="sms",
                occurred_at=ctx.now,
                campaign_id=ctx.inbound.campaign_id,
            )
            return "rsvp_no_invitation"
        if len(rows) > 1:
            queue_reply(
                contact,
                "workshop_choose",
                now=ctx.now,
                campaign_id=ctx.inbound.campaign_id,
                yes=yes,
                choices=_choices_text(rows, contact.language),
            )
            return "rsvp_ambiguous"
        workshop = rows[0][1]
    ctx.inbound.campaign_id = workshop.campaign_id  # the reply shows in this campaign's inbox
    outcome, registration = (accept if yes else decline)(
        workshop.id, contact, ctx.organization, now=ctx.now
    )
    if registration is None:  # canceled or started while we waited for the lock
        queue_reply(
            contact,
            "workshop_unknown_code",
            now=ctx.now,
            campaign_id=workshop.campaign_id,
            code=workshop.code,
        )
        return "rsvp_unknown_code"
    extra = {}
    if registration.status == "waitlisted":
        extra["position"] = waitlist_position(registration)
    _reply_about(ctx, workshop, REPLIES[outcome], **extra)
    return "rsvp_" + outcome


@handler(keywords.RSVP_YES)
def _rsvp_yes(ctx: InboundContext) -> str:
    return _rsvp(ctx, yes=True)


@handler(keywords.RSVP_NO)
def _rsvp_no(ctx: InboundContext) -> str:
    return _rsvp(ctx, yes=False)
