"""A survey's SMS, in the recipient's language: each question with how to answer it, the
first message (the introduction and question 1), the re-ask, the reminder and the thank-you.

The question's own words are the survey's (data); what surrounds them is fixed text in
templates/surveys/sms/*.txt, rendered with the outbox's SMS helper in the recipient's locale.
Fixed Spanish stays GSM-7 (one SMS holds 160 characters, not 70): "Responde SI o NO".

How each type is asked:
- choice: the text, then the numbered options "1) Nada 2) Poco 3) Algo 4) Mucho";
- scale: numbered like a choice when every point has a label (from `scale_min`), else its
  labeled ends "1 = Nada seguro, 5 = Muy seguro", else "Responde del 1 al 5.";
- yes/no: the text, then "Responde SI o NO.";
- number, text: the text alone (a re-ask of a number says the range).
"""

from app.outbox.encoding import analyze
from app.outbox.text import sms_text
from app.surveys.answers import Parsed, parse_answer

FOLDER = "surveys/sms"


def _lang(language: str) -> str:
    return "en" if str(language or "").lower()[:2] == "en" else "es"


def _render(template: str, language: str, **context) -> str:
    return sms_text(template, _lang(language), folder=FOLDER, **context)


def _in(row, name: str, language: str, *, fallback: bool = True) -> str:
    """A bilingual column (`text_es`/`text_en`...) in `language`; the other language's if
    empty and `fallback`."""
    lang = _lang(language)
    other = "en" if lang == "es" else "es"
    text = getattr(row, f"{name}_{lang}") or (getattr(row, f"{name}_{other}") if fallback else "")
    return (text or "").strip()


def option_labels(question, language: str) -> list[str]:
    """A choice's options (or a fully labeled scale's points) in `language`."""
    lang = _lang(language)
    return [str(option.get(lang) or option.get("es") or "") for option in question.options or []]


def _numbered(labels: list[str], first: int = 1) -> str:
    return " ".join(f"{number}) {label}" for number, label in enumerate(labels, start=first))


def _scale_labels_every_point(question) -> bool:
    points = (question.scale_max or 0) - (question.scale_min or 0) + 1
    return bool(question.options) and len(question.options) == points


def _hint(question, language: str) -> str:
    options = ""
    if question.qtype == "choice":
        options = _numbered(option_labels(question, language))
    elif question.qtype == "scale" and _scale_labels_every_point(question):
        options = _numbered(option_labels(question, language), question.scale_min)
    return _render(
        "hint",
        language,
        qtype=question.qtype,
        options=options,
        low=question.scale_min,
        high=question.scale_max,
        low_label=_in(question, "low", language) if question.qtype == "scale" else "",
        high_label=_in(question, "high", language) if question.qtype == "scale" else "",
    )


def question_sms(question, language: str) -> str:
    """One question as its SMS: the text, then how to answer it."""
    hint = _hint(question, language)
    text = _in(question, "text", language)
    return f"{text} {hint}" if hint else text


def first_sms(survey, question, language: str) -> str:
    """The first message of a run: the survey's introduction and its first question."""
    return _render(
        "first",
        language,
        intro=_in(survey, "intro", language, fallback=False),
        question=question_sms(question, language),
    )


def reask_sms(question, language: str) -> str:
    """The question once more after an answer we could not understand, with what we accept
    and how to skip it."""
    accepted = _render(
        "accepted",
        language,
        qtype=question.qtype,
        low=question.number_min,
        high=question.number_max,
    )
    return _render("reask", language, question=question_sms(question, language), accepted=accepted)


def reminder_sms(question, language: str) -> str:
    """The one reminder: a short line, then the question waiting for an answer."""
    return _render("reminder", language, question=question_sms(question, language))


def thanks_sms(survey, language: str) -> str:
    """The survey's thank-you (a fixed one when the survey has none)."""
    return _render("thanks", language, thanks=_in(survey, "thanks", language, fallback=False))


def segments(body: str) -> int:
    """How many SMS `body` costs (GSM-7 or UCS-2, concatenated): the builder's counter."""
    return analyze(body).segments


def _number_range(question) -> tuple[int, int] | None:
    low, high = question.number_min, question.number_max
    if low is None and high is None:
        return None
    return (low if low is not None else -(10**9), high if high is not None else 10**9)


def parse(question, text: str, language: str) -> Parsed:
    """Parse a reply to `question`, understanding its option labels in `language`."""
    options = None
    if question.qtype == "choice":
        options = option_labels(question, language)
    elif question.qtype == "scale":
        if _scale_labels_every_point(question):
            options = option_labels(question, language)
        else:
            ends = [_in(question, "low", language), _in(question, "high", language)]
            options = ends if all(ends) else None
    scale = (question.scale_min, question.scale_max) if question.qtype == "scale" else None
    return parse_answer(
        text,
        question.qtype,
        options=options,
        scale=scale,
        number_range=_number_range(question) if question.qtype == "number" else None,
        language=_lang(language),
    )
