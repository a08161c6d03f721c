"""Conversations: file every message from a young person in their thread, open cases from
the ones that need a person, answer a crisis at once, and record what coordinators do.

Every function joins the caller's unit of work (no commit): an inbound message, its case and
its automatic reply commit together, or not at all (the webhook spool keeps the message).
"""

from datetime import datetime, timedelta

from sqlalchemy import select

from app.contacts.models import Contact
from app.contacts.services import mark_opted_out
from app.conversations import oncall
from app.conversations.classifier import Classification, classify
from app.conversations.models import ACTIVE_STATES, Case, CaseEvent, Conversation
from app.extensions import db
from app.organizations.events import emit
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox import keywords
from app.outbox.inbound import reply_channel
from app.outbox.models import OutboxMessage
from app.outbox.text import sms_text
from app.participation.services import record_event

# At most one automatic crisis reply per contact in this long (a young person in crisis who
# writes five messages gets one safe answer, then people).
AUTO_REPLY_EVERY = timedelta(hours=12)
# Intents that open (or join) a case; "other" only asks for a look.
CASE_PRIORITY = {"crisis": "urgent", "needs_help": "normal", "question": "normal"}
FREE_TEXT = (keywords.OTHER, keywords.STOP_REQUEST)


class CaseError(ValueError):
    """An action that does not apply to the case as it is (the message says why)."""


def log(case: Case, action: str, *, now: datetime, user_id=None, detail=None, note=None):
    db.session.add(
        CaseEvent(
            organization_id=case.organization_id,
            case_id=case.id,
            user_id=user_id,
            action=action,
            detail=detail,
            note=note,
            at=now,
        )
    )


def conversation_of(contact: Contact, *, now: datetime) -> Conversation:
    conversation = db.session.scalar(
        select(Conversation).where(Conversation.contact_id == contact.id)
    )
    if conversation is None:
        conversation = Conversation(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            last_at=now,
            needs_attention=False,
            unread=0,
        )
        db.session.add(conversation)
    return conversation


def active_case(contact_id: int) -> Case | None:
    return db.session.scalar(
        select(Case)
        .where(Case.contact_id == contact_id, Case.state.in_(ACTIVE_STATES))
        .order_by(Case.id.desc())
        .limit(1)
    )


def _lock_contact(contact_id: int) -> None:
    # Two messages of one contact at once must not open two cases or send two crisis replies.
    # FOR NO KEY UPDATE: the inbound row's foreign key already holds a KEY SHARE lock on the
    # contact, which FOR UPDATE would wait on (two messages: a deadlock).
    db.session.execute(
        select(Contact.id).where(Contact.id == contact_id).with_for_update(key_share=True)
    )


def file_inbound(ctx, outcome: str) -> None:
    """The inbound listener: every message lands in its thread; free text is classified."""
    contact, inbound, now = ctx.contact, ctx.inbound, ctx.now
    _lock_contact(contact.id)
    conversation = conversation_of(contact, now=now)
    conversation.last_inbound_at = conversation.last_at = now
    if inbound.campaign_id:
        conversation.campaign_id = inbound.campaign_id
    if ctx.intent.kind not in FREE_TEXT:
        return  # a keyword or RSVP: answered automatically, shown in the thread
    conversation.needs_attention = True
    conversation.unread = (conversation.unread or 0) + 1
    result = classify(inbound.body, contact.language)
    if result.intent in CASE_PRIORITY:
        open_or_join_case(contact, inbound, result, now=now)


def open_or_join_case(contact, inbound, result: Classification, *, now: datetime) -> Case:
    priority = CASE_PRIORITY[result.intent]
    case = active_case(contact.id)
    matched = " · ".join(result.matched)[:300] or None
    if case is None:
        case = Case(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            campaign_id=inbound.campaign_id,
            inbound_id=inbound.id,
            intent=result.intent,
            priority=priority,
            matched=matched,
            state="open",
            opened_at=now,
            urgent_since=now if priority == "urgent" else None,
            escalation_level=0,
        )
        db.session.add(case)
        db.session.flush()
        log(case, "opened", now=now, detail=f"{result.intent}:{priority}")
        oncall.assign_on_call(case, now=now)
        if priority == "urgent":
            _emit_urgent(case, now=now)
    else:
        log(case, "message", now=now, detail=result.intent)
        if case.state == "waiting":
            case.state = "acknowledged"  # the young person answered: our turn again
        if priority == "urgent" and case.priority != "urgent":
            case.priority, case.intent, case.matched = "urgent", result.intent, matched
            _needs_acknowledgement(case, now=now)
            log(case, "priority_raised", now=now, detail=result.intent)
            _emit_urgent(case, now=now)
        elif priority == "urgent":
            case.matched = matched or case.matched
    if result.intent == "crisis":
        auto_reply(case, contact, now=now)
    return case


