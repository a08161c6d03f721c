"""How the outbox takes part in what the kernel does (connected when the app is built):
an erasure blanks the text of the contact's messages and cancels what is pending, and
retention counts recent or pending messages and replies as activity."""

from sqlalchemy import exists, or_

from app.contacts.models import Contact
from app.contacts.retention import register_activity
from app.contacts.signals import contacts_erased
from app.outbox import api
from app.outbox.models import InboundMessage, OutboxMessage


@contacts_erased.connect
def _erase_texts(_sender, *, contact_ids, now):
    api.erase_texts(contact_ids, now=now)


def _active_since(cutoff):
    return or_(
        exists().where(
            OutboxMessage.contact_id == Contact.id,
            or_(
                OutboxMessage.sent_at >= cutoff,
                OutboxMessage.status.in_(("scheduled", "held", "claimed", "unknown")),
            ),
        ),
        exists().where(
            InboundMessage.contact_id == Contact.id, InboundMessage.received_at >= cutoff
        ),
    )


register_activity(_active_since)
