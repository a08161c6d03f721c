"""The outbox archive (issue 15; PostgreSQL): `partitions.outbox_archive` INHERITS from
outbox_messages, with the parent's keys, indexes, foreign keys and counter triggers
(app/outbox/archive.py explains the design; app/outbox/models.py ARCHIVE_DDL is the live
copy of the statements below). Empty when created: the worker's `archive_outbox` task, or
`flask partitions archive`, moves old finished messages into it.

Also indexes survey_responses.last_outbox_id (the archive's move and every deletion of
outbox rows, a foreign key with ON DELETE SET NULL, look it up) and outbox_messages by
(send_id, id), the send page's order (on a large outbox the index takes a while to build:
run the upgrade in a quiet hour).

Revision ID: 4c8d2b6e1f37
Revises: 7a1c9e3f5b20
Create Date: 2026-12-04 04:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "4c8d2b6e1f37"
down_revision = "7a1c9e3f5b20"
branch_labels = None
depends_on = None

SCHEMA = "partitions"
ARCHIVE = f"{SCHEMA}.outbox_archive"
FOREIGN_KEYS = (
    ("organization_id", "organizations", "CASCADE"),
    ("campaign_id", "campaigns", "CASCADE"),
    ("send_id", "outreach_sends", "CASCADE"),
    ("message_id", "campaign_messages", "SET NULL"),
    ("contact_id", "contacts", "CASCADE"),
    ("user_id", "users", "CASCADE"),
    ("workshop_id", "workshops", "SET NULL"),
)
TRIGGERS = (
    ("INSERT", "NEW TABLE AS new_rows"),
    ("DELETE", "OLD TABLE AS old_rows"),
    ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
)
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
        for column, target, action in FOREIGN_KEYS
    ),
    *(
        f"CREATE TRIGGER outbox_archive_status_counts_{kind.lower()} AFTER {kind} "
        f"ON {ARCHIVE} REFERENCING {transition} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION outbox_status_deltas_on_{kind.lower()}()"
        for kind, transition in TRIGGERS
    ),
)


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_send_id_order", ["send_id", "id"], unique=False)
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_survey_responses_last_outbox_id"), ["last_outbox_id"], unique=False
        )
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in ARCHIVE_DDL:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        # Back into the live table: +1 there and -1 here on the counters, net zero.
        columns = ", ".join(
            f'"{row[0]}"'
            for row in op.get_bind().execute(
                sa.text(
                    "SELECT attname FROM pg_attribute WHERE attrelid = 'outbox_messages'::regclass"
                    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
                )
            )
        )
        op.execute(
            f"WITH moved AS (DELETE FROM {ARCHIVE} RETURNING {columns}) "
            f"INSERT INTO outbox_messages ({columns}) SELECT {columns} FROM moved"
        )
        op.execute(f"DROP TABLE {ARCHIVE}")
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_responses_last_outbox_id"))
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_send_id_order")
