"""Attendance at workshops: the door roster (check-in, undo), walk-ins, sign-in sheets,
completing a workshop (no-shows, thank-you SMS) and the invited → attended funnel.

Vocabulary and invariants:

- *Registered* means the young person asked for a seat: a registration "confirmed" or
  "waitlisted". A *walk-in* attends without being registered: no registration at all, or
  one that is only "invited", "declined" or "canceled". Their registration gets
  `walk_in=True`; a new one is created "confirmed" (they hold a seat now) with no
  `invited_at`. The RSVP status of an existing registration is never rewritten, so the
  funnel still shows what the person answered.
- Participation events mirror the registration. "attended" (and "walk_in", for walk-ins)
  exist exactly while `attended_at` is set; "no_show" exactly while `no_show` is set.
- Undoing a check-in corrects a mis-tap at the door: nothing happened that reports should
  see. So the undo *deletes* the events its check-in recorded instead of appending a
  compensating one, and every report can count events of a kind as they are, without
  netting out corrections. (A late check-in after completion likewise deletes the
  "no_show" it contradicts.)
- Check-ins are conditional UPDATEs (`attended_at IS NULL`): a double tap, two
  coordinators at two doors, or a sign-in sheet uploaded twice record one attendance.

Every public service is one unit of work: it commits once, or raises a DomainError
(with a translatable message) having changed nothing.
"""

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.contacts.csv_import import MAX_CELL_CHARS, CsvImportError, inspect_csv, iter_rows
from app.contacts.eligibility import can_message, may_be_minor
from app.contacts.geography import derive_timezone
from app.contacts.import_services import max_file_bytes
from app.contacts.models import Contact
from app.contacts.phones import InvalidPhone, normalize_phone
from app.contacts.services import (
    ContactInvalid,
    apply_contact_values,
    fold_sql,
    local_today,
    validate_contact,
)
from app.contacts.validation import clean_contact, fold
from app.csvutil import SafeCsvWriter
from app.errors import DomainError
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.models import OutboxMessage
from app.outbox.text import sms_text
from app.participation.models import ParticipationEvent
from app.participation.services import record_event
from app.workshops.models import Workshop, WorkshopRegistration

REGISTERED = ("confirmed", "waitlisted")
ROSTER_STATUSES = ("confirmed", "waitlisted", "invited")
MAX_SHEET_ROWS = 5_000  # a sign-in sheet, not a contact list
REPORT_MAX_AGE = 24 * 3600  # seconds a rejected-rows download link stays valid
THANK_YOU_VALID_FOR = timedelta(days=2)  # a thank-you held (paused campaign) expires
FUNNEL_KEYS = ("invited", "confirmed", "waitlisted", "declined", "attended", "walk_ins", "no_shows")
# Fields of the walk-in form, named as `clean_contact` expects them.
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
)


class AttendanceError(DomainError):
    pass


CONCURRENT_REGISTRATION = _l(
    "Someone registered this person at the same moment. Check the roster and try again."
)


# -- helpers ---------------------------------------------------------------------------


def _organization(workshop: Workshop) -> Organization:
    return db.session.get(Organization, workshop.organization_id)


def _ensure_not_canceled(workshop: Workshop) -> None:
    if workshop.status == "canceled":
        raise AttendanceError(_l("This workshop was canceled: attendance cannot be recorded."))


def _event(workshop: Workshop, contact_id: int, kind: str, now: datetime) -> None:
    record_event(
        organization_id=workshop.organization_id,
        contact_id=contact_id,
        kind=kind,
        channel="workshop",
        occurred_at=now,
        campaign_id=workshop.campaign_id,
        workshop_id=workshop.id,
    )


def _delete_events(workshop: Workshop, contact_id: int, kinds: tuple[str, ...]) -> None:
    db.session.execute(
        delete(ParticipationEvent)
        .where(
            ParticipationEvent.organization_id == workshop.organization_id,
            ParticipationEvent.workshop_id == workshop.id,
            ParticipationEvent.contact_id == contact_id,
            ParticipationEvent.kind.in_(kinds),
        )
        .execution_options(synchronize_session=False)
    )


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent walk-in of the same person (same phone)
        db.session.rollback()
        raise AttendanceError(CONCURRENT_REGISTRATION) from None


