"""Completing a workshop: no-shows recorded, its pending invitations, reminders and
notices canceled, and optionally a thank-you SMS to every attendee who can be messaged.
A completion can be undone for UNDO_WINDOW (a tap on the wrong workshop, or too early)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select, update

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
from app.outreach.services import mark_sends_canceled
from app.participation.models import ParticipationEvent
from app.workshops.attendance import AttendanceError, add_event, organization_of
from app.workshops.models import Workshop, WorkshopRegistration

THANK_YOU_VALID_FOR = timedelta(days=2)  # a thank-you held (paused campaign) expires
UNDO_WINDOW = timedelta(hours=24)  # how long a completion can be undone
# What a completed workshop no longer needs (the thank-you is queued after).
BEFORE_PURPOSES = ("invitation", "reminder", "workshop_notice")
COMPLETED = "workshop_completed"  # skip reason of the messages a completion cancels
UNDONE = "completion_undone"  # skip reason of the thank-yous an undo cancels


@dataclass
class CompletionResult:
    no_shows: int
    thank_yous: int  # thank-you SMS queued
    not_messageable: int  # attendees who cannot be messaged (no consent, opted out...)
    messages_canceled: int = 0  # pending invitations, reminders and notices


@dataclass
class UndoResult:
    no_shows_reverted: int  # registered again (no longer no-shows)
    thank_yous_canceled: int  # thank-you SMS not yet sent, canceled


def completed_at(workshop: Workshop) -> datetime | None:
    """When `workshop` was completed (None unless it is)."""
    return workshop.completed_at if workshop.status == "completed" else None


def undo_deadline(workshop: Workshop) -> datetime | None:
    """Until when the completion of `workshop` can be undone (None when not completed)."""
    moment = completed_at(workshop)
    return moment + UNDO_WINDOW if moment is not None else None


def ends_early(workshop: Workshop, now: datetime) -> bool:
    """Whether completing now would close the workshop before its scheduled end."""
    return now < workshop.ends_at


def _queue_thank_yous(workshop: Workshop, org: Organization, *, now: datetime) -> tuple[int, int]:
    today = local_today(org, now)
    already = set(  # a thank-you canceled by an undone completion may be queued again
        db.session.scalars(
            select(OutboxMessage.contact_id).where(
                OutboxMessage.workshop_id == workshop.id,
                OutboxMessage.purpose == "thank_you",
                or_(OutboxMessage.status != "canceled", OutboxMessage.skip_reason != UNDONE),
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
    workshop: Workshop, *, send_thank_you: bool, now: datetime, early_confirmed: bool = False
) -> CompletionResult:
    """Close a workshop that has started: status "completed"; every confirmed
    registration not checked in (walk-ins aside) becomes a no-show (participation
    "no_show"); its pending invitations, reminders and notices are canceled (and sends
    not yet fanned out with them), so its page and its campaign's counts show nothing
    left to send; optionally queue a thank-you SMS to every attendee who can be messaged.

    Before the scheduled end the coordinator must confirm (`early_confirmed`): a
    workshop completed by mistake would mark everyone still arriving as a no-show.

    Thank-yous are outbox rows (purpose "thank_you") due now, in each contact's language;
    quiet hours, consent and the campaign's state are checked again when they are sent,
    and a row still unsent after THANK_YOU_VALID_FOR expires.

    Raises:
        AttendanceError: the workshop has not started, was canceled or is completed, or
            has not reached its scheduled end and the coordinator did not confirm.
    """
    if workshop.status == "canceled":
        raise AttendanceError(_l("This workshop was canceled."))
    if workshop.status == "completed":
        raise AttendanceError(_l("This workshop is already completed."))
    if now < workshop.starts_at:
        raise AttendanceError(_l("A workshop can be completed only once it has started."))
    if ends_early(workshop, now) and not early_confirmed:
        raise AttendanceError(
            _l(
                "The workshop has not reached its scheduled end. Confirm that it is over "
                "to complete it now.",
            ),
            field="early",
        )
    claimed = db.session.execute(
        update(Workshop)
        .where(Workshop.id == workshop.id, Workshop.status == "scheduled")
        .values(status="completed", completed_at=now, updated_at=now)
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

    canceled = outbox.cancel_pending(
        reason=COMPLETED, now=now, workshop_id=workshop.id, purpose=BEFORE_PURPOSES
    )
    mark_sends_canceled(workshop_id=workshop.id, fanned_out_at=None)
    queued = blocked = 0
    if send_thank_you:
        queued, blocked = _queue_thank_yous(workshop, organization_of(workshop), now=now)
    db.session.commit()
    return CompletionResult(
        no_shows=len(missing),
        thank_yous=queued,
        not_messageable=blocked,
        messages_canceled=canceled,
    )


def undo_completion(workshop: Workshop, *, now: datetime) -> UndoResult:
    """Reopen a workshop completed less than UNDO_WINDOW ago: status "scheduled" again,
    its no-shows registered again (their "no_show" events deleted: like an undone
    check-in, nothing happened that reports should see) and its thank-you SMS not yet
    sent canceled. Invitations and reminders it canceled stay canceled: the workshop has
    started, so they could no longer go.

    Raises:
        AttendanceError: the workshop is not completed, or was completed too long ago.
    """
    if workshop.status != "completed":
        raise AttendanceError(_l("This workshop is not completed."))
    if now > undo_deadline(workshop):
        raise AttendanceError(
            _l(
                "A completion can be undone only within 24 hours. Correct the attendance "
                "on the check-in list instead."
            )
        )
    reopened = db.session.execute(
        update(Workshop)
        .where(Workshop.id == workshop.id, Workshop.status == "completed")
        .values(status="scheduled", completed_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if reopened != 1:  # reopened a moment ago by someone else
        db.session.rollback()
        raise AttendanceError(_l("This workshop is not completed."))
    reverted = db.session.execute(
        update(WorkshopRegistration)
        .where(WorkshopRegistration.workshop_id == workshop.id, WorkshopRegistration.no_show)
        .values(no_show=False)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        delete(ParticipationEvent)
        .where(
            ParticipationEvent.organization_id == workshop.organization_id,
            ParticipationEvent.workshop_id == workshop.id,
            ParticipationEvent.kind == "no_show",
        )
        .execution_options(synchronize_session=False)
    )
    canceled = outbox.cancel_pending(
        reason=UNDONE, now=now, claimed_too=True, workshop_id=workshop.id, purpose="thank_you"
    )
    db.session.commit()
    db.session.refresh(workshop)
    return UndoResult(no_shows_reverted=reverted, thank_yous_canceled=canceled)
