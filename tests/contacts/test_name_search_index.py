"""PostgreSQL: the name search's expression is the trigram index's, so the planner can read
the index for a rare name instead of every contact of the organization."""

import re

from sqlalchemy import select, text

from app.contacts.models import Contact
from app.contacts.services import contact_filter_query, fold_sql, full_name_sql
from app.extensions import db
from tests.factories import make_contact
from tests.support import TODAY


def _generic_plan(stmt) -> str:
    """EXPLAIN of `stmt` as a statement psycopg has prepared, planned once for every
    parameter value (a generic plan), with bitmap scans as the only way into the table."""
    compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
    names = re.findall(r"%\((\w+)\)s", str(compiled))
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", str(compiled))
    values = ", ".join("'" + str(compiled.params[n]).replace("'", "''") + "'" for n in names)
    with db.session.begin_nested():
        for setting in ("enable_seqscan = off", "enable_indexscan = off"):
            db.session.execute(text(f"SET LOCAL {setting}"))
        db.session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        driver = db.session.connection().connection.driver_connection  # no % parsing
        driver.execute(f"PREPARE name_search AS {sql.replace('%%', '%')}")
        try:
            rows = driver.execute(f"EXPLAIN EXECUTE name_search({values})").fetchall()
            return "\n".join(row[0] for row in rows)
        finally:
            driver.execute("DEALLOCATE name_search")


def test_the_name_search_can_use_the_trigram_index(app, make_org, postgres_only):
    org = make_org()
    for first, last in (("María", "López"), ("Mario", None), ("Ana", "Núñez")):
        make_contact(org, first_name=first, last_name=last)
    db.session.commit()
    # the search's condition alone (the organization's own index competes with it here)
    condition = fold_sql(full_name_sql()).contains("nun", autoescape=True)
    plan = _generic_plan(select(Contact.id).where(condition))
    assert "ix_contacts_folded_name_trgm" in plan and "$1" in plan
    stmt = contact_filter_query(org.id, {"q": "NUÑ"}, today=TODAY)
    assert [c.first_name for c in db.session.scalars(stmt)] == ["Ana"]  # same answers
    stmt = contact_filter_query(org.id, {"q": "mari"}, today=TODAY)
    assert sorted(c.first_name for c in db.session.scalars(stmt)) == ["Mario", "María"]