def _emit_urgent(case: Case, *, now: datetime) -> None:
    """case.opened (outbound webhooks): a case became urgent, once per case. Ids and the
    kind of case only: never the message or the terms it matched."""
    emit(
        "case.opened",
        organization_id=case.organization_id,
        key=str(case.id),
        occurred_at=now,
        data={
            "case_id": case.id,
            "contact_id": case.contact_id,
            "campaign_id": case.campaign_id,
            "intent": case.intent,
            "priority": case.priority,
        },
        contact_id=case.contact_id,
    )


def _needs_acknowledgement(case: Case, *, now: datetime) -> None:
    case.state, case.acknowledged_at, case.acknowledged_by = "open", None, None
    case.urgent_since, case.escalation_level, case.escalated_at = now, 0, None


def _last_auto_reply(contact_id: int) -> datetime | None:
    return db.session.scalar(
        select(CaseEvent.at)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.contact_id == contact_id, CaseEvent.action == "auto_replied")
        .order_by(CaseEvent.at.desc())
        .limit(1)
    )


def auto_reply(case: Case, contact: Contact, *, now: datetime) -> bool:
    """The immediate safe answer to a crisis message: at any hour, at most once in 12 hours.
    A system message: exempt from quiet hours and the cap (and from an earlier opt-out: this
    person just wrote to us); only an unreachable phone stops it."""
    last = _last_auto_reply(contact.id)
    if last is not None and now - last < AUTO_REPLY_EVERY:
        return False
    org = db.session.get(Organization, contact.organization_id)
    outbox.enqueue(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        purpose="system",
        language=contact.language,
        body=sms_text("crisis_reply", contact.language, org=org.name),
        due_at=now,
        now=now,
        channel=reply_channel(contact, now=now),  # where the message came in (issue 19)
        campaign_id=case.campaign_id,
    )
    log(case, "auto_replied", now=now)
    return True


# --- what coordinators do ---------------------------------------------------------------


def acknowledge(case: Case, *, user, now: datetime) -> None:
    if case.state == "closed":
        raise CaseError("closed")
    if case.acknowledged_at is None:
        case.acknowledged_at, case.acknowledged_by = now, user.id
        if case.state == "open":
            case.state = "acknowledged"
        if case.assigned_user_id is None:
            case.assigned_user_id = user.id
        log(case, "acknowledged", now=now, user_id=user.id)


def assign(case: Case, assignee_id: int | None, *, user, now: datetime) -> None:
    if case.state == "closed":
        raise CaseError("closed")
    if case.assigned_user_id == assignee_id:
        return
    case.assigned_user_id = assignee_id
    log(
        case,
        "assigned" if assignee_id else "unassigned",
        now=now,
        user_id=user.id,
        detail=str(assignee_id) if assignee_id else None,
    )


def add_note(case: Case, note: str, *, user, now: datetime) -> None:
    log(case, "noted", now=now, user_id=user.id, note=note)


def set_waiting(case: Case, *, user, now: datetime) -> None:
    if case.state == "closed":
        raise CaseError("closed")
    acknowledge(case, user=user, now=now)
    case.state = "waiting"
    log(case, "waiting", now=now, user_id=user.id)


def close(case: Case, reason: str, *, user, now: datetime) -> None:
    if case.state == "closed":
        raise CaseError("closed")
    acknowledge(case, user=user, now=now)
    case.state, case.closed_at, case.close_reason = "closed", now, reason
    case.follow_up_at = None
    log(case, "closed", now=now, user_id=user.id, detail=reason)


def reopen(case: Case, *, user, now: datetime) -> None:
    if case.state != "closed":
        raise CaseError("not_closed")
    if active_case(case.contact_id) is not None:
        raise CaseError("another_open")
    case.state, case.closed_at, case.close_reason = "acknowledged", None, None
    log(case, "reopened", now=now, user_id=user.id)


def mark_read(conversation: Conversation) -> None:
    conversation.needs_attention, conversation.unread = False, 0


def opt_out_from_message(inbound, *, user, now: datetime) -> bool:
    """The one-click opt-out a flagged "please stop" message offers: recorded as said by SMS
    (channel "sms"), naming the message that asked for it. False: already opted out."""
    contact = inbound.contact
    if not mark_opted_out(contact, channel="sms", now=now):
        return False
    contact.opt_out_reason = f"message #{inbound.id}"
    outbox.cancel_pending(
        reason="opted_out",
        now=now,
        contact_id=contact.id,
        where=(OutboxMessage.purpose != "system",),
        claimed_too=True,
    )
    record_event(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        kind="opt_out",
        channel="sms",
        occurred_at=now,
        campaign_id=inbound.campaign_id,
        detail="message",
    )
    if inbound.reviewed_at is None:
        outbox.mark_reviewed(inbound, now=now)
    case = active_case(contact.id)
    if case is not None:
        log(case, "opted_out", now=now, user_id=user.id, detail=str(inbound.id))
    return True
