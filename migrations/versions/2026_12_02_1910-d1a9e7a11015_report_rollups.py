"""report rollups of participation events, kept by insert triggers (issue 15)

Revision ID: d1a9e7a11015
Revises: e9a27c1d0015
Create Date: 2026-12-02 19:10:00.000000

Four rollup tables (app/participation/rollups.py), the triggers that keep them on every
insert into participation_events (on PostgreSQL a statement-level trigger on the
partitioned parent), and a backfill from the events already stored. The triggers are
created before the backfill, in the same transaction: on PostgreSQL the migration's
transaction holds the lock its DDL took, so no event slips between the two.
"""

import sqlalchemy as sa
from alembic import op

import app.timeutil
from app.participation.rollups import backfill_sql, trigger_ddl

# revision identifiers, used by Alembic.
revision = "d1a9e7a11015"
down_revision = "e9a27c1d0015"
branch_labels = None
depends_on = None

COUNTS = ("delivered", "attended", "failed", "undelivered")


def _key(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def _create(table: str, key: list[str], columns: list[sa.Column]) -> None:
    references = {
        "organization_id": "organizations",
        "campaign_id": "campaigns",
        "contact_id": "contacts",
    }
    key_columns = [
        sa.Column(name, sa.BigInteger() if name == "hour" else sa.Integer(), nullable=False)
        for name in key
    ]
    op.create_table(
        table,
        *key_columns,
        *columns,
        *(_key(table, name, target) for name, target in references.items() if name in key),
        sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{table}")),
    )


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade():
    _create(
        "participation_reach",
        ["organization_id", "campaign_id", "contact_id"],
        [
            sa.Column("first_reach_at", app.timeutil.UTCDateTime(timezone=True), nullable=True),
            *_counts(*COUNTS),
        ],
    )
    _create(
        "participation_reach_hours",
        ["organization_id", "campaign_id", "hour", "contact_id", "message_key"],
        _counts(*COUNTS),
    )
    _create(
        "participation_message_contacts",
        ["organization_id", "campaign_id", "message_key", "contact_id"],
        [],
    )
    _create(
        "participation_message_totals",
        ["organization_id", "campaign_id", "message_key", "shard"],
        _counts("delivered", "contacts"),
    )
    dialect = op.get_bind().dialect.name
    for statement in trigger_ddl(dialect):
        op.execute(sa.text(statement))
    for statement in backfill_sql(dialect):
        op.execute(sa.text(statement))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS participation_rollups_insert ON participation_events")
        op.execute("DROP FUNCTION IF EXISTS participation_rollups_insert()")
    else:
        op.execute("DROP TRIGGER IF EXISTS participation_rollups_reach")
        op.execute("DROP TRIGGER IF EXISTS participation_rollups_messages")
    op.drop_table("participation_message_totals")
    op.drop_table("participation_message_contacts")
    op.drop_table("participation_reach_hours")
    op.drop_table("participation_reach")
