"""Locale and time zone selection, and the language switch.

Order: explicit switch (``?lang=``, kept in the session and saved for a signed-in user)
→ the user's saved preference → the browser's Accept-Language → Spanish.

The session, the user and the contacts store a language ("es", "en"); Flask-Babel gets the
regional locale of that language (es_MX, en_US), so numbers, dates and lists read as in
Mexico (4,500 and 1.5, not 4.500 or 4500). Catalogs are per language: gettext looks for
translations/es_MX first, then falls back to translations/es.
"""

import os

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

from app.extensions import db

# The regional formats of each UI language (numbers, dates, lists).
REGIONAL_LOCALES = {"es": "es_MX", "en": "en_US"}


def _languages() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


def regional_locale(language: str | None) -> str:
    """The locale that formats for `language` ("es" → "es_MX"); pass it to force_locale()
    and to Babel's format_* functions instead of the bare language."""
    language = (language or "es").replace("-", "_").split("_", 1)[0].lower()
    return REGIONAL_LOCALES.get(language, REGIONAL_LOCALES["es"])


def current_language() -> str:
    """The UI language ("es" or "en") of the current request or force_locale() block."""
    locale = get_locale()
    return locale.language if locale is not None else "es"


def html_lang() -> str:
    """The BCP 47 tag of the current locale for ``<html lang>`` ("es-MX", "en-US")."""
    return regional_locale(current_language()).replace("_", "-")


def _select_language() -> str:
    explicit = session.get("lang")
    if explicit in _languages():
        return explicit
    if (
        current_user
        and current_user.is_authenticated
        and current_user.preferred_language in _languages()
    ):
        return current_user.preferred_language
    best = request.accept_languages.best_match(_languages())
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_locale() -> str:
    if not has_request_context():  # CLI and workers: force_locale() decides, else Spanish
        return regional_locale(cli_locale())
    return regional_locale(_select_language())


def select_timezone() -> str:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.organization.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def apply_language_switch() -> None:
    """before_request hook: honour a validated ``?lang=`` switch."""
    lang = request.args.get("lang")
    if lang not in _languages():
        return
    session["lang"] = lang
    if current_user.is_authenticated and current_user.preferred_language != lang:
        current_user.preferred_language = lang
        db.session.commit()


def cli_locale() -> str:
    """Locale for CLI output: ALCANCE_LANG, else LANG (en_US.UTF-8 → en), else Spanish."""
    for var in ("ALCANCE_LANG", "LANG"):
        value = (os.environ.get(var) or "")[:2].lower()
        if value in ("es", "en"):
            return value
    return "es"
