"""The few places where SQLite and PostgreSQL differ, behind one small API.

PostgreSQL has row locks (SELECT ... FOR UPDATE), SKIP LOCKED and ON CONFLICT; SQLite has
one writer at a time (BEGIN IMMEDIATE takes the write lock) and ON CONFLICT too. Code asks
here instead of testing the dialect name itself.
"""

from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db

# Expression indexes that Alembic's autogenerate cannot compare (it cannot reflect them on
# SQLite, and reads PostgreSQL's back as text that never equals the model's expression).
# Their migrations are written by hand; tests/test_migrations.py compares them itself.
UNCOMPARED_INDEXES = frozenset({"ix_contacts_folded_name_trgm"})


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's `include_object`: everything but `UNCOMPARED_INDEXES`."""
    return not (type_ == "index" and name in UNCOMPARED_INDEXES)


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def is_postgres() -> bool:
    return dialect_name() == "postgresql"


def insert_ignoring_duplicates(model):
    """INSERT ... (call .on_conflict_do_nothing() on it) for the current database."""
    return (postgres_insert if is_postgres() else sqlite_insert)(model)


def lock_rows(statement) -> None:
    """Lock the rows `statement` selects until the transaction ends: row locks on
    PostgreSQL; on SQLite the single-writer lock is taken by the write that follows."""
    if is_postgres():
        db.session.execute(statement.with_for_update())


def take_write_lock() -> None:
    """Start a transaction that holds the database write lock now (SQLite: BEGIN
    IMMEDIATE, after ending the current one); on PostgreSQL a no-op (use lock_rows)."""
    if not is_postgres():
        db.session.commit()
        db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def claimable(statement):
    """`statement` (a SELECT of queued rows to claim) made safe for concurrent workers:
    on PostgreSQL FOR UPDATE SKIP LOCKED (each worker gets different rows); on SQLite the
    same statement, run after the current transaction is rolled back and one holding the
    write lock is begun (BEGIN IMMEDIATE), so claims happen one at a time."""
    if is_postgres():
        return statement.with_for_update(skip_locked=True)
    db.session.rollback()
    db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    return statement


def lock_for_write(statement) -> None:
    """Hold the rows `statement` selects for writing until the transaction ends:
    PostgreSQL locks those rows (in the statement's order, so lockers never deadlock);
    SQLite ends the current transaction and begins one holding the database write lock."""
    if is_postgres():
        db.session.execute(statement.with_for_update())
    else:
        take_write_lock()


def write_lock_in_transaction() -> None:
    """SQLite: make sure the open transaction holds the write lock (the driver opens one
    only at the first write, which already holds it; else BEGIN IMMEDIATE). PostgreSQL:
    nothing to do (lock rows with lock_rows)."""
    if not is_postgres():
        connection = db.session.connection()
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
