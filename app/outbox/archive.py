"""The outbox archive (PostgreSQL): old, finished messages leave the live table.

`outbox_messages` is the queue: every claim, status callback and page works on it. At
national scale it gains ~10M rows a year, nearly all of them finished. A worker task moves
messages due more than OUTBOX_ARCHIVE_MONTHS ago whose outcome is in (sent or final) into
`partitions.outbox_archive`, a table that INHERITS from `outbox_messages`:

- Every reader keeps working unchanged. A query on `outbox_messages` reads the archive too
  (PostgreSQL's inheritance; `ONLY outbox_messages` is the live table alone), and an
  UPDATE or DELETE through the parent reaches archived rows (a late status callback, an
  erasure blanking texts, a contact's deletion). New columns added to the parent reach
  the archive by themselves; indexes and foreign keys do not (ARCHIVE_DDL, checked by
  tests/outbox/test_i15_archive.py against the parent's).
- The status counters stay exact: the parent's statement triggers see archived rows a
  statement through the parent changes, and the archive has the same triggers for the
  statements that name it (its own foreign-key cascades, the move itself: -1 on the live
  table and +1 here, net zero).
- Exactly once: uniqueness is per table under inheritance, so what the live table's
  unique keys guard must not move while it can still be inserted again:
  - fan-out (`enqueue_select`) skips (send, contact, occurrence) keys already in the
    archive, and holds ARCHIVE_LOCK shared while it inserts: a move (exclusive) never
    runs between its check and its insert;
  - a WhatsApp row with a fallback, and the fallback itself, stay live (the fallback's
    key is unique on the live table only);
  - rows another table points to (tracked links until they are purged, a survey
    response's last question) stay live: a foreign key checks the parent table only, and
    its ON DELETE SET NULL would fire on the move.
SQLite (the laptop mode) has no archive: everything stays in one table.
"""

from datetime import datetime, timedelta

from sqlalchemy import Column, Integer, MetaData, Table, bindparam, text

from app.db_dialect import is_postgres
from app.extensions import db
from app.outbox.models import ARCHIVE, FINAL_STATUSES, SCHEMA, OutboxMessage

# Held exclusively by a batch move, shared by every fan-out insert (see the module doc).
ARCHIVE_LOCK = 0x0A2C_0015
# Finished as far as sending goes: "sent" may still get its delivery receipt, which an
# UPDATE through the parent applies to the archived row.
ARCHIVED_STATUSES = ("sent", *FINAL_STATUSES)
BATCH = 5000  # rows per transaction (~0.3 s here): short locks, fan-outs never wait long
# The worker's task moves at most this many batches a run (every 10 minutes), so that a
# backlog (the first run after the upgrade on a large outbox) never holds up its sending
# for more than a few seconds (~20,000 rows/s here, bench/national.py): 300,000 rows an
# hour, where a national program adds about 830,000 a month.
TASK_BATCHES = 10


def _references() -> list[tuple[str, str]]:
    """(table, column) of every foreign key that points at an outbox row, from the models
    (tracked links, survey responses, and whatever comes next)."""
    found = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is OutboxMessage.__table__ and table is not OutboxMessage.__table__:
                found.append((table.name, fk.parent.name))
    return sorted(found)


def _move_statement(batch: int):
    columns = ", ".join(f'"{c.name}"' for c in OutboxMessage.__table__.columns)
    returned = ", ".join(f'm."{c.name}"' for c in OutboxMessage.__table__.columns)
    referenced = "".join(
        f' AND NOT EXISTS (SELECT 1 FROM "{table}" r WHERE r."{column}" = m.id)'
        for table, column in _references()
    )
    # The candidates come from ix_outbox_due (status, due_at); fallback rows and rows with a
    # fallback stay live (module doc), and so do rows another table references.
    return text(f"""
WITH picked AS (
    SELECT m.id FROM ONLY outbox_messages m
    WHERE m.status IN :statuses AND m.due_at < :cutoff
      AND (m.final_at IS NULL OR m.final_at < :cutoff)
      AND m.fallback_of_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM ONLY outbox_messages f WHERE f.fallback_of_id = m.id)
      {referenced}
    LIMIT {int(batch)}
    FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM ONLY outbox_messages m USING picked WHERE m.id = picked.id
    RETURNING {returned}
)
INSERT INTO {ARCHIVE} ({columns}) SELECT {columns} FROM moved
""").bindparams(bindparam("statuses", expanding=True))


def archive_outbox(
    *,
    now: datetime,
    months: int,
    batch: int = BATCH,
    max_batches: int | None = None,
) -> int:
    """Move the finished messages due more than `months` (30-day months) before `now` into
    the archive, `batch` rows per transaction, at most `max_batches` transactions (None: until
    none is left). Returns how many moved (0 on SQLite or when `months` is 0: off)."""
    if months <= 0 or not is_postgres():
        return 0
    cutoff = now - timedelta(days=30 * months)
    statement = _move_statement(batch)
    total = batches = 0
    while max_batches is None or batches < max_batches:
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ARCHIVE_LOCK})
        moved = db.session.execute(
            statement, {"statuses": list(ARCHIVED_STATUSES), "cutoff": cutoff}
        ).rowcount
        db.session.commit()
        total += moved
        batches += 1
        if moved < batch:
            break
    return total


def archive_table() -> Table:
    """The archive's key columns, for queries built with SQLAlchemy."""
    return Table(
        "outbox_archive",
        MetaData(),
        Column("id", Integer),
        Column("send_id", Integer),
        Column("contact_id", Integer),
        Column("occurrence", Integer),
        schema=SCHEMA,
    )


def hold_archive_shared() -> None:
    """Fan-out's side of ARCHIVE_LOCK, until its transaction ends (PostgreSQL)."""
    db.session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": ARCHIVE_LOCK})


def archived_count() -> int:
    """Rows in the archive (exact count; for the CLI and tests). 0 on SQLite."""
    if not is_postgres():
        return 0
    return db.session.scalar(text(f"SELECT count(*) FROM {ARCHIVE}"))
