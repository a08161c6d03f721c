"""Numbers, dates and lists read as in Mexico (issue 14): the Spanish UI formats with es_MX
(4,500 and 1.5, not 4.500 or 4500), the English UI with en_US, while the texts still come
from translations/es and translations/en. And translated template text never carries a raw
"<" or "&": Jinja's newstyle gettext marks the translation itself safe HTML."""

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_babel import (
    force_locale,
    format_date,
    format_decimal,
    format_number,
    get_locale,
    gettext,
)

from app.extensions import db
from app.i18n import current_language, html_lang, regional_locale
from app.jobs.services import enqueue
from tests.factories import make_org, make_user
from tests.support import NOW

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("header", "locale", "language", "tag"),
    [("es-MX,es;q=0.9", "es_MX", "es", "es-MX"), ("en-US,en;q=0.9", "en_US", "en", "en-US")],
)
def test_the_ui_locale_is_regional_and_translations_per_language(
    app, header, locale, language, tag
):
    with app.test_request_context("/", headers={"Accept-Language": header}):
        assert str(get_locale()) == locale
        assert current_language() == language and html_lang() == tag
        # Catalogs fall back from es_MX to translations/es (and en_US to en).
        assert gettext("Sign in") == {"es": "Iniciar sesión", "en": "Sign in"}[language]
        assert format_number(4500) == "4,500"
        assert format_decimal(1234.5) == "1,234.5"


def test_spanish_dates_are_mexican(app):
    with app.test_request_context("/", headers={"Accept-Language": "es"}):
        assert format_date(NOW.date(), "long") == "27 de noviembre de 2026"
        assert render_template_string("{{ 4500|numberformat }}") == "4,500"


def test_regional_locale_of_a_language():
    assert regional_locale("es") == "es_MX"
    assert regional_locale("en") == "en_US"
    assert regional_locale("en-GB") == "en_US"
    assert regional_locale(None) == "es_MX"
    assert regional_locale("fr") == "es_MX"


def test_force_locale_with_the_regional_locale_formats_for_mexico(app):
    with app.app_context(), force_locale(regional_locale("es")):
        assert format_number(45000) == "45,000"
        assert gettext("Sign in") == "Iniciar sesión"


@pytest.mark.parametrize(("lang", "label"), [("es", "Concluida"), ("en", "Finished")])
def test_job_page_counts_and_state(client, login, lang, label):
    user = make_user(language=lang)
    login(user)
    job = enqueue(
        "contact_import", organization_id=user.organization_id, payload={}, now=NOW, total=4500
    )
    job.status, job.done = "running", 1200
    db.session.commit()
    text = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "1,200" in text and "4,500" in text
    assert "4.500" not in text and "4500 " not in text
    job.status = "succeeded"
    db.session.commit()
    assert label in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_user_states_and_roles_agree_in_spanish(client, login):
    admin = make_user(make_org(), role="admin", language="es")
    login(admin)
    text = client.get("/users").get_data(as_text=True)
    assert "Cuenta activa" in text and "Administrador(a)" in text


# --- Translated template text is HTML: no raw "<" or "&" in it ---------------------------


def _template_msgids() -> set[str]:
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    html_only = [(pattern, method) for pattern, method in method_map if pattern.endswith(".html")]
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    ids = set()
    for _file, _line, message, _c, _ctx in extract_from_dir(
        str(ROOT / "templates"),
        [(p.removeprefix("templates/"), m) for p, m in html_only],
        {k.removeprefix("templates/"): v for k, v in options_map.items()},
        keywords=keywords,
    ):
        ids.update(m for m in (message if isinstance(message, tuple) else (message,)) if m)
    return ids


def test_no_translated_template_text_holds_a_raw_angle_bracket_or_ampersand():
    """`{{ _("…") }}` renders the translation as trusted HTML (Jinja's newstyle gettext wraps
    the msgstr in Markup and escapes only the %(…)s values), so a "<" in a msgid or msgstr
    starts a tag: "Quienes evalúan ven «<N…" lost the rest of its sentence. Put such
    characters in a placeholder value, or reword."""
    ids = _template_msgids()
    assert len(ids) > 100  # the extraction found the templates
    problems = []
    for lang in ("es", "en"):
        with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
            catalog = read_po(f)
        for message in catalog:
            forms = message.id if isinstance(message.id, tuple) else (message.id,)
            if not message.id or not set(forms) & ids:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for text in (*forms, *strings):
                if any(ch in (text or "") for ch in "<>&"):
                    problems.append(f"{lang}: {text!r}")
    assert not problems, "\n".join(problems)
