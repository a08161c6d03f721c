"""The question bank: bilingual survey questions for young people aged 12 to 29 in Mexico and
the US, each marked with the construct it measures, so results compare across surveys.

The forms follow the Monitoring the Future survey where one exists (perceived risk of harm on
four points, disapproval, intention in the next 12 months). Spanish texts are Mexican Spanish
with "tú" and, rendered with their options, fit one SMS: GSM-7 (160 characters) where good
Spanish allows, otherwise UCS-2 (70). Only á, í, ó and ú force UCS-2 (é, ñ, ¿ and ¡ are GSM-7),
so option labels such as "Linea de la Vida" and "Creo que si" leave their accent out, as young
people write them in SMS.
"""

from dataclasses import dataclass

from flask_babel import force_locale, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.surveys.answers import Parsed, parse_answer

CONSTRUCT_LABELS = {
    "perceived_risk": _l("Perceived risk"),
    "knowledge": _l("Knowledge"),
    "disapproval": _l("Disapproval"),
    "intention": _l("Intention to use"),
    "refusal_self_efficacy": _l("Confidence to say no"),
    "help_seeking": _l("Knowing where to get help"),
    "communication": _l("Talking about it"),
}
CONSTRUCTS = tuple(CONSTRUCT_LABELS)


@dataclass(frozen=True)
class Condition:
    """Ask a question only when the question `code` was answered `value`."""

    code: str
    value: bool | int


@dataclass(frozen=True)
class Question:
    code: str
    construct: str
    qtype: str  # see app.surveys.answers.QTYPES
    text: object  # a lazy string
    # A choice's options, or a label for every point of a scale (numbered "1) … 2) …").
    options: tuple = ()
    scale: tuple[int, int] | None = None
    # The labels of a scale's two ends ("1 = nada capaz, 5 = muy capaz").
    ends: tuple | None = None
    number_range: tuple[int, int] | None = None
    only_if: Condition | None = None


# TRANSLATORS: the four points of the "perceived risk of harm" scale (Monitoring the Future).
# Keep each label short: the question and its four labels fit one SMS.
RISK_LABELS = (
    _l("No risk"),
    _l("Slight risk"),
    _l("Moderate risk"),
    _l("Great risk"),
)
# TRANSLATORS: intention to use in the next 12 months. Spanish: no accent on "si", so the SMS
# stays GSM-7 (one SMS instead of three).
INTENTION_LABELS = (
    _l("Definitely not"),
    _l("Probably not"),
    _l("Probably yes"),
    _l("Definitely yes"),
)
DISAPPROVAL_LABELS = (
    lazy_pgettext("disapproval", "OK with it"),
    lazy_pgettext("disapproval", "Don't care"),
    lazy_pgettext("disapproval", "Disapprove"),
    lazy_pgettext("disapproval", "Strongly disapprove"),
)

BANK = (
    Question(
        code="risk_fentanyl_once",
        construct="perceived_risk",
        qtype="scale",
        text=_l("How much do people risk harming themselves if they try fentanyl once?"),
        options=RISK_LABELS,
        scale=(1, 4),
    ),
    Question(
        code="risk_street_pills",
        construct="perceived_risk",
        qtype="scale",
        text=_l(
            "How much do people risk harming themselves if they take pills that were not "
            "bought at a pharmacy?"
        ),
        options=RISK_LABELS,
        scale=(1, 4),
    ),
    Question(
        code="risk_meth_once",
        construct="perceived_risk",
        qtype="scale",
        text=_l("How much do people risk harming themselves if they try meth (crystal) once?"),
        options=RISK_LABELS,
        scale=(1, 4),
    ),
    Question(
        code="knows_fake_pills_fentanyl",
        construct="knowledge",
        qtype="yesno",
        # TRANSLATORS: M30s, "blues": counterfeit oxycodone pills (Spanish: "azulitas").
        text=_l("Can a fake pill, like M30s or blues, contain fentanyl?"),
    ),
    Question(
        code="disapprove_fentanyl",
        construct="disapproval",
        qtype="scale",
        text=_l("How would you feel about someone your age trying fentanyl?"),
        options=DISAPPROVAL_LABELS,
        scale=(1, 4),
    ),
    Question(
        code="intention_12_months",
        construct="intention",
        qtype="scale",
        text=_l("Do you think you will try a drug, like fentanyl or meth, in the next 12 months?"),
        options=INTENTION_LABELS,
        scale=(1, 4),
    ),
    Question(
        code="refusal_confidence",
        construct="refusal_self_efficacy",
        qtype="scale",
        text=_l("If someone offers you drugs, how sure are you that you can say no?"),
        scale=(1, 5),
        # TRANSLATORS: the ends of a 1-5 scale, lower case: "1 = not at all sure, 5 = very sure".
        ends=(_l("not at all sure"), _l("very sure")),
    ),
    Question(
        code="knows_where_help",
        construct="help_seeking",
        qtype="yesno",
        text=_l("Do you know who to go to or what number to call if you need help with drugs?"),
    ),
    Question(
        code="knows_helpline",
        construct="help_seeking",
        qtype="choice",
        text=_l("If you need help with drugs, what free number can you call?"),
        options=(
            # TRANSLATORS: 988 (US) and Línea de la Vida (Mexico, 800 911 2000) are the right
            # answer. Spanish: "Linea" without its accent keeps the SMS in GSM-7.
            _l("988 or Línea de la Vida"),
            lazy_pgettext("phone number", "Other"),
            _l("I don't know"),
        ),
    ),
    Question(
        code="talked_last_month",
        construct="communication",
        qtype="yesno",
        text=_l("In the last month, did you talk with anyone about drugs?"),
    ),
    Question(
        code="talked_with_whom",
        construct="communication",
        qtype="choice",
        text=_l("Who did you talk with?"),
        options=(
            _l("My family"),
            _l("A friend"),
            _l("Someone at school"),
            lazy_pgettext("person", "Other"),
        ),
        only_if=Condition("talked_last_month", True),
    ),
)
BY_CODE = {question.code: question for question in BANK}


def _numbered(labels) -> str:
    return " ".join(f"{number}) {label}" for number, label in enumerate(labels, start=1))


def _answer_help(question: Question) -> str | None:
    if question.options:
        return _numbered(question.options)
    if question.ends:
        low, high = question.scale
        return _(
            "%(low)d = %(low_label)s, %(high)d = %(high_label)s",
            low=low,
            low_label=question.ends[0],
            high=high,
            high_label=question.ends[1],
        )
    if question.qtype == "yesno":
        return _("Reply YES or NO.")
    return None


def render_question(question: Question, language: str) -> str:
    """The SMS text of a question in `language`: the question, then how to answer it."""
    with force_locale(language):
        parts = [str(question.text), _answer_help(question)]
        return " ".join(part for part in parts if part)


def parse_reply(question: Question, text: str, language: str) -> Parsed:
    """Parse a reply to a bank question, understanding its labels in `language`."""
    with force_locale(language):
        labels = [str(label) for label in question.options or question.ends or ()]
    return parse_answer(
        text,
        question.qtype,
        options=labels or None,
        scale=question.scale,
        number_range=question.number_range,
        language=language,
    )
