"""Workshop invitations are sends (app/outreach) with a workshop: what the workshop adds to
them. Registered with the sends feature when the app is built.

- the text gets the workshop's placeholders and its RSVP line, and expires at the start;
- every recipient gets an "invited" registration (kept if they already have one), and the
  send's first fan-out records one "invited" participation event per new registration.
"""

from datetime import datetime

from sqlalchemy import insert, literal, select

from app.contacts.models import Contact
from app.db_dialect import insert_ignoring_duplicates
from app.extensions import db
from app.organizations.events import emit_all, wanted
from app.outbox.placeholders import register_workshop_values
from app.outreach.invitations import Invitation, register_invitation
from app.participation.models import ParticipationEvent
from app.timeutil import UTCDateTime
from app.workshops.events import registration_event
from app.workshops.models import Workshop, WorkshopRegistration
from app.workshops.texts import rsvp_line, workshop_values


def _register_invited(send, recipients, now: datetime) -> None:
    rows = recipients.with_only_columns(
        literal(send.organization_id),
        literal(send.workshop_id),
        Contact.id,
        literal("invited"),
        literal(now, UTCDateTime()),
        literal(False),
        literal(False),
        literal(now, UTCDateTime()),
    )
    db.session.execute(
        insert_ignoring_duplicates(WorkshopRegistration)
        .from_select(
            [
                "organization_id",
                "workshop_id",
                "contact_id",
                "status",
                "invited_at",
                "walk_in",
                "no_show",
                "created_at",
            ],
            rows,
        )
        .on_conflict_do_nothing()
    )


def _record_invited(send, now: datetime) -> None:
    """One "invited" participation event per registration this send created (set-based),
    and the organization event for each when something listens (outbound webhooks)."""
    created = (
        WorkshopRegistration.workshop_id == send.workshop_id,
        WorkshopRegistration.invited_at == now,
        WorkshopRegistration.status == "invited",
    )
    rows = select(
        WorkshopRegistration.organization_id,
        WorkshopRegistration.contact_id,
        literal(send.campaign_id),
        literal(send.workshop_id),
        literal("invited"),
        literal("sms"),
        literal(now, UTCDateTime()),
    ).where(*created)
    db.session.execute(
        insert(ParticipationEvent).from_select(
            [
                "organization_id",
                "contact_id",
                "campaign_id",
                "workshop_id",
                "kind",
                "channel",
                "occurred_at",
            ],
            rows,
        )
    )
    if wanted(send.organization_id, "workshop.registration.changed"):
        registrations = db.session.execute(
            select(WorkshopRegistration.id, WorkshopRegistration.contact_id).where(*created)
        )
        emit_all(
            [
                registration_event(
                    send.workshop,
                    contact_id,
                    "invited",
                    now=now,
                    registration_id=registration_id,
                    cause="invitation",
                )
                for registration_id, contact_id in registrations
            ]
        )


register_invitation(
    Invitation(
        values=lambda send, language: workshop_values(send.workshop, language),
        footer=lambda send, language: rsvp_line(send.workshop, language),
        expires_at=lambda send: send.workshop.starts_at,
        after_fan_out=_register_invited,
        after_first_fan_out=_record_invited,
    )
)


def _values_of(organization_id: int, workshop_id: int, language: str, country) -> dict | None:
    """A workshop's placeholder values for a sender that has only the outbox row (a WhatsApp
    template's variables), in the row's language and the recipient's country formats."""
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None or workshop.organization_id != organization_id:
        return None
    return workshop_values(workshop, language, country)


register_workshop_values(_values_of)
