"""Every SMS of a survey as a young person gets it, per language, with its length, encoding
and segment count (app.outbox.encoding): the builder's preview page."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.outbox.encoding import SmsInfo, analyze
from app.outbox.text import opt_out_notice
from app.surveys import texts
from app.surveys.builder import LANGUAGES
from app.surveys.models import Survey


@dataclass(frozen=True)
class PreviewSms:
    label: object  # a lazy string: the page's language
    text: str
    info: SmsInfo
    # A question on its own (not the first message, not the thank-you): it should fit one
    # GSM-7 SMS.
    is_question: bool = False
    # The first message with the opt-out instruction, as a contact's first message from the
    # organization goes.
    first_info: SmsInfo | None = None
    notice: str = ""


def survey_preview(survey: Survey) -> dict[str, list[PreviewSms]]:
    """{language: the survey's SMS in order}: the first message (the introduction and the
    first question), each later question, each question's re-ask and reminder, then the
    thank-you."""
    questions = list(survey.questions)
    preview = {}
    for lang in LANGUAGES:
        messages = []
        if questions:
            first = texts.first_sms(survey, questions[0], lang)
            notice = opt_out_notice(lang)
            messages.append(
                PreviewSms(
                    label=_l("First message: the introduction and question 1"),
                    text=first,
                    info=analyze(first),
                    first_info=analyze(f"{first}\n{notice}"),
                    notice=notice,
                )
            )
        for question in questions:
            if question.position != questions[0].position:
                body = texts.question_sms(question, lang)
                messages.append(
                    PreviewSms(
                        label=_l("Question %(n)d", n=question.position),
                        text=body,
                        info=analyze(body),
                        is_question=True,
                    )
                )
            # What a young person may also get for this question: it should read well too.
            for label, body in (
                (
                    _l("Question %(n)d asked again (answer not understood)", n=question.position),
                    texts.reask_sms(question, lang),
                ),
                (
                    _l("Question %(n)d: the reminder (no answer yet)", n=question.position),
                    texts.reminder_sms(question, lang),
                ),
            ):
                messages.append(PreviewSms(label=label, text=body, info=analyze(body)))
        thanks = texts.thanks_sms(survey, lang)
        messages.append(
            PreviewSms(label=_l("Thank-you message"), text=thanks, info=analyze(thanks))
        )
        preview[lang] = messages
    return preview
