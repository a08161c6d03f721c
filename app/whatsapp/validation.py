"""The rules a WhatsApp template must meet before it is saved (WhatsApp's own, checked here
so that a coordinator learns at once instead of after a day of review).

* name: lowercase letters, digits and underscores (WhatsApp's rule), at most 100;
* body: at most 1,024 characters; variables written {{1}}, {{2}}… numbered from 1 without
  gaps, at most 10, never at the very start or end of the text (WhatsApp rejects those);
  our own single-brace placeholders ({first_name}) do not work there;
* every variable mapped to one of our placeholders (app.outbox.placeholders);
* up to 3 quick-reply buttons, titles of at most 20 characters, distinct, each mapped to an
  intent: an RSVP yes or no (once each), a survey answer value, or nothing.

`clean_template` returns the cleaned values or raises `InvalidFields` with every message on
its form field.
"""

import re

from flask_babel import lazy_gettext as _l

from app.errors import InvalidFields
from app.outbox.keywords import RSVP_NO, RSVP_YES
from app.outbox.placeholders import PLACEHOLDERS, used_placeholders
from app.whatsapp.models import CATEGORIES, LANGUAGES

NAME_MAX = 100
BODY_MAX = 1024
VARIABLES_MAX = 10
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
ANSWER_VALUE_MAX = 10
SURVEY_ANSWER, NO_INTENT = "survey_answer", "none"
INTENTS = (NO_INTENT, RSVP_YES, RSVP_NO, SURVEY_ANSWER)

_NAME = re.compile(r"[a-z0-9_]+")
_VARIABLE = re.compile(r"\{\{([1-9][0-9]*)\}\}")
_DOUBLE_BRACES = re.compile(r"\{\{|\}\}")
_ANSWER_VALUE = re.compile(r"[0-9A-Za-z]+")


def variable_numbers(body: str) -> list[int]:
    """The variable numbers used in `body`, once each, in increasing order."""
    return sorted({int(n) for n in _VARIABLE.findall(body or "")})


def button_id(intent: str, value: str, position: int) -> str:
    """What WhatsApp sends back when the button is tapped (the inbound side maps it)."""
    if intent in (RSVP_YES, RSVP_NO):
        return intent
    if intent == SURVEY_ANSWER:
        return f"answer_{value}"
    return f"reply_{position}"


def fill(body: str, variables: dict, values: dict) -> str:
    """`body` with each {{n}} replaced by the value of its placeholder (left as written
    when unmapped or without a value)."""

    def substitute(match: re.Match) -> str:
        value = values.get(variables.get(match.group(1)) or "")
        return str(value) if value not in (None, "") else match.group(0)

    return _VARIABLE.sub(substitute, body or "")


def _add(errors: dict, field: str, message) -> None:
    errors.setdefault(field, []).append(message)


def _clean_name(raw, errors: dict) -> str:
    name = (raw or "").strip()
    if not name:
        _add(errors, "name", _l("Give the template a name."))
    elif len(name) > NAME_MAX:
        _add(errors, "name", _l("Use at most %(max)d characters.", max=NAME_MAX))
    elif not _NAME.fullmatch(name):
        _add(
            errors,
            "name",
            _l(
                "Use only lowercase letters without accents, digits and underscores, "
                "for example taller_recordatorio."
            ),
        )
    return name


def _clean_body(raw, errors: dict) -> tuple[str, list[int]]:
    body = (raw or "").strip().replace("\r\n", "\n")
    if not body:
        _add(errors, "body", _l("Write the text of the template."))
        return body, []
    if len(body) > BODY_MAX:
        _add(
            errors,
            "body",
            _l("Use at most %(max)s characters (now %(n)s).", max=BODY_MAX, n=len(body)),
        )
    stray = _DOUBLE_BRACES.findall(_VARIABLE.sub("", body))
    if stray:
        _add(
            errors,
            "body",
            _l("Write each variable as a number between double braces: {{1}}, {{2}}…"),
        )
    if used_placeholders(_VARIABLE.sub("", body)):
        _add(
            errors,
            "body",
            _l(
                "Placeholders such as {first_name} do not work in WhatsApp templates: write "
                "{{1}} instead and choose below what fills it."
            ),
        )
    numbers = variable_numbers(body)
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        missing = next(n for n in range(1, numbers[-1] + 1) if n not in numbers)
        _add(
            errors,
            "body",
            _l(
                "Number the variables 1, 2, 3… without gaps: {{%(n)s}} is missing.",
                n=missing,
            ),
        )
    elif len(numbers) > VARIABLES_MAX:
        _add(errors, "body", _l("Use at most %(max)d variables.", max=VARIABLES_MAX))
    if numbers and (_VARIABLE.match(body) or re.search(r"\{\{[1-9][0-9]*\}\}$", body)):
        _add(
            errors,
            "body",
            _l(
                "WhatsApp does not accept a variable at the very start or end of the text. "
                "Add some words before or after it."
            ),
        )
    return body, numbers


