"""The phone simulator's WhatsApp view (issue 19): the conversation as a WhatsApp chat,
with read ticks and the quick-reply buttons of the templates that went to the contact.

A tapped button enters through the same inbound path as a typed reply
(`outbox.inbound.receive_sms`), with the fields Twilio posts for a button: From
"whatsapp:+52…", Body the button's text and ButtonPayload its id."""

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.extensions import db
from app.forms import BaseForm
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage, OutboxMessage
from app.whatsapp.models import WhatsAppTemplate


@dataclass
class ChatItem:
    moment: datetime
    direction: str  # "out": our message; "in": the young person's
    text: str
    state: str  # outbox status, or the reply's intent
    channel: str
    read: bool = False
    buttons: list = field(default_factory=list)  # (payload, title) of quick replies


def _templates_by_content(org_id: int, content_sids: set) -> dict:
    """{content SID: the organization's template with it} (one SID per language version)."""
    if not content_sids:
        return {}
    rows = db.session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.organization_id == org_id,
            WhatsAppTemplate.content_sid.in_(sorted(content_sids)),
        )
    )
    return {t.content_sid: t for t in rows}


def _buttons(template) -> list:
    if template is None:
        return []
    return [(b.get("id"), b.get("title")) for b in template.buttons or [] if b.get("id")]


_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def _shown_text(m: OutboxMessage, template) -> str:
    """What the phone shows: a template's own text (in the row's language, its SID's) with
    {{n}} replaced by the values that went; otherwise the text that went (m.body)."""
    if m.whatsapp_form != "template" or template is None:
        return m.body
    try:
        values = json.loads(m.content_variables or "{}")
    except ValueError:
        values = {}
    return _VARIABLE.sub(lambda v: str(values.get(v.group(1), v.group(0))), template.body)


def chat(contact) -> list[ChatItem]:
    """The contact's messages on both channels, oldest first, with WhatsApp's extras."""
    out = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.contact_id == contact.id, OutboxMessage.sent_at.is_not(None)
        )
    ).all()
    inbound = db.session.scalars(
        select(InboundMessage).where(InboundMessage.contact_id == contact.id)
    ).all()
    templates = _templates_by_content(
        contact.organization_id,
        {m.content_sid for m in out if m.channel == "whatsapp" and m.content_sid},
    )
    items = []
    for m in out:
        template = templates.get(m.content_sid) if m.channel == "whatsapp" else None
        items.append(
            ChatItem(
                m.sent_at,
                "out",
                _shown_text(m, template),
                m.status,
                m.channel,
                read=m.read_at is not None,
                buttons=_buttons(template),
            )
        )
    items += [ChatItem(m.received_at, "in", m.body, m.intent, m.channel) for m in inbound]
    return sorted(items, key=lambda item: item.moment)


def button_title(contact, payload: str) -> str | None:
    """The title of a quick-reply button (by its payload) of a template that went to this
    contact; None when no such button reached them."""
    for item in chat(contact):
        for button_payload, title in item.buttons:
            if button_payload == payload:
                return title
    return None


class ButtonTapForm(BaseForm):
    """A tapped quick-reply button: its payload (id); the title is looked up."""

    payload = HiddenField(validators=[DataRequired(), Length(max=64)])


class WhatsAppReplyForm(BaseForm):
    body = TextAreaField(
        _l("Reply as this young person"), validators=[DataRequired(), Length(max=1600)]
    )
    submit = SubmitField(_l("Send reply"))


def receive_whatsapp(contact, organization, *, body: str, payload: str | None, now) -> str:
    """A simulated WhatsApp message from the contact, as Twilio posts it: From
    "whatsapp:+52…", To our WhatsApp sender, Body the text, ButtonPayload a button's id."""
    sender = organization.whatsapp_sender or organization.sms_sender
    return receive_sms(
        sid="SIM" + secrets.token_hex(16),
        from_number=f"whatsapp:{contact.phone}",
        to_number=f"whatsapp:{sender}" if sender and sender.startswith("+") else None,
        body=body,
        button_payload=payload,
        now=now,
    )
