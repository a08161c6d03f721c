"""reach rollups follow deleted events (an undone check-in) (issue 15)

Revision ID: 9c3f1d2e7a55
Revises: 5b0e7a4c9d21
Create Date: 2026-12-03 13:00:00.000000

Undoing a check-in (or a walk-in, or a workshop's completion) deletes attendance events;
the reach rollups kept counting them. A delete trigger recomputes the rollup rows of each
affected (campaign, contact) from the events that remain (app/participation/rollups.py),
and the rows of the pairs with attendance (the only events ever deleted) are rebuilt once.
"""

from alembic import op

from app.participation.rollups import _postgres_upserts, delete_trigger_ddl, sqlite_trigger_ddl

# revision identifiers, used by Alembic.
revision = "9c3f1d2e7a55"
down_revision = "5b0e7a4c9d21"
branch_labels = None
depends_on = None

REACH_TABLES = ("participation_reach", "participation_reach_hours")


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in delete_trigger_ddl(dialect):
        op.execute(statement)
    # Only attendance events were ever deleted: rebuild the pairs with attendance counted.
    op.execute(
        "CREATE TEMP TABLE rebuild_pairs AS SELECT organization_id, campaign_id, contact_id "
        "FROM participation_reach WHERE attended > 0"
    )
    same = (
        "organization_id = p.organization_id AND {t}.campaign_id = p.campaign_id "
        "AND {t}.contact_id = p.contact_id"
    )
    for table in REACH_TABLES:
        op.execute(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM rebuild_pairs AS p WHERE "
            f"{table}." + same.format(t=table) + ")"
        )
    if dialect == "postgresql":
        remaining = (
            "(SELECT e.* FROM participation_events AS e WHERE (e.organization_id, "
            "e.campaign_id, e.contact_id) IN (SELECT * FROM rebuild_pairs)) AS remaining"
        )
        for statement in _postgres_upserts(remaining)[:2]:
            op.execute(statement)
    else:
        reach_trigger = sqlite_trigger_ddl()[0]  # the reach and hours upserts only
        op.execute("CREATE TEMP TABLE rollup_replay AS SELECT * FROM participation_events WHERE 0")
        op.execute(
            reach_trigger.replace(
                "AFTER INSERT ON participation_events", "AFTER INSERT ON rollup_replay"
            )
            .replace("CREATE TRIGGER IF NOT EXISTS", "CREATE TEMP TRIGGER")
            .replace("participation_rollups_", "rollup_replay_")
        )
        op.execute(
            "INSERT INTO rollup_replay SELECT e.* FROM participation_events AS e "
            "JOIN rebuild_pairs AS p ON e.organization_id = p.organization_id "
            "AND e.campaign_id = p.campaign_id AND e.contact_id = p.contact_id ORDER BY e.id"
        )
        op.execute("DROP TABLE rollup_replay")
    op.execute("DROP TABLE rebuild_pairs")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS participation_rollups_delete ON participation_events")
        op.execute("DROP FUNCTION IF EXISTS participation_rollups_delete()")
    else:
        op.execute("DROP TRIGGER IF EXISTS participation_rollups_delete")
