"""The query planner's statistics of the contact tables, refreshed after large writes.

With statistics from before a bulk load the planner takes an organization's 100,000
contacts for a few dozen and sorts all of them for a 50-row page (measured on the API's
list: 57 ms instead of 0.1 ms). Autovacuum refreshes them within a minute when it is on;
where it is off (some managed or hand-tuned servers, this project's CI machine) and on
SQLite (no automatic ANALYZE at all), nothing would.
"""

from sqlalchemy import text

from app.db_dialect import is_postgres
from app.extensions import db

ANALYZE_AFTER = 5_000  # rows written since the last ANALYZE after which statistics are stale
TABLES = ("contacts", "contact_tags")


def refresh_planner_statistics() -> None:
    """ANALYZE the contact tables (a sample: about 0.1 s at 100,000 contacts)."""
    for table in TABLES:
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()


def refresh_if_stale() -> bool:
    """ANALYZE the contact tables when PostgreSQL counts more rows written since their last
    ANALYZE than `ANALYZE_AFTER` and than the table held then (so the estimates are never
    off by more than about 2x, and a growing table is analyzed a logarithmic number of
    times); for writes that come in many small requests (the API's bulk upsert). True when
    it ran."""
    if not is_postgres():
        return False
    stale = db.session.execute(
        text(
            "SELECT bool_or(s.n_mod_since_analyze > greatest(:after, c.reltuples)) "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.relname = ANY(:tables)"
        ),
        {"after": ANALYZE_AFTER, "tables": list(TABLES)},
    ).scalar()
    if stale:
        refresh_planner_statistics()
    return bool(stale)
