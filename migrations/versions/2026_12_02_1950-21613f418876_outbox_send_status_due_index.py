"""outbox: index (send_id, status, due_at) for a send's next due message (dashboard)

Revision ID: 21613f418876
Revises: d1a9e7a11015
Create Date: 2026-12-02 19:50:47.028322

"""

from alembic import op

revision = "21613f418876"
down_revision = "d1a9e7a11015"
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX (never a batch table rebuild: it would drop the status-counter
    # triggers on SQLite).
    op.create_index("ix_outbox_send_status_due", "outbox_messages", ["send_id", "status", "due_at"])


def downgrade():
    op.drop_index("ix_outbox_send_status_due", table_name="outbox_messages")
