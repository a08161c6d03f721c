"""The rules of a WhatsApp template (app.whatsapp.validation): good and bad names, bodies,
variable mappings and buttons; every refusal names its field, in both languages."""

import pytest
from flask_babel import force_locale

from app.errors import InvalidFields
from app.whatsapp.validation import button_id, clean_template, fill, variable_numbers

GOOD = {
    "name": "taller_recordatorio",
    "language": "es",
    "category": "utility",
    "body": "Hola {{1}}, te esperamos el {{2}} a las {{3}}. ¿Vienes?",
    "variables": {"1": "first_name", "2": "workshop_date", "3": "workshop_time"},
    "buttons": [
        {"title": "Sí, voy", "intent": "rsvp_yes", "value": ""},
        {"title": "No puedo", "intent": "rsvp_no", "value": ""},
        {"title": "", "intent": "none", "value": ""},
    ],
}


def values(**changes):
    return {**GOOD, **changes}


def errors_of(raw) -> dict:
    with pytest.raises(InvalidFields) as info:
        clean_template(raw)
    return {
        field: [str(m) for m in messages] for field, messages in info.value.field_errors.items()
    }


def test_a_good_template_is_cleaned(app):
    cleaned = clean_template(values(name=" taller_recordatorio ", body="  Hola {{1}}, ven.\r\n"))
    assert cleaned["name"] == "taller_recordatorio"
    assert cleaned["body"] == "Hola {{1}}, ven."
    assert cleaned["variables"] == {"1": "first_name"}  # mappings of unused variables dropped
    assert cleaned["buttons"] == [
        {"title": "Sí, voy", "intent": "rsvp_yes", "value": "", "id": "rsvp_yes"},
        {"title": "No puedo", "intent": "rsvp_no", "value": "", "id": "rsvp_no"},
    ]


@pytest.mark.parametrize(
    "body, variables",
    [
        ("Hola, te esperamos en el taller.", {}),  # no variables at all
        ("Hola {{1}}, el {{2}} es el taller.", {"1": "first_name", "2": "workshop_date"}),
        ("Hola {{2}} y {{1}}, ven.", {"1": "first_name", "2": "org"}),  # any order in the text
        ("Hola {{1}}, {{1}}: ven.", {"1": "first_name"}),  # a variable used twice
        ("x" * 1024, {}),
        ("Hola\n\n{{1}}\n\nFin", {"1": "campaign"}),
    ],
)
def test_good_bodies(app, body, variables):
    assert clean_template(values(body=body, variables=variables, buttons=[]))["body"] == body


@pytest.mark.parametrize(
    "body, variables, message",
    [
        ("", {}, "Write the text of the template."),
        ("   ", {}, "Write the text of the template."),
        ("x" * 1025, {}, "Use at most 1024 characters (now 1025)."),
        ("Hola {{1}}, el {{3}}.", {"1": "first_name", "3": "org"}, "{{2}} is missing"),
        ("Hola {{2}}, ven.", {"2": "first_name"}, "{{1}} is missing"),
        ("Hola {{ 1 }}, ven.", {}, "double braces"),
        ("Hola {{first_name}}, ven.", {}, "double braces"),
        ("Hola {{0}}, ven.", {}, "double braces"),
        ("Hola {{1}, ven.", {}, "double braces"),
        ("Hola {first_name}, ven.", {}, "{first_name} do not work"),
        ("{{1}}, te esperamos.", {"1": "first_name"}, "very start or end"),
        ("Te esperamos, {{1}}", {"1": "first_name"}, "very start or end"),
        (
            " ".join(f"a {{{{{n}}}}}" for n in range(1, 12)) + " fin",
            {str(n): "org" for n in range(1, 12)},
            "at most 10 variables",
        ),
    ],
)
def test_bad_bodies(app, body, variables, message):
    errors = errors_of(values(body=body, variables=variables, buttons=[]))
    assert list(errors) == ["body"]
    assert any(message in m for m in errors["body"]), errors


@pytest.mark.parametrize(
    "variables, field",
    [
        ({"1": "first_name"}, "var_2"),  # {{2}} not mapped
        ({"1": "first_name", "2": ""}, "var_2"),
        ({"1": "first_name", "2": "nombre"}, "var_2"),  # not one of our placeholders
        ({"1": "First_Name", "2": "org"}, "var_1"),
    ],
)
def test_every_variable_is_mapped_to_a_placeholder(app, variables, field):
    errors = errors_of(values(body="Hola {{1}}, {{2}} te invita.", variables=variables))
    assert list(errors) == [field]
    n = field.removeprefix("var_")
    assert errors[field] == [f"Choose what fills {{{{{n}}}}}."]


