"""Experiments: a campaign's arms (message variants, an optional holdout), who is in which
arm, and the pre-registered outcomes with every change made to them.

One experiment per campaign. It is designed in draft (arms, ratios, variants, outcomes,
stratification), started once (everyone in its audience is assigned, the outcomes lock)
and finished by hand. Assignments are sticky: once stored they never change.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

STATUSES = ("draft", "running", "finished")
ARM_KEYS = ("A", "B", "C", "D")
HOLDOUT_KEY = "holdout"
MIN_ARMS, MAX_ARMS = 2, 4  # arms that receive the campaign (the holdout is extra)
MAX_WEIGHT = 1000
MAX_LABEL = 80
OUTCOME_KINDS = ("rsvp_yes", "attended", "survey_item", "clicked")
MAX_WINDOW_DAYS = 365
MAX_SECONDARY_OUTCOMES = 5


class Experiment(OrgOwned, db.Model):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True
    )
    # Who is randomized when the experiment starts (later recipients are assigned on entry).
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # Blocked allocation within strata of place (state) and age band.
    stratify: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaign = relationship("Campaign")
    audience = relationship("Audience")
    arms: Mapped[list["ExperimentArm"]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        order_by="ExperimentArm.position",
    )
    outcomes: Mapped[list["ExperimentOutcome"]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        order_by="ExperimentOutcome.position",
    )

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def holdout(self) -> "ExperimentArm | None":
        return next((arm for arm in self.arms if arm.is_holdout), None)


class ExperimentArm(OrgOwned, db.Model):
    """An arm: 'A'..'D' (they receive the campaign, each with its variants) or the holdout
    (it receives none of the campaign's messages, but stays eligible for surveys).
    `weight`: its allocation ratio (45/45/10 and 9/9/2 are the same design)."""

    __tablename__ = "experiment_arms"
    __table_args__ = (UniqueConstraint("experiment_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(Integer, default=0)  # the assignment's arm order
    label: Mapped[str] = mapped_column(String(80), default="")  # staff-only, any language
    weight: Mapped[int] = mapped_column(Integer)
    is_holdout: Mapped[bool] = mapped_column(Boolean, default=False)

    experiment: Mapped[Experiment] = relationship(back_populates="arms")
    variants: Mapped[list["ExperimentVariant"]] = relationship(
        back_populates="arm", cascade="all, delete-orphan"
    )


class ExperimentVariant(OrgOwned, db.Model):
    """An arm's own text of one campaign message (an arm without one gets the message's)."""

    __tablename__ = "experiment_variants"
    __table_args__ = (UniqueConstraint("arm_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    arm_id: Mapped[int] = mapped_column(ForeignKey("experiment_arms.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_messages.id", ondelete="CASCADE"), index=True
    )
    body_es: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    arm: Mapped[ExperimentArm] = relationship(back_populates="variants")

    def body_for(self, language: str) -> str:
        return self.body_en if language == "en" else self.body_es


class ExperimentAssignment(OrgOwned, db.Model):
    """Which arm a contact is in: written once (at start or on entry), never changed.
    `stratum`: place and age band when assigned ("MX-02|15-17"); `position`: the contact's
    slot in its stratum's blocks (stratified experiments only)."""

    __tablename__ = "experiment_assignments"
    __table_args__ = (
        UniqueConstraint("experiment_id", "contact_id"),
        Index("ix_experiment_assignments_stratum", "experiment_id", "stratum"),
        Index("ix_experiment_assignments_arm", "arm_id", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    arm_id: Mapped[int] = mapped_column(ForeignKey("experiment_arms.id", ondelete="CASCADE"))
    stratum: Mapped[str | None] = mapped_column(String(24))
    position: Mapped[int | None] = mapped_column(Integer)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ExperimentOutcome(OrgOwned, db.Model):
    """A pre-registered outcome: what counts as an event and within how many days of the
    contact's assignment (the start, or their entry later): the same moment in every arm,
    the holdout included, whatever was sent. One is primary.

    survey_item: an answer to a survey question, given by its bank code (comparable across
    surveys) or by one question; `top_box`: the answer values (value_num) that count."""

    __tablename__ = "experiment_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(12))
    window_days: Mapped[int] = mapped_column(Integer)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    survey_bank_code: Mapped[str | None] = mapped_column(String(40))
    survey_question_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="SET NULL")
    )
    top_box: Mapped[list | None] = mapped_column(db.JSON)

    experiment: Mapped[Experiment] = relationship(back_populates="outcomes")

    def spec(self) -> dict:
        """What the pre-registration says about this outcome (the audit's before/after)."""
        return {
            "kind": self.kind,
            "window_days": self.window_days,
            "primary": self.is_primary,
            "survey_bank_code": self.survey_bank_code,
            "survey_question_id": self.survey_question_id,
            "top_box": self.top_box,
        }


class PreregistrationChange(OrgOwned, db.Model):
    """A change of the pre-registered outcomes: who, when, before and after. Changes after
    the start are made explicitly, with a reason, and the report shows them."""

    __tablename__ = "experiment_preregistration_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    before: Mapped[list] = mapped_column(db.JSON)
    after: Mapped[list] = mapped_column(db.JSON)
    after_start: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
