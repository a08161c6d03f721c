"""Contacts: create, edit, opt out/in, erase on request, and the searchable list.

Each public service is one unit of work: it validates through `clean_contact`, commits
once, and raises `DomainError` (changing nothing) on bad input. The clock is explicit:
`now` defaults to `utcnow()` and `today` is the organization's local date.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import phonenumbers
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app.contacts.age import age_band_for, age_in
from app.contacts.eligibility import block_reason, block_reason_sql, eligible_sql, may_be_minor
from app.contacts.models import Contact, ContactTag
from app.contacts.name_sql import fold_postgres, fold_sqlite, full_name_expr
from app.contacts.signals import contact_opted_out, contacts_erased
from app.contacts.validation import clean_contact, fold
from app.db_dialect import is_postgres
from app.errors import DomainError, InvalidFields
from app.extensions import db
from app.organizations.events import OrgEvent, emit_all, event
from app.security_log import security_event
from app.timeutil import utcnow

PER_PAGE = 50
COUNT_CAP = 1000  # the list counts matches only up to here: bounded work on every page

# The fields of the contact form, in the order a validation error is attributed to them
# (country last: a wrong country can make an otherwise good phone or state look wrong).
CONTACT_FIELDS = (
    "phone",
    "first_name",
    "last_name",
    "language",
    "birth_year",
    "age_band",
    "gender",
    "state",
    "municipality",
    "timezone",
    "tags",
    "consent_source",
    "consent_basis",
    "consent_date",
    "guardian_consent",
    "preferred_channel",
    "whatsapp_opt_in",
    "country",
)
# What a field is replaced with to see whether an error is its own: blank, except where
# blank is itself an error with the same message (a phone is required).
_NEUTRAL = {"phone": "+525512345678", "guardian_consent": "no"}


class ContactInvalid(InvalidFields):
    """`clean_contact` refused the input. `field_errors` maps a form field (or None, for
    the form as a whole) to its translated messages."""


def local_today(org, now: datetime | None = None) -> date:
    """The organization's calendar date: ages and eligibility are judged by it."""
    return (now or utcnow()).astimezone(ZoneInfo(org.timezone)).date()


def format_phone(e164: str | None, *, country: str | None = None) -> str:
    """A readable form: national for the organization's country ("664 123 4567"),
    international otherwise ("+1 619-555-0123")."""
    if not e164:
        return ""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    same_country = phonenumbers.region_code_for_number(parsed) == country
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if same_country
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def contact_flags(contact: Contact, *, today: date) -> list[str]:
    """Every reason code that applies to `contact` (block_reason gives only the first),
    for the badges of the list and the detail page."""
    if contact.erased_at is not None:
        return ["erased"]
    flags = []
    if contact.opted_out_at is not None:
        flags.append("opted_out")
    if contact.undeliverable:
        flags.append("undeliverable")
    if contact.consent_source is None:
        flags.append("no_consent")
    minor = may_be_minor(contact.birth_year, contact.age_band, today=today)
    if minor and not contact.guardian_consent:
        flags.append("no_guardian_consent")
    return flags


# --- validation -------------------------------------------------------------------


def _field_errors(raw: dict, errors: list[str], *, org, today: date) -> dict:
    """Attribute `clean_contact`'s messages to form fields without repeating its rules.

    An error belongs to the first field (in CONTACT_FIELDS order) whose neutral value
    (usually blank) makes it disappear; what no single field explains is shown for the
    form as a whole.
    """
    remaining = list(errors)
    by_field: dict[str | None, list[str]] = {}
    for name in CONTACT_FIELDS:
        neutral = _NEUTRAL.get(name, "")
        if not remaining or (raw.get(name) or "").strip() == neutral:
            continue
        trial = dict(raw, **{name: neutral})
        _values, trial_errors = clean_contact(trial, org=org, today=today)
        gone = [e for e in remaining if e not in trial_errors]
        if gone:
            by_field.setdefault(name, []).extend(gone)
            remaining = [e for e in remaining if e not in gone]
    if remaining:
        by_field.setdefault(None, []).extend(remaining)
    return by_field


def validate_contact(raw: dict, *, org, today: date) -> dict:
    """`clean_contact`'s values, or ContactInvalid with its errors mapped to fields."""
    values, errors = clean_contact(raw, org=org, today=today)
    if errors:
        raise ContactInvalid(_field_errors(raw, errors, org=org, today=today))
    return values


