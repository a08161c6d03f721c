"""The outbox's tables: every outgoing message (any channel, any purpose), replies, and
provider callbacks that arrived early. Only app.outbox writes them (see app/outbox/api.py);
anyone may read them."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

# A message knows its channel and its purpose.
CHANNELS = ("sms", "whatsapp")
PURPOSES = (
    "campaign",
    "invitation",
    "reminder",
    "workshop_notice",
    "thank_you",
    "system",
    "reply",
    "staff_alert",
    "survey",
    "survey_reply",
)
# Transactional workshop messages respect quiet hours but not the frequency cap; "system"
# replies (keyword confirmations) answer a message the contact just sent: neither applies.
# A survey's first question ("survey") is outreach like a campaign message.
CAPPED_PURPOSES = ("campaign", "invitation", "survey")
# Answers to someone who wrote (keyword confirmations and crisis replies: "system"; a
# coordinator's "reply"; a survey's next question, re-ask, thank-you and reminder:
# "survey_reply") and alerts to staff phones: not outreach. No cap, no opt-out line, no
# campaign or send rule holds them, no participation event counts them. They go when queued
# (one queued for later, e.g. a survey reminder, was given an allowed time then, and is
# skipped past its `expires_at`). Replies still respect an opt-out; "system" ones and staff
# alerts do not.
ANSWERS = ("system", "reply", "staff_alert", "survey_reply")
OPT_OUT_ANSWERS = ("reply", "survey_reply")
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
        # A send's next due message (the dashboard) without reading its other rows.
        Index("ix_outbox_send_status_due", "send_id", "status", "due_at"),
        # A send page's messages in id order (keyset pages): without it the planner walks the
        # primary key hoping to meet the send's rows early, which reads the whole live table
        # once the send's rows are archived (bench/national.py: 200 ms, with it 0.2 ms).
        Index("ix_outbox_send_id_order", "send_id", "id"),
        Index("uq_outbox_messages_fallback_of_id", "fallback_of_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    send_id: Mapped[int | None] = mapped_column(ForeignKey("outreach_sends.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_messages.id", ondelete="SET NULL")
    )
    # NULL only for a staff alert (purpose "staff_alert"), sent to `user_id`'s own phone.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    workshop_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshops.id", ondelete="SET NULL"), index=True
    )
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(10), default="sms", server_default="sms")
    # "campaign" (campaign SMS), "invitation"/"reminder"/"workshop_notice"/"thank_you"
    # (workshop SMS: campaign rules apply), "survey"/"survey_reply" (a survey's first
    # question / the rest of it) or "system" (keyword confirmations, replies): PURPOSES.
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
    # What the provider charged, when it said (Twilio's `price` on a message lookup: a
    # negative amount as a string, e.g. "-0.00830"; here as a positive amount) and its
    # currency (`price_unit`, e.g. "USD"). NULL: not known; reports estimate it instead.
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 5))
    price_unit: Mapped[str | None] = mapped_column(String(3))
    with_opt_out_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # WhatsApp's "read" receipt (the status itself stays "delivered": read is not a rank).
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What went on WhatsApp, decided when the row is prepared (app/outbox/channel_plan.py):
    # "free_form" (inside the 24-hour window) or "template" (`content_sid` with
    # `content_variables`, a JSON object). A row created to retry with a template (63016)
    # carries "template" before its preparation. NULL for SMS.
    whatsapp_form: Mapped[str | None] = mapped_column(String(10))
    content_sid: Mapped[str | None] = mapped_column(String(34))
    content_variables: Mapped[str | None] = mapped_column(Text)
    # The WhatsApp row this one replaces (an SMS fallback, or a retry with a template): at
    # most one per failed row (unique), so a retried callback or a crash can never double it.
    fallback_of_id: Mapped[int | None] = mapped_column(Integer)
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
    channel: Mapped[str] = mapped_column(String(10), default="sms", server_default="sms")
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


# --- status counters -------------------------------------------------------------------------
# Pages show a send's, a campaign's or an organization's messages by status; counting the
# outbox rows per request costs ~20 ms per 100k rows, and a national program has 10M. The
# counts are kept instead by triggers on outbox_messages, so every path that changes a row
# keeps them exact (ORM, bulk INSERT ... SELECT and UPDATE, cascades, raw SQL). Concurrent
# senders must not queue on one counter row: the triggers append signed deltas, and
# app.outbox.counters.fold moves them into the counts. Read them with
# app.outbox.api.status_counts (counts plus the deltas not yet folded: never behind).
# Keys hold 0, not NULL, for a message without campaign or send (a unique key treats NULLs
# as distinct). No foreign keys: the deltas of a deleted campaign must still fold.
# On SQLite a migration that rebuilds outbox_messages (batch_alter_table) drops its
# triggers: such a migration must create them again (status_triggers below).


class OutboxStatusDelta(db.Model):
    """A signed change (+n, -n) of the number of outbox rows with one key and status,
    written by the triggers only; folded away by app.outbox.counters.fold."""

    __tablename__ = "outbox_status_deltas"
    __table_args__ = (
        Index("ix_outbox_status_deltas_organization_id", "organization_id"),
        Index("ix_outbox_status_deltas_campaign_id", "campaign_id"),
        Index("ix_outbox_status_deltas_send_id", "send_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer)
    campaign_id: Mapped[int] = mapped_column(Integer)  # 0: no campaign
    send_id: Mapped[int] = mapped_column(Integer)  # 0: no send
    status: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int] = mapped_column(Integer)


class OutboxStatusCount(db.Model):
    """How many outbox rows have this key and status, as of the last fold (add the deltas
    for the figure now). Written by app.outbox.counters.fold only."""

    __tablename__ = "outbox_status_counts"
    __table_args__ = (
        Index("ix_outbox_status_counts_campaign_id", "campaign_id"),
        Index("ix_outbox_status_counts_send_id", "send_id"),
    )

    organization_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no campaign
    send_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no send
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


_KEY = "organization_id, campaign_id, send_id, status, delta"
_OLD = "OLD.organization_id, COALESCE(OLD.campaign_id, 0), COALESCE(OLD.send_id, 0), OLD.status"
_NEW = "NEW.organization_id, COALESCE(NEW.campaign_id, 0), COALESCE(NEW.send_id, 0), NEW.status"
_MOVED = " OR ".join(
    f"OLD.{c} IS NOT NEW.{c}" for c in ("status", "campaign_id", "send_id", "organization_id")
)
# SQLite: row triggers (one writer at a time, laptop scale).
SQLITE_STATUS_TRIGGERS = (
    f"""CREATE TRIGGER outbox_status_counts_insert AFTER INSERT ON outbox_messages
