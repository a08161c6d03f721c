"""Shared fixtures: a fresh app and database per test, on SQLite or PostgreSQL.

`TEST_DATABASE_URL` selects PostgreSQL (see `make test`). There the schema is created
once per session and every table is truncated after each test; on SQLite each test
gets a new in-memory database.
"""

import logging
import os
import sqlite3
import uuid
from pathlib import Path

import pytest
import time_machine
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from app import create_app
from app.extensions import babel, db
from config import TestingConfig
from tests import factories
from tests.support import NOW, ON_POSTGRES, STRONG_PASSWORD, log_in

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_SCHEMA = "demo_snapshot"  # PostgreSQL: where `_demo_snapshot` keeps the seeded demo


@pytest.fixture(autouse=True)
def frozen_clock():
    """Every test starts at `tests.support.NOW` whatever the real date and hour; the clock
    ticks from there (time.sleep, leases and timeouts behave). Folders whose tests drive
    other processes (e2e, scale) override this fixture with the real clock."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def root_logging_restored():
    """A migration run configures logging from alembic.ini (a plain root handler): undone
    after each test, so later tests see the app's own logging setup only."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def compiled_translations(tmp_path_factory):
    """Compile the catalogs into a temp dir, so tests never depend on stale .mo files."""
    out = tmp_path_factory.mktemp("translations")
    for lang in ("es", "en"):
        target = out / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as po:
            catalog = read_po(po)
        with open(target / "messages.mo", "wb") as mo:
            write_mo(mo, catalog)
    return str(out)


@pytest.fixture(scope="session")
def test_config(compiled_translations):
    class Config(TestingConfig):
        BABEL_TRANSLATION_DIRECTORIES = compiled_translations

    return Config


@pytest.fixture(scope="session")
def _postgres_schema(test_config):
    if not ON_POSTGRES:
        yield
        return
    app = create_app(test_config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def _without_triggers() -> bool:
    """Within this transaction, no triggers and no foreign-key checks (PostgreSQL's
    replication role): the rollup and counter triggers must not see the suite's own
    clean-up and copies. False (nothing changed) when the role is not a superuser."""
    try:
        with db.session.begin_nested():
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
    except sa_exc.DBAPIError:
        return False
    return True


def _truncate_all() -> None:
    """Empty the tables a test wrote to and restart every used sequence: DELETE of the
    non-empty tables, without triggers, is ~8x faster than TRUNCATE, which makes new files
    for every table it reaches (and CASCADE reaches them all) whether it held rows or not."""
    names = [t.name for t in db.metadata.sorted_tables]
    if _without_triggers():
        probe = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in names
        )
        for (name,) in db.session.execute(text(probe)).all():
            db.session.execute(text(f'DELETE FROM "{name}"'))
    else:  # not a superuser: the slow, sure way (TRUNCATE fires no row triggers)
        tables = ", ".join(f'"{name}"' for name in names)
        db.session.execute(text(f"TRUNCATE {tables} CASCADE"))
    # Ids start at 1 in every test: restart each sequence that moved (rolled-back inserts too).
    db.session.execute(
        text(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
            "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
        )
    )
    db.session.commit()


class FreshGlobalsClient(FlaskClient):
    """Tests hold an app context open so they can use db.session; Flask then reuses it
    for every request, sharing `g` (Flask-Login's user, Flask-WTF's token) between
    requests. Give each request an empty `g`, as in production."""

    def open(self, *args, **kwargs):
        saved = dict(g.__dict__)
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()
            g.__dict__.update(saved)


