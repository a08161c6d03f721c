"""Issue 14: every fixed SMS text stays GSM-7 in both languages (one UCS-2 character makes a
160-character SMS cost three), unless the allow-list below says why it cannot, and the HELP
reply's sentences are separated.

The SMS templates are found by globbing templates/outreach/sms, so a new template is checked
as soon as it exists; each is rendered with GSM-7 placeholder values (dates, names and
venues are data, not fixed text) in every variant its context can select.
"""

import re
from pathlib import Path

import pytest

from app.outbox.encoding import analyze
from app.outbox.placeholders import fallback_values
from app.outbox.text import opt_out_notice, sms_text

SMS_DIR = Path(__file__).resolve().parents[2] / "templates" / "outreach" / "sms"
TEMPLATES = sorted(p.stem for p in SMS_DIR.glob("*.txt"))
LANGUAGES = ("es", "en")

# GSM-7 stand-ins for the data a template receives (a template may ignore some).
DATA = dict(
    org="Jovenes Unidos",
    program="Decide por ti",
    title="Decide por ti",
    date="viernes, 4 de diciembre",
    time="17:00",
    venue="Casa de la Cultura",
    code="4821",
    position=2,
    choices="4821 Decide por ti (vie 4 dic); 1234 Tu voz (lun 7 dic)",
    contact_line="664 555 0100",
    cap_messages=3,
    cap_days=7,
    minutes=20,
    case=12,
    name="Centro Juvenil Otay",
    phone="664 555 0199",
    address="Calle 5 de Mayo 100",
    hours="Lunes a viernes 9 a 17",
)
# The variants a template's own context switches between.
VARIANTS = {
    "help": [
        {"country": "MX"},
        {"country": "US"},
        {"country": "MX", "contact_line": None},
        {"country": "US", "contact_line": None},
        {"country": "MX", "cap_days": 30},
        {"country": "US", "cap_days": 30},
    ],
    "workshop_choose": [{"yes": True}, {"yes": False}],
}

# (template, language) -> why no good GSM-7 wording exists. Keep the reasons true.
UCS2_ALLOWED = {
    ("help", "es"): (
        "Mexico: the helpline's proper name is 'Línea de la Vida'. A cap counted over other "
        "than 7 days needs 'cada N días' and Spanish has no accent-free word for days (a "
        "weekly cap says 'por semana', so the US reply is GSM-7, see below)."
    ),
    ("help", "en"): "Mexico: the helpline's proper name is 'Línea de la Vida'.",
    ("crisis_reply", "es"): "The helpline's proper name is 'Línea de la Vida'.",
    ("crisis_reply", "en"): "The helpline's proper name is 'Línea de la Vida'.",
}


def _variants(template: str):
    for variant in VARIANTS.get(template, [{}]):
        yield {**DATA, **variant}


def _render_all(template: str, language: str) -> list[str]:
    return [sms_text(template, language, **context) for context in _variants(template)]


def test_every_template_is_checked():
    assert len(TEMPLATES) >= 19 and {"help", "opt_out_notice", "rsvp_line"} <= set(TEMPLATES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_fixed_sms_texts_are_gsm7(app, template, language):
    ucs2 = {}
    for text in _render_all(template, language):
        info = analyze(text)
        if not info.is_gsm:
            ucs2[text] = info.non_gsm_chars
    if (template, language) in UCS2_ALLOWED:
        return
    assert not ucs2, f"{template} ({language}) is UCS-2 because of {ucs2}; reword it"


@pytest.mark.parametrize("language", LANGUAGES)
def test_fixed_strings_added_by_code_are_gsm7(app, language):
    texts = [opt_out_notice(language), *fallback_values(language).values()]
    assert all(analyze(t).is_gsm for t in texts), [t for t in texts if not analyze(t).is_gsm]


def test_allow_list_has_no_stale_entries(app):
    for template, language in UCS2_ALLOWED:
        assert template in TEMPLATES
        assert any(not analyze(t).is_gsm for t in _render_all(template, language)), (
            f"{template} ({language}) is GSM-7 now: drop it from UCS2_ALLOWED"
        )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_sentences_are_separated(app, template, language):
    """No sentence runs into the next ("Contacto: 664 555 0100.Hasta ...")."""
    for text in _render_all(template, language):
        assert not re.search(r"[.!?:;,][^\W\d_]", text), text


def test_spanish_opt_out_line_is_gsm7_and_keeps_a_first_message_in_one_sms(app):
    notice = opt_out_notice("es")
    assert notice == "Responde BAJA para dejar de recibir mensajes."
    assert opt_out_notice("en") == "Reply STOP to opt out."
    body = "Hola Ana, el sábado hay taller en la Casa de la Cultura".replace("á", "a")
    body = (body + " " + "x" * 160)[: 160 - 1 - len(notice)]  # the longest body still fitting
    first = f"{body}\n{notice}"
    info = analyze(first)
    assert (info.encoding, info.characters, info.segments) == ("GSM-7", 160, 1)
    old = analyze(f"{body}\nResponde BAJA para no recibir más mensajes.")
    assert (old.encoding, old.segments) == ("UCS-2", 3)


@pytest.mark.parametrize(
    "language, expected",
    [
        (
            "es",
            "Decide por ti de Jovenes Unidos. Contacto: 664 555 0100. Hasta 3 mensajes por "
            "semana. Pueden aplicar cargos por mensajes y datos. Responde BAJA para dejar de "
            "recibir mensajes. Línea de la Vida 800 911 2000 (gratuita, 24 h).",
        ),
        (
            "en",
            "Decide por ti by Jovenes Unidos. Contact: 664 555 0100. Up to 3 msgs a week. "
            "Msg & data rates may apply. Reply STOP to opt out. Línea de la Vida 800 911 2000 "
            "(free, 24 h).",
        ),
    ],
)
def test_help_reply_has_a_space_after_the_contact_line(app, language, expected):
    assert sms_text("help", language, **{**DATA, "country": "MX"}) == expected


@pytest.mark.parametrize(
    "language, start",
    [
        ("es", "Decide por ti de Jovenes Unidos. Hasta 3"),
        ("en", "Decide por ti by Jovenes Unidos. Up to 3"),
    ],
)
def test_help_reply_without_a_contact_line(app, language, start):
    text = sms_text("help", language, **{**DATA, "country": "US", "contact_line": None})
    assert text.startswith(start)
    assert "988." in text


def test_help_reply_in_spanish_to_a_us_number_is_gsm7(app):
    text = sms_text("help", "es", **{**DATA, "country": "US"})
    assert text == (
        "Decide por ti de Jovenes Unidos. Contacto: 664 555 0100. Hasta 3 mensajes por semana. "
        "Pueden aplicar cargos por mensajes y datos. Responde BAJA para dejar de recibir "
        "mensajes. Ayuda de SAMHSA: 1-800-662-4357 (gratis, 24/7). En crisis, llama o manda "
        "un mensaje al 988."
    )
    assert (analyze(text).encoding, analyze(text).segments) == ("GSM-7", 2)


@pytest.mark.parametrize(
    "language, line",
    [("es", "Hasta 3 mensajes cada 30 días."), ("en", "Up to 3 msgs every 30 days.")],
)
def test_help_reply_with_another_cap_period(app, language, line):
    assert line in sms_text("help", language, **{**DATA, "country": "US", "cap_days": 30})
