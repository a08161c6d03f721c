"""SMS surveys: a survey (questions in both languages), its runs (who is asked, when) and,
per run and contact, a response with its answers.

A run's questions go out through the outbox like everything else; the response row is the
conversation state (which question is waiting for an answer, whether it was re-asked,
reminded). At most one response per contact is active at a time: a partial unique index
holds that even under concurrent fan-outs.
"""

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

MAX_QUESTIONS = 10
# audience: an audience's contacts; baseline: a campaign's contacts before its first message;
# follow_up: a campaign's contacts N days after each one's last campaign message; workshop:
# a workshop's attendees after it ends.
RUN_KINDS = ("audience", "baseline", "follow_up", "workshop")
RUN_STATUSES = ("scheduled", "running", "closed", "canceled")
# invited: the first question is queued or sent, no answer yet; started: at least one answer;
# completed: every question asked was answered or skipped; partial: the window ran out (or
# the run was closed) before the end; stopped: the contact opted out; canceled: the run was
# canceled or the first question never went (not eligible, opted out before it went).
RESPONSE_STATUSES = ("invited", "started", "completed", "partial", "stopped", "canceled")
ACTIVE_RESPONSE_STATUSES = ("invited", "started")
BRANCH_END = 0  # a branch target: end the survey


class Survey(OrgOwned, db.Model):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    title_es: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str] = mapped_column(String(120))
    intro_es: Mapped[str] = mapped_column(Text, default="")
    intro_en: Mapped[str] = mapped_column(Text, default="")
    thanks_es: Mapped[str] = mapped_column(Text, default="")
    thanks_en: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    questions = relationship(
        "SurveyQuestion",
        order_by="SurveyQuestion.position",
        cascade="all, delete-orphan",
        back_populates="survey",
    )


class SurveyQuestion(OrgOwned, db.Model):
    """One question, in both languages. `options`: a choice's options, a list of
    {"es": ..., "en": ...} (answered by number, 1-based, or by the words). A scale runs from
    `scale_min` to `scale_max` with labeled ends; a number question has an optional range.
    `branches`: {"<parsed value>": <position to go to, or 0 to end>} (yes/no values are
    "1"/"0"); an answer without a branch goes to the next position."""

    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("survey_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 1..MAX_QUESTIONS
    qtype: Mapped[str] = mapped_column(String(10))  # app.surveys.answers.QTYPES
    # The question bank's code and construct (None for a question written by hand): results
    # compare across surveys by construct.
    bank_code: Mapped[str | None] = mapped_column(String(40))
    construct: Mapped[str | None] = mapped_column(String(30))
    text_es: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    options: Mapped[list | None] = mapped_column(db.JSON)
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)
    low_es: Mapped[str | None] = mapped_column(String(40))
    low_en: Mapped[str | None] = mapped_column(String(40))
    high_es: Mapped[str | None] = mapped_column(String(40))
    high_en: Mapped[str | None] = mapped_column(String(40))
    number_min: Mapped[int | None] = mapped_column(Integer)
    number_max: Mapped[int | None] = mapped_column(Integer)
    branches: Mapped[dict | None] = mapped_column(db.JSON)

    survey = relationship("Survey", back_populates="questions")


class SurveyRun(OrgOwned, db.Model):
    """Who is asked a survey, and when."""

    __tablename__ = "survey_runs"
    __table_args__ = (Index("ix_survey_runs_status_starts", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # RUN_KINDS
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="SET NULL"))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"))
    follow_up_days: Mapped[int | None] = mapped_column(Integer)
    # When the first question goes, at each contact's local time (like a send's date and
    # time); `starts_at` is the earliest UTC moment of it, for the scheduler.
    local_date: Mapped[date | None] = mapped_column(Date)
    local_time: Mapped[time | None] = mapped_column(Time)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # How long a contact has to answer a question: one reminder half-way... see services.
    window_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    status: Mapped[str] = mapped_column(String(10), default="scheduled")  # RUN_STATUSES
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    survey = relationship("Survey")


class SurveyResponse(OrgOwned, db.Model):
    """One contact's way through one run: the conversation state while it is active."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("run_id", "contact_id"),
        # At most one active survey per contact.
        Index(
            "uq_survey_responses_active_contact",
            "contact_id",
            unique=True,
            postgresql_where=text("status IN ('invited', 'started')"),
            sqlite_where=text("status IN ('invited', 'started')"),
        ),
        Index("ix_survey_responses_run_status", "run_id", "status"),
        # The periodic task: active responses whose question waited too long.
        Index("ix_survey_responses_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("survey_runs.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="invited")  # RESPONSE_STATUSES
    language: Mapped[str] = mapped_column(String(2))
    # The question waiting for an answer (its position), None once closed.
    position: Mapped[int | None] = mapped_column(Integer)
    reasked: Mapped[bool] = mapped_column(Boolean, default=False)  # this question, once
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)  # this response, once
    # The outbox row of the last question sent (SET NULL: outbox rows can be pruned).
    # Indexed: deleting outbox rows and archiving them look it up (app/outbox/archive.py).
    last_outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True
    )
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # No answer by then: a reminder (once), then the response closes as partial.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    run = relationship("SurveyRun")


class SurveyAnswer(OrgOwned, db.Model):
    """The accepted answer to one question (or its skip): the raw text as written, the
    parsed value and when. `value_num`: a choice's option number (1-based), a scale point,
    a number, yes = 1 / no = 0; `value_text`: free text."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question_id"),
        Index("ix_survey_answers_question", "question_id", "value_num"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    raw_text: Mapped[str | None] = mapped_column(Text)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    # SALTAR/SKIP, or a second answer that still could not be understood.
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
