"""opt-out attribution rollup, kept by insert and delete triggers (issue 15)

Revision ID: 5b0e7a4c9d21
Revises: 48eb554d1f0f
Create Date: 2026-12-03 12:00:00.000000

One row per opt-out event with the last delivery to its contact at or before it
(app/participation/attribution.py), the triggers that keep it on every insert into and
delete from participation_events (on PostgreSQL statement-level triggers on the
partitioned parent), and a backfill of the opt-outs already stored (one index lookup per
opt-out, as one report request used to do). The triggers are created before the backfill,
in the same transaction: on PostgreSQL the migration's transaction holds the lock its DDL
took, so no event slips between the two.
"""

import sqlalchemy as sa
from alembic import op

import app.timeutil
from app.participation.attribution import TABLE, backfill_sql, trigger_ddl

# revision identifiers, used by Alembic.
revision = "5b0e7a4c9d21"
down_revision = "48eb554d1f0f"
branch_labels = None
depends_on = None


def _key(column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{TABLE}_{column}_{target}"), ondelete=ondelete
    )


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("opt_out_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("opted_out_at", app.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_id", sa.Integer(), nullable=True),
        sa.Column("delivered_at", app.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        _key("organization_id", "organizations", "CASCADE"),
        _key("contact_id", "contacts", "CASCADE"),
        _key("campaign_id", "campaigns", "SET NULL"),
        _key("message_id", "campaign_messages", "SET NULL"),
        sa.PrimaryKeyConstraint("opt_out_id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index("ix_opt_out_attribution_org_time", TABLE, ["organization_id", "opted_out_at"])
    op.create_index("ix_opt_out_attribution_contact_time", TABLE, ["contact_id", "opted_out_at"])
    dialect = op.get_bind().dialect.name
    for statement in trigger_ddl(dialect):
        op.execute(sa.text(statement))
    for statement in backfill_sql(dialect):
        op.execute(sa.text(statement))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for action in ("insert", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{action} ON participation_events")
            op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_{action}()")
    else:
        for name in ("opt_out", "delivery", "deleted"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{name}")
    op.drop_table(TABLE)
