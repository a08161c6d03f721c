"""Opt-out attribution rollup (issue 15), maintained by the database itself.

Metric opt_out_rate attributes each opt-out event to the campaign and message of the last
`sms_delivered` event of the same contact (and organization) at or before it, ties broken
by the larger event id: `ORDER BY occurred_at DESC, id DESC LIMIT 1`. Looking that up per
opt-out when a report asks reads every monthly partition of `participation_events` once
per opt-out (seconds for a national dashboard); here it is looked up once, when the
opt-out is inserted, and kept in `participation_opt_out_attribution`, one row per opt-out
event. Triggers keep it exact, inside the writing transaction:

- an inserted opt-out gets its row, with the last delivery at or before it (or none);
- an inserted delivery (a late status callback may carry an earlier time than an opt-out
  already stored) becomes the attribution of that contact's opt-outs at or after it whose
  current delivery is older in (occurred_at, id) order;
- a deleted opt-out takes its row with it; a deleted delivery sends the opt-outs attributed
  to it back to the lookup. The app deletes neither kind (events survive erasure,
  partitions are never dropped: app/participation/partitions.py); this keeps the rollup
  exact anyway, e.g. through a contact's or an organization's ON DELETE CASCADE. (Moving
  rows between partitions, which maintenance does on the partitions themselves, fires no
  trigger of the parent, as for the other rollups.)

The delivery's campaign and message are copied with the same ON DELETE SET NULL as the
events' own columns, so a deleted campaign or message leaves both without one alike.

PostgreSQL: statement-level AFTER INSERT and AFTER DELETE triggers on the partitioned
parent read the statement's rows as a transition table. Concurrency: an opt-out and a
delivery of one contact committed at once would each miss the other (neither sees the
other's uncommitted row). So each statement first takes transaction-scoped advisory locks
on the contacts' stripes (contact_id mod STRIPES, in stripe order): shared for deliveries,
exclusive for opt-outs and for deletes. Whichever statement gets its lock second runs its
lookup or update after the other transaction committed, and sees it. Deliveries never wait
for each other (they lock attribution rows in key order, and re-check them on a concurrent
update); an opt-out waits at most for the delivery transactions in flight on its stripe,
and a long unrelated transaction holding the contact (a fan-out) does not delay it. Exact
under READ COMMITTED, the app's isolation level. SQLite: row-level triggers (one writer
at a time).

The same DDL runs under `db.create_all()` (tests) and in the migration 5b0e7a4c9d21, which
backfills the rows of the opt-outs already stored.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, event, inspect
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import UTCDateTime

OPT_OUT, DELIVERED = "opt_out", "sms_delivered"
STRIPES = 256  # advisory lock stripes (a bulk statement holds at most this many locks)
LOCK_KEY = 0x0A70_0015  # first key of the two-integer advisory locks (stripe second)
TABLE = "participation_opt_out_attribution"


class OptOutAttribution(db.Model):
    """One row per opt-out event with the delivery it is attributed to. Trigger-written."""

    __tablename__ = TABLE
    __table_args__ = (
        # Reports: an organization's opt-outs in a period.
        Index("ix_opt_out_attribution_org_time", "organization_id", "opted_out_at"),
        # Triggers: a contact's opt-outs at or after a delivery.
        Index("ix_opt_out_attribution_contact_time", "contact_id", "opted_out_at"),
    )

    # The opt-out event's id (unique by itself: one sequence; the event's key on
    # PostgreSQL is (id, occurred_at), so no foreign key: see ParticipationEvent).
    opt_out_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The delivery event (None: no delivery to the contact at or before the opt-out).
    delivered_id: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_messages.id", ondelete="SET NULL")
    )


_COLUMNS = (
    "opt_out_id, organization_id, contact_id, opted_out_at,"
    " delivered_id, delivered_at, campaign_id, message_id"
)
_DELIVERY = "id, occurred_at, campaign_id, message_id"
_SET_DELIVERY = "(delivered_id, delivered_at, campaign_id, message_id)"


def _last_delivery(columns: str, contact: str, organization: str, moment: str) -> str:
    """The last delivery of the contact at or before `moment`: the metric's definition."""
    return f"""
        SELECT {columns} FROM participation_events AS e
        WHERE e.contact_id = {contact} AND e.organization_id = {organization}
            AND e.kind = '{DELIVERED}' AND e.occurred_at <= {moment}
        ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1"""


# --- PostgreSQL -------------------------------------------------------------------------


