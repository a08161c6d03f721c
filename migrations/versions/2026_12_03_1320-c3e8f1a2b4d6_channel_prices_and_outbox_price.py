"""prices per channel and country, and what the provider charged for a message (issue 19)

channel_prices: an organization's own price of one SMS segment or one WhatsApp message per
recipient country (app/organizations/prices.py; without a row, the configured estimates).
outbox_messages.price / price_unit: Twilio's reported price of a message, when known.
Adding columns needs no table rebuild on SQLite, so outbox_messages keeps its triggers.

Revision ID: c3e8f1a2b4d6
Revises: a1b2c3d4e5f6
Create Date: 2026-12-03 13:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e8f1a2b4d6'
down_revision = 'a1b2c3d4e5f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'channel_prices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('price', sa.Numeric(precision=10, scale=5), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('organization_id', 'channel', 'country', name='uq_channel_price'),
    )
    with op.batch_alter_table('channel_prices', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_channel_prices_organization_id'), ['organization_id'], unique=False
        )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price', sa.Numeric(precision=10, scale=5), nullable=True))
        batch_op.add_column(sa.Column('price_unit', sa.String(length=3), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('price_unit')
        batch_op.drop_column('price')
    with op.batch_alter_table('channel_prices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_prices_organization_id'))
    op.drop_table('channel_prices')
