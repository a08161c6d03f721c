"""Inbound SMS: one code path for Twilio's webhook and the in-app phone simulator.

Keywords act within the same request (opt-out is immediate). Confirmations and help
replies are queued in the outbox as system messages, so the worker sends each exactly once.
When the provider itself answers its standard English keywords (Twilio's STOP/START
handling), we do not send a second confirmation.

Routing (several organizations, one phone): an SMS sent to an organization's own sender
(`Organization.sms_sender`: its number, or its Messaging Service) speaks to that organization
only. One sent to the shared default sender speaks to every organization without its own
sender: opt-out and opt-in keywords act in each of them (each records it), HELP answers for
each one that has messaged the phone, and anything else goes to the one that wrote last.

WhatsApp (issue 19) comes in through the same webhook and this same path, so keywords,
RSVPs, surveys, crisis handling and the inbox work alike on both channels. Twilio addresses
WhatsApp as "whatsapp:+<E.164>" (`split_address`); the sender goes through the same phone
normalizer, so Mexico's old mobile form "whatsapp:+521664…" is the contact "+52664…". A
WhatsApp message is stored with channel "whatsapp", opens WhatsApp's 24-hour window
(`Contact.last_whatsapp_in_at`) and is routed by the number it was sent to
(`Organization.whatsapp_sender`, else the Messaging Service, as for SMS). Replies queued
while it is handled go out on WhatsApp (`reply_channel`).

Quick-reply buttons: a tapped template button arrives with `ButtonPayload` (the id
app.whatsapp.validation.button_id gave it: "rsvp_yes", "rsvp_no", "answer_<value>",
"reply_<n>"). `button_text` turns it into the reply the contact could have typed ("SI",
"NO", the answer's value, else the button's own text) and that text is what is stored and
routed, so a tap is handled exactly as the typed reply (the RSVP handler, a survey's
interceptor, the inbox). "SI", not "YES": a tap is never Twilio's YES opt-in.
"""

import logging
from collections.abc import Callable
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from babel.lists import format_list
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.contacts.channels import channel_for, window_open
from app.contacts.models import Contact
from app.contacts.phones import InvalidPhone, normalize_phone
from app.contacts.services import emit_opted_in, mark_opted_out
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import keywords
from app.outbox.models import ANSWERS, InboundMessage, OutboxMessage
from app.outbox.status import cancel_pending_for_contact
from app.outbox.text import sms_text
from app.participation.services import record_event

logger = logging.getLogger("alcance.inbound")
TWILIO_STANDARD_KEYWORDS = {
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "START",
    "UNSTOP",
    "YES",
}
HANDLERS = {}  # intent kind -> handler(ctx) -> outcome string; features add their own
# listener(ctx, outcome) run after the handler, in the same unit of work (conversations file
# every message in its thread and open cases from it): a failure rolls the message back too,
# and the webhook spool keeps it for the next try.
RECEIVED = []
# Said to the number, so they act for every organization that shares it (see above).
# (The WhatsApp opt-in keyword is not: consent to WhatsApp is given to one organization.)
SENDER_WIDE = frozenset({keywords.OPT_OUT, keywords.OPT_IN, keywords.HELP})
# Opt-outs a START to the same sender undoes (not those recorded by a coordinator or import).
SAID_TO_THE_SENDER = ("sms", "carrier", "whatsapp")
WHATSAPP_PREFIX = "whatsapp:"
# A tapped quick-reply button's payload -> the reply it stands for (see the module docstring).
BUTTON_REPLIES = {"rsvp_yes": "SI", "rsvp_no": "NO"}
ANSWER_BUTTON_PREFIX = "answer_"


@dataclass(frozen=True)
class _Answering:
    channel: str
    contact_ids: frozenset[int]


# The inbound message being handled (its channel and the contacts it speaks to), so that a
# reply queued by any handler or listener goes back on the channel it came in on.
_answering: ContextVar[_Answering | None] = ContextVar("answering", default=None)


