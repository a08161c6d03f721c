"""Participation events partitioned by month on PostgreSQL (issue 15); SQLite keeps one
plain table. Tests that create partitions drop them afterwards (the PostgreSQL schema is
shared by the whole session), and use months no other test writes."""

import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, select, text

from app import create_app
from app.extensions import db
from app.participation import partitions
from app.participation.models import ParticipationEvent
from app.participation.services import record_event
from tests.factories import make_contact
from tests.support import NOW, ON_POSTGRES, utc

PREVIOUS = "c0a7e5d1b015"  # the revision before partitioning
DEFAULT = "partitions.participation_events_default"
on_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="partitions exist on PostgreSQL only")


def _partition_names() -> set[str]:
    return {p.name for p in partitions.list_partitions()}


@pytest.fixture
def drop_new_partitions(app):
    """Drop the partitions a test creates, so the next tests see the session's schema."""
    before = _partition_names()
    yield
    db.session.rollback()
    for name in _partition_names() - before:
        db.session.execute(text(f"DROP TABLE {name}"))
    db.session.commit()


@pytest.fixture
def contact(app, make_org):
    return make_contact(make_org())


def add_events(contact, *moments) -> list[int]:
    events = [
        record_event(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            kind="sms_sent",
            channel="sms",
            occurred_at=moment,
        )
        for moment in moments
    ]
    db.session.commit()
    return [event.id for event in events]


def partition_of() -> dict[int, str]:
    """Each event's id → the partition holding it."""
    rows = db.session.execute(text("SELECT id, tableoid::regclass::text FROM participation_events"))
    return dict(rows.all())


@on_postgres
def test_create_all_builds_a_partitioned_table_keyed_by_id_and_month(app):
    conn = db.session.connection()
    assert (
        conn.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'participation_events'"))
        == "p"
    )
    key = conn.scalars(
        text(
            "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
            " WHERE c.conname = 'pk_participation_events' ORDER BY a.attnum"
        )
    ).all()
    assert key == ["id", "occurred_at"]
    names = _partition_names()
    assert DEFAULT in names
    # Last month, this month and three ahead exist from the start (at the session's real
    # "now", whatever it is).
    months = [name for name in names if name[-7:].replace("_", "").isdigit()]
    assert len(months) >= 5
    # Nothing may reference an event by foreign key (it would need the month too).
    assert not conn.scalar(
        text(
            "SELECT count(*) FROM pg_constraint WHERE confrelid = 'participation_events'::regclass"
        )
    )


@on_postgres
def test_events_land_in_the_partition_of_their_month(app, contact, drop_new_partitions):
    partitions.maintain_partitions(now=NOW, months_ahead=2)
    ids = add_events(
        contact, utc(2026, 11, 1, 0, 0), utc(2026, 12, 31, 23, 59), utc(2027, 1, 20, 8)
    )
    assert partition_of() == {
        ids[0]: "partitions.participation_events_2026_11",
        ids[1]: "partitions.participation_events_2026_12",
        ids[2]: "partitions.participation_events_2027_01",
    }
    # Reports read the parent as before: a period filter finds every event.
    in_range = select(ParticipationEvent.id).where(
        ParticipationEvent.occurred_at >= utc(2026, 12, 1),
        ParticipationEvent.occurred_at < utc(2027, 2, 1),
    )
    assert sorted(db.session.scalars(in_range)) == ids[1:]


@on_postgres
def test_events_far_in_the_past_or_future_go_to_the_default_partition(app, contact):
    ids = add_events(contact, utc(1999, 12, 31, 23), utc(2099, 1, 1, 12))
    assert partition_of() == dict.fromkeys(ids, DEFAULT)


@on_postgres
def test_maintenance_creates_months_ahead_and_moves_rows_out_of_the_default(
    app, contact, drop_new_partitions
):
    # 2031: no partition yet, so these land in the default partition.
    ids = add_events(contact, utc(2031, 6, 10), utc(2031, 7, 31, 23, 59), utc(2031, 9, 15))
    assert set(partition_of().values()) == {DEFAULT}

    created = partitions.maintain_partitions(now=utc(2031, 6, 15), months_ahead=2)

    assert created == {
        "partitions.participation_events_2031_05": 0,
        "partitions.participation_events_2031_06": 1,
        "partitions.participation_events_2031_07": 1,
        "partitions.participation_events_2031_08": 0,
    }
    assert partition_of() == {
        ids[0]: "partitions.participation_events_2031_06",
        ids[1]: "partitions.participation_events_2031_07",
        ids[2]: DEFAULT,  # beyond the months kept ahead: stays in the default
    }
    assert partitions.maintain_partitions(now=utc(2031, 6, 15), months_ahead=2) == {}
    listed = {p.name: p for p in partitions.list_partitions()}
    assert listed["partitions.participation_events_2031_06"].bounds == (
        "FOR VALUES FROM ('2031-06-01 00:00:00+00') TO ('2031-07-01 00:00:00+00')"
    )
    # The new partitions carry the parent's indexes and foreign keys.
    indexes = db.session.scalar(
        text("SELECT count(*) FROM pg_indexes WHERE tablename = 'participation_events_2031_06'")
    )
    assert indexes == 6  # the key and the five indexes of the model
    db.session.delete(contact)  # ON DELETE CASCADE reaches the moved rows
    db.session.commit()
    assert partition_of() == {}