@pytest.mark.parametrize("name", ["a", "taller_2026", "_x_", "9lives", "a" * 100])
def test_good_names(app, name):
    assert clean_template(values(name=name))["name"] == name


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Give the template a name."),
        ("Taller", "lowercase"),
        ("taller recordatorio", "lowercase"),
        ("taller-recordatorio", "lowercase"),
        ("invitación", "lowercase"),
        ("a" * 101, "at most 100"),
    ],
)
def test_bad_names(app, name, message):
    errors = errors_of(values(name=name))
    assert list(errors) == ["name"] and message in errors["name"][0]


def test_language_and_category_are_checked(app):
    errors = errors_of(values(language="fr", category="promo"))
    assert errors == {
        "language": ["Choose Spanish or English."],
        "category": ["Choose a category."],
    }


@pytest.mark.parametrize(
    "buttons, expected",
    [
        ([], []),
        (
            [{"title": "Nunca", "intent": "survey_answer", "value": "1"}],
            [("Nunca", "survey_answer", "1", "answer_1")],
        ),
        (
            [
                {"title": "Nunca", "intent": "survey_answer", "value": "1"},
                {"title": "A veces", "intent": "survey_answer", "value": "2"},
                {"title": "Más info", "intent": "none", "value": "ignored"},
            ],
            [
                ("Nunca", "survey_answer", "1", "answer_1"),
                ("A veces", "survey_answer", "2", "answer_2"),
                ("Más info", "none", "", "reply_3"),
            ],
        ),
        ([{"title": "x" * 20, "intent": "none", "value": ""}], [("x" * 20, "none", "", "reply_1")]),
        # an empty first row is skipped; positions stay those of the form
        (
            [{"title": "", "intent": "none"}, {"title": "Ok", "intent": "none"}],
            [("Ok", "none", "", "reply_2")],
        ),
    ],
)
def test_good_buttons(app, buttons, expected):
    cleaned = clean_template(values(buttons=buttons))["buttons"]
    assert [(b["title"], b["intent"], b["value"], b["id"]) for b in cleaned] == expected


@pytest.mark.parametrize(
    "buttons, field, message",
    [
        ([{"title": "", "intent": "rsvp_yes"}], "button_1_title", "Write the button's text."),
        ([{"title": "x" * 21, "intent": "none"}], "button_1_title", "at most 20"),
        ([{"title": "Hola {{1}}", "intent": "none"}], "button_1_title", "cannot have variables"),
        (
            [{"title": "Sí", "intent": "rsvp_yes"}, {"title": "sí", "intent": "none"}],
            "button_2_title",
            "different text",
        ),
        (
            [{"title": "Sí", "intent": "rsvp_yes"}, {"title": "Claro", "intent": "rsvp_yes"}],
            "button_2_intent",
            "cannot mean the same thing",
        ),
        (
            [
                {"title": "Uno", "intent": "survey_answer", "value": "1"},
                {"title": "Otro uno", "intent": "survey_answer", "value": "1"},
            ],
            "button_2_intent",
            "cannot mean the same thing",
        ),
        ([{"title": "Uno", "intent": "survey_answer", "value": ""}], "button_1_value", "value"),
        (
            [{"title": "Uno", "intent": "survey_answer", "value": "1 2"}],
            "button_1_value",
            "letters",
        ),
        ([{"title": "Uno", "intent": "maybe"}], "button_1_intent", "Choose what the button means."),
    ],
)
def test_bad_buttons(app, buttons, field, message):
    errors = errors_of(values(buttons=buttons))
    assert list(errors) == [field] and message in errors[field][0], errors


def test_at_most_three_buttons(app):
    buttons = [{"title": f"B{n}", "intent": "none"} for n in range(4)]
    assert errors_of(values(buttons=buttons)) == {None: ["Use at most 3 buttons."]}


def test_every_problem_is_reported_at_once_in_spanish(app):
    with force_locale("es"):
        errors = errors_of(
            {
                "name": "Mal Nombre",
                "language": "es",
                "category": "utility",
                "body": "Hola {{2}}",
                "variables": {},
                "buttons": [{"title": "", "intent": "rsvp_no"}],
            }
        )
    assert set(errors) == {"name", "body", "var_2", "button_1_title"}
    assert "minúsculas" in errors["name"][0]
    assert errors["button_1_title"] == ["Escribe el texto del botón."]


def test_helpers():
    assert variable_numbers("a {{2}} b {{1}} {{2}} {{x}}") == [1, 2]
    assert button_id("rsvp_no", "", 3) == "rsvp_no"
    assert button_id("survey_answer", "4", 1) == "answer_4"
    assert button_id("none", "", 2) == "reply_2"
    assert (
        fill("Hola {{1}}, {{2}} y {{3}}", {"1": "first_name", "2": "org"}, {"first_name": "Alex"})
        == "Hola Alex, {{2}} y {{3}}"
    )
