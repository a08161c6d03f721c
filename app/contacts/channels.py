"""Which channel reaches a contact: one rule, in Python and in SQL (issue 19).

Eligibility itself (consent, guardian consent, opt-out of every channel, erasure) is
app.contacts.eligibility's. On top of it, WhatsApp is used only when the contact prefers it,
opted in to WhatsApp specifically (WhatsApp's policy), has not opted out of WhatsApp alone,
and Twilio has not told us the number is not on WhatsApp. Otherwise the contact gets SMS.
"""

from datetime import datetime, timedelta

from sqlalchemy import and_, case

from app.contacts.models import Contact

# WhatsApp's customer-service window: after a contact's last WhatsApp message, free-form
# text may go for this long; outside it a business-initiated message needs a template.
WHATSAPP_WINDOW = timedelta(hours=24)


def whatsapp_usable(contact: Contact) -> bool:
    return (
        contact.preferred_channel == "whatsapp"
        and contact.whatsapp_opt_in_at is not None
        and contact.whatsapp_opted_out_at is None
        and contact.whatsapp_unreachable_at is None
    )


def channel_for(contact: Contact) -> str:
    """ "whatsapp" or "sms": where this contact's next message goes."""
    return "whatsapp" if whatsapp_usable(contact) else "sms"


def whatsapp_usable_clause():
    return and_(
        Contact.preferred_channel == "whatsapp",
        Contact.whatsapp_opt_in_at.is_not(None),
        Contact.whatsapp_opted_out_at.is_(None),
        Contact.whatsapp_unreachable_at.is_(None),
    )


def channel_clause():
    """SQL twin of `channel_for`."""
    return case((whatsapp_usable_clause(), "whatsapp"), else_="sms")


def window_open(contact: Contact, *, now: datetime) -> bool:
    """Inside WhatsApp's 24-hour window: free-form text may go."""
    last = contact.last_whatsapp_in_at
    return last is not None and now - last < WHATSAPP_WINDOW
