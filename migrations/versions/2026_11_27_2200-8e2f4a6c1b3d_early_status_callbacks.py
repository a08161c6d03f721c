"""early status callbacks (Twilio callbacks that arrive before the SID is recorded)

Revision ID: 8e2f4a6c1b3d
Revises: 5c1d2e3f4a6b
Create Date: 2026-11-27 22:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import app.timeutil

# revision identifiers, used by Alembic.
revision = '8e2f4a6c1b3d'
down_revision = '5c1d2e3f4a6b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'early_status_callbacks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('twilio_sid', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('error_code', sa.String(length=12), nullable=True),
        sa.Column('received_at', app.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('early_status_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_early_status_callbacks_twilio_sid'), ['twilio_sid'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_early_status_callbacks_received_at'),
                              ['received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('early_status_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_early_status_callbacks_received_at'))
        batch_op.drop_index(batch_op.f('ix_early_status_callbacks_twilio_sid'))
    op.drop_table('early_status_callbacks')
