"""Sends: a coordinator's instruction to message an audience on a schedule, and campaign
enrolments (sequences count days from them). Their messages live in the outbox."""

from datetime import date, datetime, time

from sqlalchemy import Date, ForeignKey, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

SEND_KINDS = ("once", "recurring", "sequence")
SEND_STATUSES = ("scheduled", "canceled")


class OutreachSend(OrgOwned, db.Model):
    """A coordinator's instruction: send this message to this audience, on this schedule."""

    __tablename__ = "outreach_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("campaign_messages.id", ondelete="CASCADE"))
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))
    # Recipient-local wall time ("17:00 in Tijuana and 17:00 in Mérida")...
    local_date: Mapped[date | None] = mapped_column(Date)
    local_time: Mapped[time | None] = mapped_column(Time)
    # ...or one fixed instant for everybody.
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    weekdays: Mapped[list | None] = mapped_column(db.JSON)  # recurring: 0=Monday
    weeks: Mapped[int | None] = mapped_column(Integer)
    day_offset: Mapped[int | None] = mapped_column(Integer)  # sequence: days after enrolment
    # A workshop invitation: rows get purpose "invitation", the workshop's placeholders and
    # its RSVP line, and each recipient an "invited" registration.
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # NULL before 2026-12
    # A one-off send's last message went to the provider (send.completed, outbound webhooks).
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A large audience is fanned out by a background job (fanout_jobs.py): its progress.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaign = relationship("Campaign")
    message = relationship("CampaignMessage")
    audience = relationship("Audience")
    workshop = relationship("Workshop")


class CampaignEnrollment(OrgOwned, db.Model):
    """A contact joined a campaign (via an audience); sequences count days from here."""

    __tablename__ = "campaign_enrollments"
    __table_args__ = (UniqueConstraint("campaign_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
