"""Completing a workshop: no-shows recorded, and optionally a thank-you SMS to every
attendee who can be messaged."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.contacts.eligibility import can_message
from app.contacts.models import Contact
from app.contacts.services import (
    local_today,
)
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.models import OutboxMessage
from app.outbox.text import sms_text
from app.workshops.attendance import AttendanceError, add_event, organization_of
from app.workshops.models import Workshop, WorkshopRegistration

THANK_YOU_VALID_FOR = timedelta(days=2)  # a thank-you held (paused campaign) expires


@dataclass
class CompletionResult:
    no_shows: int
    thank_yous: int  # thank-you SMS queued
    not_messageable: int  # attendees who cannot be messaged (no consent, opted out...)


def _queue_thank_yous(workshop: Workshop, org: Organization, *, now: datetime) -> tuple[int, int]:
    today = local_today(org, now)
    already = set(
        db.session.scalars(
            select(OutboxMessage.contact_id).where(
                OutboxMessage.workshop_id == workshop.id, OutboxMessage.purpose == "thank_you"
            )
        )
    )
    attendees = db.session.scalars(
        select(Contact)
        .join(WorkshopRegistration, WorkshopRegistration.contact_id == Contact.id)
        .where(
            WorkshopRegistration.workshop_id == workshop.id,
            WorkshopRegistration.attended_at.is_not(None),
        )
        .order_by(Contact.id)
    ).all()
    bodies: dict[str, str] = {}
    queued = blocked = 0
    for contact in attendees:
        if contact.id in already:
            continue
        if not contact.phone or not can_message(contact, today=today):
            blocked += 1
            continue
        language = contact.language
        if language not in bodies:
            bodies[language] = sms_text(
                "workshop_thank_you", language, org=org.name, title=workshop.title_for(language)
            )
        outbox.enqueue(
            organization_id=workshop.organization_id,
            campaign_id=workshop.campaign_id,
            workshop_id=workshop.id,
            contact_id=contact.id,
            purpose="thank_you",
            language=language,
            body=bodies[language],
            due_at=now,
            expires_at=now + THANK_YOU_VALID_FOR,
            now=now,
        )
        queued += 1
    return queued, blocked


def complete_workshop(
    workshop: Workshop, *, send_thank_you: bool, now: datetime
) -> CompletionResult:
    """Close a workshop that has started: status "completed"; every confirmed
    registration not checked in (walk-ins aside) becomes a no-show (participation
    "no_show"); optionally queue a thank-you SMS to every attendee who can be messaged.

    Thank-yous are outbox rows (purpose "thank_you") due now, in each contact's language;
    quiet hours, consent and the campaign's state are checked again when they are sent,
    and a row still unsent after THANK_YOU_VALID_FOR expires.

    Raises:
        AttendanceError: the workshop has not started, was canceled or is completed.
    """
    if workshop.status == "canceled":
        raise AttendanceError(_l("This workshop was canceled."))
    if workshop.status == "completed":
        raise AttendanceError(_l("This workshop is already completed."))
    if now < workshop.starts_at:
        raise AttendanceError(_l("A workshop can be completed only once it has started."))
    claimed = db.session.execute(
        update(Workshop)
        .where(Workshop.id == workshop.id, Workshop.status == "scheduled")
        .values(status="completed", updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:  # completed (or canceled) a moment ago by someone else
        db.session.rollback()
        raise AttendanceError(_l("This workshop is already completed."))

    reg = WorkshopRegistration
    missing = db.session.execute(
        select(reg.id, reg.contact_id)
        .where(
            reg.workshop_id == workshop.id,
            reg.status == "confirmed",
            reg.walk_in.is_(False),
            reg.attended_at.is_(None),
            reg.no_show.is_(False),
        )
        .order_by(reg.id)
        .with_for_update()
    ).all()
    if missing:
        db.session.execute(
            update(reg)
            .where(reg.id.in_([row.id for row in missing]))
            .values(no_show=True)
            .execution_options(synchronize_session=False)
        )
        for row in missing:
            add_event(workshop, row.contact_id, "no_show", now)

    queued = blocked = 0
    if send_thank_you:
        queued, blocked = _queue_thank_yous(workshop, organization_of(workshop), now=now)
    db.session.commit()
    return CompletionResult(no_shows=len(missing), thank_yous=queued, not_messageable=blocked)
