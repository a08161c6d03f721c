"""How surveys take part in what the layers below do (imported by the composition root):

- inbound: a message a contact sends while a survey question waits is its answer
  (app.outbox.inbound's interceptors; keywords, crisis messages and coded RSVPs come first);
  a crisis message is never an answer (conversations handles it);
- an opt-out stops the contact's survey and cancels its pending questions;
- an erasure blanks the text of the contact's answers and ends its survey.
"""

from sqlalchemy import update

from app.contacts.signals import contact_opted_out, contacts_erased
from app.conversations.classifier import classify
from app.extensions import db
from app.outbox.inbound import register_interceptor, register_not_an_answer
from app.surveys import flow
from app.surveys.models import SurveyAnswer

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
