"""Conversations: one thread per contact, cases (the safety net), saved replies, on-call
shifts, local services and referrals.

The thread itself is not stored twice: it is the contact's inbound messages and outbox rows
in time order (app.conversations.threads). `Conversation` keeps only what the inbox lists and
filters on: when the young person last wrote, whether someone still has to look.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

INTENTS = ("crisis", "needs_help", "question", "other")
PRIORITIES = ("urgent", "normal")
# open -> acknowledged -> waiting (on the young person) -> referred -> closed; a new message
# from the young person moves a waiting case back to acknowledged (our turn again).
STATES = ("open", "acknowledged", "waiting", "referred", "closed")
ACTIVE_STATES = ("open", "acknowledged", "waiting", "referred")
CLOSE_REASONS = ("resolved", "referred", "no_response", "not_needed", "duplicate", "other")
# Built-in services a case can be referred to (their details live in app.conversations.referrals);
# "local": one of the organization's own services (LocalService).
SERVICE_TYPES = ("linea_vida", "us_988", "samhsa", "cij", "local")
# The audit trail of a case.
CASE_ACTIONS = (
    "opened",
    "message",
    "priority_raised",
    "auto_replied",
    "acknowledged",
    "assigned",
    "unassigned",
    "replied",
    "noted",
    "waiting",
    "referred",
    "closed",
    "reopened",
    "alerted",
    "opted_out",
)


class Conversation(OrgOwned, db.Model):
    """Inbox state of one contact's thread."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("contact_id"),
        Index("ix_conversations_org_attention", "organization_id", "needs_attention", "last_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The campaign of the last message (inbox filter by campaign).
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # ours, by a person
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A message from the young person nobody has looked at or answered yet.
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    unread: Mapped[int] = mapped_column(Integer, default=0)

    contact = relationship("Contact")


class Case(OrgOwned, db.Model):
    """A message (or several) that needs a person: urgent for a crisis, normal otherwise.
    At most one active case per contact; later messages join it."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_org_state_priority", "organization_id", "state", "priority", "opened_at"),
        Index("ix_cases_contact_state", "contact_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    intent: Mapped[str] = mapped_column(String(12))
    priority: Mapped[str] = mapped_column(String(8))
    # The classifier's matched terms (why), space-separated by " · ".
    matched: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(12), default="open")
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When it last became urgent and unacknowledged: the escalation clock starts here.
    urgent_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # 0: nobody alerted yet; 1: the on-call coordinator; 2: every coordinator.
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(12))

    contact = relationship("Contact")
    assignee = relationship("User", foreign_keys=[assigned_user_id])


class CaseEvent(OrgOwned, db.Model):
    """Who did what to a case, and when (user None: Alcance itself)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(120))  # a state, reason, service type
    note: Mapped[str | None] = mapped_column(Text)  # a coordinator's note
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user = relationship("User")


class SavedReply(OrgOwned, db.Model):
    """A reply coordinators reuse, in both languages."""

    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    body_es: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OnCallShift(OrgOwned, db.Model):
    """A coordinator on call from `starts_at` to `ends_at` (UTC): urgent cases opened then
    are assigned to them and they get the first alert."""

    __tablename__ = "on_call_shifts"
    __table_args__ = (Index("ix_on_call_org_time", "organization_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user = relationship("User")


class LocalService(OrgOwned, db.Model):
    """A service near the young people the organization refers them to."""

    __tablename__ = "local_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(200))
    hours: Mapped[str | None] = mapped_column(String(120))
    languages: Mapped[str] = mapped_column(String(10), default="es")  # "es", "en", "es,en"
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    state_code: Mapped[str | None] = mapped_column(String(6))
    municipality: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Referral(OrgOwned, db.Model):
    """A case referred to a service; the coordinator is reminded to follow up."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    service_type: Mapped[str] = mapped_column(String(12))
    local_service_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_services.id", ondelete="SET NULL")
    )
    referred_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    details_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    local_service = relationship("LocalService")