def split_address(address: str | None) -> tuple[str, str]:
    """ "whatsapp:+52…" -> ("whatsapp", "+52…"); anything else is an SMS address."""
    address = (address or "").strip()
    if address.lower().startswith(WHATSAPP_PREFIX):
        return "whatsapp", address[len(WHATSAPP_PREFIX) :].strip()
    return "sms", address


def button_text(payload: str | None, text: str | None) -> str | None:
    """The typed reply a tapped quick-reply button stands for; None when no button."""
    payload = (payload or "").strip()
    if not payload:
        return None
    if payload in BUTTON_REPLIES:
        return BUTTON_REPLIES[payload]
    if payload.startswith(ANSWER_BUTTON_PREFIX) and len(payload) > len(ANSWER_BUTTON_PREFIX):
        return payload[len(ANSWER_BUTTON_PREFIX) :]
    return text or payload  # a button with no meaning: its text, as if typed


@dataclass
class InboundContext:
    contact: Contact
    organization: Organization
    inbound: InboundMessage
    intent: keywords.Intent
    now: datetime
    provider_answers_keywords: bool
    # Every contact this SMS speaks to, `contact` first: several for a keyword sent to a
    # shared sender, else just `contact`.
    contacts: list[Contact] = field(default_factory=list)
    channel: str = "sms"  # the channel the message came in on ("sms" | "whatsapp")


# --- answers a feature is waiting for ---------------------------------------------------
# Precedence of an inbound message (issue 17):
#   1. opt-out, opt-in and help keywords (their handlers, always);
#   2. a message a registered check says is never an answer (a crisis: conversations
#      handles it as any free text);
#   3. an RSVP naming its workshop code ("SI 4821": the RSVP handler);
#   4. interceptors, by priority: a feature waiting for this contact's answer (a survey's
#      question) takes the message, bare "SI"/"NO"/"YES" included, and returns an outcome;
#   5. the handler of the message's intent, else `record_reply`.
# A stop request ("ya no me manden mensajes") is never taken as an answer: it is flagged
# for a coordinator as always.
NEVER_INTERCEPTED = frozenset(
    {
        keywords.OPT_OUT,
        keywords.OPT_IN,
        keywords.HELP,
        keywords.STOP_REQUEST,
        keywords.WHATSAPP_OPT_IN,
    }
)


@dataclass(frozen=True)
class Interceptor:
    take: Callable[["InboundContext"], str | None]  # an outcome when it took the message
    intent: str  # what a message it took is recorded (and shown) as
    priority: int


INTERCEPTORS: list[Interceptor] = []
NOT_ANSWERS: list[Callable[["InboundContext"], bool]] = []


def register_interceptor(take, *, intent: str, priority: int = 100):
    """Register `take(ctx) -> outcome | None`: it gets every message no keyword, no
    not-an-answer check and no coded RSVP claimed first (see the precedence above), and
    returns an outcome when the message was its answer (the message is then recorded with
    `intent`), None to let the next one (and finally the intent's handler) have it."""
    INTERCEPTORS.append(Interceptor(take, intent, priority))
    INTERCEPTORS.sort(key=lambda interceptor: interceptor.priority)
    return take


def register_not_an_answer(check):
    """Register `check(ctx) -> bool`: True when the message must never be taken as an answer
    by an interceptor (a crisis message)."""
    NOT_ANSWERS.append(check)
    return check


def _may_intercept(ctx: "InboundContext") -> bool:
    intent = ctx.intent
    if not INTERCEPTORS or intent.kind in NEVER_INTERCEPTED:
        return False
    if intent.kind in (keywords.RSVP_YES, keywords.RSVP_NO) and intent.code:
        return False
    return not any(check(ctx) for check in NOT_ANSWERS)


