"""partition participation events by month (PostgreSQL)

Revision ID: e9a27c1d0015
Revises: c0a7e5d1b015
Create Date: 2026-12-02 19:05:00.000000

On PostgreSQL, participation_events becomes a table partitioned by RANGE (occurred_at), one
partition per UTC month in the `partitions` schema plus a DEFAULT partition (see
app/participation/partitions.py); its primary key becomes (id, occurred_at). The rows are
copied and the SERIAL sequence keeps counting where it was. SQLite keeps its plain table:
nothing to do there.

The copy is one INSERT ... SELECT inside the migration's transaction; indexes and foreign keys
are added after it (one bulk build each instead of per-row upkeep). Plan a maintenance window
for tens of millions of rows.
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import app.timeutil

# revision identifiers, used by Alembic.
revision = "e9a27c1d0015"
down_revision = "c0a7e5d1b015"
branch_labels = None
depends_on = None

TABLE = "participation_events"
OLD = "participation_events_old"
SEQUENCE = "participation_events_id_seq"
SCHEMA = "partitions"
MONTHS_AHEAD = 3
COLUMNS = (
    "id, contact_id, campaign_id, message_id, outbox_id, workshop_id, kind, channel, detail,"
    " occurred_at, organization_id"
)
FOREIGN_KEYS = (
    ("contact_id", "contacts", "CASCADE"),
    ("campaign_id", "campaigns", "SET NULL"),
    ("message_id", "campaign_messages", "SET NULL"),
    ("workshop_id", "workshops", "SET NULL"),
    ("organization_id", "organizations", "CASCADE"),
)
INDEXES = (
    (
        "ix_participation_campaign_kind_time",
        ["organization_id", "campaign_id", "kind", "occurred_at"],
    ),
    ("ix_participation_contact", ["contact_id", "occurred_at"]),
    ("ix_participation_events_organization_id", ["organization_id"]),
    (
        "ix_participation_campaign_contact",
        [
            "organization_id",
            "campaign_id",
            "contact_id",
            "workshop_id",
            "kind",
            "occurred_at",
            "message_id",
        ],
    ),
    ("ix_participation_org_kind_time", ["organization_id", "kind", "occurred_at", "contact_id"]),
)


def _create_table(*, partitioned: bool) -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),  # SERIAL
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("workshop_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", app.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            *(("id", "occurred_at") if partitioned else ("id",)), name="pk_participation_events"
        ),
        **({"postgresql_partition_by": "RANGE (occurred_at)"} if partitioned else {}),
    )


def _add_keys_and_indexes() -> None:
    for column, target, ondelete in FOREIGN_KEYS:
        op.create_foreign_key(
            f"fk_{TABLE}_{column}_{target}", TABLE, target, [column], ["id"], ondelete=ondelete
        )
    for name, columns in INDEXES:
        op.create_index(name, TABLE, columns, unique=False)


def _set_aside_old_table() -> None:
    """Rename the table, its key's index and its sequence out of the new table's way (the
    old indexes and foreign keys go with the old table)."""
    op.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    op.execute(f"ALTER INDEX pk_{TABLE} RENAME TO pk_{OLD}")
    op.execute(f"ALTER SEQUENCE {SEQUENCE} RENAME TO {OLD}_id_seq")


def _copy_rows_and_sequence() -> None:
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD}")
    # The new SERIAL goes on exactly where the old one was (never reusing an id).
    op.execute(f"SELECT setval('{SEQUENCE}', last_value, is_called) FROM {OLD}_id_seq")
    op.execute(f"DROP TABLE {OLD}")  # and its sequence, owned by its id column


def _month(value: datetime) -> date:
    return date(value.year, value.month, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _create_partitions() -> None:
    """The default partition, and one per month that has events or is near now."""
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute(f"CREATE TABLE {SCHEMA}.{TABLE}_default PARTITION OF {TABLE} DEFAULT")
    present = op.get_bind().scalars(
        sa.text(
            f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date FROM {OLD}"
        )
    )
    months = set(present)
    month = _month(datetime.now(UTC))
    months.add(date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1))
    for _ in range(MONTHS_AHEAD + 1):
        months.add(month)
        month = _next_month(month)
    for month in sorted(months):
        op.execute(
            f"CREATE TABLE {SCHEMA}.{TABLE}_{month:%Y_%m} PARTITION OF {TABLE}"
            f" FOR VALUES FROM ('{month:%Y-%m-%d} 00:00:00+00')"
            f" TO ('{_next_month(month):%Y-%m-%d} 00:00:00+00')"
        )


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite (laptop mode) keeps the plain table
    _set_aside_old_table()
    _create_table(partitioned=True)
    _create_partitions()
    _copy_rows_and_sequence()
    _add_keys_and_indexes()


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside_old_table()
    _create_table(partitioned=False)
    _copy_rows_and_sequence()  # dropping the partitioned table drops its partitions
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
    _add_keys_and_indexes()