def _postgres_attribute(source: str) -> str:
    """Rows for the opt-outs in `source` (the transition table, or the events table)."""
    lookup = _last_delivery(_DELIVERY, "o.contact_id", "o.organization_id", "o.occurred_at")
    return f"""
        INSERT INTO {TABLE} ({_COLUMNS})
        SELECT o.id, o.organization_id, o.contact_id, o.occurred_at,
            d.id, d.occurred_at, d.campaign_id, d.message_id
        FROM {source} AS o LEFT JOIN LATERAL ({lookup}) AS d ON true
        WHERE o.kind = '{OPT_OUT}'
        ORDER BY o.id"""


def _postgres_lock(source: str, exclusive: str) -> str:
    """Take the stripe locks of the contacts of `source`'s relevant rows, in order;
    exclusive where `exclusive` (a condition on the rows) holds for any of the stripe's."""
    return f"""
        FOR stripe, alone IN
            SELECT mod(contact_id, {STRIPES}), bool_or({exclusive}) FROM {source}
            WHERE kind IN ('{OPT_OUT}', '{DELIVERED}') GROUP BY 1 ORDER BY 1
        LOOP
            IF alone THEN
                PERFORM pg_advisory_xact_lock({LOCK_KEY}, stripe);
            ELSE
                PERFORM pg_advisory_xact_lock_shared({LOCK_KEY}, stripe);
            END IF;
        END LOOP"""


_POSTGRES_REATTRIBUTE = f"""
        WITH best AS (
            SELECT DISTINCT ON (a.opt_out_id) a.opt_out_id, d.id, d.occurred_at,
                d.campaign_id, d.message_id
            FROM new_events AS d JOIN {TABLE} AS a
                ON a.contact_id = d.contact_id AND a.organization_id = d.organization_id
                AND a.opted_out_at >= d.occurred_at
            WHERE d.kind = '{DELIVERED}'
            ORDER BY a.opt_out_id, d.occurred_at DESC, d.id DESC
        ), locked AS MATERIALIZED (
            -- Row locks in key order: concurrent deliveries never deadlock on them.
            SELECT a.opt_out_id FROM {TABLE} AS a JOIN best USING (opt_out_id)
            ORDER BY a.opt_out_id FOR UPDATE OF a
        )
        UPDATE {TABLE} AS a SET {_SET_DELIVERY} =
            (best.id, best.occurred_at, best.campaign_id, best.message_id)
        FROM best JOIN locked USING (opt_out_id)
        WHERE a.opt_out_id = best.opt_out_id
            -- Checked again on a row a concurrent delivery updated meanwhile.
            AND (a.delivered_id IS NULL
                OR (a.delivered_at, a.delivered_id) < (best.occurred_at, best.id))"""


def _postgres_lookup_again(source: str) -> str:
    """Attributions whose delivery is among `source`'s deleted rows, looked up again."""
    lookup = _last_delivery(_DELIVERY, "a.contact_id", "a.organization_id", "a.opted_out_at")
    return f"""
        UPDATE {TABLE} AS a SET {_SET_DELIVERY} = ({lookup})
        WHERE a.contact_id IN (SELECT contact_id FROM {source} WHERE kind = '{DELIVERED}')
            AND a.delivered_id IN (SELECT id FROM {source} WHERE kind = '{DELIVERED}')"""


def _postgres_function(name: str, source: str, steps: dict[str, list[str]], exclusive: str) -> str:
    """A trigger function running each step's statements only when `source` has rows of
    the step's kind (most statements insert neither kind and return at once)."""
    kinds = {OPT_OUT: "opt_outs", DELIVERED: "deliveries"}
    body = "\n".join(
        f"IF {kinds[kind]} THEN {'; '.join(statements)}; END IF;"
        for kind, statements in steps.items()
    )
    return f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            opt_outs boolean;
            deliveries boolean;
            stripe integer;
            alone boolean;
        BEGIN
            SELECT coalesce(bool_or(kind = '{OPT_OUT}'), false),
                coalesce(bool_or(kind = '{DELIVERED}'), false)
            INTO opt_outs, deliveries FROM {source};
            IF NOT (opt_outs OR deliveries) THEN
                RETURN NULL;
            END IF;
            {_postgres_lock(source, exclusive)};
            {body}
            RETURN NULL;
        END
        $$"""


def postgres_trigger_ddl() -> list[str]:
    insert, delete = f"{TABLE}_insert", f"{TABLE}_delete"
    return [
        # Existing opt-outs first: the new ones' lookup already sees the new deliveries.
        _postgres_function(
            insert,
            "new_events",
            {DELIVERED: [_POSTGRES_REATTRIBUTE], OPT_OUT: [_postgres_attribute("new_events")]},
            f"kind = '{OPT_OUT}'",
        ),
        _postgres_function(
            delete,
            "old_events",
            {
                OPT_OUT: [
                    f"DELETE FROM {TABLE} WHERE opt_out_id IN"
                    f" (SELECT id FROM old_events WHERE kind = '{OPT_OUT}')"
                ],
                DELIVERED: [_postgres_lookup_again("old_events")],
            },
            "true",
        ),
        f"DROP TRIGGER IF EXISTS {insert} ON participation_events",
        f"""
        CREATE TRIGGER {insert} AFTER INSERT ON participation_events
        REFERENCING NEW TABLE AS new_events
        FOR EACH STATEMENT EXECUTE FUNCTION {insert}()""",
        f"DROP TRIGGER IF EXISTS {delete} ON participation_events",
        f"""
        CREATE TRIGGER {delete} AFTER DELETE ON participation_events
        REFERENCING OLD TABLE AS old_events
        FOR EACH STATEMENT EXECUTE FUNCTION {delete}()""",
    ]


# --- SQLite -----------------------------------------------------------------------------


def _sqlite_attribute(row: str) -> tuple[str, str]:
    """The SELECT list of the row of the opt-out `row` (NEW in a trigger, o over the
    events in a backfill) and the lookup of its delivery's id (joined as d)."""
    lookup = _last_delivery(
        "e.id", f"{row}.contact_id", f"{row}.organization_id", f"{row}.occurred_at"
    )
    return (
        f"""
        SELECT {row}.id, {row}.organization_id, {row}.contact_id, {row}.occurred_at,
            d.id, d.occurred_at, d.campaign_id, d.message_id""",
        lookup,
    )


