"""Placeholders in campaign messages: `{first_name}`, `{campaign}`, `{org}` and workshop fields.

A placeholder is a name between braces. The supported names are `PLACEHOLDERS`; the
workshop ones are reserved for the workshops feature and render their fallback until it
fills them. Anything else between braces (`{nombre}`, `{First_Name}`, `{ first_name }`) is
an unknown placeholder: `unknown_placeholders` lists them so the editor can reject typos
before a single SMS goes out with braces in it.

Missing values. A value that is missing, None or blank is replaced by its fallback, in
the message's language (msgids below, evaluated under `force_locale(language)`):

- `{first_name}` is DROPPED, with the space before it and a comma that would be left
  dangling: "Hola {first_name}, ¿sabías…" → "Hola, ¿sabías…"; "¡Hola, {first_name}!" →
  "¡Hola!"; "{first_name}, te invitamos…" → "Te invitamos…" (the line's first letter is
  capitalised). We deliberately use no stand-in word: "amigo/amiga" assumes a gender,
  "amig@/amigx" is unreadable aloud (screen readers) and "amigue" is contested, while a
  greeting without a name reads naturally in both languages and never looks like a broken
  mail merge.
- `{workshop_code}` is dropped the same way (a code cannot be guessed).
- `{campaign}` → "our campaign", `{org}` → "our team", `{workshop_title}` → "our workshop",
  `{workshop_date}`/`{workshop_time}`/`{workshop_venue}` → "(to be confirmed)". The campaign
  and organization names always exist at send time; these only protect against blanks.

`render` is pure string work (plus one catalog lookup per call), so fan-out can call it
once per language and substitute per-recipient values in SQL (see outreach/fanout.py).
"""

import re
from collections.abc import Callable
from datetime import date, time, timedelta

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.outbox.text import sms_date, sms_time

WORKSHOP_FIELDS = (
    "workshop_title",
    "workshop_date",
    "workshop_time",
    "workshop_venue",
    "workshop_code",
)
PLACEHOLDERS = ("first_name", "campaign", "org", *WORKSHOP_FIELDS)

# TRANSLATORS: SMS text standing in for a missing workshop date, time or venue.
_TBC = _l("(to be confirmed)")
FALLBACKS = {
    "first_name": None,  # dropped cleanly (see the module docstring)
    # TRANSLATORS: SMS text standing in for a missing campaign name ("Gracias por ser parte de …").
    "campaign": _l("our campaign"),
    # TRANSLATORS: SMS text standing in for a missing organization name ("Te saluda …").
    "org": _l("our team"),
    # TRANSLATORS: SMS text standing in for a missing workshop title.
    "workshop_title": _l("our workshop"),
    "workshop_date": _TBC,
    "workshop_time": _TBC,
    "workshop_venue": _TBC,
    "workshop_code": None,
}
assert set(FALLBACKS) == set(PLACEHOLDERS)

# (organization id, workshop id, language, recipient's country) -> the workshop's placeholder
# values ({"workshop_title": ..., "workshop_date": ...}), or None when the organization has
# no such workshop.
# Registered by the workshops feature when the app is built (app/workshops/invitations.py),
# so a sender that only has an outbox row (a WhatsApp template's variables) can fill them.
WorkshopValues = Callable[[int, int, str, str | None], dict | None]
_WORKSHOP_SOURCES: list[WorkshopValues] = []


def register_workshop_values(source: WorkshopValues) -> None:
    if source not in _WORKSHOP_SOURCES:
        _WORKSHOP_SOURCES.append(source)


def workshop_values_of(
    organization_id: int, workshop_id: int, language: str, country: str | None = None
) -> dict:
    """The workshop's placeholder values in `language` and `country`'s formats; {} when no
    source knows the organization's workshop (its fields then take their fallback)."""
    for source in _WORKSHOP_SOURCES:
        values = source(organization_id, workshop_id, language, country)
        if values:
            return values
    return {}


# Any brace group on one line; whether its content is a supported name is decided later.
_TOKEN = re.compile(r"([ \t]*)\{([^{}\n]*)\}")
# Marks where a dropped placeholder was; a private-use character never typed in an SMS.
# (Fan-out passes "\x00first_name\x00" as a value, so NUL must pass through untouched.)
_GAP = "\ue000"
# "¡Hola,<gap>!" / "Hola,<gap>, ..." / "Hola,<gap>" at a line end: the comma goes too.
_DANGLING_COMMA = re.compile(r",(" + _GAP + r"+)(?=[,.;:!?]|[ \t]*(?:\n|$))")
# "<gap>, te invitamos" at the start of a line: drop the separator, capitalise what follows.
_LINE_START = re.compile(r"(^|\n)" + _GAP + r"+[ \t]*[,;:]?[ \t]*(\W*?)(\w)")


def unknown_placeholders(template: str) -> list[str]:
    """Brace groups that are not supported placeholders, as written, once each, in order."""
    found: list[str] = []
    for match in _TOKEN.finditer(template or ""):
        token = "{" + match.group(2) + "}"
        if match.group(2) not in PLACEHOLDERS and token not in found:
            found.append(token)
    return found


def used_placeholders(template: str) -> list[str]:
    """Supported placeholder names used in `template`, once each, in order."""
    names: list[str] = []
    for match in _TOKEN.finditer(template or ""):
        if match.group(2) in PLACEHOLDERS and match.group(2) not in names:
            names.append(match.group(2))
    return names


def fallback_values(language: str) -> dict[str, str]:
    """The fallback text of every placeholder in `language` ("" = dropped cleanly)."""
    with force_locale(language):
        return {name: ("" if text is None else str(text)) for name, text in FALLBACKS.items()}


def render(template: str, values: dict, *, language: str, fallbacks: dict | None = None) -> str:
    """`template` with its placeholders filled from `values`, in `language`.

    Missing or blank values take the language's fallback (see the module docstring).
    Unknown placeholders are left as written (the editor refuses them). Pass `fallbacks`
    (from `fallback_values`) to skip the catalog lookup when rendering in a loop.
    """
    fallbacks = fallback_values(language) if fallbacks is None else fallbacks
    dropped = False

    def substitute(match: re.Match) -> str:
        nonlocal dropped
        space, name = match.group(1), match.group(2)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = values.get(name)
        value = "" if value is None else str(value).strip()
        if not value:
            value = fallbacks.get(name, "")
        if not value:
            dropped = True
            return _GAP  # the space before goes with it
        return space + value

    text = _TOKEN.sub(substitute, template or "")
    if dropped:
        text = _DANGLING_COMMA.sub(r"\1", text)
        text = _LINE_START.sub(lambda m: m.group(1) + m.group(2) + m.group(3).upper(), text)
        text = text.replace(_GAP, "")
    return text


def sample_values(language: str, *, campaign: str, org: str, today: date) -> dict[str, str]:
    """Values for the editor's preview: a neutral first name, the real campaign and
    organization names, and a plausible workshop a week from `today`."""
    when = today + timedelta(days=7)
    with force_locale(language):
        return {
            "first_name": "Alex",  # common in Mexico and the US, for any gender
            "campaign": campaign,
            "org": org,
            # TRANSLATORS: sample workshop title shown in the message editor's preview.
            "workshop_title": str(_l("Decide for yourself")),
            # The same formats as a real workshop's SMS (app/workshops/texts.py).
            "workshop_date": sms_date(when, language),
            "workshop_time": sms_time(time(17, 0), language),
            # TRANSLATORS: sample workshop venue shown in the message editor's preview.
            "workshop_venue": str(_l("Community center")),
            "workshop_code": "4821",
        }