def _dispatch(ctx: "InboundContext") -> str:
    """The outcome of one inbound message, by the precedence above."""
    if _may_intercept(ctx):
        for interceptor in list(INTERCEPTORS):
            outcome = interceptor.take(ctx)
            if outcome is not None:
                ctx.intent = keywords.Intent(interceptor.intent)
                ctx.inbound.intent = interceptor.intent
                return outcome
    return HANDLERS.get(ctx.intent.kind, record_reply)(ctx)


def handler(kind: str):
    def register(function):
        HANDLERS[kind] = function
        return function

    return register


# The name of the program (campaign) a message belonged to, for the HELP reply: the
# campaigns feature registers the lookup (the outbox does not know campaigns).
_program_name = lambda campaign_id: None  # noqa: E731  (replaced by register_program_name)


def register_program_name(lookup) -> None:
    global _program_name
    _program_name = lookup


def on_received(listener):
    """Register `listener(ctx, outcome)` for every stored inbound message."""
    RECEIVED.append(listener)
    return listener


def _last_inbound_channel(contact_id: int) -> str | None:
    return db.session.scalar(
        select(InboundMessage.channel)
        .where(InboundMessage.contact_id == contact_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(1)
    )


def reply_channel(contact: Contact, *, now: datetime) -> str:
    """The channel of a reply to `contact` (keyword confirmation, RSVP answer, coordinator
    reply): WhatsApp when it is the contact's channel (`channel_for`), or when the message
    being answered came in on WhatsApp (the one being handled now, else the contact's last
    one while WhatsApp's 24-hour window is open) and the contact has not opted out of
    WhatsApp nor been found not to be on it. Otherwise SMS."""
    if channel_for(contact) == "whatsapp":
        return "whatsapp"
    if contact.whatsapp_opted_out_at is not None or contact.whatsapp_unreachable_at is not None:
        return "sms"
    answering = _answering.get()
    if answering is not None and contact.id in answering.contact_ids:
        came_in_on = answering.channel
    elif window_open(contact, now=now):
        came_in_on = _last_inbound_channel(contact.id)
    else:
        came_in_on = None
    return "whatsapp" if came_in_on == "whatsapp" else "sms"


def queue_reply(
    contact: Contact,
    template: str,
    *,
    now: datetime,
    campaign_id=None,
    reply_on: str | None = None,
    **context,
):
    """Queue a system message (confirmation, help) to go out at once, in the contact's
    language, on `reply_on` (by default `reply_channel`: back where the message came in)."""
    body = sms_text(template, contact.language, **context)
    db.session.add(
        OutboxMessage(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            campaign_id=campaign_id,
            channel=reply_on or reply_channel(contact, now=now),
            purpose="system",
            language=contact.language,
            body=body,
            due_at=now,
            status="scheduled",
            created_at=now,
        )
    )


def sender_owner(
    to_number: str | None, messaging_service_sid: str | None, *, channel: str = "sms"
) -> int | None:
    """The organization whose own sender the message was sent to: its number (`To`), else
    its Messaging Service (`MessagingServiceSid`, set when `To` is one of a service's
    numbers). On WhatsApp the number is first looked up among the organizations' WhatsApp
    senders. None: the shared default sender (or an in-app reply with no sender at all)."""
    if channel == "whatsapp" and to_number:
        owner = db.session.scalar(
            select(Organization.id).where(Organization.whatsapp_sender == to_number).limit(1)
        )
        if owner is not None:
            return owner
    for sender in (to_number, messaging_service_sid):
        if sender:
            owner = db.session.scalar(
                select(Organization.id).where(Organization.sms_sender == sender)
            )
            if owner is not None:
                return owner
    return None


def _shares_default_sender(channel: str):
    """Organizations without their own sender on `channel`: they share the default one. On
    WhatsApp an organization's own sender is its WhatsApp number, or its Messaging Service
    (which also sends its WhatsApp); an own SMS number alone does not make a WhatsApp one."""
    if channel == "whatsapp":
        return Organization.whatsapp_sender.is_(None) & (
            Organization.sms_sender.is_(None) | Organization.sms_sender.not_like("MG%")
        )
    return Organization.sms_sender.is_(None)


def _last_sent(contact_ids: list[int]) -> dict[int, datetime]:
    """When each of these contacts last got a message from us (absent: never)."""
    return dict(
        db.session.execute(
            select(OutboxMessage.contact_id, func.max(OutboxMessage.sent_at))
            .where(OutboxMessage.contact_id.in_(contact_ids), OutboxMessage.sent_at.is_not(None))
            .group_by(OutboxMessage.contact_id)
        ).all()
    )


def _primary_first(contacts: list[Contact]) -> tuple[Contact | None, list[Contact]]:
    """The contact who last got a message from us at this number (else the only one), and
    every contact, that one first. None when several never got anything: ambiguous."""
    last = _last_sent([c.id for c in contacts])
    messaged = sorted((c for c in contacts if c.id in last), key=lambda c: last[c.id], reverse=True)
    primary = messaged[0] if messaged else (contacts[0] if len(contacts) == 1 else None)
    return primary, ([primary] + [c for c in contacts if c is not primary] if primary else contacts)


def _recipients(
    phone: str, owner: int | None, channel: str = "sms"
) -> tuple[Contact | None, list[Contact]]:
    """Who an SMS from `phone` speaks to. Sent to an organization's own sender: that
    organization only. Sent to the shared sender: every organization without its own sender
    that has this phone, since a keyword is said to the number, not to one organization."""
    # Tags are not needed to route a reply: loaded only if something reads them.
    with_phone = (
        select(Contact)
        .where(Contact.phone == phone, Contact.erased_at.is_(None))
        .options(lazyload(Contact.tags))
    )
    scope = (
        Contact.organization_id == owner
        if owner is not None
        else Contact.organization_id.in_(
            select(Organization.id).where(_shares_default_sender(channel))
        )
    )
    contacts = db.session.scalars(with_phone.where(scope).order_by(Contact.id)).all()
    if contacts:
        return _primary_first(contacts)
    if channel == "whatsapp" and owner is not None:
        # An organization's own WhatsApp number is new (issue 19): no older sender to follow,
        # and a message to it never reaches another organization's contact.
        return None, []
    # Nobody in scope (e.g. an organization's old sender): never lose the message; it goes to
    # the one contact we last messaged at this phone, as before senders were configured.
    primary, _ = _primary_first(db.session.scalars(with_phone.order_by(Contact.id)).all())
    return primary, [primary] if primary else []


def _latest_campaign_id(contact_id: int) -> int | None:
    """The campaign that last wrote to the contact. Messages of no campaign (a survey's
    questions, staff alerts) are skipped: a reply after them still belongs to the program."""
    return db.session.scalar(
        select(OutboxMessage.campaign_id)
        .where(
            OutboxMessage.contact_id == contact_id,
            OutboxMessage.campaign_id.is_not(None),
            OutboxMessage.purpose.not_in(ANSWERS),
            OutboxMessage.sent_at.is_not(None),
        )
        .order_by(OutboxMessage.sent_at.desc())
        .limit(1)
    )


def _sid_known(sid: str) -> bool:
    return (
        db.session.scalar(select(InboundMessage.id).where(InboundMessage.twilio_sid == sid))
        is not None
    )


def _addresses(from_number: str | None, to_number: str | None) -> tuple[str, str, str | None]:
    """(channel, sender, our number) of an inbound message's From and To."""
    channel, from_number = split_address(from_number)
    to_channel, to_number = split_address(to_number)
    channel = "whatsapp" if "whatsapp" in (channel, to_channel) else "sms"
    if channel == "whatsapp" and to_number:
        # Our WhatsApp number as stored (E.164, without Mexico's old mobile "1").
        with suppress(InvalidPhone):
            to_number = normalize_phone(to_number, default_region="MX")
    return channel, from_number, to_number


def receive_sms(
    *,
    sid: str,
    from_number: str,
    body: str,
    now: datetime,
    to_number: str | None = None,
    messaging_service_sid: str | None = None,
    provider_answers_keywords: bool = False,
    button_payload: str | None = None,
) -> str:
    """Handle one inbound SMS or WhatsApp message. Idempotent per provider SID. Returns an
    outcome code.

    `from_number`/`to_number` may be WhatsApp addresses ("whatsapp:+52…"): the message is
    then a WhatsApp one. `to_number`/`messaging_service_sid` (the webhook's
    `To`/`MessagingServiceSid`) route it to the organization owning that sender; None means
    the shared default sender. `button_payload`: a tapped quick-reply button's id (the
    message is then the reply the button stands for, see `button_text`).
    A concurrent delivery of the same SID is a normal outcome ("duplicate"), not an error.
    """
    channel, from_number, to_number = _addresses(from_number, to_number)
    try:
        phone = normalize_phone(from_number or "", default_region="MX")
    except InvalidPhone:
        return "unknown_sender"
    if _sid_known(sid):
        return "duplicate"
    tapped = button_text(button_payload, body) if channel == "whatsapp" else None
    if tapped is not None:
        body = tapped
    intent = keywords.classify(body or "")
    primary, contacts = _recipients(
        phone, sender_owner(to_number or None, messaging_service_sid, channel=channel), channel
    )
    if primary is None and contacts and intent.kind in SENDER_WIDE:
        primary = contacts[0]  # a keyword acts on all of them; the message is kept once
    if primary is None:
        logger.info("inbound from unknown sender ignored")
        return "unknown_sender"
    inbound = InboundMessage(
        organization_id=primary.organization_id,
        twilio_sid=sid,
        contact_id=primary.id,
        campaign_id=_latest_campaign_id(primary.id),
        body=(body or "")[:1600],
        channel=channel,
        intent=intent.kind,
        needs_review=intent.kind == keywords.STOP_REQUEST,
        received_at=now,
    )
    db.session.add(inbound)
    token = None
    try:
        # Claim the SID before anything else: a concurrent twin waits here for our commit,
        # then fails on the unique constraint instead of acting a second time.
        db.session.flush()
        if channel == "whatsapp":
            _whatsapp_seen(contacts or [primary], now=now)
        ctx = InboundContext(
            primary,
            db.session.get(Organization, primary.organization_id),
            inbound,
            intent,
            now,
            provider_answers_keywords,
            contacts=contacts if intent.kind in SENDER_WIDE else [primary],
            channel=channel,
        )
        token = _answering.set(_Answering(channel, frozenset(c.id for c in contacts or [primary])))
        outcome = _dispatch(ctx)
        for listener in RECEIVED:
            listener(ctx, outcome)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if _sid_known(sid):  # the same SID arrived twice at once: the first one won
            return "duplicate"
        raise
    finally:
        if token is not None:
            _answering.reset(token)
    return outcome


def _whatsapp_seen(contacts: list[Contact], *, now: datetime) -> None:
    """A WhatsApp message from this phone: WhatsApp's 24-hour window opens for every contact
    it speaks to (the window belongs to the phone and the sender), and the number is on
    WhatsApp after all (a failed send had marked it unreachable)."""
    for contact in contacts:
        if contact.last_whatsapp_in_at is None or contact.last_whatsapp_in_at < now:
            contact.last_whatsapp_in_at = now  # never backwards (a replayed, older message)
        contact.whatsapp_unreachable_at = None


def _provider_already_answered(ctx: InboundContext) -> bool:
    return ctx.provider_answers_keywords and keywords.normalize(ctx.inbound.body) in (
        TWILIO_STANDARD_KEYWORDS
    )


def _campaign_of(ctx: InboundContext, contact: Contact) -> int | None:
    return ctx.inbound.campaign_id if contact is ctx.contact else _latest_campaign_id(contact.id)


def _names(contacts: list[Contact], language: str) -> str:
    """ "Org A y Org B" / "Org A and Org B": the organizations a confirmation speaks for."""
    names = [db.session.get(Organization, c.organization_id).name for c in contacts]
    return format_list(list(dict.fromkeys(names)), locale=language)


def _whatsapp_only(ctx: InboundContext, contact: Contact) -> bool:
    """Whether this STOP stops WhatsApp alone: said on WhatsApp, to an organization that keeps
    channel opt-outs apart. STOP by SMS always stops every channel: the safest reading for
    young people, many of them minors (a STOP must never leave a channel still writing to
    them), and the one carriers and Twilio apply to the number."""
    if ctx.channel != "whatsapp":
        return False
    org = db.session.get(Organization, contact.organization_id)
    return not org.opt_out_all_channels


def _opt_out_of_whatsapp(contact: Contact, *, now: datetime) -> bool:
    """Stop WhatsApp only: the contact is back on SMS. True when this call changed it."""
    changed = (
        db.session.execute(
            update(Contact)
            .where(Contact.id == contact.id, Contact.whatsapp_opted_out_at.is_(None))
            .values(whatsapp_opted_out_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    db.session.refresh(contact, attribute_names=["whatsapp_opted_out_at"])
    if changed:
        # What waits for WhatsApp goes by SMS instead (the dispatcher honours the row's channel).
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.contact_id == contact.id,
                OutboxMessage.status.in_(("scheduled", "held")),
                OutboxMessage.channel == "whatsapp",
            )
            .values(channel="sms")
            .execution_options(synchronize_session=False)
        )
    return changed


@handler(keywords.OPT_OUT)
def _opt_out(ctx: InboundContext) -> str:
    changed, whatsapp_only = [], []
    for contact in ctx.contacts or [ctx.contact]:
        if _whatsapp_only(ctx, contact):
            if contact.opted_out_at is None and _opt_out_of_whatsapp(contact, now=ctx.now):
                whatsapp_only.append(contact)
            continue
        # One state change, one event: concurrent STOPs must not each record an opt-out.
        if mark_opted_out(contact, channel=ctx.channel, now=ctx.now):
            cancel_pending_for_contact(contact.id, reason="opted_out", now=ctx.now)
            record_event(
                organization_id=contact.organization_id,
                contact_id=contact.id,
                kind="opt_out",
                channel="sms",
                occurred_at=ctx.now,
                campaign_id=_campaign_of(ctx, contact),
            )
            changed.append(contact)
    if changed and not _provider_already_answered(ctx):
        # One SMS from one number: one confirmation, naming every organization it stopped.
        first = changed[0]
        queue_reply(
            first,
            "opt_out_confirmation",
            now=ctx.now,
            campaign_id=_campaign_of(ctx, first),
            org=_names(changed, first.language),
        )
    if whatsapp_only:
        # Confirmed where it was said (one message, inside the window the STOP just opened).
        first = whatsapp_only[0]
        queue_reply(
            first,
            "whatsapp_opt_out_confirmation",
            now=ctx.now,
            campaign_id=_campaign_of(ctx, first),
            reply_on="whatsapp",
            org=_names(whatsapp_only, first.language),
        )
    return "opted_out" if changed or not whatsapp_only else "whatsapp_opted_out"


def _restore(ctx: InboundContext, contact: Contact) -> None:
    opted_out_at = contact.opted_out_at
    contact.opted_out_at, contact.opt_out_channel, contact.opt_out_reason = None, None, None
    # Back exactly where it was: messages canceled by the opt-out and still ahead return.
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.contact_id == contact.id,
            OutboxMessage.status == "canceled",
            OutboxMessage.skip_reason == "opted_out",
            OutboxMessage.due_at > ctx.now,
            OutboxMessage.final_at >= opted_out_at,
        )
        .values(status="scheduled", skip_reason=None, final_at=None)
        .execution_options(synchronize_session=False)
    )
    record_event(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        kind="opt_in",
        channel="sms",
        occurred_at=ctx.now,
        campaign_id=_campaign_of(ctx, contact),
    )
    emit_opted_in(contact.organization_id, contact.id, channel=ctx.channel, now=ctx.now)


