"""/api/v1/workshops: upcoming workshops with their seats, and registrations from outside
the app (a school's sign-up form, a partner's system).

Registrations go through `workshops.registrations`: the seat rules of a YES by SMS
(capacity, then the waitlist; a freed seat goes to the waitlist) and the consent rules of
the door (the young person's consent, a guardian's for anyone who may be under 18).
Answers carry ids and states only, never a name or a phone number."""

from datetime import timedelta

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import select

from app.api.common import IDEMPOTENCY_PARAM, NOT_MODIFIED, key_org, owned
from app.api.feature_schemas import (
    RegistrationIn,
    RegistrationOut,
    WorkshopList,
    WorkshopListArgs,
)
from app.api.guard import guard, scope_required
from app.api.idempotency import idempotent
from app.api.problems import ApiProblem
from app.contacts.models import Contact
from app.contacts.services import ContactInvalid
from app.extensions import db
from app.tenancy import MAX_ID
from app.timeutil import utcnow
from app.workshops.attendance import AttendanceError
from app.workshops.models import Workshop, WorkshopRegistration
from app.workshops.registrations import (
    RegistrationClosed,
    cancel_registration,
    register_for_workshop,
)
from app.workshops.rsvp import waitlist_position
from app.workshops.services import workshops_between

blp = Blueprint(
    "api_workshops",
    __name__,
    url_prefix="/api/v1/workshops",
    description="Workshops: upcoming sessions, their seats, and registrations.",
)
guard(blp)


def _workshop_json(w: Workshop, confirmed: int, waitlisted: int) -> dict:
    return {
        "id": w.id,
        "campaign_id": w.campaign_id,
        "code": w.code,
        "title": {"es": w.title_es, "en": w.title_en},
        "kind": w.kind,
        "language": w.language,
        "venue_name": w.venue_name,
        "venue_address": w.venue_address,
        "country": w.country,
        "state": w.state_code,
        "municipality": w.municipality,
        "timezone": w.timezone,
        "starts_at": w.starts_at,
        "ends_at": w.ends_at,
        "status": w.status,
        "capacity": w.capacity,
        "confirmed": int(confirmed),
        "waitlisted": int(waitlisted),
    }


@blp.route("", methods=["GET"])
@scope_required(blp, "campaigns:read")
@blp.arguments(WorkshopListArgs, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, WorkshopList)
@blp.doc(responses=NOT_MODIFIED)
def list_upcoming(days=90):
    """Upcoming workshops (scheduled, not started), soonest first, with their capacity and
    how many seats are confirmed and how many people wait for one."""
    now = utcnow()
    rows = workshops_between(key_org().id, now + timedelta(microseconds=1), now + timedelta(days))
    return {"data": [_workshop_json(*row) for row in rows if row[0].status == "scheduled"]}


def _raw(data: dict) -> dict:
    """The request as the walk-in form's raw fields (strings; booleans "yes"/"no")."""
    raw = {}
    for name, value in data.items():
        if value is None:
            continue
        raw[name] = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return raw


def _invalid(error: ContactInvalid) -> ApiProblem:
    errors = {name or "_schema": messages for name, messages in error.field_errors.items()}
    return ApiProblem("validation_failed", str(error), errors={"json": errors})


def _registration_json(registration: WorkshopRegistration, outcome: str, **extra) -> dict:
    position = waitlist_position(registration) if registration.status == "waitlisted" else None
    return {
        "id": registration.id,
        "workshop_id": registration.workshop_id,
        "contact_id": registration.contact_id,
        "status": registration.status,
        "outcome": outcome,
        "waitlist_position": position,
        **extra,
    }


@blp.route("/<int:workshop_id>/registrations", methods=["POST"])
@scope_required(blp, "workshops:write")
@idempotent
@blp.arguments(RegistrationIn)
@blp.response(201, RegistrationOut, description="Registered: a seat, or the waitlist.")
@blp.alt_response(200, schema=RegistrationOut, description="Already registered.")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def register(data, workshop_id):
    """Register someone for an upcoming workshop: a seat when one is free, else the
    waitlist (`outcome` says which; registering again answers 200 and changes nothing).

    By `contact_id`: a contact who can be messaged (consent on file, not opted out, a
    guardian's consent for a possible minor). Or by `phone` with the walk-in form's
    fields: `consent` true is required, and `guardian_consent` true for anyone who may be
    under 18; a known phone's contact is completed, never overwritten. Refusals are 422
    problems with `errors` by field; a canceled or started workshop is 409."""
    workshop = owned(Workshop, workshop_id, _("No workshop with this id."))
    contact = None
    if "contact_id" in data:
        contact = owned(Contact, data["contact_id"], _("No contact with this id."))
    try:
        result = register_for_workshop(
            workshop, contact=contact, raw=None if contact else _raw(data), now=utcnow()
        )
    except ContactInvalid as error:
        raise _invalid(error) from None
    except (RegistrationClosed, AttendanceError) as error:
        raise ApiProblem("conflict", str(error)) from None
    status = 200 if result.outcome.startswith("already_") else 201
    body = _registration_json(
        result.registration, result.outcome, contact_created=result.contact_created
    )
    return body, status


@blp.route("/<int:workshop_id>/registrations/<int:registration_id>/cancel", methods=["POST"])
@scope_required(blp, "workshops:write")
@idempotent
@blp.response(200, RegistrationOut)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def cancel(workshop_id, registration_id):
    """Cancel a registration, as a NO by SMS does: a confirmed seat is given back (the
    first on the waitlist gets it), a waitlisted person leaves the list, an invitation is
    declined. Canceling again answers `already_declined`; a started workshop is 409."""
    workshop = owned(Workshop, workshop_id, _("No workshop with this id."))
    registration = None
    if 0 < registration_id <= MAX_ID:
        registration = db.session.scalar(
            select(WorkshopRegistration).where(
                WorkshopRegistration.id == registration_id,
                WorkshopRegistration.workshop_id == workshop.id,
                WorkshopRegistration.organization_id == workshop.organization_id,
            )
        )
    if registration is None:
        raise ApiProblem("not_found", _("No registration with this id for this workshop."))
    try:
        outcome = cancel_registration(registration, now=utcnow())
    except RegistrationClosed as error:
        raise ApiProblem("conflict", str(error)) from None
    db.session.refresh(registration)
    return _registration_json(registration, outcome)