BEGIN INSERT INTO outbox_status_deltas ({_KEY}) VALUES ({_NEW}, 1); END""",
    f"""CREATE TRIGGER outbox_status_counts_update
AFTER UPDATE OF status, campaign_id, send_id, organization_id ON outbox_messages
WHEN {_MOVED}
BEGIN INSERT INTO outbox_status_deltas ({_KEY}) VALUES ({_OLD}, -1), ({_NEW}, 1); END""",
    f"""CREATE TRIGGER outbox_status_counts_delete AFTER DELETE ON outbox_messages
BEGIN INSERT INTO outbox_status_deltas ({_KEY}) VALUES ({_OLD}, -1); END""",
)


# EXECUTE plans each run for the rows at hand: a plan cached by PL/pgSQL keeps the row
# estimates of its first run, and one planned for a 100k-row cancel made each following
# single-row UPDATE of the session take ~200 ms (bench/status_counts.py).
def _pg_function(name: str, body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
EXECUTE $sql$ {body} $sql$;
RETURN NULL;
END $$"""


def _pg_trigger(event: str, function: str, transition: str) -> str:
    return f"""CREATE TRIGGER outbox_status_counts_{event.lower()}
AFTER {event} ON outbox_messages REFERENCING {transition}
FOR EACH STATEMENT EXECUTE FUNCTION {function}()"""


