"""One validation of a contact's fields, shared by the form, the CSV import and walk-ins.

`clean_contact(raw, org=..., today=...)` takes canonical field names with string (or
None) values and returns `(values, errors)`: model-ready values, or translated errors.
"""

import re
import unicodedata
from datetime import UTC, date, datetime, time
from functools import cache, lru_cache
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l

from app.contacts.geography import derive_timezone, resolve_state
from app.contacts.models import AGE_BANDS, CONSENT_SOURCES, GENDERS, LANGUAGES
from app.contacts.phones import InvalidPhone, normalize_phone

MIN_AGE, MAX_AGE = 10, 35  # the program serves 12–29; a little slack for typos in lists
MAX_TAGS = 20

LANGUAGE_ALIASES = {
    "es": "es",
    "espanol": "es",
    "spanish": "es",
    "spa": "es",
    "esp": "es",
    "en": "en",
    "ingles": "en",
    "english": "en",
    "eng": "en",
    "ing": "en",
}
GENDER_ALIASES = {
    "female": "female",
    "f": "female",
    "mujer": "female",
    "femenino": "female",
    "m": None,
    "male": "male",
    "hombre": "male",
    "masculino": "male",
    "h": "male",
    "nonbinary": "nonbinary",
    "non-binary": "nonbinary",
    "no binario": "nonbinary",
    "no binarie": "nonbinary",
    "nb": "nonbinary",
    "undisclosed": "undisclosed",
    "prefer not to say": "undisclosed",
    "prefiero no decir": "undisclosed",
    "prefiero no decirlo": "undisclosed",
}
CONSENT_ALIASES = {
    "workshop": "workshop",
    "taller": "workshop",
    "school": "school",
    "escuela": "school",
    "programa escolar": "school",
    "web_form": "web_form",
    "web": "web_form",
    "formulario": "web_form",
    "web form": "web_form",
    "sms_keyword": "sms_keyword",
    "sms": "sms_keyword",
    "palabra clave": "sms_keyword",
    "imported_list": "imported_list",
    "list": "imported_list",
    "lista": "imported_list",
    "imported list": "imported_list",
    "lista importada": "imported_list",
}
# Keys are folded and stripped of everything but letters ("EE. UU." -> "eeuu").
COUNTRY_ALIASES = {
    "mx": "MX",
    "mex": "MX",
    "mexico": "MX",
    "estadosunidosmexicanos": "MX",
    "republicamexicana": "MX",
    "us": "US",
    "usa": "US",
    "eeuu": "US",
    "eua": "US",
    "estadosunidos": "US",
    "estadosunidosdeamerica": "US",
    "unitedstates": "US",
    "unitedstatesofamerica": "US",
}
PHONE_COUNTRY = (("+52", "MX"), ("+1", "US"))
YES = {"1", "yes", "y", "si", "s", "true", "x", "verdadero"}
NO = {"", "0", "no", "n", "false", "falso"}
TAG_RE = re.compile(r"^[\w\- ]{1,40}$")
_TAG_SPLIT = re.compile(r"[,;|]")
_NOT_LETTER = re.compile(r"[^a-z]")


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


