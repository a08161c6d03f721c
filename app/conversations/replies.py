"""Replies from a thread: free text or a saved reply, in the contact's language, through the
outbox (purpose "reply": never capped).

When it goes out: answering someone who wrote within the last hour is not an unsolicited
message, so it goes at once at any hour; later, it waits for the contact's allowed hours
(`reply_due`, which the composer shows before sending)."""

from datetime import datetime, timedelta

from app.contacts.models import Contact
from app.conversations import services
from app.conversations.models import Case, SavedReply
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.encoding import analyze
from app.outbox.inbound import reply_channel
from app.outbox.timing import next_allowed, org_window, rules_for

ANSWER_AT_ONCE = timedelta(hours=1)
MAX_LENGTH = 640


class ReplyError(ValueError):
    pass


def reply_due(contact: Contact, last_inbound_at: datetime | None, *, now: datetime) -> datetime:
    if last_inbound_at is not None and now - last_inbound_at <= ANSWER_AT_ONCE:
        return now
    org = db.session.get(Organization, contact.organization_id)
    rules = rules_for(contact.country, contact.state_code, org_window(org))
    return next_allowed(now, contact.timezone, rules.window)


def saved_text(saved: SavedReply, language: str) -> str:
    return saved.body_en if language == "en" else saved.body_es


def send_reply(contact: Contact, body: str, *, user, now: datetime, case: Case | None = None):
    """Queue a coordinator's reply; returns the outbox row."""
    body = (body or "").strip()
    if not body:
        raise ReplyError("empty")
    if len(body) > MAX_LENGTH:
        raise ReplyError("too_long")
    if contact.erased_at is not None or contact.opted_out_at is not None:
        raise ReplyError("cannot_message")
    conversation = services.conversation_of(contact, now=now)
    due = reply_due(contact, conversation.last_inbound_at, now=now)
    row = outbox.enqueue(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        purpose="reply",
        language=contact.language,
        body=body,
        due_at=due,
        now=now,
        # Back on WhatsApp when that is the contact's channel or its last message came
        # from there within WhatsApp's window (issue 19).
        channel=reply_channel(contact, now=now),
        campaign_id=conversation.campaign_id,
    )
    conversation.last_reply_at = conversation.last_at = now
    services.mark_read(conversation)
    case = case or services.active_case(contact.id)
    if case is not None:
        services.acknowledge(case, user=user, now=now)
        services.log(case, "replied", now=now, user_id=user.id)
    return row


def segments(body: str) -> tuple[int, str]:
    info = analyze(body)
    return info.segments, info.encoding
