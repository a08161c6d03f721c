"""Audiences: saved segments of contacts, evaluated in SQL at use time.

`audience_contacts_query` is what campaigns will send to: the organization's live
contacts matching the filters AND eligible for messaging. `audience_summary` says how
many matched, how many of those can be messaged, and how many are excluded and why,
in a single GROUP BY over `block_reason_sql`. Contacts are never loaded to be filtered.

Erased contacts are not people any more: they never match an audience, so they appear
neither among the matched nor among the excluded.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select

from app.contacts.age import band_bounds
from app.contacts.eligibility import REASON_ORDER, block_reason_sql, eligible_sql
from app.contacts.forms import CONSENT_SOURCE_LABELS, GENDER_LABELS, LANGUAGE_LABELS
from app.contacts.geography import MX_STATES, US_STATES, state_name
from app.contacts.models import (
    AGE_BANDS,
    CONSENT_SOURCES,
    GENDERS,
    LANGUAGES,
    Audience,
    Contact,
    ContactTag,
)
from app.contacts.services import fold_sql
from app.contacts.validation import MAX_AGE, MAX_TAGS, MIN_AGE, TAG_RE, fold, parse_tags
from app.errors import DomainError, InvalidFields
from app.extensions import db
from app.organizations.countries import COUNTRY_LABELS
from app.timeutil import utcnow

FILTER_KEYS = (
    "languages",
    "genders",
    "age_min",
    "age_max",
    "country",
    "state_codes",
    "municipalities",
    "tags",
    "consent_sources",
)
MAX_MUNICIPALITIES = 50
SAMPLE_SIZE = 10
_STATES = {"MX": MX_STATES, "US": US_STATES}


class AudienceInvalid(InvalidFields):
    """Filters refused; `field_errors` maps each filter key to translated messages."""


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def _as_age(value, key: str, errors: dict) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        age = int(str(value).strip())
    except ValueError:
        errors.setdefault(key, []).append(str(_l("Enter the age as a whole number.")))
        return None
    if not MIN_AGE <= age <= MAX_AGE:
        errors.setdefault(key, []).append(
            str(_l("Ages must be between %(min)d and %(max)d.", min=MIN_AGE, max=MAX_AGE))
        )
        return None
    return age


def _codes(raw: dict, key: str, allowed, errors: dict) -> list[str]:
    values = _as_list(raw.get(key))
    unknown = [v for v in values if v not in allowed]
    if unknown:
        errors.setdefault(key, []).append(
            str(_l("Unknown value: %(value)s.", value=", ".join(unknown)[:80]))
        )
    return [code for code in allowed if code in values]  # canonical order, no duplicates


def validate_filters(raw: dict) -> dict:
    """Normalised filters (only the keys in use), or AudienceInvalid.

    Accepts a form's values (lists, ints, comma-separated text) or stored filters.
    """
    raw = raw or {}
    errors: dict[str, list[str]] = {}
    filters: dict = {
        "languages": _codes(raw, "languages", LANGUAGES, errors),
        "genders": _codes(raw, "genders", GENDERS, errors),
        "consent_sources": _codes(raw, "consent_sources", CONSENT_SOURCES, errors),
    }

    age_min = _as_age(raw.get("age_min"), "age_min", errors)
    age_max = _as_age(raw.get("age_max"), "age_max", errors)
    if age_min is not None and age_max is not None and age_min > age_max:
        errors.setdefault("age_max", []).append(
            str(_l("The maximum age must not be lower than the minimum age."))
        )
    filters["age_min"], filters["age_max"] = age_min, age_max

    country = (raw.get("country") or "").strip().upper() or None
    if country is not None and country not in _STATES:
        errors.setdefault("country", []).append(
            str(_l("Unknown value: %(value)s.", value=country[:20]))
        )
        country = None
    filters["country"] = country

    states = _as_list(raw.get("state_codes"))
    allowed = _STATES[country] if country else {**MX_STATES, **US_STATES}
    unknown = [code for code in states if code not in allowed]
    if unknown:
        message = (
            _l(
                "These states are not in the chosen country: %(codes)s.",
                codes=", ".join(unknown)[:80],
            )
            if country and all(c in MX_STATES or c in US_STATES for c in unknown)
            else _l("Unknown value: %(value)s.", value=", ".join(unknown)[:80])
        )
        errors.setdefault("state_codes", []).append(str(message))
    filters["state_codes"] = sorted({code for code in states if code in allowed})

    munis = raw.get("municipalities")
    if isinstance(munis, str):
        munis = re.split(r"[,;]", munis)
    munis = list(dict.fromkeys(" ".join(m.split()) for m in _as_list(munis)))
    if len(munis) > MAX_MUNICIPALITIES or any(len(m) > 80 for m in munis):
        errors.setdefault("municipalities", []).append(
            str(
                _l(
                    "Municipalities: at most %(n)d names, each up to 80 characters.",
                    n=MAX_MUNICIPALITIES,
                )
            )
        )
    filters["municipalities"] = munis

    tags = raw.get("tags")
    tags = parse_tags(",".join(_as_list(tags)) if isinstance(tags, list) else tags)
    if len(tags) > MAX_TAGS or any(not TAG_RE.match(t) for t in tags):
        errors.setdefault("tags", []).append(
            str(_l("Tags: at most 20, each up to 40 letters, digits, spaces or hyphens."))
        )
    filters["tags"] = tags

    if errors:
        raise AudienceInvalid(errors)
    return {key: filters[key] for key in FILTER_KEYS if filters[key] not in (None, [], "")}


# --- evaluation in SQL ----------------------------------------------------------------


def _age_condition(age_min: int | None, age_max: int | None, today: date):
    """Age at send time is `today.year - birth_year` (the age reached this year).

    A contact known only by an age band matches when the whole band lies within
    [age_min, age_max]: a partly overlapping band might hold people outside the range.
    A contact of unknown age (no birth year, no band) is excluded whenever an age
    filter is set, since we cannot tell whether it fits.
    """
    low = age_min if age_min is not None else 0
    high = age_max if age_max is not None else 200
    by_year = and_(
        Contact.birth_year.is_not(None),
        Contact.birth_year.between(today.year - high, today.year - low),
    )
    bands = [b for b in AGE_BANDS if low <= band_bounds(b)[0] and band_bounds(b)[1] <= high]
    if not bands:
        return by_year
    return or_(by_year, and_(Contact.birth_year.is_(None), Contact.age_band.in_(bands)))


def _match_conditions(org_id: int, filters: dict, today: date) -> list:
    conditions = [Contact.organization_id == org_id, Contact.erased_at.is_(None)]
    if filters.get("languages"):
        conditions.append(Contact.language.in_(filters["languages"]))
    if filters.get("genders"):
        conditions.append(Contact.gender.in_(filters["genders"]))
    if filters.get("age_min") is not None or filters.get("age_max") is not None:
        conditions.append(_age_condition(filters.get("age_min"), filters.get("age_max"), today))
    if filters.get("country"):
        conditions.append(Contact.country == filters["country"])
    if filters.get("state_codes"):
        conditions.append(Contact.state_code.in_(filters["state_codes"]))
    if filters.get("municipalities"):
        folded = sorted({fold(m) for m in filters["municipalities"]})
        conditions.append(fold_sql(Contact.municipality).in_(folded))
    if filters.get("tags"):
        conditions.append(
            Contact.id.in_(
                select(ContactTag.contact_id).where(ContactTag.name.in_(filters["tags"]))
            )
        )
    if filters.get("consent_sources"):
        conditions.append(Contact.consent_source.in_(filters["consent_sources"]))
    return conditions


def audience_match_query(org_id: int, filters: dict, *, today: date) -> Select:
    """Every live contact matching the filters, whether or not it can be messaged."""
    filters = validate_filters(filters)
    return select(Contact).where(*_match_conditions(org_id, filters, today))


def audience_contacts_query(org_id: int, filters: dict, *, today: date) -> Select:
    """The contacts an audience reaches: matching the filters and eligible to message."""
    return audience_match_query(org_id, filters, today=today).where(eligible_sql(today))


@dataclass
class AudienceSummary:
    eligible: int
    matched: int
    excluded: list[tuple[str, int]]  # (reason code, count), in REASON_ORDER, counts > 0
    sample: list[Contact]

    @property
    def excluded_total(self) -> int:
        return self.matched - self.eligible


def audience_summary(
    org_id: int, filters: dict, *, today: date, sample_size: int = SAMPLE_SIZE
) -> AudienceSummary:
    """Counts by block reason (one GROUP BY) and a sample of eligible contacts."""
    filters = validate_filters(filters)
    reasons = (
        select(block_reason_sql(today).label("reason"))
        .where(*_match_conditions(org_id, filters, today))
        .subquery()
    )
    counts = dict(
        db.session.execute(select(reasons.c.reason, func.count()).group_by(reasons.c.reason)).all()
    )
    sample = (
        db.session.scalars(
            audience_contacts_query(org_id, filters, today=today)
            .order_by(Contact.id.desc())
            .limit(sample_size)
        ).all()
        if sample_size
        else []
    )
    return AudienceSummary(
        eligible=counts.get(None, 0),
        matched=sum(counts.values()),
        excluded=[(code, counts[code]) for code in REASON_ORDER if counts.get(code)],
        sample=list(sample),
    )


def describe_filters(filters: dict) -> list[tuple[str, str]]:
    """(label, values) pairs that say in words what an audience selects."""
    f = filters or {}
    out = []

    def names(labels, codes):
        return ", ".join(str(labels.get(c, c)) for c in codes)

    if f.get("languages"):
        out.append((_l("Languages"), names(LANGUAGE_LABELS, f["languages"])))
    if f.get("genders"):
        out.append((_l("Genders"), names(GENDER_LABELS, f["genders"])))
    if f.get("age_min") is not None and f.get("age_max") is not None:
        out.append((_l("Age"), _l("%(min)d to %(max)d years", min=f["age_min"], max=f["age_max"])))
    elif f.get("age_min") is not None:
        out.append((_l("Age"), _l("%(min)d years or older", min=f["age_min"])))
    elif f.get("age_max") is not None:
        out.append((_l("Age"), _l("%(max)d years or younger", max=f["age_max"])))
    if f.get("country"):
        out.append((_l("Country"), str(COUNTRY_LABELS.get(f["country"], f["country"]))))
    if f.get("state_codes"):
        out.append(
            (
                _l("States"),
                ", ".join(
                    state_name("MX" if c in MX_STATES else "US", c) for c in f["state_codes"]
                ),
            )
        )
    if f.get("municipalities"):
        out.append((_l("Municipalities"), ", ".join(f["municipalities"])))
    if f.get("tags"):
        out.append((_l("Tags (any of)"), ", ".join(f["tags"])))
    if f.get("consent_sources"):
        out.append((_l("Consent sources"), names(CONSENT_SOURCE_LABELS, f["consent_sources"])))
    return out


# --- services ---------------------------------------------------------------------------


def _check_name(org_id: int, name: str, *, except_id: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_l("Give the audience a name."), field="name")
    stmt = select(Audience.id).where(Audience.organization_id == org_id, Audience.name == name)
    if except_id is not None:
        stmt = stmt.where(Audience.id != except_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise DomainError(_l("An audience with this name already exists."), field="name")
    return name


def create_audience(
    org_id: int, *, name: str, description: str | None, filters: dict, now: datetime | None = None
) -> Audience:
    """Save a new audience. Raises DomainError/AudienceInvalid and saves nothing on bad input."""
    now = now or utcnow()
    filters = validate_filters(filters)
    audience = Audience(
        organization_id=org_id,
        name=_check_name(org_id, name),
        description=(description or "").strip() or None,
        filters=filters,
        created_at=now,
        updated_at=now,
    )
    db.session.add(audience)
    db.session.commit()
    return audience


def update_audience(
    audience: Audience,
    *,
    name: str,
    description: str | None,
    filters: dict,
    now: datetime | None = None,
) -> None:
    """Change an audience's name, description and filters (same rules as create)."""
    filters = validate_filters(filters)
    audience.name = _check_name(audience.organization_id, name, except_id=audience.id)
    audience.description = (description or "").strip() or None
    audience.filters = filters
    audience.updated_at = now or utcnow()
    db.session.commit()


def delete_audience(audience: Audience) -> None:
    """Delete a saved audience (its contacts are untouched)."""
    db.session.delete(audience)
    db.session.commit()
