"""Webhook endpoints and their deliveries (the webhook outbox)."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookEndpoint(OrgOwned, db.Model):
    """An HTTPS address of another system that hears about this organization's events.

    `secret` signs every delivery (HMAC-SHA256); it is kept as is because signing needs
    it, and shown to the admin once. `own_system`: an admin said the endpoint is the
    organization's own system, so its payloads may carry the contact's phone and name."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(120))
    events: Mapped[str] = mapped_column(String(300))  # space-separated EVENT_TYPES
    secret: Mapped[str] = mapped_column(String(80))
    own_system: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # "admin" (an admin disabled it) or "failing" (disabled automatically); None: enabled.
    disabled_reason: Mapped[str | None] = mapped_column(String(10))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An automatic disabling admins have not acknowledged yet (a notice on the settings page).
    notice_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def event_list(self) -> list[str]:
        return self.events.split()


class WebhookDelivery(OrgOwned, db.Model):
    """One event for one endpoint. `uid` is the X-Alcance-Delivery header: the same on
    every attempt, so receivers drop repeats. `payload` holds ids and de-identified fields
    only; an own-system endpoint's phone and name are read when it is sent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_key"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(160))
    payload: Mapped[dict] = mapped_column(db.JSON)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="pending")  # DELIVERY_STATUSES
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A worker holds the row until then (crashed mid-send: retried after it).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))  # never a response body
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    endpoint = relationship("WebhookEndpoint")
