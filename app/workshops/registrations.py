"""Registering a young person for an upcoming workshop from outside the app (the public
API, issue 20): the same seat rules as a YES by SMS (`rsvp.accept`: capacity, then the
waitlist) and the same consent rules as the door (`walk_ins.walk_in_values`: the young
person's consent confirmed, a guardian's for anyone who may be under 18), and only for
someone who can be messaged (eligibility.py), since a seat brings reminders."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from app.contacts.eligibility import REASONS, block_reason
from app.contacts.models import Contact
from app.contacts.services import ContactInvalid, local_today
from app.errors import DomainError
from app.extensions import db
from app.workshops import rsvp
from app.workshops.attendance import commit_or_conflict, organization_of
from app.workshops.models import Workshop, WorkshopRegistration
from app.workshops.walk_ins import walk_in_contact, walk_in_values


class RegistrationClosed(DomainError):
    """The workshop was canceled, completed or has started."""


CLOSED = _l("This workshop is not open for registration: it was canceled or has started.")


@dataclass
class RegistrationResult:
    registration: WorkshopRegistration
    contact: Contact
    contact_created: bool
    # "confirmed", "waitlisted", "already_confirmed" or "already_waitlisted"
    outcome: str


def register_for_workshop(
    workshop: Workshop, *, contact: Contact | None = None, raw: dict | None = None, now: datetime
) -> RegistrationResult:
    """Register a known contact (`contact`), or a person by the walk-in form's fields
    (`raw`: WALK_IN_FIELDS as strings, "consent" "yes" required), for `workshop`: a seat
    when one is free, else the waitlist. One unit of work: commits once.

    Raises:
        ContactInvalid: a field is invalid, consent is missing, or the contact cannot be
            messaged (nothing changed).
        RegistrationClosed: the workshop is canceled or has started (nothing changed).
    """
    org = organization_of(workshop)
    if workshop.status != "scheduled" or workshop.starts_at <= now:
        raise RegistrationClosed(CLOSED)
    today = local_today(org, now)
    created = False
    if contact is None:
        values, known = walk_in_values(raw or {}, org=org, today=today)
        reason = block_reason(known, today=today) if known is not None else None
        if reason in ("erased", "opted_out", "undeliverable"):  # the door does not undo these
            raise ContactInvalid({"phone": [str(REASONS[reason])]})
        contact, created = walk_in_contact(org, values, known, now=now)
    reason = block_reason(contact, today=today)
    if reason is not None:
        db.session.rollback()
        raise ContactInvalid({"contact_id": [str(REASONS[reason])]})
    outcome, registration = rsvp.accept(workshop.id, contact, org, now=now)
    if outcome == "closed":  # canceled or started meanwhile
        db.session.rollback()
        raise RegistrationClosed(CLOSED)
    commit_or_conflict()
    return RegistrationResult(registration, contact, created, outcome)


def cancel_registration(registration: WorkshopRegistration, *, now: datetime) -> str:
    """Cancel a registration as a NO by SMS does (`rsvp.decline`: a freed seat goes to the
    waitlist). Returns "canceled", "left_waitlist", "declined" or "already_declined".

    Raises:
        RegistrationClosed: the workshop is canceled or has started (nothing changed).
    """
    workshop = registration.workshop
    outcome, _registration = rsvp.decline(
        workshop.id, registration.contact, organization_of(workshop), now=now
    )
    if outcome == "closed":
        db.session.rollback()
        raise RegistrationClosed(CLOSED)
    db.session.commit()
    return outcome
