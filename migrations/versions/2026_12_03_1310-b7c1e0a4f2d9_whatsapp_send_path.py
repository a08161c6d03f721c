"""WhatsApp send path (issue 19): what went on WhatsApp (free-form or a template's content
and variables), the row a fallback or a template retry replaces (unique: at most one), and
a campaign message's WhatsApp template.

Adding columns and an index needs no table rebuild on SQLite, so outbox_messages keeps its
triggers.

Revision ID: b7c1e0a4f2d9
Revises: 23945fe779c7
Create Date: 2026-12-03 13:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7c1e0a4f2d9'
down_revision = '23945fe779c7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaign_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('whatsapp_template_name', sa.String(length=100), nullable=True))

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('whatsapp_form', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('content_sid', sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column('content_variables', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('fallback_of_id', sa.Integer(), nullable=True))
    op.create_index(
        'uq_outbox_messages_fallback_of_id', 'outbox_messages', ['fallback_of_id'], unique=True
    )


def downgrade():
    op.drop_index('uq_outbox_messages_fallback_of_id', table_name='outbox_messages')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('fallback_of_id')
        batch_op.drop_column('content_variables')
        batch_op.drop_column('content_sid')
        batch_op.drop_column('whatsapp_form')

    with op.batch_alter_table('campaign_messages', schema=None) as batch_op:
        batch_op.drop_column('whatsapp_template_name')
