"""Placeholder rendering, fallbacks and typo detection."""

from datetime import date

import pytest

from app.outbox.placeholders import (
    FALLBACKS,
    PLACEHOLDERS,
    fallback_values,
    render,
    sample_values,
    unknown_placeholders,
    used_placeholders,
)
from tests.campaigns.helpers import spanish

ALL = {
    "first_name": "Ana",
    "campaign": "Fentanilo: lo que no te dicen",
    "org": "Jóvenes A.C.",
    "workshop_title": "Decide tú",
    "workshop_date": "14 de marzo",
    "workshop_time": "17:00",
    "workshop_venue": "Casa de la Cultura",
    "workshop_code": "4821",
}


def test_every_placeholder_is_filled(app):
    template = " | ".join("{" + name + "}" for name in PLACEHOLDERS)
    assert render(template, ALL, language="es") == " | ".join(ALL[n] for n in PLACEHOLDERS)


@pytest.mark.parametrize(
    "template, expected",
    [
        ("Hola {first_name}, ¿sabías que…?", "Hola, ¿sabías que…?"),
        ("¡Hola, {first_name}!", "¡Hola!"),
        ("¡Hola {first_name}!", "¡Hola!"),
        ("Hola, {first_name}.", "Hola."),
        ("Hola {first_name}", "Hola"),
        ("Hola, {first_name}", "Hola"),
        ("{first_name}, te invitamos al taller.", "Te invitamos al taller."),
        ("{first_name}: ¿vienes?", "¿Vienes?"),
        ("Gracias {first_name} por venir.", "Gracias por venir."),
        ("Hola {first_name},\n{first_name}, ¿vienes?", "Hola,\n¿Vienes?"),
        ("Hi {first_name}, did you know?", "Hi, did you know?"),
        ("Thanks, {first_name}!", "Thanks!"),
        ("Tu código: {workshop_code}.", "Tu código:."),
    ],
)
def test_missing_first_name_is_dropped_cleanly(app, template, expected):
    for values in ({}, {"first_name": None}, {"first_name": ""}, {"first_name": "   "}):
        assert render(template, values, language="es") == expected


def test_names_are_kept_as_written(app):
    assert (
        render("Hola {first_name}, ¿vienes?", {"first_name": " maría josé "}, language="es")
        == "Hola maría josé, ¿vienes?"
    )


def test_english_fallbacks(app):
    template = (
        "{campaign} by {org}: {workshop_title} on {workshop_date} at {workshop_time}, "
        "{workshop_venue}."
    )
    assert render(template, {}, language="en") == (
        "our campaign by our team: our workshop on (to be confirmed) at (to be confirmed), "
        "(to be confirmed)."
    )


def test_spanish_fallbacks_come_from_the_catalogue(app):
    expected = spanish("our campaign")
    assert render("Gracias por ser parte de {campaign}.", {}, language="es") == (
        f"Gracias por ser parte de {expected}."
    )
    assert fallback_values("es")["workshop_date"] == spanish("(to be confirmed)")


def test_fallbacks_cover_every_placeholder(app):
    assert set(FALLBACKS) == set(PLACEHOLDERS)
    values = fallback_values("en")
    assert values["first_name"] == "" and values["workshop_code"] == ""
    assert all(values[n] for n in PLACEHOLDERS if n not in ("first_name", "workshop_code"))


def test_precomputed_fallbacks_are_used(app):
    fallbacks = {**fallback_values("en"), "org": "the team"}
    assert render("From {org}", {}, language="en", fallbacks=fallbacks) == "From the team"


def test_fan_out_token_passes_through(app):
    # outreach/fanout.py renders once with a NUL-delimited token and fills names in SQL.
    token = "\x00first_name\x00"
    assert render("Hola {first_name}, ¿vienes?", {"first_name": token}, language="es") == (
        f"Hola {token}, ¿vienes?"
    )


def test_unknown_placeholders_are_listed_once_in_order():
    template = "Hola {nombre}, {first_name} {Campaign} { org } {nombre} {} {org}"
    assert unknown_placeholders(template) == ["{nombre}", "{Campaign}", "{ org }", "{}"]
    assert unknown_placeholders("Sin llaves") == []
    assert unknown_placeholders("") == []
    assert used_placeholders(template) == ["first_name", "org"]


def test_unknown_placeholders_are_left_as_written(app):
    assert render("Hola {nombre}", {"nombre": "Ana"}, language="es") == "Hola {nombre}"


def test_a_brace_group_does_not_span_lines():
    assert unknown_placeholders("{a\nb}") == []


@pytest.mark.parametrize("language", ["es", "en"])
def test_sample_values(app, language):
    values = sample_values(language, campaign="C", org="O", today=date(2026, 3, 7))
    assert set(values) == set(PLACEHOLDERS)
    assert values["first_name"] == "Alex" and values["campaign"] == "C"
    assert (
        values["workshop_date"]
        == {"es": "sábado 14 de marzo", "en": "Saturday, March 14"}[language]
    )
    assert values["workshop_time"] == {"es": "17:00", "en": "5:00 PM"}[language]
    assert "\u202f" not in values["workshop_time"]
