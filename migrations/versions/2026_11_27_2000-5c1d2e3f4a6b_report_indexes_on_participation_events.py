"""report indexes on participation events

Revision ID: 5c1d2e3f4a6b
Revises: d155da3a5822
Create Date: 2026-11-27 20:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5c1d2e3f4a6b'
down_revision = 'd155da3a5822'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('participation_events', schema=None) as batch_op:
        batch_op.create_index('ix_participation_campaign_contact',
                              ['organization_id', 'campaign_id', 'contact_id', 'workshop_id',
                               'kind', 'occurred_at', 'message_id'], unique=False)
        batch_op.create_index('ix_participation_org_kind_time',
                              ['organization_id', 'kind', 'occurred_at', 'contact_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('participation_events', schema=None) as batch_op:
        batch_op.drop_index('ix_participation_org_kind_time')
        batch_op.drop_index('ix_participation_campaign_contact')