@on_postgres
def test_the_worker_runs_partition_maintenance(app, drop_new_partitions):
    (task,) = [t for t in app.extensions["maintenance_tasks"] if t.name == "maintain_partitions"]
    task.run(utc(2032, 1, 15))
    names = _partition_names()
    assert {f"partitions.participation_events_2032_{m:02d}" for m in (1, 2, 3, 4)} <= names


@on_postgres
def test_partitions_cli_lists_and_maintains(app, runner, frozen_clock, drop_new_partitions):
    frozen_clock.move_to(utc(2033, 3, 10, 12))
    result = runner.invoke(args=["partitions", "maintain", "--months-ahead", "1"])
    assert result.exit_code == 0, result.output
    assert (
        "partitions.participation_events_2033_02 created; 0 rows moved from the default"
        in result.output
    )
    assert "participation_events_2033_04" in result.output
    again = runner.invoke(args=["partitions", "maintain", "--months-ahead", "1"])
    assert "Every partition already exists." in again.output
    listing = runner.invoke(args=["partitions", "list"])
    lines = {line.split("\t")[0]: line.split("\t")[1:] for line in listing.output.splitlines()}
    assert lines[DEFAULT][0] == "DEFAULT"
    assert lines["partitions.participation_events_2033_03"][0].startswith(
        "FOR VALUES FROM ('2033-03-01"
    )


def test_sqlite_keeps_one_plain_table(app, contact, runner):
    if ON_POSTGRES:
        pytest.skip("SQLite only")
    ids = add_events(contact, utc(2026, 11, 2), utc(2099, 1, 1))
    assert ids == sorted(ids) and len(set(ids)) == 2  # `id` autoincrements alone
    assert partitions.maintain_partitions(now=NOW, months_ahead=3) == {}
    assert partitions.list_partitions() == []
    assert "plain table" in runner.invoke(args=["partitions", "list"]).output


# --- the migration ---------------------------------------------------------------------------


@pytest.fixture
def empty_database_url(tmp_path, test_config):
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"alcance_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(test_config.SQLALCHEMY_DATABASE_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = test_config.SQLALCHEMY_DATABASE_URI.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Rows written with the schema of PREVIOUS (raw SQL: the models describe the newest schema).
SEED = [
    "INSERT INTO organizations (id, name, slug, country, timezone, default_language,"
    " created_at, calendar_token) VALUES (1, 'Org', 'org', 'MX', 'America/Tijuana', 'es',"
    " '2026-01-01 00:00:00+00', 'token')",
    "INSERT INTO contacts (id, language, country, timezone, guardian_consent, undeliverable,"
    " created_at, updated_at, organization_id) VALUES (1, 'es', 'MX', 'America/Tijuana',"
    " false, false, '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00', 1)",
]
MOMENTS = ["2025-12-31 23:59:59+00", "2026-03-05 10:00:00+00", "2026-11-27 18:00:00+00"]


def _events(conn) -> list[tuple]:
    return conn.execute(
        text("SELECT id, kind, CAST(occurred_at AS text) FROM participation_events ORDER BY id")
    ).all()


def _insert_event(conn, moment: str) -> int:
    return conn.scalar(
        text(
            "INSERT INTO participation_events (contact_id, kind, channel, occurred_at,"
            " organization_id) VALUES (1, 'reply', 'sms', :at, 1) RETURNING id"
        ),
        {"at": moment},
    )


def test_migration_keeps_every_event_and_the_sequence(empty_database_url, test_config):
    class Config(test_config):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade(revision=PREVIOUS)
        with db.engine.begin() as conn:
            for statement in SEED:
                conn.execute(text(statement))
            ids = [_insert_event(conn, moment) for moment in [*MOMENTS, MOMENTS[0]]]
            conn.execute(text("DELETE FROM participation_events WHERE id = :id"), {"id": ids[-1]})
            before = _events(conn)
        assert len(before) == 3

        upgrade()
        with db.engine.begin() as conn:
            assert _events(conn) == before
            if ON_POSTGRES:
                where = dict(
                    conn.execute(
                        text("SELECT id, tableoid::regclass::text FROM participation_events")
                    ).all()
                )
                assert where == {
                    ids[0]: "partitions.participation_events_2025_12",
                    ids[1]: "partitions.participation_events_2026_03",
                    ids[2]: "partitions.participation_events_2026_11",
                }
            # PostgreSQL: the sequence goes on after the deleted last id (never reused). SQLite's
            # table, untouched, reuses the highest free rowid, as it always did.
            last = ids[-1] if ON_POSTGRES else ids[-2]
            assert _insert_event(conn, "2026-11-28 09:00:00+00") == last + 1

        downgrade(revision=PREVIOUS)
        with db.engine.begin() as conn:
            after = _events(conn)
            assert after[:3] == before and len(after) == 4
            if ON_POSTGRES:
                assert (
                    conn.scalar(
                        text("SELECT relkind FROM pg_class WHERE relname = 'participation_events'")
                    )
                    == "r"
                )
                assert conn.scalar(text("SELECT to_regnamespace('partitions')")) is None
            assert _insert_event(conn, "2026-11-29 09:00:00+00") == last + 2
        db.engine.dispose()
