"""outbox status counters: outbox_status_deltas (appended by triggers on outbox_messages)
and outbox_status_counts (folded from them), backfilled from the existing messages

Revision ID: c0a7e5d1b015
Revises: f0fc2aba0ef9
Create Date: 2026-12-02 19:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "c0a7e5d1b015"
down_revision = "f0fc2aba0ef9"
branch_labels = None
depends_on = None

# The triggers as of this revision (app/outbox/models.py creates the same under create_all).
_KEY = "organization_id, campaign_id, send_id, status, delta"
_OLD = "OLD.organization_id, COALESCE(OLD.campaign_id, 0), COALESCE(OLD.send_id, 0), OLD.status"
_NEW = "NEW.organization_id, COALESCE(NEW.campaign_id, 0), COALESCE(NEW.send_id, 0), NEW.status"
_MOVED = " OR ".join(
    f"OLD.{c} IS NOT NEW.{c}" for c in ("status", "campaign_id", "send_id", "organization_id")
)
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER outbox_status_counts_insert AFTER INSERT ON outbox_messages
BEGIN INSERT INTO outbox_status_deltas ({_KEY}) VALUES ({_NEW}, 1); END""",
    f"""CREATE TRIGGER outbox_status_counts_update
AFTER UPDATE OF status, campaign_id, send_id, organization_id ON outbox_messages
WHEN {_MOVED}
BEGIN INSERT INTO outbox_status_deltas ({_KEY}) VALUES ({_OLD}, -1), ({_NEW}, 1); END""",
    f"""CREATE TRIGGER outbox_status_counts_delete AFTER DELETE ON outbox_messages
BEGIN INSERT INTO outbox_status_deltas ({_KEY}) VALUES ({_OLD}, -1); END""",
)


def _pg_function(name, body):
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
EXECUTE $sql$ {body} $sql$;
RETURN NULL;
END $$"""


def _pg_trigger(event, function, transition):
    return f"""CREATE TRIGGER outbox_status_counts_{event.lower()}
AFTER {event} ON outbox_messages REFERENCING {transition}
FOR EACH STATEMENT EXECUTE FUNCTION {function}()"""


_PG_GROUPED = """INSERT INTO outbox_status_deltas ({key})
SELECT organization_id, COALESCE(campaign_id, 0), COALESCE(send_id, 0), status, {sign}count(*)
FROM {rows} GROUP BY 1, 2, 3, 4"""
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
POSTGRES_TRIGGERS = (
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


def upgrade():
    op.create_table(
        "outbox_status_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_status_deltas")),
    )
    with op.batch_alter_table("outbox_status_deltas", schema=None) as batch_op:
        for column in ("organization_id", "campaign_id", "send_id"):
            batch_op.create_index(f"ix_outbox_status_deltas_{column}", [column], unique=False)
    op.create_table(
        "outbox_status_counts",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "campaign_id",
            "send_id",
            "status",
            name=op.f("pk_outbox_status_counts"),
        ),
    )
    with op.batch_alter_table("outbox_status_counts", schema=None) as batch_op:
        for column in ("campaign_id", "send_id"):
            batch_op.create_index(f"ix_outbox_status_counts_{column}", [column], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    # Triggers first, then the backfill: on PostgreSQL creating a trigger locks writers out
    # of outbox_messages until this transaction commits, so no change is lost or counted
    # twice; on SQLite the migration holds the write lock.
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute(
        "INSERT INTO outbox_status_counts (organization_id, campaign_id, send_id, status, count)"
        " SELECT organization_id, COALESCE(campaign_id, 0), COALESCE(send_id, 0), status,"
        " count(*) FROM outbox_messages GROUP BY 1, 2, 3, 4"
    )


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "update", "delete"):
        on_table = " ON outbox_messages" if postgres else ""
        op.execute(f"DROP TRIGGER IF EXISTS outbox_status_counts_{event}{on_table}")
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS outbox_status_deltas_on_{event}()")
    op.drop_table("outbox_status_counts")
    op.drop_table("outbox_status_deltas")
