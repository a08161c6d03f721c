"""Who may be messaged: one rule, in Python and in SQL, used everywhere.

A contact can be messaged only if it has consent, is not opted out, is not
undeliverable, is not erased and, when it may be under 18, has guardian consent.

Age is known only as a birth year (or an age band), so "may be under 18" is judged
conservatively: born within the last 18 calendar years, or in a minor age band, or
of unknown age. Consent for a minor without the guardian's is not consent.
"""

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_

from app.contacts.age import age_in
from app.contacts.models import MINOR_AGE_BANDS, Contact

REASONS = {
    "erased": _l("Erased on request"),
    "no_consent": _l("No consent recorded"),
    "opted_out": _l("Opted out"),
    "undeliverable": _l("Undeliverable number"),
    "no_guardian_consent": _l("Minor without guardian consent"),
}
REASON_ORDER = tuple(REASONS)


def may_be_minor(birth_year: int | None, age_band: str | None, *, today: date) -> bool:
    if birth_year is not None:
        return age_in(birth_year, today.year) <= 18
    if age_band is not None:
        return age_band in MINOR_AGE_BANDS
    return True


def block_reason(contact: Contact, *, today: date) -> str | None:
    """The first reason `contact` cannot be messaged, or None when it can."""
    if contact.erased_at is not None:
        return "erased"
    if contact.consent_source is None:
        return "no_consent"
    if contact.opted_out_at is not None:
        return "opted_out"
    if contact.undeliverable:
        return "undeliverable"
    if (
        may_be_minor(contact.birth_year, contact.age_band, today=today)
        and not contact.guardian_consent
    ):
        return "no_guardian_consent"
    return None


def can_message(contact: Contact, *, today: date) -> bool:
    return block_reason(contact, today=today) is None


def _minor_clause(today: date):
    # Every branch is NULL-safe, so NOT(clause) is never NULL.
    return or_(
        and_(Contact.birth_year.is_not(None), Contact.birth_year >= today.year - 18),
        and_(
            Contact.birth_year.is_(None), func.coalesce(Contact.age_band, "?").in_(MINOR_AGE_BANDS)
        ),
        and_(Contact.birth_year.is_(None), Contact.age_band.is_(None)),
    )


def block_reason_sql(today: date):
    """SQL CASE giving the same reason code as `block_reason` (NULL when eligible)."""
    return case(
        (Contact.erased_at.is_not(None), "erased"),
        (Contact.consent_source.is_(None), "no_consent"),
        (Contact.opted_out_at.is_not(None), "opted_out"),
        (Contact.undeliverable.is_(True), "undeliverable"),
        (and_(_minor_clause(today), Contact.guardian_consent.is_(False)), "no_guardian_consent"),
        else_=None,
    )


def eligible_sql(today: date):
    """SQL condition true exactly for the contacts `can_message` accepts."""
    return and_(
        Contact.erased_at.is_(None),
        Contact.consent_source.is_not(None),
        Contact.opted_out_at.is_(None),
        Contact.undeliverable.is_(False),
        or_(~_minor_clause(today), Contact.guardian_consent.is_(True)),
    )
