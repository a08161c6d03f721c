"""One validation of a contact's fields, shared by the form, the CSV import and walk-ins.

`clean_contact(raw, org=..., today=...)` takes canonical field names with string (or
None) values and returns `(values, errors)`: model-ready values, or translated errors.

The CSV import passes a `warnings` list: then only the phone can make a row invalid, and
a problem in an optional field leaves that field unknown (blank, the organization's
language, no consent recorded) and is reported in `warnings` instead of `errors`.

Gender values accepted on import (matched ignoring case and accents):
female: F, Mujer, Femenino, Female, Woman; male: H, Hombre, Masculino, Male, Man;
nonbinary: No binario, Non-binary, NB, Otro, Other; undisclosed: Prefiero no decir, Prefer
not to say. "M" is ambiguous (Mujer or Male/Masculino): see `m_gender`.
"""

import re
import unicodedata
from datetime import UTC, date, datetime, time
from functools import cache, lru_cache
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l

from app.contacts.geography import derive_timezone, resolve_state
from app.contacts.models import AGE_BANDS, CONSENT_SOURCES, GENDERS, LANGUAGES
from app.contacts.names import split_full_name
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
    "woman": "female",
    "fem": "female",
    "m": None,  # ambiguous: see m_gender
    "male": "male",
    "man": "male",
    "hombre": "male",
    "masculino": "male",
    "masc": "male",
    "h": "male",
    "nonbinary": "nonbinary",
    "non-binary": "nonbinary",
    "non binary": "nonbinary",
    "no binario": "nonbinary",
    "no binaria": "nonbinary",
    "no binarie": "nonbinary",
    "nb": "nonbinary",
    "x": "nonbinary",
    "otro": "nonbinary",
    "otra": "nonbinary",
    "other": "nonbinary",
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
# Preferred channel (issue 19), matched with `fold`; blank is SMS.
CHANNEL_ALIASES = {
    "": "sms",
    "sms": "sms",
    "texto": "sms",
    "text": "sms",
    "whatsapp": "whatsapp",
    "whats app": "whatsapp",
    "whats": "whatsapp",
    "wa": "whatsapp",
}
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


def _collapsed(value) -> str:
    """The text stripped, with runs of whitespace collapsed to one space."""
    return " ".join(_strip(value).split())


def m_gender(language: str | None) -> str:
    """What a bare "M" means: "Mujer" in Spanish (the H/M of Mexican forms and the CURP),
    "Male" in English. The CSV import reads it by the file's other letters first (see
    `import_services`), so "M/F" lists keep M = masculino."""
    return "male" if language == "en" else "female"


class _Tracked:
    """Calls field cleaners, noting which fields added a message to `messages`."""

    def __init__(self, messages: list[str], fields: set[str] | None):
        self.messages, self.fields = messages, fields

    def __call__(self, names: tuple[str, ...], cleaner, *args, **kwargs):
        before = len(self.messages)
        result = cleaner(*args, **kwargs)
        if self.fields is not None and len(self.messages) > before:
            self.fields.update(names)
        return result


