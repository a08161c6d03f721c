from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

KINDS = ("school_talk", "community_workshop", "sports_arts", "parents_session")
STATUSES = ("scheduled", "canceled", "completed")
DELIVERY_LANGUAGES = ("es", "en", "both")
# invited → confirmed | waitlisted | declined; confirmed/waitlisted → canceled (by the contact)
REGISTRATION_STATUSES = ("invited", "confirmed", "waitlisted", "declined", "canceled")


class Workshop(OrgOwned, db.Model):
    """An in-person session of a campaign. Times are stored in UTC with the venue's zone."""

    __tablename__ = "workshops"
    __table_args__ = (
        UniqueConstraint("organization_id", "code"),
        Index("ix_workshops_org_start", "organization_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(4))  # "SI 4821"
    title_es: Mapped[str] = mapped_column(String(160))
    title_en: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(24))
    venue_name: Mapped[str] = mapped_column(String(160))
    venue_address: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2))
    state_code: Mapped[str | None] = mapped_column(String(3))
    municipality: Mapped[str | None] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    facilitator: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(4), default="es")
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    sequence: Mapped[int] = mapped_column(
        Integer, default=0
    )  # iCalendar SEQUENCE, bumped on change
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # undo counts from it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    campaign = relationship("Campaign")

    def title_for(self, language: str) -> str:
        """The title in `language` ("en", or a regional locale such as "en_US"/"en-US")."""
        return self.title_en if str(language or "").lower()[:2] == "en" else self.title_es


class WorkshopRegistration(OrgOwned, db.Model):
    """One contact's relation to one workshop: invitation, RSVP, waitlist and attendance."""

    __tablename__ = "workshop_registrations"
    __table_args__ = (
        UniqueConstraint("workshop_id", "contact_id"),
        Index("ix_registrations_workshop_status", "workshop_id", "status"),
        Index("ix_registrations_contact", "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default="invited")
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # waitlist order
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    no_show: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    workshop = relationship("Workshop")
    contact = relationship("Contact")
