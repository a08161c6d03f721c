"""Engine options: PgBouncer in transaction mode needs psycopg's prepared statements off."""

import pytest
from sqlalchemy import create_engine

from config import engine_options
from tests.support import ON_POSTGRES


def test_prepared_statements_stay_on_by_default(monkeypatch):
    monkeypatch.delenv("DATABASE_PREPARED_STATEMENTS", raising=False)
    options = engine_options("postgresql+psycopg://alcance@db/alcance")
    assert "connect_args" not in options
    assert options["hide_parameters"] and options["pool_pre_ping"]


def test_pgbouncer_setting_turns_psycopg_preparation_off(monkeypatch):
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "0")
    options = engine_options("postgresql+psycopg://alcance@db/alcance")
    assert options["connect_args"] == {"prepare_threshold": None}
    assert options["hide_parameters"]


def test_the_setting_never_reaches_sqlite(monkeypatch):
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "0")
    assert "connect_args" not in engine_options("sqlite:///alcance.sqlite3")


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set TEST_DATABASE_URL)")
def test_a_postgres_connection_without_preparation_works(monkeypatch, test_config):
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "0")
    engine = create_engine(
        test_config.SQLALCHEMY_DATABASE_URI,
        **engine_options(test_config.SQLALCHEMY_DATABASE_URI),
    )
    with engine.connect() as conn:
        assert conn.connection.driver_connection.prepare_threshold is None
        for _ in range(10):  # past psycopg's default threshold of 5
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()
