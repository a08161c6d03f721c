from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, PrimaryKeyConstraint, String, event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.participation.partitions import create_initial_partitions
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

KINDS = (
    "sms_sent",
    "sms_delivered",
    "sms_failed",
    "sms_undelivered",
    "reply",
    "opt_out",
    "opt_in",
    "invited",
    "rsvp_yes",
    "rsvp_no",
    "waitlisted",
    "attended",
    "no_show",
    "walk_in",
    "referred",
    "survey_started",
    "survey_completed",
    "clicked",  # first real click on a tracked link, per recipient and message (app/links)
)
CHANNELS = ("sms", "workshop", "web", "import")


class ParticipationEvent(OrgOwned, db.Model):
    """Append-only: one row per participation event. Rows survive a contact's erasure
    (the contact row stays, de-identified), so reach figures stay correct.

    On PostgreSQL the table is partitioned by month of `occurred_at`
    (app/participation/partitions.py), so its primary key must include it: the database's
    key is (id, occurred_at) there, while the mapped key stays `id`, unique by itself (one
    SERIAL sequence) and the key on SQLite, whose plain table autoincrements only a lone
    INTEGER PRIMARY KEY. Nothing may reference an event by foreign key: PostgreSQL would
    need (id, occurred_at)."""

    __tablename__ = "participation_events"
    __table_args__ = (
        Index(
            "ix_participation_campaign_kind_time",
            "organization_id",
            "campaign_id",
            "kind",
            "occurred_at",
        ),
        Index("ix_participation_contact", "contact_id", "occurred_at"),
        # Reports (issue 6): a campaign's events in contact order, covering every column
        # the reach, dose, funnel and organization queries read (index-only scans).
        Index(
            "ix_participation_campaign_contact",
            "organization_id",
            "campaign_id",
            "contact_id",
            "workshop_id",
            "kind",
            "occurred_at",
            "message_id",
        ),
        # Reports: an organization's events of one kind in time (opt-out attribution).
        Index(
            "ix_participation_org_kind_time", "organization_id", "kind", "occurred_at", "contact_id"
        ),
        {
            "postgresql_partition_by": "RANGE (occurred_at)",
            "info": {"postgresql_primary_key": ("id", "occurred_at")},
        },
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_messages.id", ondelete="SET NULL")
    )
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(String(40))  # e.g. a Twilio error code
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@compiles(PrimaryKeyConstraint, "postgresql")
def _postgresql_primary_key(constraint, compiler, **kw):
    """A table's `info["postgresql_primary_key"]` columns as its key on PostgreSQL (the
    partition key must be part of a partitioned table's key)."""
    table = constraint.table
    columns = table.info.get("postgresql_primary_key") if table is not None else None
    if not columns:
        return compiler.visit_primary_key_constraint(constraint, **kw)
    name = compiler.preparer.format_constraint(constraint) if constraint.name else None
    prefix = f"CONSTRAINT {name} " if name else ""
    return f"{prefix}PRIMARY KEY ({', '.join(columns)})"


@event.listens_for(ParticipationEvent.__table__, "after_create")
def _create_partitions(table, connection, **kw):
    # db.create_all (tests, a new laptop or server database) builds the partitioned parent;
    # inserts need its partitions at once. Migrations create them themselves.
    if connection.dialect.name == "postgresql":
        create_initial_partitions(connection, now=utcnow(), months_ahead=3)