@handler(keywords.OPT_IN)
def _opt_in(ctx: InboundContext) -> str:
    # The contact that wrote is restored whatever stopped it (as always); the others sharing
    # the sender only when their opt-out was said to this sender too. Said on WhatsApp, it
    # also lifts a WhatsApp-only opt-out (what a STOP on WhatsApp set).
    restored = [
        c
        for c in ctx.contacts or [ctx.contact]
        if (
            c.opted_out_at is not None
            and (c is ctx.contact or c.opt_out_channel in SAID_TO_THE_SENDER)
        )
        or (ctx.channel == "whatsapp" and c.whatsapp_opted_out_at is not None)
    ]
    if not restored:
        return "already_subscribed"
    for contact in restored:
        if ctx.channel == "whatsapp":
            contact.whatsapp_opted_out_at = None
        if contact.opted_out_at is not None:
            _restore(ctx, contact)
    if not _provider_already_answered(ctx):
        first = restored[0]
        queue_reply(
            first,
            "opt_in_confirmation",
            now=ctx.now,
            campaign_id=_campaign_of(ctx, first),
            org=_names(restored, first.language),
        )
    return "opted_in"


@handler(keywords.HELP)
def _help(ctx: InboundContext) -> str:
    """Answer for each organization that has messaged this phone (the young person may not
    know which one the number belongs to); the one that wrote last (or the only one) else."""
    contacts = ctx.contacts or [ctx.contact]
    last = _last_sent([c.id for c in contacts])
    for contact in [c for c in contacts if c.id in last] or [ctx.contact]:
        campaign_id = _campaign_of(ctx, contact)
        program = _program_name(campaign_id) if campaign_id else None
        org = db.session.get(Organization, contact.organization_id)
        queue_reply(
            contact,
            "help",
            now=ctx.now,
            campaign_id=campaign_id,
            program=program or org.name,
            org=org.name,
            contact_line=org.contact_line,
            cap_messages=org.cap_messages,
            cap_days=org.cap_days,
            country=contact.country,
        )
    return "help"


