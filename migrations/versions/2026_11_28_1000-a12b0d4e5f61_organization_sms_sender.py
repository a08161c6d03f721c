"""organization sms sender: each organization may have its own number or Messaging Service

Revision ID: a12b0d4e5f61
Revises: 6f1a2b3c4d5e
Create Date: 2026-11-28 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a12b0d4e5f61'
down_revision = '6f1a2b3c4d5e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_sender', sa.String(length=34), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_organizations_sms_sender'),
                                          ['sms_sender'])


def downgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_organizations_sms_sender'), type_='unique')
        batch_op.drop_column('sms_sender')
