"""How tracked links take part in the layers below (connected when the app is built): the
outbox's text finalizer (short links at send time, the message editors' checks and
preview) and a contact's erasure."""

from app.contacts.signals import contacts_erased
from app.links import finalize, services, text
from app.outbox.finalizers import TextFinalizer, register_text_finalizer


@contacts_erased.connect
def _forget_links(_sender, *, contact_ids, now):
    services.forget_contacts(list(contact_ids))


register_text_finalizer(
    TextFinalizer(
        "links",
        finalize=finalize.finalize,
        problem=text.text_problem,
        as_sent=text.as_sent,
        notes=text.notes,
        preview_data=text.preview_data,
    )
)