def _clean_variables(raw: dict, numbers: list[int], errors: dict) -> dict[str, str]:
    variables = {}
    for n in numbers[:VARIABLES_MAX]:
        placeholder = (raw or {}).get(str(n)) or ""
        if placeholder not in PLACEHOLDERS:
            _add(errors, f"var_{n}", _l("Choose what fills {{%(n)s}}.", n=n))
        else:
            variables[str(n)] = placeholder
    return variables


def _title_error(title: str, seen: set[str]):
    if not title:
        return _l("Write the button's text.")
    if len(title) > BUTTON_TITLE_MAX:
        return _l("Use at most %(max)d characters.", max=BUTTON_TITLE_MAX)
    if "{" in title or "}" in title:
        return _l("A button's text cannot have variables.")
    if title.casefold() in seen:
        return _l("Each button needs a different text.")
    return None


def _value_error(value: str):
    if not value:
        return _l("Write the answer value, for example 1.")
    if len(value) > ANSWER_VALUE_MAX or not _ANSWER_VALUE.fullmatch(value):
        return _l("Use at most %(max)d letters or digits, for example 1.", max=ANSWER_VALUE_MAX)
    return None


def _clean_buttons(raw: list, errors: dict) -> list[dict]:
    buttons: list[dict] = []
    titles: set[str] = set()
    ids: set[str] = set()
    for position, row in enumerate(raw or [], start=1):
        title = (row.get("title") or "").strip()
        intent = row.get("intent") or NO_INTENT
        value = (row.get("value") or "").strip() if intent == SURVEY_ANSWER else ""
        field = f"button_{position}"
        if not title and intent == NO_INTENT:
            continue  # an empty row
        if position > BUTTONS_MAX:
            _add(errors, None, _l("Use at most %(max)d buttons.", max=BUTTONS_MAX))
            break
        problem = _title_error(title, titles)
        if problem is not None:
            _add(errors, f"{field}_title", problem)
        titles.add(title.casefold())
        if intent not in INTENTS:
            _add(errors, f"{field}_intent", _l("Choose what the button means."))
            continue
        problem = _value_error(value) if intent == SURVEY_ANSWER else None
        if problem is not None:
            _add(errors, f"{field}_value", problem)
            continue
        identifier = button_id(intent, value, position)
        if identifier in ids:
            _add(errors, f"{field}_intent", _l("Two buttons cannot mean the same thing."))
        ids.add(identifier)
        buttons.append({"title": title, "intent": intent, "value": value, "id": identifier})
    return buttons


def clean_template(values: dict) -> dict:
    """Checked and cleaned template values, or `InvalidFields` (nothing is saved then).

    `values`: name, language, category, body, variables ({"1": "first_name"}), buttons
    ([{"title", "intent", "value"}], empty rows ignored).
    """
    errors: dict[str | None, list] = {}
    name = _clean_name(values.get("name"), errors)
    language = values.get("language")
    if language not in LANGUAGES:
        _add(errors, "language", _l("Choose Spanish or English."))
    category = values.get("category")
    if category not in CATEGORIES:
        _add(errors, "category", _l("Choose a category."))
    body, numbers = _clean_body(values.get("body"), errors)
    variables = _clean_variables(values.get("variables") or {}, numbers, errors)
    buttons = _clean_buttons(values.get("buttons") or [], errors)
    if errors:
        raise InvalidFields(errors)
    return {
        "name": name,
        "language": language,
        "category": category,
        "body": body,
        "variables": variables,
        "buttons": buttons,
    }
