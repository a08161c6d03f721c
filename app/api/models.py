"""API keys and the responses kept for `Idempotency-Key` replays."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

# Scopes an admin can grant a key (issue 20). Evaluator-like scopes read de-identified
# data only: a key holding none of PERSONAL_SCOPES never receives names or phone numbers.
SCOPES = (
    "contacts:read",
    "contacts:write",
    "sends:write",
    "campaigns:read",
    "workshops:write",
    "reports:read",
    "events:read",
)
PERSONAL_SCOPES = ("contacts:read",)


class ApiKey(OrgOwned, db.Model):
    """A key an admin created for one organization. Only the SHA-256 of the secret is
    stored (the secret is shown once); `prefix` (the secret's first characters, not enough
    to use it) tells keys apart on the settings page and in logs."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated, from SCOPES
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope_list

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class ApiIdempotentRequest(db.Model):
    """The first response to a POST that carried an `Idempotency-Key`, per API key: a retry
    with the same key and body gets it back; another body under the same key is refused.
    `status` is NULL while the first request is still running."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key"),
        Index("ix_api_idempotent_requests_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
