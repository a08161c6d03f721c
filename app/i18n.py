"""Locale and time zone selection, and the language switch.

Order: explicit switch (``?lang=``, kept in the session and saved for a signed-in user)
→ the user's saved preference → the browser's Accept-Language → Spanish.
"""

import os

from flask import current_app, has_request_context, request, session
from flask_login import current_user

from app.extensions import db


def _languages() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


def select_locale() -> str:
    if not has_request_context():  # CLI and workers: force_locale() decides, else Spanish
        return cli_locale()
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
