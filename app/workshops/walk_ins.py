"""Walk-ins: someone who attends without being registered is added (a new contact, or an
existing one) and checked in, in one step at the door. See attendance.py for the vocabulary."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.contacts.eligibility import may_be_minor
from app.contacts.geography import derive_timezone
from app.contacts.models import Contact
from app.contacts.services import (
    ContactInvalid,
    apply_contact_values,
    local_today,
    validate_contact,
)
from app.contacts.validation import clean_contact
from app.extensions import db
from app.organizations.models import Organization
from app.workshops.attendance import (
    REGISTERED,
    add_walk_in,
    commit_or_conflict,
    ensure_not_canceled,
    mark_attended,
    organization_of,
)
from app.workshops.models import Workshop, WorkshopRegistration

WALK_IN_FIELDS = (
    "phone",
    "first_name",
    "language",
    "birth_year",
    "age_band",
    "gender",
    "state",
    "municipality",
    "guardian_consent",
    "consent",
    "preferred_channel",
    "whatsapp_opt_in",
)


@dataclass
class WalkInResult:
    registration: WorkshopRegistration
    contact: Contact
    contact_created: bool
    outcome: str  # "walk_in", "checked_in" (was registered) or "already" (checked in before)


def _fill_blanks(contact: Contact, values: dict, *, now: datetime) -> None:
    """Complete a known contact with what the walk-in form adds; never overwrite data.

    Opt-outs are left alone: registering at the door is not a renewed SMS consent.
    """
    changed = False
    if not contact.first_name and values["first_name"]:
        contact.first_name, changed = values["first_name"], True
    if contact.birth_year is None and values["birth_year"] is not None:
        contact.birth_year, contact.age_band, changed = values["birth_year"], None, True
    elif contact.birth_year is None and contact.age_band is None and values["age_band"]:
        contact.age_band, changed = values["age_band"], True
    if contact.gender is None and values["gender"]:
        contact.gender, changed = values["gender"], True
    if contact.state_code is None and values["state_code"] and contact.country == values["country"]:
        contact.state_code = values["state_code"]
        contact.municipality = contact.municipality or values["municipality"]
        contact.timezone = derive_timezone(
            contact.country, contact.state_code, contact.municipality
        )
        changed = True
    if contact.consent_source is None:
        contact.consent_source, contact.consent_basis = "workshop", None
        contact.consent_at, changed = now, True
    if values["guardian_consent"] and not contact.guardian_consent:
        contact.guardian_consent, contact.guardian_consent_at, changed = True, now, True
    if values.get("whatsapp_opt_in") and contact.whatsapp_opt_in_at is None:
        # A WhatsApp opt-in given at the door (issue 19); a "no" leaves one on file alone.
        contact.whatsapp_opt_in_at, contact.whatsapp_opt_in_source = now, "walk_in"
        contact.preferred_channel, changed = values["preferred_channel"], True
    if changed:
        contact.updated_at = now


def _known_contact(org: Organization, phone: str | None) -> Contact | None:
    if phone is None:
        return None
    return db.session.scalar(
        select(Contact).where(Contact.organization_id == org.id, Contact.phone == phone)
    )


def needs_guardian_consent(contact: Contact | None, values: dict, *, today) -> bool:
    """Whether the walk-in still lacks a guardian's consent it needs: the person (the
    known contact completed with the form, as `_fill_blanks` will) may be under 18 and
    no guardian consent is on file or given now."""
    if values["guardian_consent"] or (contact is not None and contact.guardian_consent):
        return False
    birth_year, age_band = values["birth_year"], values["age_band"]
    if contact is not None:
        if contact.birth_year is not None:
            birth_year, age_band = contact.birth_year, None
        elif birth_year is None and contact.age_band is not None:
            age_band = contact.age_band
    return may_be_minor(birth_year, age_band, today=today)


def walk_in_values(raw: dict, *, org: Organization, today) -> tuple[dict, Contact | None]:
    """`clean_contact`'s values for the walk-in form and the contact its phone matches
    (None for a new person), or ContactInvalid (by field).

    The walk-in's consent is the workshop's, dated today, and must be confirmed with the
    form's own checkbox (`consent` "yes"). A first name is required unless the known
    contact has one (the roster lists people by name). A guardian's consent is required
    only when the person may be under 18 — which includes an unknown age, as everywhere
    else (eligibility.py) — and none is on file: an adult contact is never asked.
    """
    consent_given = str(raw.get("consent") or "") == "yes"
    raw = {name: str(raw.get(name) or "") for name in WALK_IN_FIELDS}
    raw.update(
        consent_source="workshop",
        consent_date=today.isoformat(),
        consent_basis="",
        country="",
        timezone="",
        tags="",
    )
    contact = _known_contact(org, clean_contact(raw, org=org, today=today)[0].get("phone"))
    if contact is not None and (
        contact.state_code is not None
        or contact.municipality is not None
        or contact.country != org.country
    ):
        # The form starts with the venue's place, which only fills a blank one: a known
        # contact with a place of their own, or from another country (say a US phone at a
        # Mexican venue, even one from Guam, which has no state), is not refused over it.
        raw.update(state="", municipality="")
    field_errors: dict[str | None, list[str]] = {}
    try:
        values = validate_contact(raw, org=org, today=today)
    except ContactInvalid as error:
        field_errors = {name: list(messages) for name, messages in error.field_errors.items()}
        values, _errors = clean_contact(raw, org=org, today=today)
    has_name = values["first_name"] or (contact is not None and contact.first_name)
    if not has_name and "first_name" not in field_errors:
        field_errors.setdefault("first_name", []).append(
            str(_l("Enter the first name: the roster lists people by name."))
        )
    age_ok = not field_errors.get("birth_year") and not field_errors.get("age_band")
    if age_ok and needs_guardian_consent(contact, values, today=today):
        field_errors.setdefault("guardian_consent", []).append(
            str(
                _l(
                    "A parent or guardian must consent for someone who may be under 18. For an "
                    "adult, record the birth year or age band."
                )
            )
        )
    if not consent_given:
        field_errors.setdefault("consent", []).append(
            str(
                _l(
                    "Check that the young person agrees to receive messages: without their "
                    "consent they cannot be registered."
                )
            )
        )
    if field_errors:
        raise ContactInvalid(field_errors)
    return values, contact


def walk_in_contact(
    org: Organization, values: dict, contact: Contact | None, *, now: datetime
) -> tuple[Contact, bool]:
    """(contact, created) for `walk_in_values`' values: the known contact completed (never
    overwritten, see `_fill_blanks`), or a new one with consent source "workshop"."""
    if contact is not None:
        _fill_blanks(contact, values, now=now)
        return contact, False
    contact = Contact(organization_id=org.id, created_at=now, updated_at=now)
    apply_contact_values(contact, dict(values, consent_at=now), now=now, channel_source="walk_in")
    db.session.add(contact)
    db.session.flush()
    return contact, True


def register_walk_in(
    workshop: Workshop, raw: dict, *, user_id: int | None, now: datetime
) -> WalkInResult:
    """Register a young person at the door and check them in.

    `raw` holds the walk-in form's fields (WALK_IN_FIELDS, strings; guardian_consent and
    consent "yes"/"no"), validated by `clean_contact` exactly as the contact form and the CSV
    import are. The phone (normalized to E.164, old Mexican forms included) matches an
    existing contact of the organization, which is completed but never overwritten (see
    `_fill_blanks`); otherwise a contact is created with consent source "workshop".
    Someone already registered (confirmed or waitlisted) is simply checked in; anyone
    else becomes a walk-in (participation "walk_in" and "attended").

    Raises:
        ContactInvalid: a field is invalid (nothing changed).
        AttendanceError: the workshop was canceled, or a concurrent registration.
    """
    ensure_not_canceled(workshop)
    org = organization_of(workshop)
    values, contact = walk_in_values(raw, org=org, today=local_today(org, now))
    contact, created = walk_in_contact(org, values, contact, now=now)
    registration = None
    if not created:
        registration = db.session.scalar(
            select(WorkshopRegistration).where(
                WorkshopRegistration.workshop_id == workshop.id,
                WorkshopRegistration.contact_id == contact.id,
            )
        )

    if registration is None:
        registration = add_walk_in(workshop, contact.id, user_id=user_id, now=now)
        outcome = "walk_in"
    else:
        walk_in = registration.status not in REGISTERED
        if mark_attended(workshop, registration, user_id=user_id, now=now, walk_in=walk_in):
            outcome = "walk_in" if walk_in or registration.walk_in else "checked_in"
        else:
            outcome = "already"
    commit_or_conflict()
    return WalkInResult(registration, contact, created, outcome)
