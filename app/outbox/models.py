"""The outbox's tables: every outgoing message (any channel, any purpose), replies, and
provider callbacks that arrived early. Only app.outbox writes them (see app/outbox/api.py);
anyone may read them."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

# A message knows its channel (today SMS; WhatsApp is next) and its purpose.
CHANNELS = ("sms",)
PURPOSES = ("campaign", "invitation", "reminder", "workshop_notice", "thank_you", "system")
# Transactional workshop messages respect quiet hours but not the frequency cap; "system"
# replies (keyword confirmations) answer a message the contact just sent: neither applies.
CAPPED_PURPOSES = ("campaign", "invitation")
OUTBOX_STATUSES = (
    "scheduled",
    "held",
    "claimed",
    "unknown",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "canceled",
    "skipped",
    "failed_unknown",
)
# Twilio callbacks may arrive out of order: a status never moves to a lower rank.
STATUS_RANK = {
    "scheduled": 0,
    "held": 0,
    "claimed": 1,
    "unknown": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "skipped": 4,
    "failed_unknown": 4,
}
# "failed_unknown": the provider could not tell us for hours whether it accepted the message
# (reconciliation escalates it): counted as not delivered, never re-sent.
FINAL_STATUSES = ("delivered", "undelivered", "failed", "canceled", "skipped", "failed_unknown")


class OutboxMessage(OrgOwned, db.Model):
    """One recipient message: the schedule lives here, never in a task queue."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # Fan-out is idempotent: one row per send, contact and occurrence.
        UniqueConstraint("send_id", "contact_id", "occurrence"),
        Index("ix_outbox_due", "status", "due_at"),
        Index("ix_outbox_contact_sent", "contact_id", "sent_at"),
        Index("ix_outbox_campaign_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    send_id: Mapped[int | None] = mapped_column(ForeignKey("outreach_sends.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_messages.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    workshop_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshops.id", ondelete="SET NULL"), index=True
    )
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(10), default="sms", server_default="sms")
    # "campaign" (campaign SMS), "invitation"/"reminder"/"workshop_notice"/"thank_you"
    # (workshop SMS: campaign rules apply) or "system" (keyword confirmations, replies).
    purpose: Mapped[str] = mapped_column(String(20), default="campaign")
    language: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # e.g. a reminder: the start
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    skip_reason: Mapped[str | None] = mapped_column(String(30))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when a worker has applied every send-time rule to the claimed row: its text is
    # final from then on (never rewritten on a retry), and caps and "first message" count it.
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set right before this row's own provider call: from then on it is never re-sent blindly.
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Reconciliation of an `unknown` row: failed provider lookups and when to look again.
    reconcile_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reconcile_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    twilio_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(12))
    error_message: Mapped[str | None] = mapped_column(String(200))
    segments: Mapped[int | None] = mapped_column(Integer)
    with_opt_out_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def counted_as_sent():
    """Rows handed (or about to be handed) to the provider, whatever the outcome so far:
    what caps and "first message" (the opt-out line) count."""
    return (
        OutboxMessage.send_started_at.is_not(None) | OutboxMessage.prepared_at.is_not(None)
    ) & OutboxMessage.status.in_(
        ("claimed", "unknown", "sent", "delivered", "undelivered", "failed_unknown")
    )


class InboundMessage(OrgOwned, db.Model):
    """An SMS a contact sent us. Unknown senders are not stored (no junk, no strangers' data)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_campaign_time", "campaign_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    twilio_sid: Mapped[str] = mapped_column(
        String(40), unique=True
    )  # webhook retries are idempotent
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(20))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    contact = relationship("Contact")


class EarlyStatusCallback(db.Model):
    """A Twilio status callback that arrived before the worker recorded the message's SID
    (Twilio can call back within milliseconds of accepting a message). Kept until the SID
    appears (the worker's maintenance applies it) or for a few days (not one of ours).
    Holds no personal data: a SID, a status, an error code."""

    __tablename__ = "early_status_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    twilio_sid: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(12))  # outbox status (TWILIO_TO_OUTBOX)
    error_code: Mapped[str | None] = mapped_column(String(12))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
