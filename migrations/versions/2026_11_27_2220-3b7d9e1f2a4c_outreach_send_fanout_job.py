"""outreach sends: the background job that fans out a large send

Revision ID: 3b7d9e1f2a4c
Revises: 8e2f4a6c1b3d
Create Date: 2026-11-27 22:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3b7d9e1f2a4c'
down_revision = '8e2f4a6c1b3d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outreach_sends', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outreach_sends_job_id_jobs'), 'jobs',
                                    ['job_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('outreach_sends', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outreach_sends_job_id_jobs'), type_='foreignkey')
        batch_op.drop_column('job_id')
