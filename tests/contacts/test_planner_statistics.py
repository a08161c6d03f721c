"""The contact tables' planner statistics are refreshed after many small writes (the API's
bulk upserts), as after a large import: PostgreSQL only (SQLite has no such counters)."""

import pytest
from sqlalchemy import text

from app.contacts import statistics
from app.contacts.row_upsert import upsert_rows
from app.extensions import db
from app.timeutil import utcnow


def _analyzed_count() -> int:
    return db.session.execute(
        text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'contacts'")
    ).scalar()


def _flush_stats():
    # PostgreSQL reports a backend's table counters at most once a second; force it.
    db.session.execute(text("SELECT pg_stat_force_next_flush()"))
    db.session.commit()


def test_refresh_if_stale_analyzes_after_enough_writes(app, make_org, postgres_only, monkeypatch):
    monkeypatch.setattr(statistics, "ANALYZE_AFTER", 20)
    org = make_org()
    db.session.execute(text("ANALYZE contacts"))
    db.session.commit()
    before = _analyzed_count()
    upsert_rows(org, [{"phone": f"66455504{n:02d}"} for n in range(10)], now=utcnow())
    _flush_stats()
    assert statistics.refresh_if_stale() is False  # 10 rows since: not yet
    upsert_rows(org, [{"phone": f"66455505{n:02d}"} for n in range(15)], now=utcnow())
    _flush_stats()
    assert statistics.refresh_if_stale() is True
    _flush_stats()
    assert _analyzed_count() > before
    assert statistics.refresh_if_stale() is False  # the counter starts again


def test_refresh_if_stale_does_nothing_on_sqlite(app):
    from app.db_dialect import is_postgres

    if is_postgres():
        pytest.skip("SQLite's side")
    assert statistics.refresh_if_stale() is False
