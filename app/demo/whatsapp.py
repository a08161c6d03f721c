"""WhatsApp in the demo (issue 19): some contacts on WhatsApp with opt-in, a bilingual
template with quick-reply buttons approved through the (fake) templates gateway and a
rejected one, the campaign's first message sent to them as the template, part of those
messages read, and a button tapped: so the reports show read rates and reach by channel,
and the phone simulator a WhatsApp chat. Everything goes through the real services (the
template service and gateway, the worker's send path, the status callbacks, the inbound
path), never written into the tables directly."""

from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.contacts.audiences import audience_contacts_query
from app.contacts.models import Contact
from app.extensions import db
from app.messaging.factory import get_template_gateway
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage
from app.outbox.status import apply_status_callback
from app.whatsapp.models import WhatsAppTemplate
from app.whatsapp.services import create_template, refresh_status, submit_template

TEMPLATE = "dato_clave"  # the campaign's first message on WhatsApp outside the window
REJECTED = "promo_feria"
WHATSAPP_CONTACTS = 24  # of the border audience's Spanish speakers, in id order
SKIP = 12
READ_EVERY = 3  # two of every three WhatsApp deliveries are read
BODIES = {
    "es": "Hola {{1}}, una pastilla falsa puede tener fentanilo. Una sola dosis puede matar.",
    "en": "Hi {{1}}, a fake pill can contain fentanyl. One dose can kill.",
}
BUTTONS = {
    "es": [{"title": "Quiero saber más"}, {"title": "Gracias"}],
    "en": [{"title": "Tell me more"}, {"title": "Thanks"}],
}


def _gateway():
    """The fake templates gateway (the demo never talks to Twilio); None otherwise."""
    gateway = get_template_gateway()
    return gateway if hasattr(gateway, "approve") and hasattr(gateway, "reject") else None


def seed_whatsapp_setup(org, audience, *, today: date, now: datetime) -> bool:
    """Templates (approved and rejected) and the WhatsApp contacts, before the campaign's
    sends. False (nothing done) without the fake templates gateway."""
    gateway = _gateway()
    if gateway is None:
        return False
    created = now - timedelta(days=20)
    for language, body in BODIES.items():
        template = create_template(
            organization_id=org.id,
            user_id=None,
            values={
                "name": TEMPLATE,
                "language": language,
                "category": "utility",
                "body": body,
                "variables": {"1": "first_name"},
                "buttons": [dict(b, intent="none") for b in BUTTONS[language]],
            },
            now=created,
        )
        template = submit_template(template.id, organization_id=org.id, now=created)
        gateway.approve(template.content_sid)
        refresh_status(template, now=created + timedelta(hours=2))
    rejected = create_template(
        organization_id=org.id,
        user_id=None,
        values={
            "name": REJECTED,
            "language": "es",
            "category": "marketing",
            "body": "¡{{1}}, ven a la feria de salud este sábado! Habrá música y regalos.",
            "variables": {"1": "first_name"},
            "buttons": [],
        },
        now=created,
    )
    rejected = submit_template(rejected.id, organization_id=org.id, now=created)
    gateway.reject(rejected.content_sid, "Promotional content in a template submitted as utility.")
    refresh_status(rejected, now=created + timedelta(hours=3))
    # Young people of the border audience (the campaign's first message goes to them).
    border = audience_contacts_query(org.id, audience.filters, today=today)
    contacts = db.session.scalars(
        border.where(Contact.language == "es")
        .order_by(Contact.id)
        .offset(SKIP)  # the first ones answer the campaign by SMS (outreach._demo_replies)
        .limit(WHATSAPP_CONTACTS)
    ).all()
    for n, contact in enumerate(contacts):
        contact.preferred_channel = "whatsapp"
        contact.whatsapp_opt_in_at = created + timedelta(minutes=n)
        contact.whatsapp_opt_in_source = "form" if n % 2 else "walk_in"
    db.session.commit()
    return True


def template_name(org) -> str | None:
    """The approved template for the campaign's first message, if the setup ran."""
    found = db.session.scalar(
        select(WhatsAppTemplate.id).where(
            WhatsAppTemplate.organization_id == org.id,
            WhatsAppTemplate.name == TEMPLATE,
            WhatsAppTemplate.status == "approved",
        )
    )
    return TEMPLATE if found else None


def seed_whatsapp_history(org, campaign, *, now: datetime) -> None:
    """After the campaign's first send: read receipts for two of every three WhatsApp
    deliveries (Twilio's "read" status callback) and a quick-reply button tapped."""
    rows = db.session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.organization_id == org.id,
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.channel == "whatsapp",
            OutboxMessage.status == "delivered",
        )
        .order_by(OutboxMessage.contact_id, OutboxMessage.id)  # not fan-out's row order
    ).all()
    targets = [(row.twilio_sid, row.sent_at, row.contact_id) for row in rows]
    for n, (sid, sent_at, _contact_id) in enumerate(targets):
        if sid and n % READ_EVERY:
            apply_status_callback(sid, "read", None, now=sent_at + timedelta(minutes=7 + n))
    if targets:
        sid, sent_at, contact_id = targets[-1]
        contact = db.session.get(Contact, contact_id)
        receive_sms(
            sid=f"SMdemowa{contact_id:024d}",
            from_number=f"whatsapp:{contact.phone}",
            to_number=f"whatsapp:{org.whatsapp_sender}" if org.whatsapp_sender else None,
            body=BUTTONS["es"][0]["title"],
            button_payload="reply_1",
            now=sent_at + timedelta(minutes=20),
        )
