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
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from babel.lists import format_list
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.contacts.models import Contact
from app.contacts.phones import InvalidPhone, normalize_phone
from app.contacts.services import mark_opted_out
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
SENDER_WIDE = frozenset({keywords.OPT_OUT, keywords.OPT_IN, keywords.HELP})
# Opt-outs a START to the same sender undoes (not those recorded by a coordinator or import).
SAID_TO_THE_SENDER = ("sms", "carrier")


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
    {keywords.OPT_OUT, keywords.OPT_IN, keywords.HELP, keywords.STOP_REQUEST}
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


def queue_reply(contact: Contact, template: str, *, now: datetime, campaign_id=None, **context):
    """Queue a system SMS (confirmation, help) to go out at once, in the contact's language."""
    body = sms_text(template, contact.language, **context)
    db.session.add(
        OutboxMessage(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            campaign_id=campaign_id,
            purpose="system",
            language=contact.language,
            body=body,
            due_at=now,
            status="scheduled",
            created_at=now,
        )
    )


def sender_owner(to_number: str | None, messaging_service_sid: str | None) -> int | None:
    """The organization whose own sender the SMS was sent to: its number (`To`), else its
    Messaging Service (`MessagingServiceSid`, set when `To` is one of a service's numbers).
    None: the shared default sender (or an in-app reply with no sender at all)."""
    for sender in (to_number, messaging_service_sid):
        if sender:
            owner = db.session.scalar(
                select(Organization.id).where(Organization.sms_sender == sender)
            )
            if owner is not None:
                return owner
    return None


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


def _recipients(phone: str, owner: int | None) -> tuple[Contact | None, list[Contact]]:
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
            select(Organization.id).where(Organization.sms_sender.is_(None))
        )
    )
    contacts = db.session.scalars(with_phone.where(scope).order_by(Contact.id)).all()
    if contacts:
        return _primary_first(contacts)
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


def receive_sms(
    *,
    sid: str,
    from_number: str,
    body: str,
    now: datetime,
    to_number: str | None = None,
    messaging_service_sid: str | None = None,
    provider_answers_keywords: bool = False,
) -> str:
    """Handle one inbound SMS. Idempotent per provider SID. Returns an outcome code.

    `to_number`/`messaging_service_sid` (the webhook's `To`/`MessagingServiceSid`) route it
    to the organization owning that sender; None means the shared default sender.
    A concurrent delivery of the same SID is a normal outcome ("duplicate"), not an error.
    """
    try:
        phone = normalize_phone(from_number or "", default_region="MX")
    except InvalidPhone:
        return "unknown_sender"
    if _sid_known(sid):
        return "duplicate"
    intent = keywords.classify(body or "")
    primary, contacts = _recipients(phone, sender_owner(to_number, messaging_service_sid))
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
        intent=intent.kind,
        needs_review=intent.kind == keywords.STOP_REQUEST,
        received_at=now,
    )
    db.session.add(inbound)
    try:
        # Claim the SID before anything else: a concurrent twin waits here for our commit,
        # then fails on the unique constraint instead of acting a second time.
        db.session.flush()
        ctx = InboundContext(
            primary,
            db.session.get(Organization, primary.organization_id),
            inbound,
            intent,
            now,
            provider_answers_keywords,
            contacts=contacts if intent.kind in SENDER_WIDE else [primary],
        )
        outcome = _dispatch(ctx)
        for listener in RECEIVED:
            listener(ctx, outcome)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if _sid_known(sid):  # the same SID arrived twice at once: the first one won
            return "duplicate"
        raise
    return outcome


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


@handler(keywords.OPT_OUT)
def _opt_out(ctx: InboundContext) -> str:
    changed = []
    for contact in ctx.contacts or [ctx.contact]:
        # One state change, one event: concurrent STOPs must not each record an opt-out.
        if mark_opted_out(contact, channel="sms", now=ctx.now):
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
    return "opted_out"


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


@handler(keywords.OPT_IN)
def _opt_in(ctx: InboundContext) -> str:
    # The contact that wrote is restored whatever stopped it (as always); the others sharing
    # the sender only when their opt-out was said to this sender too.
    restored = [
        c
        for c in ctx.contacts or [ctx.contact]
        if c.opted_out_at is not None
        and (c is ctx.contact or c.opt_out_channel in SAID_TO_THE_SENDER)
    ]
    if not restored:
        return "already_subscribed"
    for contact in restored:
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
