import pytest
from flask_babel import force_locale

from app.outbox.encoding import GSM_SINGLE, UCS2_SINGLE, analyze
from app.surveys.answers import QTYPES, SCALES
from app.surveys.bank import BANK, BY_CODE, CONSTRUCTS, parse_reply, render_question

CODES = [question.code for question in BANK]


def _fits_one_sms(text):
    info = analyze(text)
    return info.segments == 1 and info.units <= (GSM_SINGLE if info.is_gsm else UCS2_SINGLE)


def test_codes_are_unique_and_every_construct_is_covered():
    assert len(set(CODES)) == len(CODES)
    assert {question.construct for question in BANK} == set(CONSTRUCTS)


def test_questions_are_well_formed():
    for question in BANK:
        assert question.qtype in QTYPES, question.code
        if question.qtype == "choice":
            assert 2 <= len(question.options) <= 9, question.code
        if question.qtype == "scale":
            assert question.scale in SCALES, question.code
            points = question.scale[1] - question.scale[0] + 1
            assert len(question.options) == points or len(question.ends) == 2, question.code
        if question.only_if is not None:
            condition = BY_CODE[question.only_if.code]
            assert CODES.index(condition.code) < CODES.index(question.code)


@pytest.mark.parametrize("code", CODES)
def test_every_question_renders_in_both_languages_and_fits_one_sms(app, code):
    question = BY_CODE[code]
    spanish, english = render_question(question, "es"), render_question(question, "en")
    with force_locale("en"):
        english_text = str(question.text)
    with force_locale("es"):
        spanish_text = str(question.text)
    assert english.startswith(english_text)
    assert spanish.startswith(spanish_text)
    assert spanish_text != english_text  # translated
    assert _fits_one_sms(spanish_text), (spanish_text, analyze(spanish_text))
    # Rendered with its options, the whole question still fits one SMS in Spanish.
    assert _fits_one_sms(spanish), (spanish, analyze(spanish))


def test_rendering_numbers_the_options_and_labels_the_ends(app):
    risk = render_question(BY_CODE["risk_fentanyl_once"], "es")
    assert risk.endswith("1) Sin riesgo 2) Poco riesgo 3) Riesgo moderado 4) Mucho riesgo")
    assert render_question(BY_CODE["risk_fentanyl_once"], "en").endswith(
        "1) No risk 2) Slight risk 3) Moderate risk 4) Great risk"
    )
    assert render_question(BY_CODE["refusal_confidence"], "es").endswith(
        "1 = nada capaz, 5 = muy capaz"
    )
    assert render_question(BY_CODE["knows_where_help"], "es").endswith("Responde SI o NO.")
    assert render_question(BY_CODE["talked_with_whom"], "en") == (
        "Who did you talk with? 1) My family 2) A friend 3) Someone at school 4) Other"
    )


def test_talking_about_it_branches_to_with_whom():
    follow_up = BY_CODE["talked_with_whom"]
    assert follow_up.only_if.code == "talked_last_month"
    assert follow_up.only_if.value is True
    assert BY_CODE["talked_last_month"].qtype == "yesno"


@pytest.mark.parametrize(
    ("code", "language", "reply", "value"),
    [
        ("risk_fentanyl_once", "es", "mucho riesgo", 4),
        ("risk_fentanyl_once", "en", "slight", 2),
        ("disapprove_fentanyl", "es", "muy mal", 4),
        ("disapprove_fentanyl", "es", "mal", 3),
        ("intention_12_months", "es", "seguro que no", 1),
        ("intention_12_months", "en", "probably not", 2),
        ("refusal_confidence", "es", "muy capaz", 5),
        ("refusal_confidence", "es", "4", 4),
        ("knows_helpline", "es", "la linea de la vida", 1),
        ("knows_helpline", "en", "988", 1),
        ("knows_helpline", "es", "no sé", 3),
        ("talked_with_whom", "es", "con una amiga", 2),
        ("knows_fake_pills_fentanyl", "es", "Sí!!", True),
    ],
)
def test_replies_in_the_question_language_use_its_labels(app, code, language, reply, value):
    parsed = parse_reply(BY_CODE[code], reply, language)
    assert parsed.valid, parsed
    assert parsed.value == value
