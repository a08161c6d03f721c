"""How surveys take part in what the layers below do (imported by the composition root):

- inbound: a message a contact sends while a survey question waits is its answer
  (app.outbox.inbound's interceptors; keywords, crisis messages and coded RSVPs come first);
  a crisis message is never an answer (conversations handles it);
- an opt-out stops the contact's survey and cancels its pending questions;
- an erasure blanks the text of the contact's answers and ends its survey;
- experiments may pre-register an answer to a bank or survey question as an outcome.
"""

from flask_babel import gettext as _
from sqlalchemy import select, update

from app.contacts.signals import contact_opted_out, contacts_erased
from app.conversations.classifier import classify
from app.experiments.outcomes import SurveyItem, register_survey_items
from app.extensions import db
from app.i18n import current_language
from app.outbox.inbound import register_interceptor, register_not_an_answer
from app.surveys import bank, flow
from app.surveys.models import Survey, SurveyAnswer, SurveyQuestion

INTERCEPTOR_PRIORITY = 50


def _is_crisis(ctx) -> bool:
    return classify(ctx.inbound.body or "", ctx.contact.language).intent == "crisis"


register_not_an_answer(_is_crisis)
register_interceptor(flow.take_answer, intent=flow.OUTCOME, priority=INTERCEPTOR_PRIORITY)


@contact_opted_out.connect
def _stop_survey(_sender, *, contact, now):
    flow.stop_contact(contact.id, now=now)


@contacts_erased.connect
def _erase_answers(_sender, *, contact_ids, now):
    for contact_id in contact_ids:
        flow.stop_contact(contact_id, now=now)
    db.session.execute(
        update(SurveyAnswer)
        .where(SurveyAnswer.contact_id.in_(contact_ids))
        .values(raw_text=None, value_text=None)
        .execution_options(synchronize_session=False)
    )


# --- experiment outcomes ----------------------------------------------------------------------

OUTCOME_QTYPES = ("scale", "yesno", "choice")


def _values(qtype, options, low, high) -> tuple:
    """(value_num, label) of every answer; the default "top box" is the first of them."""
    if qtype == "yesno":
        return ((1.0, _("Yes")), (0.0, _("No")))
    if qtype == "choice":
        return tuple((float(n), str(label)) for n, label in enumerate(options, start=1))
    labels = [str(label) for label in options] if len(options) == high - low + 1 else []
    points = range(high, low - 1, -1)  # the top of the scale first
    return tuple((float(p), labels[p - low] if labels else str(p)) for p in points)


def _item(value: str, label: str, qtype: str, options, low=0, high=0) -> SurveyItem:
    values = _values(qtype, list(options or ()), low or 0, high or 0)
    return SurveyItem(value=value, label=label, top_box=(values[0][0],), values=values)


def _experiment_items(org_id: int) -> list[SurveyItem]:
    """Bank questions (comparable across surveys), then the organization's own questions."""
    items = [
        _item(f"bank:{q.code}", str(q.text), q.qtype, q.options, *(q.scale or (0, 0)))
        for q in bank.BANK
        if q.qtype in OUTCOME_QTYPES
    ]
    english = current_language() == "en"
    own = db.session.execute(
        select(SurveyQuestion, Survey.title_es, Survey.title_en)
        .join(Survey, Survey.id == SurveyQuestion.survey_id)
        .where(
            SurveyQuestion.organization_id == org_id,
            SurveyQuestion.bank_code.is_(None),
            SurveyQuestion.qtype.in_(OUTCOME_QTYPES),
            Survey.archived_at.is_(None),
        )
        .order_by(Survey.id, SurveyQuestion.position)
    )
    for question, title_es, title_en in own:
        text = question.text_en if english else question.text_es
        options = [o.get("en" if english else "es", "") for o in question.options or ()]
        label = f"{title_en if english else title_es}: {text}"
        items.append(
            _item(
                f"question:{question.id}",
                label,
                question.qtype,
                options,
                question.scale_min,
                question.scale_max,
            )
        )
    return items


register_survey_items(_experiment_items)
