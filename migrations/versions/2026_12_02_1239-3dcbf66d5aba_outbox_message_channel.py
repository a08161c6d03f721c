"""outbox: every message knows its channel (SMS today; WhatsApp is next)

Revision ID: 3dcbf66d5aba
Revises: d12e1a7b8c94
Create Date: 2026-12-02 12:39:15.224984

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3dcbf66d5aba"
down_revision = "d12e1a7b8c94"
branch_labels = None
depends_on = None


def upgrade():
    # Existing rows are all SMS: the server default fills them.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=10), server_default="sms", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("channel")
