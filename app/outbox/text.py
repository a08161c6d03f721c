"""Fixed SMS texts (templates/outreach/sms/*.txt, or a feature's own folder) in the
recipient's language, and the dates and times they carry, in the recipient's language and
country.

Dates and times come from Babel (CLDR) for the locale built from the recipient's language
and country (`sms_locale`: es + MX -> es_MX, es + US -> es_US, en + US -> en_US; a pair
CLDR does not know, such as en + MX, falls back to the language alone). The date is CLDR's
"weekday, day and month" format (skeleton MMMMEEEEd): "sábado 5 de diciembre" (es_MX;
without CLDR's comma after the weekday, which Spanish orthography leaves out in running text
such as "el sábado 5 de diciembre a las 17:00"), "Saturday, December 5" (en_US). The time
is CLDR's 24-hour pattern in Spanish, "17:00" (see TIME_SKELETONS), and the locale's short
time otherwise, "5:00 PM" (en_US). The narrow no-break space CLDR puts before AM/PM is not
GSM-7 and becomes a plain space.

"sábado" carries an "á", which is not GSM-7: a text giving a Saturday date is sent as UCS-2
(70 characters per SMS instead of 160). It is the recipient's language, so it is kept.
"""

import re
from datetime import date, datetime, time

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, match_skeleton
from flask import g, has_request_context, render_template
from flask_babel import force_locale

# The country a language's recipients are assumed to be in when we do not know theirs.
DEFAULT_COUNTRY = {"es": "MX", "en": "US"}
DATE_SKELETON = "MMMMEEEEd"  # weekday and month spelled out, day number, no year
# Spanish: the 24-hour clock (CLDR skeleton Hm, allowed in Mexico and the US), as the
# product writes times; CLDR's preferred es_MX/es_US "5:00 p.m." would also end a sentence
# in "p.m.." ("... a las {workshop_time}."). Other languages: the locale's short time.
TIME_SKELETONS = {"es": "Hm"}
# CLDR non-GSM spaces (narrow no-break space before "PM", no-break space) -> plain space.
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


def sms_text(template: str, language: str, *, folder: str = "outreach/sms", **context) -> str:
    """A system SMS (templates/<folder>/<template>.txt, by default outreach/sms) in
    `language`, on one line."""
    with force_locale(language):
        return " ".join(render_template(f"{folder}/{template}.txt", **context).split())


def opt_out_notice(language: str) -> str:
    """The opt-out instruction added to a contact's first message (and always, if the
    organization chooses): the exact line the worker appends. Rendered once per request
    and language (a campaign page summarizes every message in both languages)."""
    if not has_request_context():
        return sms_text("opt_out_notice", language)
    notices = g.setdefault("_opt_out_notices", {})
    if language not in notices:
        notices[language] = sms_text("opt_out_notice", language)
    return notices[language]


def sms_locale(language: str, country: str | None = None) -> Locale:
    """The Babel locale of a recipient: language + country (es_MX, es_US, en_US, ...)."""
    language = (language or "es").lower()
    country = (country or DEFAULT_COUNTRY.get(language, "")).upper()
    try:
        return Locale.parse(f"{language}_{country}") if country else Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(language)


def _widen(pattern: str) -> str:
    """ICU's field-width adjustment for a skeleton match: the matched CLDR pattern may
    abbreviate ("E, MMM d"); the skeleton asks for the full weekday and month names."""
    parts = re.split(r"('(?:[^']|'')*')", pattern)  # keep quoted literals ('de') untouched
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"(?<![EMLc])[Ec]{1,3}(?![Ec])", "EEEE", parts[i])
        parts[i] = re.sub(r"(?<![ML])([ML])\1\1(?![ML])", r"\1\1\1\1", parts[i])
    return "".join(parts)


def sms_date(day: date, language: str, country: str | None = None) -> str:
    """A date as an SMS says it: "sábado, 5 de diciembre" / "Saturday, December 5"."""
    locale = sms_locale(language, country)
    skeleton = match_skeleton(DATE_SKELETON, locale.datetime_skeletons.keys())
    pattern = _widen(locale.datetime_skeletons[skeleton].pattern if skeleton else "EEEE d MMMM")
    if locale.language == "es":  # RAE: no comma after the weekday in running text
        pattern = re.sub(r"(EEEE),\s*", r"\1 ", pattern)
    return format_date(day, pattern, locale=locale).translate(_SPACES)


def sms_time(moment: time | datetime, language: str, country: str | None = None) -> str:
    """A wall time as an SMS says it: "17:00" (es_MX) / "5:00 PM" (en_US)."""
    locale = sms_locale(language, country)
    skeleton = TIME_SKELETONS.get(locale.language)
    if skeleton is None:
        return format_time(moment, "short", locale=locale).translate(_SPACES)
    pattern = locale.datetime_skeletons[skeleton].pattern
    return format_time(moment, pattern, locale=locale).translate(_SPACES)
