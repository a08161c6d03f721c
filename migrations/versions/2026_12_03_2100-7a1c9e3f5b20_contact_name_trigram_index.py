"""Trigram index of the contacts' folded names, for the name search (issue 20; PostgreSQL).

The expression is `app.contacts.name_sql`'s, literally: the planner only uses the index for
a query whose expression is the same. SQLite has no such index (its search scans).

On a large existing table the index takes a while to build and blocks writes to contacts
meanwhile (about 2 s per 100,000 contacts here); run the upgrade in a quiet hour.

Revision ID: 7a1c9e3f5b20
Revises: 38384bad587d
Create Date: 2026-12-03 21:00:00

"""
from alembic import op

revision = "7a1c9e3f5b20"
down_revision = "38384bad587d"
branch_labels = None
depends_on = None

INDEX = "ix_contacts_folded_name_trgm"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        f"CREATE INDEX {INDEX} ON contacts USING gin (translate(lower(coalesce(first_name, '') "
        "|| ' ' || coalesce(last_name, '')), 'áàäâãéèëêíìïîóòöôõúùüûñçÁÀÄÂÃÉÈËÊÍÌÏÎÓÒÖÔÕÚÙÜÛÑÇ', "
        "'aaaaaeeeeiiiiooooouuuuncaaaaaeeeeiiiiooooouuuunc') gin_trgm_ops)"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="contacts")
