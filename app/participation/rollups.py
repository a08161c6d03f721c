"""Report rollups of participation events (issue 15), maintained by the database itself.

Reports must not scan the raw events per request, yet stay exact to the contact. Triggers
on `participation_events` INSERT keep four tables in step, inside the inserting
transaction (so a rollup never shows an event that was rolled back, and ids committing out
of order do not matter, unlike an id watermark):

- `participation_reach`: per (campaign, contact), all time: the first reaching event and
  the deliveries, attendances, failures and undeliverables. All-time figures read one row
  per person instead of every event.
- `participation_reach_hours`: the same counts per (campaign, UTC hour, contact, message).
  A report period is whole local days of a whole-hour-offset zone, so its UTC bounds fall
  on whole hours and the hours inside it give exact distinct counts (reach.py falls back
  to the events for any other bound).
- `participation_message_contacts` and `participation_message_totals`: every (message,
  contact) pair with a delivery, and per message its deliveries and distinct contacts, in
  16 shards by contact so concurrent deliveries of one message rarely wait on one row.

Only campaign events of the kinds the reports count (deliveries, attendances, walk-ins,
failures) are rolled up; a message key is the message id, 0 without one. Events are
append-only and survive a contact's erasure, so nothing but an insert changes a rollup; a
deleted campaign or contact takes its rollup rows with it (ON DELETE CASCADE), as the
reports ignore events whose campaign was deleted.

PostgreSQL: one statement-level AFTER INSERT trigger reads the inserted rows as a
transition table and upserts each rollup with one INSERT ... SELECT ... GROUP BY ... ON
CONFLICT DO UPDATE (rows in key order, so concurrent statements lock in the same order).
Concurrent inserts stay exact: an upsert waits for a conflicting uncommitted row, and the
"new pair" count comes from the pairs that INSERT ... ON CONFLICT DO NOTHING really
inserted. On a table partitioned by month the trigger lives on the parent and sees the
rows of every partition. SQLite: row-level triggers (one writer at a time).

The same DDL runs under `db.create_all()` (tests) and in the migration d1a9e7a11015,
which also backfills the rollups from the existing events.
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, event, inspect
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import UTCDateTime

SHARDS = 16  # shards of participation_message_totals (contact_id % SHARDS)
# Kinds the rollups count (app.reports.metrics names the same sets for the reports).
DELIVERED = "sms_delivered"
ATTENDED = ("attended", "walk_in")
FAILED, UNDELIVERED = "sms_failed", "sms_undelivered"
ROLLED_UP_KINDS = (DELIVERED, *ATTENDED, FAILED, UNDELIVERED)


def _org_column() -> Mapped[int]:
    return mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


def _campaign_column() -> Mapped[int]:
    return mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


def _contact_column() -> Mapped[int]:
    return mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class ReachRollup(db.Model):
    """Per (campaign, contact), all time. Written only by the insert trigger."""

    __tablename__ = "participation_reach"

    organization_id: Mapped[int] = _org_column()
    campaign_id: Mapped[int] = _campaign_column()
    contact_id: Mapped[int] = _contact_column()
    first_reach_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: no reach
    delivered: Mapped[int] = mapped_column(Integer)
    attended: Mapped[int] = mapped_column(Integer)  # attended and walk_in events
    failed: Mapped[int] = mapped_column(Integer)
    undelivered: Mapped[int] = mapped_column(Integer)


class ReachHourRollup(db.Model):
    """Per (campaign, UTC hour since the epoch, contact, message key). Trigger-written."""

    __tablename__ = "participation_reach_hours"

    # Key in this order: a period reads the campaign's hours in its range only.
    organization_id: Mapped[int] = _org_column()
    campaign_id: Mapped[int] = _campaign_column()
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = _contact_column()
    message_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    delivered: Mapped[int] = mapped_column(Integer)
    attended: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    undelivered: Mapped[int] = mapped_column(Integer)


class MessageContactRollup(db.Model):
    """Each (message key, contact) with at least one delivery. Trigger-written."""

    __tablename__ = "participation_message_contacts"

    organization_id: Mapped[int] = _org_column()
    campaign_id: Mapped[int] = _campaign_column()
    message_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = _contact_column()


class MessageTotalRollup(db.Model):
    """Deliveries and distinct contacts per message key and shard. Trigger-written."""

    __tablename__ = "participation_message_totals"

    organization_id: Mapped[int] = _org_column()
    campaign_id: Mapped[int] = _campaign_column()
    message_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    delivered: Mapped[int] = mapped_column(Integer)
    contacts: Mapped[int] = mapped_column(Integer)


ROLLUP_TABLES = (
    ReachRollup.__table__,
    ReachHourRollup.__table__,
    MessageContactRollup.__table__,
    MessageTotalRollup.__table__,
)

# --- PostgreSQL -------------------------------------------------------------------------

_KINDS_SQL = ", ".join(f"'{k}'" for k in ROLLED_UP_KINDS)
_ATTENDED_SQL = ", ".join(f"'{k}'" for k in ATTENDED)


def _postgres_upserts(source: str) -> list[str]:
    """The rollup upserts from the events in `source` (the transition table, or the
    events table itself for the backfill)."""
    counts = f"""
        count(*) FILTER (WHERE kind = '{DELIVERED}'),
        count(*) FILTER (WHERE kind IN ({_ATTENDED_SQL})),
        count(*) FILTER (WHERE kind = '{FAILED}'),
        count(*) FILTER (WHERE kind = '{UNDELIVERED}')"""
    add = """
        delivered = r.delivered + EXCLUDED.delivered,
        attended = r.attended + EXCLUDED.attended,
        failed = r.failed + EXCLUDED.failed,
        undelivered = r.undelivered + EXCLUDED.undelivered"""
    scope = f"campaign_id IS NOT NULL AND kind IN ({_KINDS_SQL})"
    return [
        f"""
        INSERT INTO participation_reach AS r (organization_id, campaign_id, contact_id,
            first_reach_at, delivered, attended, failed, undelivered)
        SELECT organization_id, campaign_id, contact_id,
            min(occurred_at) FILTER (WHERE kind IN ('{DELIVERED}', {_ATTENDED_SQL})),
            {counts}
        FROM {source} WHERE {scope}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (organization_id, campaign_id, contact_id) DO UPDATE SET
            first_reach_at = LEAST(r.first_reach_at, EXCLUDED.first_reach_at), {add}""",
        f"""
        INSERT INTO participation_reach_hours AS r (organization_id, campaign_id, hour,
            contact_id, message_key, delivered, attended, failed, undelivered)
        SELECT organization_id, campaign_id,
            floor(date_part('epoch', occurred_at) / 3600)::bigint, contact_id,
            coalesce(message_id, 0), {counts}
        FROM {source} WHERE {scope}
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (organization_id, campaign_id, hour, contact_id, message_key)
        DO UPDATE SET {add}""",
        f"""
        WITH deliveries AS (
            SELECT organization_id, campaign_id, coalesce(message_id, 0) AS message_key,
                contact_id, count(*) AS n
            FROM {source} WHERE campaign_id IS NOT NULL AND kind = '{DELIVERED}'
            GROUP BY 1, 2, 3, 4
        ), fresh AS (
            INSERT INTO participation_message_contacts
                (organization_id, campaign_id, message_key, contact_id)
            SELECT organization_id, campaign_id, message_key, contact_id FROM deliveries
            ORDER BY 1, 2, 3, 4
            ON CONFLICT DO NOTHING
            RETURNING organization_id, campaign_id, message_key, contact_id
        ), changes AS (
            SELECT organization_id, campaign_id, message_key, contact_id, n, 0 AS fresh
            FROM deliveries
            UNION ALL
            SELECT organization_id, campaign_id, message_key, contact_id, 0, 1 FROM fresh
        )
        INSERT INTO participation_message_totals AS t (organization_id, campaign_id,
            message_key, shard, delivered, contacts)
        SELECT organization_id, campaign_id, message_key, mod(contact_id, {SHARDS}), sum(n),
            sum(fresh)
        FROM changes GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (organization_id, campaign_id, message_key, shard) DO UPDATE SET
            delivered = t.delivered + EXCLUDED.delivered,
            contacts = t.contacts + EXCLUDED.contacts""",
    ]


def postgres_trigger_ddl() -> list[str]:
    body = ";\n".join(_postgres_upserts("new_events"))
    return [
        f"""
        CREATE OR REPLACE FUNCTION participation_rollups_insert() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            {body};
            RETURN NULL;
        END
        $$""",
        "DROP TRIGGER IF EXISTS participation_rollups_insert ON participation_events",
        """
        CREATE TRIGGER participation_rollups_insert AFTER INSERT ON participation_events
        REFERENCING NEW TABLE AS new_events
        FOR EACH STATEMENT EXECUTE FUNCTION participation_rollups_insert()""",
    ]


# --- SQLite -----------------------------------------------------------------------------


def _sqlite_counts(prefix: str = "NEW.") -> str:
    return f"""
        {prefix}kind = '{DELIVERED}', {prefix}kind IN ({_ATTENDED_SQL}),
        {prefix}kind = '{FAILED}', {prefix}kind = '{UNDELIVERED}'"""


_SQLITE_ADD = """
    delivered = delivered + excluded.delivered,
    attended = attended + excluded.attended,
    failed = failed + excluded.failed,
    undelivered = undelivered + excluded.undelivered"""


def sqlite_trigger_ddl() -> list[str]:
    epoch_hour = "CAST(strftime('%s', NEW.occurred_at) AS INTEGER) / 3600"
    return [
        f"""
        CREATE TRIGGER IF NOT EXISTS participation_rollups_reach
        AFTER INSERT ON participation_events
        WHEN NEW.campaign_id IS NOT NULL AND NEW.kind IN ({_KINDS_SQL})
        BEGIN
            INSERT INTO participation_reach (organization_id, campaign_id, contact_id,
                first_reach_at, delivered, attended, failed, undelivered)
            VALUES (NEW.organization_id, NEW.campaign_id, NEW.contact_id,
                CASE WHEN NEW.kind IN ('{DELIVERED}', {_ATTENDED_SQL})
                THEN NEW.occurred_at END, {_sqlite_counts()})
            ON CONFLICT (organization_id, campaign_id, contact_id) DO UPDATE SET
                first_reach_at = CASE
                    WHEN excluded.first_reach_at IS NULL THEN first_reach_at
                    WHEN first_reach_at IS NULL OR excluded.first_reach_at < first_reach_at
                    THEN excluded.first_reach_at
                    ELSE first_reach_at END, {_SQLITE_ADD};
            INSERT INTO participation_reach_hours (organization_id, campaign_id, hour,
                contact_id, message_key, delivered, attended, failed, undelivered)
            VALUES (NEW.organization_id, NEW.campaign_id, {epoch_hour}, NEW.contact_id,
                coalesce(NEW.message_id, 0), {_sqlite_counts()})
            ON CONFLICT (organization_id, campaign_id, hour, contact_id, message_key)
            DO UPDATE SET {_SQLITE_ADD};
        END""",
        f"""
        CREATE TRIGGER IF NOT EXISTS participation_rollups_messages
        AFTER INSERT ON participation_events
        WHEN NEW.campaign_id IS NOT NULL AND NEW.kind = '{DELIVERED}'
        BEGIN
            INSERT INTO participation_message_totals (organization_id, campaign_id,
                message_key, shard, delivered, contacts)
            VALUES (NEW.organization_id, NEW.campaign_id, coalesce(NEW.message_id, 0),
                NEW.contact_id % {SHARDS}, 1, NOT EXISTS (
                    SELECT 1 FROM participation_message_contacts AS p
                    WHERE p.organization_id = NEW.organization_id
                    AND p.campaign_id = NEW.campaign_id
                    AND p.message_key = coalesce(NEW.message_id, 0)
                    AND p.contact_id = NEW.contact_id))
            ON CONFLICT (organization_id, campaign_id, message_key, shard) DO UPDATE SET
                delivered = delivered + excluded.delivered,
                contacts = contacts + excluded.contacts;
            INSERT OR IGNORE INTO participation_message_contacts (organization_id,
                campaign_id, message_key, contact_id)
            VALUES (NEW.organization_id, NEW.campaign_id, coalesce(NEW.message_id, 0),
                NEW.contact_id);
        END""",
    ]


# --- deletes -------------------------------------------------------------------------------
# Events are append-only but for one case: undoing a check-in (or a walk-in, or a workshop's
# completion) deletes its attendance events. The reach rollups of each affected (campaign,
# contact) are then recomputed from the events that remain: a handful of rows, rarely. The
# message rollups count deliveries only, which are never deleted.


def _pair_scope(prefix: str = "") -> str:
    return f"{prefix}campaign_id IS NOT NULL AND {prefix}kind IN ({_KINDS_SQL})"


def postgres_delete_trigger_ddl() -> list[str]:
    pairs = f"""(SELECT DISTINCT organization_id, campaign_id, contact_id FROM old_events
        WHERE {_pair_scope()})"""
    remaining = f"""(SELECT e.* FROM participation_events AS e
        WHERE (e.organization_id, e.campaign_id, e.contact_id) IN {pairs}) AS remaining"""
    forget = [
        f"""DELETE FROM {table} AS r USING {pairs} AS p
        WHERE r.organization_id = p.organization_id AND r.campaign_id = p.campaign_id
        AND r.contact_id = p.contact_id"""
        for table in ("participation_reach", "participation_reach_hours")
    ]
    body = ";\n".join([*forget, *_postgres_upserts(remaining)[:2]])
    return [
        f"""
        CREATE OR REPLACE FUNCTION participation_rollups_delete() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            {body};
            RETURN NULL;
        END
        $$""",
        "DROP TRIGGER IF EXISTS participation_rollups_delete ON participation_events",
        """
        CREATE TRIGGER participation_rollups_delete AFTER DELETE ON participation_events
        REFERENCING OLD TABLE AS old_events
        FOR EACH STATEMENT EXECUTE FUNCTION participation_rollups_delete()""",
    ]


def sqlite_delete_trigger_ddl() -> list[str]:
    same_pair = """organization_id = OLD.organization_id AND campaign_id = OLD.campaign_id
        AND contact_id = OLD.contact_id"""
    sums = f"""
        sum(kind = '{DELIVERED}'), sum(kind IN ({_ATTENDED_SQL})),
        sum(kind = '{FAILED}'), sum(kind = '{UNDELIVERED}')"""
    return [
        f"""
        CREATE TRIGGER IF NOT EXISTS participation_rollups_delete
        AFTER DELETE ON participation_events
        WHEN {_pair_scope("OLD.")}
        BEGIN
            DELETE FROM participation_reach WHERE {same_pair};
            DELETE FROM participation_reach_hours WHERE {same_pair};
            INSERT INTO participation_reach (organization_id, campaign_id, contact_id,
                first_reach_at, delivered, attended, failed, undelivered)
            SELECT organization_id, campaign_id, contact_id,
                min(CASE WHEN kind IN ('{DELIVERED}', {_ATTENDED_SQL}) THEN occurred_at END),
                {sums}
            FROM participation_events WHERE {same_pair} AND kind IN ({_KINDS_SQL})
            GROUP BY organization_id, campaign_id, contact_id;
            INSERT INTO participation_reach_hours (organization_id, campaign_id, hour,
                contact_id, message_key, delivered, attended, failed, undelivered)
            SELECT organization_id, campaign_id,
                CAST(strftime('%s', occurred_at) AS INTEGER) / 3600, contact_id,
                coalesce(message_id, 0), {sums}
            FROM participation_events WHERE {same_pair} AND kind IN ({_KINDS_SQL})
            GROUP BY 1, 2, 3, 4, 5;
        END""",
    ]


def delete_trigger_ddl(dialect_name: str) -> list[str]:
    """The statements that keep the reach rollups exact when events are deleted."""
    if dialect_name == "postgresql":
        return postgres_delete_trigger_ddl()
    if dialect_name == "sqlite":
        return sqlite_delete_trigger_ddl()
    raise NotImplementedError(f"no rollup triggers for {dialect_name}")


def trigger_ddl(dialect_name: str) -> list[str]:
    """The statements that create the rollup triggers on this database."""
    if dialect_name == "postgresql":
        return postgres_trigger_ddl()
    if dialect_name == "sqlite":
        return sqlite_trigger_ddl()
    raise NotImplementedError(f"no rollup triggers for {dialect_name}")


def backfill_sql(dialect_name: str) -> list[str]:
    """Statements that roll up the events already stored (empty rollups assumed)."""
    if dialect_name == "postgresql":
        return _postgres_upserts("participation_events")
    # SQLite: replay the events through the row triggers' logic in id order.
    return [
        "CREATE TEMP TABLE rollup_replay AS SELECT * FROM participation_events WHERE 0",
        *[
            ddl.replace("AFTER INSERT ON participation_events", "AFTER INSERT ON rollup_replay")
            .replace("CREATE TRIGGER IF NOT EXISTS", "CREATE TEMP TRIGGER")
            .replace("participation_rollups_", "rollup_replay_")
            for ddl in sqlite_trigger_ddl()
        ],
        "INSERT INTO rollup_replay SELECT * FROM participation_events ORDER BY id",
        "DROP TABLE rollup_replay",
    ]


def _create_triggers(target, connection, **kw) -> None:
    """After create_all: the triggers, once both the events and the rollups exist (a
    database made by create_all; migrated ones get them from the migration)."""
    created = {t.name for t in kw.get("tables") or ()}
    ours = {"participation_events", *(t.name for t in ROLLUP_TABLES)}
    if not created & ours:
        return
    inspector = inspect(connection)
    if not all(inspector.has_table(name) for name in ours):
        return
    for statement in trigger_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)
    for statement in delete_trigger_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


event.listen(db.metadata, "after_create", _create_triggers)