@handler(keywords.WHATSAPP_OPT_IN)
def _whatsapp_opt_in(ctx: InboundContext) -> str:
    """ "WHATSAPP" / "WA": the contact asks for our messages on WhatsApp. Records the WhatsApp
    opt-in (source "keyword"), makes WhatsApp the contact's channel and lifts a WhatsApp-only
    opt-out. It does not lift an opt-out of every channel (that is START/ALTA's to say), and
    then sends nothing."""
    contact = ctx.contact
    contact.whatsapp_opt_in_at, contact.whatsapp_opt_in_source = ctx.now, "keyword"
    contact.whatsapp_opted_out_at = None
    contact.preferred_channel = "whatsapp"
    if contact.opted_out_at is not None:
        return "whatsapp_opt_in_opted_out"
    # Said by SMS: confirmed by SMS, which is sure to arrive (the number may not be on
    # WhatsApp); said on WhatsApp: confirmed there.
    queue_reply(
        contact,
        "whatsapp_opt_in_confirmation",
        now=ctx.now,
        campaign_id=ctx.inbound.campaign_id,
        reply_on=ctx.channel,
        org=db.session.get(Organization, contact.organization_id).name,
    )
    return "whatsapp_opted_in"


def record_reply(ctx: InboundContext) -> str:
    if (
        ctx.intent.kind == keywords.RSVP_YES
        and ctx.contact.opted_out_at is not None
        and (keywords.is_twilio_opt_in(ctx.intent))
    ):
        return _opt_in(ctx)  # Twilio re-subscribed them on its side: mirror it
    record_event(
        organization_id=ctx.contact.organization_id,
        contact_id=ctx.contact.id,
        kind="reply",
        channel="sms",
        occurred_at=ctx.now,
        campaign_id=ctx.inbound.campaign_id,
    )
    return "flagged" if ctx.inbound.needs_review else "stored"
