"""How conversations take part in what the layers below do (imported by the composition
root): every stored inbound message is filed in its thread; an erasure blanks what
coordinators wrote about the contact."""

from sqlalchemy import select, update

from app.contacts.signals import contacts_erased
from app.conversations.models import Case, CaseEvent
from app.conversations.services import file_inbound
from app.extensions import db
from app.outbox.inbound import on_received

on_received(file_inbound)


@contacts_erased.connect
def _erase_case_texts(_sender, *, contact_ids, now):
    cases = select(Case.id).where(Case.contact_id.in_(contact_ids))
    db.session.execute(
        update(CaseEvent)
        .where(CaseEvent.case_id.in_(cases), CaseEvent.note.is_not(None))
        .values(note="")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Case)
        .where(Case.contact_id.in_(contact_ids))
        .values(matched=None)
        .execution_options(synchronize_session=False)
    )