_PG_GROUPED = """INSERT INTO outbox_status_deltas ({key})
SELECT organization_id, COALESCE(campaign_id, 0), COALESCE(send_id, 0), status, {sign}count(*)
FROM {rows} GROUP BY 1, 2, 3, 4"""
# An UPDATE moves a row from its old key and status to its new one; rows whose status and
# links did not change (leases, texts, errors) add nothing.
_PG_MOVED = f"""INSERT INTO outbox_status_deltas ({_KEY})
SELECT k.organization_id, k.campaign_id, k.send_id, k.status, sum(k.delta)
FROM old_rows o JOIN new_rows n ON n.id = o.id
CROSS JOIN LATERAL (VALUES
    ({_OLD.replace("OLD.", "o.")}, -1),
    ({_NEW.replace("NEW.", "n.")}, 1)
) AS k(organization_id, campaign_id, send_id, status, delta)
WHERE (o.status, o.campaign_id, o.send_id, o.organization_id)
    IS DISTINCT FROM (n.status, n.campaign_id, n.send_id, n.organization_id)
GROUP BY 1, 2, 3, 4 HAVING sum(k.delta) <> 0"""
# PostgreSQL: statement triggers over transition tables, so a 100k-row fan-out or cancel adds
# one aggregated INSERT (a few delta rows), not 100k.
POSTGRES_STATUS_TRIGGERS = (
    _pg_function(
        "outbox_status_deltas_on_insert", _PG_GROUPED.format(key=_KEY, sign="", rows="new_rows")
    ),
    _pg_function(
        "outbox_status_deltas_on_delete", _PG_GROUPED.format(key=_KEY, sign="-", rows="old_rows")
    ),
    _pg_function("outbox_status_deltas_on_update", _PG_MOVED),
    _pg_trigger("INSERT", "outbox_status_deltas_on_insert", "NEW TABLE AS new_rows"),
    _pg_trigger("DELETE", "outbox_status_deltas_on_delete", "OLD TABLE AS old_rows"),
    _pg_trigger(
        "UPDATE", "outbox_status_deltas_on_update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
)


def status_triggers(dialect_name: str) -> tuple[str, ...]:
    return POSTGRES_STATUS_TRIGGERS if dialect_name == "postgresql" else SQLITE_STATUS_TRIGGERS


# The outbox archive (PostgreSQL; app/outbox/archive.py).
SCHEMA = "partitions"  # beside the event partitions: tables the models do not declare
ARCHIVE = f"{SCHEMA}.outbox_archive"
# The archive's keys, indexes, foreign keys and counter triggers: those of outbox_messages
# (app/outbox/models.py), which inheritance does not copy. Keep them in step with the
# model; the migration that created the archive holds a frozen copy.
ARCHIVE_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE {ARCHIVE} () INHERITS (outbox_messages)",
    f"ALTER TABLE {ARCHIVE} ADD PRIMARY KEY (id)",
    f"ALTER TABLE {ARCHIVE} ADD UNIQUE (send_id, contact_id, occurrence)",
    f"ALTER TABLE {ARCHIVE} ADD UNIQUE (twilio_sid)",
    f"CREATE INDEX outbox_archive_due ON {ARCHIVE} (status, due_at)",
    f"CREATE INDEX outbox_archive_contact_sent ON {ARCHIVE} (contact_id, sent_at)",
    f"CREATE INDEX outbox_archive_campaign_status ON {ARCHIVE} (campaign_id, status)",
    f"CREATE INDEX outbox_archive_send_status_due ON {ARCHIVE} (send_id, status, due_at)",
    f"CREATE INDEX outbox_archive_send_id_order ON {ARCHIVE} (send_id, id)",
    f"CREATE INDEX outbox_archive_workshop ON {ARCHIVE} (workshop_id)",
    f"CREATE INDEX outbox_archive_organization ON {ARCHIVE} (organization_id)",
    *(
        f"ALTER TABLE {ARCHIVE} ADD FOREIGN KEY ({column}) REFERENCES {target} (id) "
        f"ON DELETE {action}"
        for column, target, action in (
            ("organization_id", "organizations", "CASCADE"),
            ("campaign_id", "campaigns", "CASCADE"),
            ("send_id", "outreach_sends", "CASCADE"),
            ("message_id", "campaign_messages", "SET NULL"),
            ("contact_id", "contacts", "CASCADE"),
            ("user_id", "users", "CASCADE"),
            ("workshop_id", "workshops", "SET NULL"),
        )
    ),
    *(
        f"CREATE TRIGGER outbox_archive_status_counts_{kind.lower()} AFTER {kind} "
        f"ON {ARCHIVE} REFERENCING {transition} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION outbox_status_deltas_on_{kind.lower()}()"
        for kind, transition in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        )
    ),
)


@event.listens_for(OutboxMessage.__table__, "after_create")
def _create_status_triggers(table, connection, **_):
    """db.create_all() (tests, `flask` dev setups) gets the triggers and, on PostgreSQL, the
    archive that the migrations create."""
    for statement in status_triggers(connection.dialect.name):
        connection.exec_driver_sql(statement)
    if connection.dialect.name == "postgresql":
        for statement in ARCHIVE_DDL:
            connection.exec_driver_sql(statement)


@event.listens_for(OutboxMessage.__table__, "before_drop")
def _drop_archive(table, connection, **_):
    """db.drop_all(): an inheritance child would block dropping its parent."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {ARCHIVE}")
