"""Monthly partitions of `participation_events` on PostgreSQL (issue 15).

A national program writes ~50M events a year. On PostgreSQL the table is partitioned by
RANGE (occurred_at), one partition per UTC calendar month: reports that filter by period
read only their months, and each month's indexes stay small. The partitions live in their
own schema, `partitions`, so that schema comparison (alembic autogenerate,
tests/test_migrations.py), which reads the default schema only, sees just the parent table
the models describe.

A DEFAULT partition catches every row whose month has no partition yet (a clock far off, a
backdated import), so an insert never fails for lack of a partition. `maintain_partitions`
(worker maintenance and `flask partitions maintain`) keeps the months around now created;
when a month gets its partition while the default already holds rows of that month, they
are moved in the same transaction (PostgreSQL refuses a partition whose range matches rows
left in the default).

Old partitions are never detached or dropped here: reports and rollups read every month
back to a campaign's start, and erasure de-identifies contacts instead of deleting events.

SQLite (laptop mode) keeps a plain table: every function here does nothing there.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from app.db_dialect import is_postgres
from app.extensions import db

logger = logging.getLogger("alcance.partitions")

SCHEMA = "partitions"
TABLE = "participation_events"
DEFAULT_PARTITION = f"{SCHEMA}.{TABLE}_default"
MONTHS_BEHIND = 1  # late events of last month (a delayed status callback) get their partition
LOCK_TIMEOUT = "5s"  # maintenance gives up (and retries next pass) rather than stall inserts


@dataclass(frozen=True)
class Partition:
    name: str  # schema-qualified
    bounds: str  # PostgreSQL's text, e.g. "FOR VALUES FROM (...) TO (...)" or "DEFAULT"
    rows_estimate: int | None  # None: never analyzed


def month_start(moment: datetime) -> date:
    """The first day of `moment`'s UTC month."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return date(moment.year, moment.month, 1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{SCHEMA}.{TABLE}_{month:%Y_%m}"


def _bound(month: date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def partition_exists(conn: Connection, month: date) -> bool:
    return (
        conn.scalar(text("SELECT to_regclass(:name)"), {"name": partition_name(month)}) is not None
    )


def create_default_partition(conn: Connection) -> None:
    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT"
    )


def create_month_partition(conn: Connection, month: date) -> int:
    """Give `month` its partition inside `conn`'s transaction, moving the month's rows out of
    the default partition first. Returns how many rows moved."""
    name, low, high = partition_name(month), _bound(month), _bound(add_months(month, 1))
    # No insert may reach the default between the move and ATTACH (which checks the default
    # holds no row of the month, and would fail); reads go on meanwhile.
    conn.exec_driver_sql(f"LOCK TABLE {DEFAULT_PARTITION} IN EXCLUSIVE MODE")
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {TABLE})")
    moved = conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION}"
            " WHERE occurred_at >= CAST(:low AS timestamptz)"
            " AND occurred_at < CAST(:high AS timestamptz) RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved"
        ),
        {"low": low, "high": high},
    ).rowcount
    # ATTACH builds the parent's indexes and foreign keys on the new partition.
    conn.exec_driver_sql(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"
    )
    return moved


def months_around(now: datetime, months_ahead: int) -> list[date]:
    first = month_start(now)
    return [add_months(first, n) for n in range(-MONTHS_BEHIND, months_ahead + 1)]


def create_initial_partitions(conn: Connection, *, now: datetime, months_ahead: int) -> None:
    """The default partition and the months around `now`, for a new partitioned table
    (db.create_all); its caller's transaction, no lock timeout (nothing else uses it yet)."""
    create_default_partition(conn)
    for month in months_around(now, months_ahead):
        if not partition_exists(conn, month):
            create_month_partition(conn, month)


def maintain_partitions(*, now: datetime, months_ahead: int) -> dict[str, int]:
    """Create the missing monthly partitions from last month to `months_ahead` months after
    `now`'s, one transaction each. Returns {partition created: rows moved from the default}.
    A month whose locks are not granted within LOCK_TIMEOUT is left to the next pass."""
    if not is_postgres():
        return {}
    created = {}
    conn = db.session.connection()
    # Check first: CREATE SCHEMA needs the CREATE privilege even when the schema exists.
    if conn.scalar(text("SELECT to_regclass(:name)"), {"name": DEFAULT_PARTITION}) is None:
        create_default_partition(conn)
        db.session.commit()
    for month in months_around(now, months_ahead):
        conn = db.session.connection()
        if partition_exists(conn, month):
            continue
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            moved = create_month_partition(conn, month)
            db.session.commit()
        except OperationalError:  # lock timeout: busy now, retried by the next pass
            db.session.rollback()
            logger.warning("partition %s not created: locks not granted", partition_name(month))
            continue
        created[partition_name(month)] = moved
        logger.info(
            "partition %s created, %d rows moved from the default", partition_name(month), moved
        )
    db.session.commit()  # end the last read
    return created


def list_partitions() -> list[Partition]:
    """The partitions of participation_events with PostgreSQL's row estimates (as of the
    last ANALYZE); empty on SQLite."""
    if not is_postgres():
        return []
    rows = db.session.execute(
        text(
            "SELECT n.nspname || '.' || c.relname, pg_get_expr(c.relpartbound, c.oid),"
            " c.reltuples::bigint"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY c.relname"
        ),
        {"parent": TABLE},
    )
    return [
        Partition(name, bounds, estimate if estimate >= 0 else None)
        for name, bounds, estimate in rows
    ]