# Cached: imports call these for every row with a handful of distinct values
# (languages, genders, states), and profiling shows them right after phone parsing.
@lru_cache(maxsize=4096)
def fold(text: str | None) -> str:
    """Lowercase, strip accents and collapse spaces: for matching user-typed values."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().replace("_", " ").split()) if text else ""


# fold() turns "_" into a space, so "sms_keyword" must be looked up as "sms keyword":
# index every alias by its folded form once.
LANGUAGE_ALIASES = {fold(k): v for k, v in LANGUAGE_ALIASES.items()}
GENDER_ALIASES = {fold(k): v for k, v in GENDER_ALIASES.items()}
CONSENT_ALIASES = {fold(k): v for k, v in CONSENT_ALIASES.items()}


@lru_cache(maxsize=4096)
def _country_code(text: str) -> str | None:
    return COUNTRY_ALIASES.get(_NOT_LETTER.sub("", fold(text)))


@lru_cache(maxsize=4096)
def _state_code(country: str, text: str) -> str | None:
    return resolve_state(country, text)


@lru_cache(maxsize=4096)
def _derived_timezone(country: str, state_code: str | None, municipality: str | None) -> str:
    return derive_timezone(country, state_code, municipality)


def _strip(value) -> str:
    return (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()


def parse_tags(text: str | None) -> list[str]:
    parts = _TAG_SPLIT.split(text or "")
    return sorted({" ".join(p.split()).lower() for p in parts if p.strip()})


def clean_contact(raw: dict, *, org, today: date) -> tuple[dict, list[str]]:
    errors: list[str] = []
    values: dict = {}

    country_text = _strip(raw.get("country"))
    country = _country_code(country_text) if country_text else org.country
    if country is None:
        errors.append(str(_l("Unknown country (use MX or US).")))
        country = org.country

    phone_text = _strip(raw.get("phone"))
    if not phone_text:
        errors.append(str(_l("The mobile phone number is missing.")))
    else:
        try:
            values["phone"] = normalize_phone(phone_text, default_region=country)
        except InvalidPhone as error:
            errors.append(str(error.message))
        else:
            if not country_text:  # "+1 619…" in a Mexican organization's list is a US contact
                country = next(
                    (c for prefix, c in PHONE_COUNTRY if values["phone"].startswith(prefix)),
                    country,
                )
    values["country"] = country

    first_name = " ".join(_strip(raw.get("first_name")).split())
    if len(first_name) > 80:
        errors.append(str(_l("The first name is too long (80 characters at most).")))
    values["first_name"] = first_name or None

    lang_text = fold(raw.get("language"))
    language = LANGUAGE_ALIASES.get(lang_text) if lang_text else org.default_language
    if language not in LANGUAGES:
        errors.append(str(_l("Unknown language (use es or en).")))
    values["language"] = language

    values["birth_year"], values["age_band"] = None, None
    year_text = _strip(raw.get("birth_year"))
    if year_text:
        if not year_text.isdigit() or len(year_text) != 4:
            errors.append(str(_l("The birth year must be a four-digit year.")))
        else:
            year = int(year_text)
            if not MIN_AGE <= today.year - year <= MAX_AGE:
                errors.append(
                    str(_l("Impossible birth year for this program: %(year)s.", year=year))
                )
            values["birth_year"] = year
    band = _strip(raw.get("age_band")).replace("–", "-").replace(" ", "")
    if band:
        if band not in AGE_BANDS:
            errors.append(str(_l("Unknown age band (use 12-14, 15-17, 18-24 or 25-29).")))
        elif values["birth_year"] is None:
            values["age_band"] = band

    gender_text = fold(raw.get("gender"))
    if gender_text:
        gender = GENDER_ALIASES.get(gender_text)
        if gender not in GENDERS:
            errors.append(str(_l("Unknown gender value.")))
        values["gender"] = gender
    else:
        values["gender"] = None

    state_text = _strip(raw.get("state"))
    state_code = _state_code(country, state_text) if state_text else None
    if state_text and state_code is None:
        errors.append(str(_l("Unknown state: %(state)s.", state=state_text[:40])))
    values["state_code"] = state_code
    municipality = " ".join(_strip(raw.get("municipality")).split())
    if len(municipality) > 80:
        errors.append(str(_l("The municipality name is too long.")))
    values["municipality"] = municipality or None

    tz = _strip(raw.get("timezone"))
    if tz and tz not in known_timezones():
        errors.append(str(_l("Unknown time zone: %(tz)s.", tz=tz[:64])))
    values["timezone"] = tz or _derived_timezone(country, state_code, municipality or None)

    tags = parse_tags(raw.get("tags"))
    if len(tags) > MAX_TAGS or any(not TAG_RE.match(t) for t in tags):
        errors.append(
            str(_l("Tags: at most 20, each up to 40 letters, digits, spaces or hyphens."))
        )
    values["tags"] = tags

    source_text = fold(raw.get("consent_source"))
    source = CONSENT_ALIASES.get(source_text) if source_text else None
    if source_text and source not in CONSENT_SOURCES:
        errors.append(str(_l("Unknown consent source.")))
    basis = " ".join(_strip(raw.get("consent_basis")).split())
    if source == "imported_list" and not basis:
        errors.append(str(_l("An imported list needs the stated basis of its consent.")))
    values["consent_source"], values["consent_basis"] = source, basis or None
    values["consent_at"] = None
    consent_date = _strip(raw.get("consent_date"))
    if consent_date:
        try:
            day = date.fromisoformat(consent_date[:10])
        except ValueError:
            errors.append(str(_l("The consent date must look like 2026-03-31.")))
        else:
            if day > today:
                errors.append(str(_l("The consent date is in the future.")))
            values["consent_at"] = datetime.combine(day, time(12), tzinfo=UTC)
    elif source:
        values["consent_at"] = datetime.combine(today, time(12), tzinfo=UTC)

    guardian = fold(raw.get("guardian_consent"))
    if guardian not in YES | NO:
        errors.append(str(_l("Guardian consent must be yes or no.")))
    values["guardian_consent"] = guardian in YES
    return values, errors