def clean_contact(
    raw: dict,
    *,
    org,
    today: date,
    warnings: list[str] | None = None,
    gender_m: str | None = None,
    warned_fields: set[str] | None = None,
) -> tuple[dict, list[str]]:
    """Model-ready `values` from form-like `raw` strings, and the translated `errors` (in
    field order: country, phone, name, language, age, gender, place, tags, consent,
    guardian consent). Each helper below cleans one field and appends its errors.

    With a `warnings` list, problems in optional fields go there instead, and the field
    is left unknown (see the module docstring); `warned_fields` then receives the raw keys
    of the fields warned about. `gender_m` is what "M" means (None: `m_gender` of the
    row's language when lenient; ambiguous, so invalid, otherwise)."""
    errors: list[str] = []
    lenient = warnings is not None
    soft = warnings if lenient else errors
    field = _Tracked(soft, warned_fields)
    values: dict = {}
    country_text = _strip(raw.get("country"))
    country = field(("country",), _clean_country, country_text, org, soft)
    phone = _clean_phone(raw.get("phone"), country, errors)
    if phone is not None:
        values["phone"] = phone
        if not country_text:  # "+1 619…" in a Mexican organization's list is a US contact
            country = next((c for prefix, c in PHONE_COUNTRY if phone.startswith(prefix)), country)
    values["country"] = country
    language = field(("language",), _clean_language, raw.get("language"), org, soft, lenient)
    values["language"] = language
    values["first_name"], values["last_name"] = field(
        ("first_name", "last_name"), _clean_names, raw, language, soft
    )
    values["birth_year"] = field(
        ("birth_year",), _clean_birth_year, raw.get("birth_year"), today, soft
    )
    values["age_band"] = field(
        ("age_band",), _clean_age_band, raw.get("age_band"), values["birth_year"], soft
    )
    m_means = gender_m or (m_gender(language) if lenient else None)
    values["gender"] = field(("gender",), _clean_gender, raw.get("gender"), m_means, soft, lenient)
    state_code = field(("state",), _clean_state, raw.get("state"), country, soft)
    municipality = field(("municipality",), _clean_municipality, raw.get("municipality"), soft)
    values["state_code"], values["municipality"] = state_code, municipality
    values["timezone"] = field(
        ("timezone",),
        _clean_timezone,
        raw.get("timezone"),
        (country, state_code, municipality),
        soft,
    )
    values["tags"] = field(("tags",), _clean_tags, raw.get("tags"), soft, lenient=lenient)
    field(
        ("consent_source", "consent_basis", "consent_date"),
        _clean_consent,
        raw,
        values,
        today,
        soft,
        lenient=lenient,
    )
    values["guardian_consent"] = field(
        ("guardian_consent",), _clean_guardian, raw.get("guardian_consent"), soft
    )
    if has_channel_fields(raw):
        values["preferred_channel"], values["whatsapp_opt_in"] = field(
            CHANNEL_FIELDS, clean_channel, raw, soft, lenient=lenient
        )
    return values, errors


# The channel's raw keys (issue 19): only checked, and only written, when the input has them
# (a CSV without these columns, an API call that leaves them out).
CHANNEL_FIELDS = ("preferred_channel", "whatsapp_opt_in")


def has_channel_fields(raw: dict) -> bool:
    return any(raw.get(name) is not None for name in CHANNEL_FIELDS)


def clean_channel(raw: dict, errors: list[str], *, lenient: bool) -> tuple[str, bool]:
    """(preferred_channel, whatsapp_opt_in) from "sms"/"whatsapp" and yes/no. WhatsApp as
    the channel needs a WhatsApp opt-in (WhatsApp's policy). Leniently (import), a problem
    leaves the contact on SMS without a WhatsApp opt-in, with a warning."""
    problems: list[str] = []
    channel = CHANNEL_ALIASES.get(fold(raw.get("preferred_channel")))
    if channel is None:
        problems.append(str(_l("Unknown channel (use SMS or WhatsApp).")))
    opt_in_text = fold(raw.get("whatsapp_opt_in"))
    if opt_in_text not in YES | NO:
        problems.append(str(_l("The WhatsApp opt-in must be yes or no.")))
    opt_in = opt_in_text in YES
    if channel == "whatsapp" and opt_in_text in NO:
        problems.append(
            str(_l("WhatsApp can be the preferred channel only with a WhatsApp opt-in."))
        )
    if problems and lenient:
        errors.extend(
            str(_l("%(problem)s The contact stays on SMS.", problem=problem))
            for problem in problems
        )
        return "sms", False
    errors.extend(problems)
    return channel or "sms", opt_in


