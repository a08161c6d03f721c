"""clean_contact: the one validation of a contact row (form, CSV import, walk-ins)."""

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from app.contacts.validation import clean_contact, fold, parse_tags

TODAY = date(2026, 3, 15)
MX_ORG = SimpleNamespace(country="MX", default_language="es")
US_ORG = SimpleNamespace(country="US", default_language="en")


def clean(org=MX_ORG, **raw):
    return clean_contact(raw, org=org, today=TODAY)


def test_minimal_row_takes_the_organization_defaults(app):
    values, errors = clean(phone="664 555 0101")
    assert errors == []
    assert values == {
        "country": "MX",
        "phone": "+526645550101",
        "first_name": None,
        "last_name": None,
        "language": "es",
        "birth_year": None,
        "age_band": None,
        "gender": None,
        "state_code": None,
        "municipality": None,
        "timezone": "America/Mexico_City",
        "tags": [],
        "consent_source": None,
        "consent_basis": None,
        "consent_at": None,
        "guardian_consent": False,
    }


def test_full_row_is_normalised(app):
    values, errors = clean(
        phone="044 664 555 0101",
        first_name="  María   José ",
        language="Español",
        birth_year="2009",
        gender="Mujer",
        state="Baja California",
        municipality="Tijuana",
        tags="Prepa; feria 2026, prepa",
        consent_source="Taller",
        consent_date="2026-02-01",
        guardian_consent="Sí",
    )
    assert errors == []
    assert values["phone"] == "+526645550101"
    assert values["first_name"] == "María José"
    assert (values["language"], values["gender"]) == ("es", "female")
    assert (values["state_code"], values["timezone"]) == ("02", "America/Tijuana")
    assert values["tags"] == ["feria 2026", "prepa"]
    assert values["consent_source"] == "workshop"
    assert values["consent_at"] == datetime(2026, 2, 1, 12, tzinfo=UTC)
    assert values["guardian_consent"] is True


@pytest.mark.parametrize(
    "text, expected",
    [
        ("México", "MX"),
        ("mexico", "MX"),
        ("MEX", "MX"),
        ("Estados Unidos Mexicanos", "MX"),
        ("US", "US"),
        ("EE. UU.", "US"),
        ("Estados Unidos", "US"),
        ("U.S.A.", "US"),
        ("United States", "US"),
    ],
)
def test_country_spellings(app, text, expected):
    values, errors = clean(
        phone="+52 664 555 0101" if expected == "MX" else "+1 619 555 0101", country=text
    )
    assert errors == [] and values["country"] == expected


def test_country_follows_the_phone_when_not_given(app):
    values, errors = clean(phone="+1 (619) 555-0123", state="CA")
    assert errors == []
    assert (values["country"], values["state_code"], values["timezone"]) == (
        "US",
        "CA",
        "America/Los_Angeles",
    )
    values, _errors = clean(
        US_ORG, phone="+52 1 656 555 0101", municipality="Ciudad Juárez", state="Chihuahua"
    )
    assert (values["country"], values["timezone"]) == ("MX", "America/Ciudad_Juarez")


def test_explicit_country_is_kept_even_if_the_phone_is_foreign(app):
    values, errors = clean(phone="+1 619 555 0123", country="MX")
    assert errors == [] and values["country"] == "MX"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"phone": ""}, "The mobile phone number is missing."),
        ({"phone": "12345"}, "Invalid mobile phone number."),
        ({"phone": "+44 20 7946 0958"}, "Only Mexican (+52) and US (+1) numbers are supported."),
        ({"country": "Francia"}, "Unknown country (use MX or US)."),
        ({"first_name": "x" * 81}, "The first name is too long (80 characters at most)."),
        ({"language": "fr"}, "Unknown language (use es or en)."),
        ({"birth_year": "08"}, "The birth year must be a four-digit year."),
        ({"birth_year": "1950"}, "Impossible birth year for this program: 1950."),
        ({"age_band": "30-40"}, "Unknown age band (use 12-14, 15-17, 18-24 or 25-29)."),
        ({"gender": "M"}, "Unknown gender value."),  # M: mujer or male? ambiguous on purpose
        ({"state": "Narnia"}, "Unknown state: Narnia."),
        ({"municipality": "x" * 81}, "The municipality name is too long."),
        ({"timezone": "Mars/Base"}, "Unknown time zone: Mars/Base."),
        ({"tags": "a" * 41}, "Tags: at most 20, each up to 40 letters, digits, spaces or hyphens."),
        ({"consent_source": "rumor"}, "Unknown consent source."),
        ({"consent_source": "lista"}, "An imported list needs the stated basis of its consent."),
        (
            {"consent_source": "taller", "consent_date": "31/02/2026"},
            "The consent date must look like 2026-03-31.",
        ),
        (
            {"consent_source": "taller", "consent_date": "2026-04-01"},
            "The consent date is in the future.",
        ),
        ({"guardian_consent": "quizás"}, "Guardian consent must be yes or no."),
    ],
)
def test_each_rule_has_a_clear_message(app, raw, message):
    raw = {"phone": "664 555 0101", **raw}
    _values, errors = clean(**raw)
    assert errors == [message]


@pytest.mark.parametrize(
    "text, source",
    [
        ("workshop", "workshop"),
        ("Taller", "workshop"),
        ("escuela", "school"),
        ("web_form", "web_form"),
        ("Formulario", "web_form"),
        ("sms_keyword", "sms_keyword"),
        ("SMS", "sms_keyword"),
        ("palabra clave", "sms_keyword"),
    ],
)
def test_consent_source_aliases_including_the_canonical_codes(app, text, source):
    values, errors = clean(phone="664 555 0101", consent_source=text)
    assert errors == [] and values["consent_source"] == source
    assert values["consent_at"] == datetime(2026, 3, 15, 12, tzinfo=UTC)


def test_imported_list_with_basis(app):
    values, errors = clean(
        phone="664 555 0101",
        consent_source="imported_list",
        consent_basis="  Hoja de registro  firmada ",
    )
    assert errors == []
    assert (values["consent_source"], values["consent_basis"]) == (
        "imported_list",
        "Hoja de registro firmada",
    )


def test_birth_year_wins_over_age_band(app):
    values, _errors = clean(phone="664 555 0101", birth_year="2010", age_band="25-29")
    assert (values["birth_year"], values["age_band"]) == (2010, None)
    values, _errors = clean(phone="664 555 0101", age_band="15 – 17")
    assert (values["birth_year"], values["age_band"]) == (None, "15-17")


def test_several_errors_are_all_reported(app):
    _values, errors = clean(phone="1", birth_year="1900", state="Atlántida")
    assert errors == [
        "Invalid mobile phone number.",
        "Impossible birth year for this program: 1900.",
        "Unknown state: Atlántida.",
    ]


def test_errors_are_plain_strings_in_the_current_locale(app):
    from flask_babel import force_locale

    with force_locale("en"):
        _values, errors = clean(phone="664 555 0101", guardian_consent="quizás")
    assert errors == ["Guardian consent must be yes or no."]
    assert all(type(e) is str for e in errors)  # not lazy: safe to store and join


def test_helpers():
    assert fold("  Nuevo   LEÓN_norte ") == "nuevo leon norte"
    assert fold(None) == ""
    assert parse_tags("B, a ;a|  c  d ") == ["a", "b", "c d"]
