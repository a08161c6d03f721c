"""workshops.completed_at (the 24-hour undo of a completion counts from it) and
contacts.opt_out_reason (why staff opted a contact out; a code, no free text)

Revision ID: f0fc2aba0ef9
Revises: ac9d5661cd85
Create Date: 2026-12-02 16:36:26.609616

"""

import sqlalchemy as sa
from alembic import op

import app.timeutil

revision = "f0fc2aba0ef9"
down_revision = "ac9d5661cd85"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opt_out_reason", sa.String(length=20), nullable=True))

    with op.batch_alter_table("workshops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("completed_at", app.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
    # Until now completing was a completed workshop's last change.
    op.execute("UPDATE workshops SET completed_at = updated_at WHERE status = 'completed'")


def downgrade():
    with op.batch_alter_table("workshops", schema=None) as batch_op:
        batch_op.drop_column("completed_at")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("opt_out_reason")