def _clean_consent(raw: dict, values: dict, today: date, errors: list[str], *, lenient: bool):
    """consent_source, consent_basis and consent_at; leniently, a problem records none."""
    problems: list[str] = []
    source, basis = _clean_consent_source(
        raw.get("consent_source"), raw.get("consent_basis"), problems
    )
    consent_at = _clean_consent_at(raw.get("consent_date"), source, today, problems)
    if problems and lenient:
        errors.extend(
            str(_l("%(problem)s No consent was recorded for this row.", problem=p))
            for p in problems
        )
        source = basis = consent_at = None
    else:
        errors.extend(problems)
    values["consent_source"], values["consent_basis"] = source, basis
    values["consent_at"] = consent_at


def _clean_country(text: str, org, errors: list[str]) -> str:
    country = _country_code(text) if text else org.country
    if country is None:
        errors.append(str(_l("Unknown country (use MX or US).")))
        return org.country
    return country


def _clean_names(raw: dict, language: str, errors: list[str]) -> tuple[str | None, str | None]:
    """(first, last) names; a full name is split only when neither is given (see names)."""
    first, last = _collapsed(raw.get("first_name")), _collapsed(raw.get("last_name"))
    if not first and not last:
        first, last = split_full_name(_collapsed(raw.get("full_name")), language=language)
    first_name = _clean_first_name(first, errors)
    last_name = _collapsed(last) or None
    if last_name and len(last_name) > 120:
        errors.append(str(_l("The last name is too long (120 characters at most).")))
        last_name = None
    return first_name, last_name


def _clean_names_of(key: tuple, errors: list[str]) -> tuple[str | None, str | None]:
    """`_clean_names` of (first name, last name, full name, language) cells."""
    first, last, full, language = key
    return _clean_names(
        {"first_name": first, "last_name": last, "full_name": full}, language, errors
    )


def _clean_phone(value, country: str, errors: list[str]) -> str | None:
    text = _strip(value)
    if not text:
        errors.append(str(_l("The mobile phone number is missing.")))
        return None
    try:
        return normalize_phone(text, default_region=country)
    except InvalidPhone as error:
        errors.append(str(error.message))
        return None


def _clean_first_name(value, errors: list[str]) -> str | None:
    first_name = _collapsed(value)
    if len(first_name) > 80:
        errors.append(str(_l("The first name is too long (80 characters at most).")))
        return None
    return first_name or None


def _clean_language(value, org, errors: list[str], lenient: bool = False) -> str | None:
    text = fold(value)
    language = LANGUAGE_ALIASES.get(text) if text else org.default_language
    if language not in LANGUAGES and not lenient:
        errors.append(str(_l("Unknown language (use es or en).")))
    elif language not in LANGUAGES:
        errors.append(
            str(
                _l(
                    "Unknown language “%(value)s” (use es or en): a new contact gets the "
                    "organization's language, an existing one keeps theirs.",
                    value=_strip(value)[:40],
                )
            )
        )
        return org.default_language
    return language


def _clean_birth_year(value, today: date, errors: list[str]) -> int | None:
    text = _strip(value)
    if not text:
        return None
    if not text.isdigit() or len(text) != 4:
        errors.append(str(_l("The birth year must be a four-digit year.")))
        return None
    year = int(text)
    if not MIN_AGE <= today.year - year <= MAX_AGE:
        errors.append(str(_l("Impossible birth year for this program: %(year)s.", year=year)))
        return None
    return year


def _clean_age_band(value, birth_year: int | None, errors: list[str]) -> str | None:
    """The band, kept only without a birth year (which is more precise)."""
    band = _strip(value).replace("–", "-").replace(" ", "")
    if not band:
        return None
    if band not in AGE_BANDS:
        errors.append(str(_l("Unknown age band (use 12-14, 15-17, 18-24 or 25-29).")))
        return None
    return band if birth_year is None else None


def _clean_gender(
    value, m_means: str | None, errors: list[str], lenient: bool = False
) -> str | None:
    text = fold(value).rstrip(".")
    if not text:
        return None
    gender = m_means if text == "m" else GENDER_ALIASES.get(text)
    if gender not in GENDERS and not lenient:
        errors.append(str(_l("Unknown gender value.")))
    elif gender not in GENDERS:
        errors.append(
            str(_l("Unknown gender “%(value)s”: left as unknown.", value=_strip(value)[:40]))
        )
        return None
    return gender


