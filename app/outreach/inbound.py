"""Inbound SMS: one code path for Twilio's webhook and the in-app phone simulator.

Keywords act within the same request (opt-out is immediate). Confirmations and help
replies are queued in the outbox as system messages, so the worker sends each exactly once.
When the provider itself answers its standard English keywords (Twilio's STOP/START
handling), we do not send a second confirmation.
"""
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..contacts.models import Contact
from ..contacts.phones import InvalidPhone, normalize_phone
from ..extensions import db
from ..organizations.models import Organization
from ..participation.services import record_event
from . import keywords
from .models import InboundMessage, OutboxMessage
from .preparing import sms_text
from .status import cancel_pending_for_contact

logger = logging.getLogger("alcance.inbound")
TWILIO_STANDARD_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                            "OPTOUT", "START", "UNSTOP", "YES"}
HANDLERS = {}  # intent kind -> handler(ctx) -> outcome string; features add their own


@dataclass
class InboundContext:
    contact: Contact
    organization: Organization
    inbound: InboundMessage
    intent: keywords.Intent
    now: datetime
    provider_answers_keywords: bool


def handler(kind: str):
    def register(function):
        HANDLERS[kind] = function
        return function
    return register


def queue_reply(contact: Contact, template: str, *, now: datetime, campaign_id=None, **context):
    """Queue a system SMS (confirmation, help) to go out at once, in the contact's language."""
    body = sms_text(template, contact.language, **context)
    db.session.add(OutboxMessage(
        organization_id=contact.organization_id, contact_id=contact.id, campaign_id=campaign_id,
        purpose="system", language=contact.language, body=body, due_at=now, status="scheduled",
        created_at=now,
    ))


def _find_contact(phone: str) -> Contact | None:
    """The contact who last got a message from us at this number, else the only one with it."""
    latest = db.session.scalar(
        select(Contact).join(OutboxMessage, OutboxMessage.contact_id == Contact.id)
        .where(Contact.phone == phone, OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at.desc()).limit(1))
    if latest is not None:
        return latest
    matches = db.session.scalars(select(Contact).where(Contact.phone == phone).limit(2)).all()
    return matches[0] if len(matches) == 1 else None


def _latest_campaign_id(contact_id: int) -> int | None:
    return db.session.scalar(
        select(OutboxMessage.campaign_id)
        .where(OutboxMessage.contact_id == contact_id, OutboxMessage.purpose != "system",
               OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at.desc()).limit(1))


def receive_sms(*, sid: str, from_number: str, body: str, now: datetime,
                provider_answers_keywords: bool = False) -> str:
    """Handle one inbound SMS. Idempotent per provider SID. Returns an outcome code."""
    try:
        phone = normalize_phone(from_number or "", default_region="MX")
    except InvalidPhone:
        return "unknown_sender"
    contact = _find_contact(phone)
    if contact is None or contact.erased_at is not None:
        logger.info("inbound from unknown sender ignored")
        return "unknown_sender"
    if db.session.scalar(select(InboundMessage.id).where(InboundMessage.twilio_sid == sid)):
        return "duplicate"
    intent = keywords.classify(body or "")
    inbound = InboundMessage(
        organization_id=contact.organization_id, twilio_sid=sid, contact_id=contact.id,
        campaign_id=_latest_campaign_id(contact.id), body=(body or "")[:1600],
        intent=intent.kind, needs_review=intent.kind == keywords.STOP_REQUEST, received_at=now)
    db.session.add(inbound)
    ctx = InboundContext(contact, db.session.get(Organization, contact.organization_id), inbound,
                         intent, now, provider_answers_keywords)
    outcome = HANDLERS.get(intent.kind, _other)(ctx)
    try:
        db.session.commit()
    except IntegrityError:  # the same SID arrived twice at once: the first one won
        db.session.rollback()
        return "duplicate"
    return outcome


def _provider_already_answered(ctx: InboundContext) -> bool:
    return ctx.provider_answers_keywords and keywords.normalize(ctx.inbound.body) in (
        TWILIO_STANDARD_KEYWORDS)


@handler(keywords.OPT_OUT)
def _opt_out(ctx: InboundContext) -> str:
    contact = ctx.contact
    if contact.opted_out_at is None:
        contact.opted_out_at, contact.opt_out_channel = ctx.now, "sms"
        cancel_pending_for_contact(contact.id, reason="opted_out", now=ctx.now)
        record_event(organization_id=contact.organization_id, contact_id=contact.id,
                     kind="opt_out", channel="sms", occurred_at=ctx.now,
                     campaign_id=ctx.inbound.campaign_id)
        if not _provider_already_answered(ctx):
            queue_reply(contact, "opt_out_confirmation", now=ctx.now,
                        campaign_id=ctx.inbound.campaign_id, org=ctx.organization.name)
    return "opted_out"


@handler(keywords.OPT_IN)
def _opt_in(ctx: InboundContext) -> str:
    contact = ctx.contact
    if contact.opted_out_at is None:
        return "already_subscribed"
    opted_out_at = contact.opted_out_at
    contact.opted_out_at, contact.opt_out_channel = None, None
    # Back exactly where it was: messages canceled by the opt-out and still ahead return.
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.contact_id == contact.id, OutboxMessage.status == "canceled",
               OutboxMessage.skip_reason == "opted_out", OutboxMessage.due_at > ctx.now,
               OutboxMessage.final_at >= opted_out_at)
        .values(status="scheduled", skip_reason=None, final_at=None)
        .execution_options(synchronize_session=False))
    record_event(organization_id=contact.organization_id, contact_id=contact.id, kind="opt_in",
                 channel="sms", occurred_at=ctx.now, campaign_id=ctx.inbound.campaign_id)
    if not _provider_already_answered(ctx):
        queue_reply(contact, "opt_in_confirmation", now=ctx.now,
                    campaign_id=ctx.inbound.campaign_id, org=ctx.organization.name)
    return "opted_in"


@handler(keywords.HELP)
def _help(ctx: InboundContext) -> str:
    from ..campaigns.models import Campaign

    campaign = db.session.get(Campaign, ctx.inbound.campaign_id) if ctx.inbound.campaign_id else None
    org = ctx.organization
    queue_reply(ctx.contact, "help", now=ctx.now, campaign_id=ctx.inbound.campaign_id,
                program=campaign.name if campaign else org.name, org=org.name,
                contact_line=org.contact_line, cap_messages=org.cap_messages,
                cap_days=org.cap_days, country=ctx.contact.country)
    return "help"


def _other(ctx: InboundContext) -> str:
    if ctx.intent.kind == keywords.RSVP_YES and ctx.contact.opted_out_at is not None and (
        keywords.is_twilio_opt_in(ctx.intent)
    ):
        return _opt_in(ctx)  # Twilio re-subscribed them on its side: mirror it
    record_event(organization_id=ctx.contact.organization_id, contact_id=ctx.contact.id,
                 kind="reply", channel="sms", occurred_at=ctx.now,
                 campaign_id=ctx.inbound.campaign_id)
    return "flagged" if ctx.inbound.needs_review else "stored"
