"""contacts: first and last names are separate fields (last_name holds the surnames)

Revision ID: ac9d5661cd85
Revises: 3dcbf66d5aba
Create Date: 2026-12-02 15:43:54.540116

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ac9d5661cd85"
down_revision = "3dcbf66d5aba"
branch_labels = None
depends_on = None


def upgrade():
    # Existing contacts keep whatever was typed in first_name; nothing is split after the fact.
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_name", sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("last_name")