def _clean_state(value, country: str, errors: list[str]) -> str | None:
    text = _strip(value)
    if not text:
        return None
    code = _state_code(country, text)
    if code is None:
        errors.append(str(_l("Unknown state: %(state)s.", state=text[:40])))
    return code


def _clean_municipality(value, errors: list[str]) -> str | None:
    municipality = _collapsed(value)
    if len(municipality) > 80:
        errors.append(str(_l("The municipality name is too long.")))
        return None
    return municipality or None


def _clean_timezone(value, place: tuple[str, str | None, str | None], errors: list[str]) -> str:
    """The zone given, or the one derived from the place (country, state, municipality)."""
    tz = _strip(value)
    if tz and tz not in known_timezones():
        errors.append(str(_l("Unknown time zone: %(tz)s.", tz=tz[:64])))
        tz = ""
    return tz or _derived_timezone(*place)


def _clean_tags(value, errors: list[str], *, lenient: bool = False) -> list[str]:
    """The tags; leniently, the valid ones among the first 20."""
    tags = parse_tags(value)
    if len(tags) > MAX_TAGS or any(not TAG_RE.match(t) for t in tags):
        errors.append(
            str(_l("Tags: at most 20, each up to 40 letters, digits, spaces or hyphens."))
        )
        if lenient:
            tags = [t for t in tags if TAG_RE.match(t)][:MAX_TAGS]
    return tags


def _clean_consent_source(
    source_value, basis_value, errors: list[str]
) -> tuple[str | None, str | None]:
    """(consent source, stated basis); an imported list must state its basis."""
    text = fold(source_value)
    source = CONSENT_ALIASES.get(text) if text else None
    if text and source not in CONSENT_SOURCES:
        errors.append(str(_l("Unknown consent source.")))
    basis = _collapsed(basis_value)
    if source == "imported_list" and not basis:
        errors.append(str(_l("An imported list needs the stated basis of its consent.")))
    return source, basis or None


def _clean_consent_at(value, source: str | None, today: date, errors: list[str]) -> datetime | None:
    """Noon UTC of the consent date given, else of today when there is a consent source."""
    text = _strip(value)
    if not text:
        return datetime.combine(today, time(12), tzinfo=UTC) if source else None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        errors.append(str(_l("The consent date must look like 2026-03-31.")))
        return None
    if day > today:
        errors.append(str(_l("The consent date is in the future.")))
    return datetime.combine(day, time(12), tzinfo=UTC)


def _clean_guardian(value, errors: list[str]) -> bool:
    guardian = fold(value)
    if guardian not in YES | NO:
        errors.append(str(_l("Guardian consent must be yes or no.")))
    return guardian in YES


