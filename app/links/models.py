from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow


class TrackedLink(OrgOwned, db.Model):
    """One link of one recipient's copy of a message: PUBLIC_BASE_URL/l/<code> leads to
    `destination` (while its host stays on the organization's allow-list, until
    `expires_at`). Made once per outbox row when the worker prepares it (finalize.py).

    `clicks` counts real clicks, `previews` fetches by link-preview bots, scanners, HEAD
    requests and fetches within seconds of sending (clicks.py); the first real click sets
    `first_click_at` and records the participation event "clicked"."""

    __tablename__ = "tracked_links"
    __table_args__ = (
        Index("ix_tracked_links_expires_at", "expires_at"),
        # A contact's links (erasure, cascades) and their first clicks per message.
        Index("ix_tracked_links_contact_message", "contact_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_messages.id", ondelete="SET NULL"), index=True
    )
    destination: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    previews: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
