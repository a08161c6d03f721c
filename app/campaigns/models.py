from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

TOPICS = (
    "fentanyl",
    "synthetic_drugs",
    "alcohol",
    "tobacco_vaping",
    "cannabis",
    "general_prevention",
    "mental_health",
)
# The six CSAP prevention strategies US funders report on.
STRATEGIES = (
    "information_dissemination",
    "education",
    "alternatives",
    "problem_identification_referral",
    "community_based_process",
    "environmental",
)
LEVELS = ("universal", "selective", "indicated")  # US Institute of Medicine
STATUSES = ("draft", "active", "paused", "completed", "archived")
TRANSITIONS = {
    "draft": {"active", "archived"},
    "active": {"paused", "completed"},
    "paused": {"active", "completed"},
    "completed": {"archived"},
    "archived": set(),
}


class Campaign(OrgOwned, db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    objectives: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(30))
    strategy: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(12))
    target_age_min: Mapped[int] = mapped_column(Integer, default=12)
    target_age_max: Mapped[int] = mapped_column(Integer, default=29)
    # The denominator evaluators use for reach; per place in CampaignPlace where known.
    target_population: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    default_language: Mapped[str] = mapped_column(String(2), default="es")
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    organization = relationship("Organization")
    places: Mapped[list["CampaignPlace"]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", lazy="selectin"
    )
    messages: Mapped[list["CampaignMessage"]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignMessage.id"
    )


class CampaignPlace(db.Model):
    """A target place (state, optionally municipality) with its target population if known."""

    __tablename__ = "campaign_places"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    country: Mapped[str] = mapped_column(String(2))
    state_code: Mapped[str] = mapped_column(String(3))
    municipality: Mapped[str | None] = mapped_column(String(80))
    target_population: Mapped[int | None] = mapped_column(Integer)

    campaign: Mapped[Campaign] = relationship(back_populates="places")


class CampaignMessage(OrgOwned, db.Model):
    """One SMS of a campaign, written in both languages."""

    __tablename__ = "campaign_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(120))
    body_es: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    # Plain web addresses in the texts become tracked short links too ({link:…} always do).
    track_links: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The WhatsApp template (its name: one approved row per language, app.whatsapp) sent to
    # WhatsApp contacts outside the 24-hour window; None: the organization's no-template rule.
    whatsapp_template_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="messages")

    def body_for(self, language: str) -> str:
        return self.body_en if language == "en" else self.body_es