class ImportCleaner:
    """`clean_contact` for the rows of one CSV import (lenient: `warnings` and
    `warned_fields` given), with the same values and messages, faster.

    A list repeats a handful of values per column (languages, years, genders, states,
    tags, consent sources; names too, first names above all), so each field's cleaner runs
    once per distinct input and its result (value and messages, already translated: one
    import runs in one language) is reused. Only the phone is cleaned on every row. The
    field order of the messages is `clean_contact`'s; a test compares both on whole files."""

    MAX_CACHED = 50_000  # distinct inputs kept per field (memory bound for odd files)

    def __init__(self, *, org, today: date, gender_m: str | None = None):
        self.org, self.today, self.gender_m = org, today, gender_m
        self._caches: dict[str, dict] = {}

    def _cached(self, name: str, key, cleaner, *args, **kwargs) -> tuple:
        """(value, messages) of `cleaner(*args, messages, **kwargs)`, once per `key`."""
        cache = self._caches.setdefault(name, {})
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= self.MAX_CACHED:
                cache.clear()
            messages: list[str] = []
            hit = cache[key] = (cleaner(*args, messages, **kwargs), tuple(messages))
        return hit

    def clean(
        self, raw: dict, warnings: list[str], warned_fields: set[str]
    ) -> tuple[dict, list[str]]:
        """`clean_contact(raw, org=..., today=..., warnings=warnings, gender_m=...,
        warned_fields=warned_fields)`."""
        errors: list[str] = []
        org, cached = self.org, self._cached

        def note(names: tuple[str, ...], hit: tuple):
            if hit[1]:
                warnings.extend(hit[1])
                warned_fields.update(names)
            return hit[0]

        values: dict = {}
        country_text = _strip(raw.get("country"))
        country = note(
            ("country",), cached("country", country_text, _clean_country, country_text, org)
        )
        phone = _clean_phone(raw.get("phone"), country, errors)
        if phone is not None:
            values["phone"] = phone
            if not country_text:
                country = next(
                    (c for prefix, c in PHONE_COUNTRY if phone.startswith(prefix)), country
                )
        values["country"] = country
        text = raw.get("language")
        language = note(
            ("language",), cached("language", text, _clean_language, text, org, lenient=True)
        )
        values["language"] = language
        key = (raw.get("first_name"), raw.get("last_name"), raw.get("full_name"), language)
        values["first_name"], values["last_name"] = note(
            ("first_name", "last_name"), cached("names", key, _clean_names_of, key)
        )
        self._clean_rest(raw, values, note)
        return values, errors

    def _clean_rest(self, raw: dict, values: dict, note) -> None:
        """The fields after the names, in `clean_contact`'s order."""
        cached, today = self._cached, self.today
        text = raw.get("birth_year")
        year = note(("birth_year",), cached("birth_year", text, _clean_birth_year, text, today))
        values["birth_year"] = year
        text = raw.get("age_band")
        values["age_band"] = note(
            ("age_band",), cached("age_band", (text, year), _clean_age_band, text, year)
        )
        m_means = self.gender_m or m_gender(values["language"])
        text = raw.get("gender")
        values["gender"] = note(
            ("gender",),
            cached("gender", (text, m_means), _clean_gender, text, m_means, lenient=True),
        )
        country, text = values["country"], raw.get("state")
        state_code = note(("state",), cached("state", (text, country), _clean_state, text, country))
        text = raw.get("municipality")
        municipality = note(
            ("municipality",), cached("municipality", text, _clean_municipality, text)
        )
        values["state_code"], values["municipality"] = state_code, municipality
        text, place = raw.get("timezone"), (country, state_code, municipality)
        values["timezone"] = note(
            ("timezone",), cached("timezone", (text, place), _clean_timezone, text, place)
        )
        text = raw.get("tags")
        values["tags"] = list(
            note(("tags",), cached("tags", text, _clean_tags, text, lenient=True))
        )
        consent = (raw.get("consent_source"), raw.get("consent_basis"), raw.get("consent_date"))
        source, basis, consent_at = note(
            ("consent_source", "consent_basis", "consent_date"),
            cached("consent", consent, self._consent, consent),
        )
        values["consent_source"], values["consent_basis"] = source, basis
        values["consent_at"] = consent_at
        text = raw.get("guardian_consent")
        values["guardian_consent"] = note(
            ("guardian_consent",), cached("guardian", text, _clean_guardian, text)
        )
        if has_channel_fields(raw):
            key = tuple(raw.get(name) for name in CHANNEL_FIELDS)
            values["preferred_channel"], values["whatsapp_opt_in"] = note(
                CHANNEL_FIELDS, cached("channel", key, self._channel, key)
            )

    @staticmethod
    def _channel(key: tuple, messages: list[str]) -> tuple[str, bool]:
        return clean_channel(dict(zip(CHANNEL_FIELDS, key, strict=True)), messages, lenient=True)

    def _consent(self, consent: tuple, messages: list[str]) -> tuple:
        source, basis, day = consent
        values: dict = {}
        raw = {"consent_source": source, "consent_basis": basis, "consent_date": day}
        _clean_consent(raw, values, self.today, messages, lenient=True)
        return values["consent_source"], values["consent_basis"], values["consent_at"]
