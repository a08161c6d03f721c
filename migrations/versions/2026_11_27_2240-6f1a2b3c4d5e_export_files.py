"""export files: large event exports, gzip-compressed, kept a day

Revision ID: 6f1a2b3c4d5e
Revises: 3b7d9e1f2a4c
Create Date: 2026-11-27 22:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import app.timeutil

# revision identifiers, used by Alembic.
revision = '6f1a2b3c4d5e'
down_revision = '3b7d9e1f2a4c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'export_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_at', app.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'],
                                name=op.f('fk_export_files_job_id_jobs'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_export_files_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_export_files')),
        sa.UniqueConstraint('job_id', name=op.f('uq_export_files_job_id')),
    )
    with op.batch_alter_table('export_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_files_created_at'), ['created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_export_files_organization_id'),
                              ['organization_id'], unique=False)


def downgrade():
    with op.batch_alter_table('export_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_files_organization_id'))
        batch_op.drop_index(batch_op.f('ix_export_files_created_at'))
    op.drop_table('export_files')
