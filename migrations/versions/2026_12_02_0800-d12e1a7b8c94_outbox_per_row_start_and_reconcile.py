"""outbox: per-row prepared/started markers, reconciliation backoff, failed_unknown

Revision ID: d12e1a7b8c94
Revises: a12b0d4e5f61
Create Date: 2026-12-02 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import app.timeutil

# revision identifiers, used by Alembic.
revision = 'd12e1a7b8c94'
down_revision = 'a12b0d4e5f61'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prepared_at', app.timeutil.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('reconcile_failures', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('reconcile_after', app.timeutil.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.alter_column('status', existing_type=sa.String(length=12),
                              type_=sa.String(length=16), existing_nullable=False)


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16),
                              type_=sa.String(length=12), existing_nullable=False)
        batch_op.drop_column('reconcile_after')
        batch_op.drop_column('reconcile_failures')
        batch_op.drop_column('prepared_at')