def _mark_attended(
    workshop: Workshop,
    registration: WorkshopRegistration,
    *,
    user_id: int | None,
    now: datetime,
    walk_in: bool,
) -> bool:
    """Check in an existing registration unless it already is; record the events.

    Returns whether this call checked the person in.
    """
    values = {"attended_at": now, "checked_in_by": user_id, "no_show": False}
    if walk_in:
        values["walk_in"] = True
    is_walk_in = walk_in or registration.walk_in
    claimed = db.session.execute(
        update(WorkshopRegistration)
        .where(
            WorkshopRegistration.id == registration.id, WorkshopRegistration.attended_at.is_(None)
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    _delete_events(workshop, registration.contact_id, ("no_show",))  # a late check-in
    _event(workshop, registration.contact_id, "attended", now)
    if is_walk_in:
        _event(workshop, registration.contact_id, "walk_in", now)
    return True


def _mark_attended_many(
    workshop: Workshop,
    registrations: list[WorkshopRegistration],
    *,
    user_id: int | None,
    now: datetime,
) -> set[int]:
    """`_mark_attended` for many registrations at once. Returns the ids it checked in."""
    claimed: set[int] = set()
    groups = {True: [], False: []}  # newly a walk-in (invited or declined, came anyway)?
    for registration in registrations:
        groups[registration.status not in REGISTERED].append(registration.id)
    for walk_in, ids in groups.items():
        for chunk in (ids[i : i + 1000] for i in range(0, len(ids), 1000)):
            values = {"attended_at": now, "checked_in_by": user_id, "no_show": False}
            if walk_in:
                values["walk_in"] = True
            claimed.update(
                db.session.scalars(
                    update(WorkshopRegistration)
                    .where(
                        WorkshopRegistration.id.in_(chunk),
                        WorkshopRegistration.attended_at.is_(None),
                    )
                    .values(**values)
                    .returning(WorkshopRegistration.id)
                    .execution_options(synchronize_session=False)
                )
            )
    done = [r for r in registrations if r.id in claimed]
    contact_ids = [r.contact_id for r in done]
    for chunk in (contact_ids[i : i + 1000] for i in range(0, len(contact_ids), 1000)):
        db.session.execute(
            delete(ParticipationEvent)
            .where(  # late check-ins: no no-show
                ParticipationEvent.organization_id == workshop.organization_id,
                ParticipationEvent.workshop_id == workshop.id,
                ParticipationEvent.contact_id.in_(chunk),
                ParticipationEvent.kind == "no_show",
            )
            .execution_options(synchronize_session=False)
        )
    _insert_events(
        workshop,
        now,
        [(r.contact_id, "attended") for r in done]
        + [(r.contact_id, "walk_in") for r in done if r.walk_in or r.status not in REGISTERED],
    )
    return claimed


def _new_walk_ins(
    workshop: Workshop, contact_ids: list[int], *, user_id: int | None, now: datetime
) -> None:
    """`_new_walk_in` for many contacts at once (plain multi-row INSERTs)."""
    if not contact_ids:
        return
    db.session.execute(
        insert(WorkshopRegistration),
        [
            dict(
                organization_id=workshop.organization_id,
                workshop_id=workshop.id,
                contact_id=c,
                status="confirmed",
                responded_at=now,
                walk_in=True,
                no_show=False,
                attended_at=now,
                checked_in_by=user_id,
                created_at=now,
            )
            for c in contact_ids
        ],
    )
    _insert_events(
        workshop, now, [(c, kind) for c in contact_ids for kind in ("attended", "walk_in")]
    )


def _insert_events(workshop: Workshop, now: datetime, events: list[tuple[int, str]]) -> None:
    if events:
        db.session.execute(
            insert(ParticipationEvent),
            [
                dict(
                    organization_id=workshop.organization_id,
                    contact_id=contact_id,
                    kind=kind,
                    channel="workshop",
                    occurred_at=now,
                    campaign_id=workshop.campaign_id,
                    workshop_id=workshop.id,
                )
                for contact_id, kind in events
            ],
        )


def _new_walk_in(
    workshop: Workshop, contact_id: int, *, user_id: int | None, now: datetime
) -> WorkshopRegistration:
    registration = WorkshopRegistration(
        organization_id=workshop.organization_id,
        workshop_id=workshop.id,
        contact_id=contact_id,
        status="confirmed",
        responded_at=now,
        walk_in=True,
        no_show=False,
        attended_at=now,
        checked_in_by=user_id,
        created_at=now,
    )
    db.session.add(registration)
    _event(workshop, contact_id, "attended", now)
    _event(workshop, contact_id, "walk_in", now)
    return registration


# -- the roster ------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    registration_id: int
    contact_id: int
    name: str | None
    phone: str | None
    status: str
    walk_in: bool
    no_show: bool
    attended_at: datetime | None

    @property
    def attended(self) -> bool:
        return self.attended_at is not None

    @property
    def search_name(self) -> str:
        """What the client-side filter matches (same folding as the server's search)."""
        return fold(self.name)

    @property
    def phone_digits(self) -> str:
        return "".join(c for c in self.phone or "" if c.isdigit())

    @property
    def phone_end(self) -> str:
        """The last four digits: enough to tell two people apart at the door."""
        return self.phone_digits[-4:]


def _entry(registration: WorkshopRegistration, contact: Contact) -> RosterEntry:
    return RosterEntry(
        registration_id=registration.id,
        contact_id=contact.id,
        name=contact.first_name,
        phone=contact.phone,
        status=registration.status,
        walk_in=registration.walk_in,
        no_show=registration.no_show,
        attended_at=registration.attended_at,
    )


def roster(workshop: Workshop, *, q: str | None = None) -> list[RosterEntry]:
    """Who may come through the door: confirmed, waitlisted and invited registrations,
    plus anyone already checked in or registered as a walk-in, sorted by name.

    `q` filters by first name (case- and accent-insensitive "contains") or, when it is
    made of digits and phone punctuation, by phone digits. Erased contacts are left out.
    """
    reg = WorkshopRegistration
    stmt = (
        select(reg, Contact)
        .join(Contact, Contact.id == reg.contact_id)
        .where(
            reg.workshop_id == workshop.id,
            reg.organization_id == workshop.organization_id,
            Contact.erased_at.is_(None),
            or_(
                reg.status.in_(ROSTER_STATUSES), reg.walk_in.is_(True), reg.attended_at.is_not(None)
            ),
        )
    )
    q = (q or "").strip()
    if q:
        digits = "".join(c for c in q if c.isdigit())
        if digits and all(c.isdigit() or c in "+-() ." for c in q):
            stmt = stmt.where(Contact.phone.contains(digits))
        else:
            stmt = stmt.where(fold_sql(Contact.first_name).contains(fold(q), autoescape=True))
    entries = [_entry(r, c) for r, c in db.session.execute(stmt)]
    return sorted(entries, key=lambda e: (e.search_name == "", e.search_name, e.registration_id))


def roster_entry(registration: WorkshopRegistration) -> RosterEntry:
    return _entry(registration, registration.contact)


def check_in(registration: WorkshopRegistration, *, user_id: int | None, now: datetime) -> bool:
    """Mark the person attended (idempotent) and record participation "attended".

    An invited (or declined) person who comes anyway is a walk-in: the registration is
    flagged and "walk_in" recorded too. A check-in after the workshop was completed
    clears its no-show.

    Returns:
        True when this call checked the person in, False when they already were.
    Raises:
        AttendanceError: the workshop was canceled or the contact erased.
    """
    workshop = registration.workshop
    _ensure_not_canceled(workshop)
    if registration.contact.erased_at is not None:
        raise AttendanceError(_l("This contact was erased on request."))
    changed = _mark_attended(
        workshop,
        registration,
        user_id=user_id,
        now=now,
        walk_in=registration.status not in REGISTERED,
    )
    db.session.commit()
    return changed


def undo_check_in(registration: WorkshopRegistration, *, now: datetime) -> bool:
    """Undo a check-in (idempotent): the person is no longer counted as attended.

    The "attended" and "walk_in" events of this workshop are deleted (see the module
    docstring). After completion, a confirmed registration becomes a no-show again.

    Returns:
        True when this call undid a check-in, False when there was none.
    """
    workshop = registration.workshop
    no_show = (
        workshop.status == "completed"
        and registration.status == "confirmed"
        and not registration.walk_in
    )
    values = {"attended_at": None, "checked_in_by": None}
    if no_show:
        values["no_show"] = True
    released = db.session.execute(
        update(WorkshopRegistration)
        .where(
            WorkshopRegistration.id == registration.id,
            WorkshopRegistration.attended_at.is_not(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if released != 1:
        db.session.rollback()
        return False
    _delete_events(workshop, registration.contact_id, ("attended", "walk_in"))
    if no_show:
        _event(workshop, registration.contact_id, "no_show", now)
    db.session.commit()
    return True


# -- walk-ins --------------------------------------------------------------------------


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
    if changed:
        contact.updated_at = now


def _walk_in_values(raw: dict, *, org: Organization, today) -> dict:
    """`clean_contact`'s values for the walk-in form, or ContactInvalid (by field).

    The walk-in's consent is the workshop's, dated today; a first name is required (the
    roster lists people by name) and so is the guardian's consent when the person may be
    under 18 — which includes an unknown age, as everywhere else (eligibility.py).
    """
    raw = {name: str(raw.get(name) or "") for name in WALK_IN_FIELDS}
    raw.update(
        consent_source="workshop",
        consent_date=today.isoformat(),
        consent_basis="",
        country="",
        timezone="",
        tags="",
    )
    field_errors: dict[str | None, list[str]] = {}
    try:
        values = validate_contact(raw, org=org, today=today)
    except ContactInvalid as error:
        field_errors = {name: list(messages) for name, messages in error.field_errors.items()}
        values, _errors = clean_contact(raw, org=org, today=today)
    if not values["first_name"] and "first_name" not in field_errors:
        field_errors.setdefault("first_name", []).append(
            str(_l("Enter the first name: the roster lists people by name."))
        )
    age_ok = not field_errors.get("birth_year") and not field_errors.get("age_band")
    if (
        age_ok
        and not values["guardian_consent"]
        and may_be_minor(values["birth_year"], values["age_band"], today=today)
    ):
        field_errors.setdefault("guardian_consent", []).append(
            str(
                _l(
                    "A parent or guardian must consent for someone who may be under 18. For an "
                    "adult, record the birth year or age band."
                )
            )
        )
    if field_errors:
        raise ContactInvalid(field_errors)
    return values


def register_walk_in(
    workshop: Workshop, raw: dict, *, user_id: int | None, now: datetime
) -> WalkInResult:
    """Register a young person at the door and check them in.

    `raw` holds the walk-in form's fields (WALK_IN_FIELDS, strings; guardian_consent
    "yes"/"no"), validated by `clean_contact` exactly as the contact form and the CSV
    import are. The phone (normalized to E.164, old Mexican forms included) matches an
    existing contact of the organization, which is completed but never overwritten (see
    `_fill_blanks`); otherwise a contact is created with consent source "workshop".
    Someone already registered (confirmed or waitlisted) is simply checked in; anyone
    else becomes a walk-in (participation "walk_in" and "attended").

    Raises:
        ContactInvalid: a field is invalid (nothing changed).
        AttendanceError: the workshop was canceled, or a concurrent registration.
    """
    _ensure_not_canceled(workshop)
    org = _organization(workshop)
    values = _walk_in_values(raw, org=org, today=local_today(org, now))

    contact = db.session.scalar(
        select(Contact).where(Contact.organization_id == org.id, Contact.phone == values["phone"])
    )
    created = contact is None
    registration = None
    if created:
        contact = Contact(organization_id=org.id, created_at=now, updated_at=now)
        apply_contact_values(contact, dict(values, consent_at=now), now=now)
        db.session.add(contact)
        db.session.flush()
    else:
        _fill_blanks(contact, values, now=now)
        registration = db.session.scalar(
            select(WorkshopRegistration).where(
                WorkshopRegistration.workshop_id == workshop.id,
                WorkshopRegistration.contact_id == contact.id,
            )
        )

    if registration is None:
        registration = _new_walk_in(workshop, contact.id, user_id=user_id, now=now)
        outcome = "walk_in"
    else:
        walk_in = registration.status not in REGISTERED
        if _mark_attended(workshop, registration, user_id=user_id, now=now, walk_in=walk_in):
            outcome = "walk_in" if walk_in or registration.walk_in else "checked_in"
        else:
            outcome = "already"
    _commit()
    return WalkInResult(registration, contact, created, outcome)


# -- sign-in sheets --------------------------------------------------------------------


@dataclass
class RejectedRow:
    line: int
    cells: list[str]  # as written in the file, padded to the header's width
    reason: str


@dataclass
class SheetResult:
    filename: str
    headers: list[str]
    total_rows: int = 0
    checked_in: int = 0  # registered people checked in by this upload
    walk_ins: int = 0  # walk-ins recorded by this upload
    already: int = 0  # checked in before (at the door or by an earlier upload)
    duplicates: int = 0  # the same phone again in this file: counted once
    rejected: list[RejectedRow] = field(default_factory=list)

    def report_csv(self) -> str:
        """The rejected rows as CSV (line, original cells, reason), formulas neutralized."""
        out = io.StringIO()
        writer = SafeCsvWriter(out)
        writer.writerow([_("Line"), *self.headers, _("Reason")])
        for row in self.rejected:
            writer.writerow([row.line, *row.cells, row.reason])
        return out.getvalue()


def _reject(result: "SheetResult", row, reason: str) -> None:
    width = len(result.headers)
    cells = [c if len(c) <= MAX_CELL_CHARS else c[:MAX_CELL_CHARS] + "…" for c in row.cells]
    result.rejected.append(RejectedRow(row.line, cells + [""] * (width - len(cells)), reason))


def _readable_phones(data: bytes, layout, workshop: Workshop, result: "SheetResult") -> list:
    """(row, normalized phone) of every row with a valid phone; the others are rejected."""
    readable = []
    for row in iter_rows(data, layout):
        result.total_rows += 1
        text = (row.raw.get("phone") or "").strip()
        if row.problems:
            _reject(result, row, " ".join(row.problems))
        elif not text:
            _reject(result, row, str(_l("The mobile phone number is missing.")))
        else:
            try:
                readable.append((row, normalize_phone(text, default_region=workshop.country)))
            except InvalidPhone as error:
                _reject(result, row, str(error.message))
    return readable


def _known(workshop: Workshop, phones: set) -> tuple[dict, dict]:
    """{phone: contact id} of the organization's contacts, {contact id: registration}."""
    if not phones:
        return {}, {}
    contact_ids = dict(
        db.session.execute(
            select(Contact.phone, Contact.id).where(
                Contact.organization_id == workshop.organization_id, Contact.phone.in_(phones)
            )
        ).all()
    )
    if not contact_ids:
        return contact_ids, {}
    registrations = {
        r.contact_id: r
        for r in db.session.scalars(
            select(WorkshopRegistration).where(
                WorkshopRegistration.workshop_id == workshop.id,
                WorkshopRegistration.contact_id.in_(contact_ids.values()),
            )
        )
    }
    return contact_ids, registrations


def _sort_arrivals(readable, contact_ids, registrations, result: "SheetResult"):
    """Registrations to check in and contacts to add as walk-ins (each phone once)."""
    seen, arriving, walk_ins = set(), [], []
    for row, phone in readable:
        if phone in seen:
            result.duplicates += 1
            continue
        seen.add(phone)
        contact_id = contact_ids.get(phone)
        if contact_id is None:
            _reject(
                result,
                row,
                str(_l("Not a contact of your organization: register them as a walk-in.")),
            )
            continue
        registration = registrations.get(contact_id)
        if registration is None:
            walk_ins.append(contact_id)
            result.walk_ins += 1
        elif registration.attended_at is not None:
            result.already += 1
        else:
            arriving.append(registration)
    return arriving, walk_ins


def import_sign_in_sheet(
    workshop: Workshop, *, data: bytes, filename: str | None, user_id: int | None, now: datetime
) -> SheetResult:
    """Record attendance from a sign-in sheet: a CSV with a phone column (and optionally
    a name), read like a contact import (encoding, delimiter, Spanish/English headers).

    Each phone is normalized and matched to the organization's contacts: registered
    people are checked in, other known contacts become walk-ins, unknown and invalid
    phones are rejected with a translated reason. A phone repeated in the file counts
    once, and uploading the same sheet again changes nothing.

    Raises:
        CsvImportError: the file is too large, empty, binary, malformed, has no phone
            column or too many rows (nothing changed).
        AttendanceError: the workshop was canceled.
    """
    _ensure_not_canceled(workshop)
    if len(data) > max_file_bytes():
        raise CsvImportError(
            _l(
                "The file is larger than %(mb)d MB. Split it into several files.",
                mb=max_file_bytes() // (1024 * 1024),
            )
        )
    layout = inspect_csv(data, max_rows=MAX_SHEET_ROWS)
    result = SheetResult(filename=(filename or "")[:255], headers=layout.headers)
    readable = _readable_phones(data, layout, workshop, result)
    contact_ids, registrations = _known(workshop, {phone for _row, phone in readable})
    arriving, walk_ins = _sort_arrivals(readable, contact_ids, registrations, result)
    # Set-based: a few statements for the whole sheet, not a few per row.
    try:
        claimed = _mark_attended_many(workshop, arriving, user_id=user_id, now=now)
        _new_walk_ins(workshop, walk_ins, user_id=user_id, now=now)
    except IntegrityError:  # someone registered one of them at the door meanwhile
        db.session.rollback()
        raise AttendanceError(CONCURRENT_REGISTRATION) from None
    for registration in arriving:
        if registration.id not in claimed:
            result.already += 1  # checked in at the door meanwhile
        elif registration.walk_in or registration.status not in REGISTERED:
            result.walk_ins += 1
        else:
            result.checked_in += 1
    _commit()
    result.rejected.sort(key=lambda row: row.line)  # phones were checked in two passes
    return result


def _report_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="attendance-rejected-rows")


def report_token(workshop: Workshop, result: SheetResult) -> str:
    """A signed, compressed copy of the rejected-rows report for its download button.

    Sign-in sheets are small and the report is wanted right after the upload, so it is
    carried by the result page instead of being stored with personal data in it.
    """
    return _report_serializer().dumps(
        {"o": workshop.organization_id, "w": workshop.id, "csv": result.report_csv()}
    )


def report_from_token(workshop: Workshop, token: str) -> str | None:
    """The report signed by `report_token` for this workshop, or None (forged, expired,
    or another workshop's)."""
    try:
        payload = _report_serializer().loads(token or "", max_age=REPORT_MAX_AGE)
    except BadSignature:
        return None
    if payload.get("o") != workshop.organization_id or payload.get("w") != workshop.id:
        return None
    return payload.get("csv")


# -- completing a workshop ---------------------------------------------------------------


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
            _event(workshop, row.contact_id, "no_show", now)

    queued = blocked = 0
    if send_thank_you:
        queued, blocked = _queue_thank_yous(workshop, _organization(workshop), now=now)
    db.session.commit()
    return CompletionResult(no_shows=len(missing), thank_yous=queued, not_messageable=blocked)


# -- the funnel --------------------------------------------------------------------------


def _funnel_columns():
    reg = WorkshopRegistration

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    attended = reg.attended_at.is_not(None)
    return (
        count(reg.invited_at.is_not(None)),
        count((reg.status == "confirmed") & reg.walk_in.is_(False)),
        count(reg.status == "waitlisted"),
        count(reg.status.in_(("declined", "canceled"))),
        count(attended),
        count(attended & reg.walk_in.is_(True)),
        count(reg.no_show.is_(True)),
    )


def workshop_funnels(organization_id: int, workshop_ids) -> dict[int, dict[str, int]]:
    """`workshop_funnel` for several workshops in one query (missing ids: all zeros)."""
    ids = list(workshop_ids)
    funnels = {wid: dict.fromkeys(FUNNEL_KEYS, 0) for wid in ids}
    if not ids:
        return funnels
    reg = WorkshopRegistration
    rows = db.session.execute(
        select(reg.workshop_id, *_funnel_columns())
        .where(reg.organization_id == organization_id, reg.workshop_id.in_(ids))
        .group_by(reg.workshop_id)
    )
    for workshop_id, *counts in rows:
        funnels[workshop_id] = dict(zip(FUNNEL_KEYS, map(int, counts), strict=True))
    return funnels


def workshop_funnel(workshop: Workshop) -> dict[str, int]:
    """Invited → RSVP → attendance counts of one workshop, computed in SQL.

    - invited: registrations created by an SMS invitation (whatever they answered);
    - confirmed: confirmed seats (walk-ins excluded); waitlisted: on the waitlist;
    - declined: said no, or canceled after saying yes;
    - attended: checked in (walk-ins included); walk_ins: attended without a seat;
    - no_shows: confirmed but not checked in when the workshop was completed.
    """
    return workshop_funnels(workshop.organization_id, [workshop.id])[workshop.id]
