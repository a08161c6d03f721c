"""The workshop.registration.changed organization event (outbound webhooks, issue 20):
emitted where a registration's status changes, inside that unit of work."""

from datetime import datetime

from app.extensions import db
from app.organizations.events import OrgEvent, emit_all, event


def registration_event(
    workshop,
    contact_id: int,
    status: str,
    *,
    now: datetime,
    registration=None,
    registration_id: int | None = None,
    previous: str | None = None,
    cause: str | None = None,
) -> OrgEvent:
    """`cause`: how it changed ("rsvp", "promoted", "walk_in"…), sent as `data.reason`.
    (Not `reason=`: that keyword names outbox skip reasons, which all need a label.)"""
    if registration is not None:
        if registration.id is None:
            db.session.flush()
        registration_id = registration.id
    return event(
        "workshop.registration.changed",
        organization_id=workshop.organization_id,
        key=f"{workshop.id}:{contact_id}:{status}:{now.isoformat()}",
        occurred_at=now,
        data={
            "registration_id": registration_id,
            "workshop_id": workshop.id,
            "campaign_id": workshop.campaign_id,
            "contact_id": contact_id,
            "status": status,
            "previous_status": previous,
            "reason": cause,
        },
        contact_id=contact_id,
    )


def registration_changed(workshop, contact_id: int, status: str, **kwargs) -> None:
    emit_all([registration_event(workshop, contact_id, status, **kwargs)])