def sqlite_trigger_ddl() -> list[str]:
    columns, lookup = _sqlite_attribute("NEW")
    again = _last_delivery(
        _DELIVERY, "OLD.contact_id", "OLD.organization_id", f"{TABLE}.opted_out_at"
    )
    return [
        f"""
        CREATE TRIGGER IF NOT EXISTS {TABLE}_opt_out
        AFTER INSERT ON participation_events WHEN NEW.kind = '{OPT_OUT}'
        BEGIN
            INSERT INTO {TABLE} ({_COLUMNS})
            {columns}
            FROM (SELECT 1) LEFT JOIN participation_events AS d ON d.id = ({lookup});
        END""",
        f"""
        CREATE TRIGGER IF NOT EXISTS {TABLE}_delivery
        AFTER INSERT ON participation_events WHEN NEW.kind = '{DELIVERED}'
        BEGIN
            UPDATE {TABLE} SET {_SET_DELIVERY} =
                (NEW.id, NEW.occurred_at, NEW.campaign_id, NEW.message_id)
            WHERE contact_id = NEW.contact_id AND organization_id = NEW.organization_id
                AND opted_out_at >= NEW.occurred_at
                AND (delivered_id IS NULL OR delivered_at < NEW.occurred_at
                    OR (delivered_at = NEW.occurred_at AND delivered_id < NEW.id));
        END""",
        f"""
        CREATE TRIGGER IF NOT EXISTS {TABLE}_deleted
        AFTER DELETE ON participation_events
        WHEN OLD.kind IN ('{OPT_OUT}', '{DELIVERED}')
        BEGIN
            DELETE FROM {TABLE} WHERE opt_out_id = OLD.id AND OLD.kind = '{OPT_OUT}';
            UPDATE {TABLE} SET {_SET_DELIVERY} = ({again})
            WHERE contact_id = OLD.contact_id AND delivered_id = OLD.id
                AND OLD.kind = '{DELIVERED}';
        END""",
    ]


def trigger_ddl(dialect_name: str) -> list[str]:
    """The statements that create the attribution triggers on this database."""
    if dialect_name == "postgresql":
        return postgres_trigger_ddl()
    if dialect_name == "sqlite":
        return sqlite_trigger_ddl()
    raise NotImplementedError(f"no attribution triggers for {dialect_name}")


def backfill_sql(dialect_name: str) -> list[str]:
    """Statements that attribute the opt-outs already stored (an empty table assumed)."""
    if dialect_name == "postgresql":
        return [_postgres_attribute("participation_events")]
    columns, lookup = _sqlite_attribute("o")
    return [
        f"""
        INSERT INTO {TABLE} ({_COLUMNS})
        {columns}
        FROM participation_events AS o LEFT JOIN participation_events AS d
            ON d.id = ({lookup})
        WHERE o.kind = '{OPT_OUT}'"""
    ]


def _create_triggers(target, connection, **kw) -> None:
    """After create_all: the triggers, once both the events and this table exist (a
    database made by create_all; migrated ones get them from the migration)."""
    created = {t.name for t in kw.get("tables") or ()}
    ours = {"participation_events", TABLE}
    if not created & ours:
        return
    inspector = inspect(connection)
    if not all(inspector.has_table(name) for name in ours):
        return
    for statement in trigger_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


event.listen(db.metadata, "after_create", _create_triggers)
