"""Sends: when a send was canceled (the API's send progress, issue 20).

Revision ID: 5e4d2c1b0a9f
Revises: 907d39ad7b1c
Create Date: 2026-12-03 17:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.timeutil


# revision identifiers, used by Alembic.
revision = '5e4d2c1b0a9f'
down_revision = '907d39ad7b1c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outreach_sends', schema=None) as batch_op:
        batch_op.add_column(sa.Column('canceled_at', app.timeutil.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('outreach_sends', schema=None) as batch_op:
        batch_op.drop_column('canceled_at')