def _fresh_app(test_config):
    """An app whose shared (Redis) rate limits start empty: its own key prefix."""
    from app.ratelimit import rate_limits

    app = create_app(test_config)
    app.test_client_class = FreshGlobalsClient
    app.config["RATELIMIT_KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    rate_limits.init_app(app)
    return app


@pytest.fixture
def app(test_config, _postgres_schema):
    app = _fresh_app(test_config)
    with app.app_context():
        # Flask-Babel caches catalogs per locale on the module-level Babel object, shared
        # by every app in this process; a test app with other catalog paths must not leak.
        babel.domain_instance.cache.clear()
        if not ON_POSTGRES:
            db.create_all()
        yield app
        db.session.remove()
        limits = app.extensions["rate_limits"]
        if limits.redis is not None:  # close its sockets now, not whenever GC finds them
            limits.redis.client.close()
        if ON_POSTGRES:
            _truncate_all()
        else:
            db.drop_all()
        db.engine.dispose()


@pytest.fixture(scope="session")
def _demo_snapshot(test_config, _postgres_schema):
    """`flask seed-demo` run once per session at NOW, kept aside: SQLite as a backup of the
    in-memory database, PostgreSQL as a copy of every table in a schema of its own.
    Seeding replays hundreds of messages through the real pipeline (~10 s); tests that
    only read the demo get a copy instead (`seeded_demo`)."""
    app = _fresh_app(test_config)
    with time_machine.travel(NOW, tick=True), app.app_context():
        babel.domain_instance.cache.clear()
        if not ON_POSTGRES:
            db.create_all()
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        limits = app.extensions["rate_limits"]
        if limits.redis is not None:
            limits.redis.client.close()
        assert result.exit_code == 0, result.output
        db.session.remove()
        if ON_POSTGRES:
            db.session.execute(text(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE"))
            db.session.execute(text(f"CREATE SCHEMA {SNAPSHOT_SCHEMA}"))
            for table in db.metadata.sorted_tables:
                db.session.execute(
                    text(f'CREATE TABLE {SNAPSHOT_SCHEMA}."{table.name}" AS TABLE "{table.name}"')
                )
            db.session.commit()
            _truncate_all()
            snapshot = None
        else:
            snapshot = sqlite3.connect(":memory:", check_same_thread=False)
            raw = db.engine.raw_connection()
            try:
                raw.driver_connection.backup(snapshot)
            finally:
                raw.close()
            db.drop_all()
        db.engine.dispose()
    yield snapshot
    if ON_POSTGRES:
        with app.app_context():
            db.session.execute(text(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE"))
            db.session.commit()
            db.engine.dispose()
    else:
        snapshot.close()


@pytest.fixture
def seeded_demo(app, _demo_snapshot):
    """The test's database holds the demo exactly as `flask seed-demo` leaves it at NOW."""
    db.session.remove()
    if ON_POSTGRES:
        # The rows as seeded, rollups and counters included: triggers must not add theirs.
        assert _without_triggers(), "copying the demo needs a PostgreSQL superuser"
        for table in db.metadata.sorted_tables:
            db.session.execute(
                text(f'INSERT INTO "{table.name}" SELECT * FROM {SNAPSHOT_SCHEMA}."{table.name}"')
            )
            column = table.autoincrement_column
            if column is not None:
                db.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', "
                        f"'{column.name}'), COALESCE(MAX(\"{column.name}\"), 0) + 1, false) "
                        f'FROM "{table.name}"'
                    )
                )
        db.session.commit()
    else:
        raw = db.engine.raw_connection()
        try:
            _demo_snapshot.backup(raw.driver_connection)
        finally:
            raw.close()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_org(app):
    """`tests.factories.make_org`, with the app (and its database) set up."""
    return factories.make_org


@pytest.fixture
def make_user(app):
    """`tests.factories.make_user`, with the app (and its database) set up."""
    return factories.make_user


@pytest.fixture
def login(client):
    """Sign a user in through the real login form (see `tests.support.log_in`); on the
    test's client unless another is given."""

    def do_login(user, password=STRONG_PASSWORD, c=None):
        return log_in(c or client, user, password)

    return do_login


@pytest.fixture
def postgres_only():
    if not ON_POSTGRES:
        pytest.skip("needs PostgreSQL row locks (set TEST_DATABASE_URL)")


os.environ.setdefault("ALCANCE_LANG", "en")


@pytest.fixture
def run_jobs(app):
    """Run the queued background jobs as a worker process would."""
    from app.jobs.runner import run_pending

    def run():
        ran = run_pending(app, "test-worker")
        db.session.expire_all()  # the worker used its own session: see its writes
        return ran

    return run