def _ensure_phone_free(org_id: int, phone: str, *, except_id: int | None = None) -> None:
    stmt = select(Contact.id).where(Contact.organization_id == org_id, Contact.phone == phone)
    if except_id is not None:
        stmt = stmt.where(Contact.id != except_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise DomainError(
            _l("Another contact of your organization already has this phone number."),
            field="phone",
        )


def _set_tags(contact: Contact, names: list[str]) -> None:
    # Keep unchanged tags: deleting and re-inserting one name in a flush would collide
    # with the (contact_id, name) unique constraint.
    wanted = set(names)
    for tag in list(contact.tags):
        if tag.name not in wanted:
            contact.tags.remove(tag)
    have = set(contact.tag_names)
    for name in sorted(wanted - have):
        contact.tags.append(ContactTag(name=name))


def apply_contact_values(
    contact: Contact, values: dict, *, now: datetime, channel_source: str = "form"
) -> None:
    """Write `validate_contact`'s values on `contact` (tags too; no commit). Guardian
    consent given now is dated `now`; a consent date equal to the stored one keeps its time.
    A WhatsApp opt-in given now is recorded with `channel_source` (`apply_channel_values`)."""
    guardian_before = bool(contact.guardian_consent)
    consent_at = values["consent_at"]
    if consent_at and contact.consent_at and consent_at.date() == contact.consent_at.date():
        values = dict(values, consent_at=contact.consent_at)  # the form shows dates only
    for name in (
        "phone",
        "first_name",
        "last_name",
        "language",
        "birth_year",
        "age_band",
        "gender",
        "country",
        "state_code",
        "municipality",
        "timezone",
        "consent_source",
        "consent_basis",
        "consent_at",
        "guardian_consent",
    ):
        setattr(contact, name, values[name])
    if values["guardian_consent"] and not guardian_before:
        contact.guardian_consent_at = now
    elif not values["guardian_consent"]:
        contact.guardian_consent_at = None
    if "preferred_channel" in values:
        apply_channel_values(contact, values, now=now, source=channel_source)
    _set_tags(contact, values["tags"])


def apply_channel_values(contact: Contact, values: dict, *, now: datetime, source: str) -> None:
    """The channel and WhatsApp opt-in of `clean_contact`'s values (issue 19). An opt-in
    given now is dated `now` with `source` (WHATSAPP_OPT_IN_SOURCES: "form", "walk_in"…);
    one already on file keeps its date and source; unchecked, it is withdrawn."""
    contact.preferred_channel = values["preferred_channel"]
    if values["whatsapp_opt_in"]:
        if contact.whatsapp_opt_in_at is None:
            contact.whatsapp_opt_in_at, contact.whatsapp_opt_in_source = now, source
    else:
        contact.whatsapp_opt_in_at = contact.whatsapp_opt_in_source = None


def _commit_or_duplicate() -> None:
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent insert of the same phone
        db.session.rollback()
        raise DomainError(
            _l("Another contact of your organization already has this phone number."),
            field="phone",
        ) from None


def create_contact(org, raw: dict, *, today: date, now: datetime | None = None) -> Contact:
    """Create a contact from form-like `raw` values (see `clean_contact`).

    Raises:
        ContactInvalid: a field is invalid.
        DomainError: the phone belongs to another contact of the organization.
    """
    now = now or utcnow()
    values = validate_contact(raw, org=org, today=today)
    _ensure_phone_free(org.id, values["phone"])
    contact = Contact(organization_id=org.id, created_at=now, updated_at=now)
    apply_contact_values(contact, values, now=now)
    db.session.add(contact)
    _commit_or_duplicate()
    return contact


def update_contact(
    contact: Contact, raw: dict, *, org, today: date, now: datetime | None = None
) -> None:
    """Replace the contact's fields with validated `raw` values (same rules as create)."""
    now = now or utcnow()
    if contact.erased_at is not None:
        raise DomainError(_l("This contact was erased on request and cannot be edited."))
    values = validate_contact(raw, org=org, today=today)
    _ensure_phone_free(contact.organization_id, values["phone"], except_id=contact.id)
    apply_contact_values(contact, values, now=now)
    contact.updated_at = now
    _commit_or_duplicate()


def opt_out_event(
    org_id: int, contact_id: int, *, channel: str, now: datetime, opted_in: bool = False
) -> OrgEvent:
    """contact.opted_out (or contact.opted_in) for outbound webhooks: ids only."""
    return event(
        "contact.opted_in" if opted_in else "contact.opted_out",
        organization_id=org_id,
        key=f"{contact_id}:{now.isoformat()}",
        occurred_at=now,
        data={"contact_id": contact_id, "channel": channel},
        contact_id=contact_id,
    )


def emit_opted_out(org_id: int, contact_id: int, *, channel: str, now: datetime) -> None:
    """The organization event of an opt-out this unit of work made (outbound webhooks)."""
    emit_all([opt_out_event(org_id, contact_id, channel=channel, now=now)])


def emit_opted_in(org_id: int, contact_id: int, *, channel: str, now: datetime) -> None:
    """The organization event of a lifted opt-out (outbound webhooks)."""
    emit_all([opt_out_event(org_id, contact_id, channel=channel, now=now, opted_in=True)])


def mark_opted_out(contact: Contact, *, channel: str, now: datetime) -> bool:
    """Opt the contact out unless it already is; True when this call changed the state.

    The database decides, with one conditional UPDATE: of concurrent STOPs (or callbacks)
    exactly one changes the row, the others wait for its lock and then find it opted out,
    so the caller records the `opt_out` event and the confirmation only when True. Adds
    to the caller's unit of work (no commit).
    """
    changed = (
        db.session.execute(
            update(Contact)
            .where(Contact.id == contact.id, Contact.opted_out_at.is_(None))
            .values(opted_out_at=now, opt_out_channel=channel)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if changed:
        set_committed_value(contact, "opted_out_at", now)
        set_committed_value(contact, "opt_out_channel", channel)
        contact_opted_out.send(None, contact=contact, now=now)
        emit_opted_out(contact.organization_id, contact.id, channel=channel, now=now)
    else:  # someone else opted it out meanwhile: show their values, not a stale copy
        db.session.refresh(contact, attribute_names=["opted_out_at", "opt_out_channel"])
    return changed


def opt_out_contact(
    contact: Contact, *, channel: str = "coordinator", now: datetime | None = None
) -> None:
    """Record that the contact must not be messaged any more."""
    if contact.erased_at is not None:
        raise DomainError(_l("This contact was erased on request."))
    if contact.opted_out_at is not None or not mark_opted_out(
        contact, channel=channel, now=now or utcnow()
    ):
        raise DomainError(_l("This contact has already opted out."))
    db.session.commit()
    security_event(
        "contact_opted_out", contact_id=contact.id, org_id=contact.organization_id, channel=channel
    )


def opt_in_contact(
    contact: Contact, *, consent_confirmed: bool, now: datetime | None = None
) -> None:
    """Lift an opt-out after the coordinator confirms renewed consent (dated `now`)."""
    now = now or utcnow()
    if contact.erased_at is not None:
        raise DomainError(_l("This contact was erased on request."))
    if contact.opted_out_at is None:
        raise DomainError(_l("This contact has not opted out."))
    if not consent_confirmed:
        raise DomainError(_l("Confirm the renewed consent to opt back in."), field="confirm")
    contact.opted_out_at = None
    contact.opt_out_channel = None
    contact.opt_out_reason = None
    contact.consent_at = now
    emit_opted_in(contact.organization_id, contact.id, channel="coordinator", now=now)
    db.session.commit()
    security_event("contact_opted_in", contact_id=contact.id, org_id=contact.organization_id)


# What an erasure blanks on the contact row (besides its tags, the birth year kept as an age
# band, and the text of its messages).
ERASED_VALUES = {
    "birth_year": None,
    "phone": None,
    "first_name": None,
    "last_name": None,
    "consent_basis": None,
}


def erase_messages(contact_ids: list[int], *, now: datetime) -> None:
    """Part of an erasure (the caller commits): every package that keeps message text about
    these contacts blanks it and cancels what is pending (the outbox subscribes)."""
    if contact_ids:
        contacts_erased.send(None, contact_ids=list(contact_ids), now=now)


def erase_contact(contact: Contact, *, today: date, now: datetime | None = None) -> None:
    """Cancellation (ARCO): erase the personal data, keep a de-identified row.

    The birth year becomes its age band first, so reports keep the band; phone, name,
    birth year, tags and the consent basis are deleted, and so is the text of the
    messages exchanged with the contact (`erase_messages`). The row stays, so participation
    recorded against it keeps counting in reach figures.
    """
    now = now or utcnow()
    if contact.erased_at is not None:
        raise DomainError(_l("This contact was already erased."))
    if contact.birth_year is not None:
        contact.age_band = age_band_for(contact.birth_year, today.year)
    for name, value in ERASED_VALUES.items():
        setattr(contact, name, value)
    contact.tags.clear()
    contact.erased_at = now
    contact.updated_at = now
    # The contact row first: its lock orders this after (or before) a worker preparing a
    # send to the contact, which then finds it erased and skips the message.
    db.session.flush()
    erase_messages([contact.id], now=now)
    db.session.commit()
    security_event("contact_erased", contact_id=contact.id, org_id=contact.organization_id)


# --- the list -----------------------------------------------------------------------


def fold_sql(column):
    """SQL twin of `validation.fold` for names: lowercase without accents (`name_sql`)."""
    return fold_postgres(column) if is_postgres() else fold_sqlite(column)


@dataclass
class ContactPage:
    contacts: list[Contact]
    next_cursor: int | None  # pass as ?after= for the next (older) page
    prev_cursor: int | None  # pass as ?before= for the previous (newer) page
    matches: int  # capped at COUNT_CAP + 1 (shown as "more than 1,000")
    capped: bool = field(default=False)


def full_name_sql():
    """SQL twin of `full_name` for searching: "first last" (a missing part is blank)."""
    return full_name_expr(Contact.first_name, Contact.last_name)


def contact_filter_query(org_id: int, filters: dict, *, today: date) -> Select:
    """Live (not erased) contacts of the organization matching the list filters.

    `q` searches the first and last names together ("contains", ignoring case and
    accents: "ana lop" finds Ana López) or, when it is made of digits and phone
    punctuation, the phone number (partial digits). `tag` is an exact tag; the rest are
    codes. On PostgreSQL a trigram index covers the folded name (`name_sql`): the planner
    reads it for a rare name and scans in id order (stopping at a page) for a common one.
    """
    stmt = select(Contact).where(Contact.organization_id == org_id, Contact.erased_at.is_(None))
    q = (filters.get("q") or "").strip()
    if q:
        digits = "".join(c for c in q if c.isdigit())
        if digits and all(c.isdigit() or c in "+-() ." for c in q):
            stmt = stmt.where(Contact.phone.contains(digits))
        else:
            stmt = stmt.where(fold_sql(full_name_sql()).contains(fold(q), autoescape=True))
    if filters.get("tag"):
        tag = " ".join(filters["tag"].split()).lower()
        stmt = stmt.where(
            exists().where(ContactTag.contact_id == Contact.id, ContactTag.name == tag)
        )
    if filters.get("language"):
        stmt = stmt.where(Contact.language == filters["language"])
    if filters.get("state"):
        stmt = stmt.where(Contact.state_code == filters["state"])
    if filters.get("consent_source"):
        stmt = stmt.where(Contact.consent_source == filters["consent_source"])
    eligibility = filters.get("eligibility")
    if eligibility == "eligible":
        stmt = stmt.where(eligible_sql(today))
    elif eligibility:
        stmt = stmt.where(block_reason_sql(today) == eligibility)
    return stmt


def list_contacts(
    org_id: int,
    filters: dict,
    *,
    today: date,
    after: int | None = None,
    before: int | None = None,
    per_page: int = PER_PAGE,
) -> ContactPage:
    """One page of the list, newest first, by keyset pagination on id.

    `after` gives the page of contacts older than that id, `before` the page newer than
    it. Every query is a range scan on (organization_id, id) with LIMIT; the match
    count stops at COUNT_CAP.
    """
    base = contact_filter_query(org_id, filters, today=today)
    if before is not None:
        rows = db.session.scalars(
            base.where(Contact.id > before).order_by(Contact.id.asc()).limit(per_page + 1)
        ).all()
        has_newer = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        has_older = True
    else:
        stmt = base.order_by(Contact.id.desc()).limit(per_page + 1)
        if after is not None:
            stmt = stmt.where(Contact.id < after)
        rows = db.session.scalars(stmt).all()
        has_older = len(rows) > per_page
        rows = rows[:per_page]
        has_newer = False
        if after is not None and rows:
            has_newer = (
                db.session.scalar(
                    base.with_only_columns(Contact.id).where(Contact.id > rows[0].id).limit(1)
                )
                is not None
            )
        elif after is not None:
            has_newer = True
    if before is not None and not rows:
        has_older = False
    if after is None and before is None and not has_older:
        matches = len(rows)  # everything fits on the first page: no count query needed
    else:
        capped_ids = base.with_only_columns(Contact.id).limit(COUNT_CAP + 1).subquery()
        matches = db.session.scalar(select(func.count()).select_from(capped_ids))
    return ContactPage(
        contacts=rows,
        next_cursor=rows[-1].id if rows and has_older else None,
        prev_cursor=rows[0].id if rows and has_newer else None,
        matches=min(matches, COUNT_CAP),
        capped=matches > COUNT_CAP,
    )


def full_name(contact: Contact) -> str:
    """ "First Last" as the pages show it; either part may be missing ("" when both are)."""
    return " ".join(part for part in (contact.first_name, contact.last_name) if part)


def contact_view(contact: Contact, *, today: date, org_country: str) -> dict:
    """What the pages show about one contact, computed once."""
    age = age_in(contact.birth_year, today.year) if contact.birth_year is not None else None
    return {
        "contact": contact,
        "name": full_name(contact),
        "phone": format_phone(contact.phone, country=org_country),
        "age": age,
        "flags": contact_flags(contact, today=today),
        "reason": block_reason(contact, today=today),
    }
