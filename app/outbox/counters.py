"""The outbox's status counters: fold the deltas the triggers append into the counts.

Triggers on outbox_messages (app/outbox/models.py) append a signed delta for every change of
a row's status, campaign or send, in the writer's own transaction; `fold` moves the
committed deltas into outbox_status_counts. Readers add the deltas not folded yet
(app.outbox.api.status_counts), so a fold never changes a figure: it keeps the deltas few,
so reads stay cheap. The worker's maintenance folds on every pass (app/schedule.py), and a
read that had to add many deltas asks for a fold (`fold_if_many`).
"""

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db_dialect import is_postgres, take_write_lock
from app.extensions import db

logger = logging.getLogger("alcance.outbox")

# Unfolded deltas a read may add before it asks for a fold (a fold of this many takes a few
# milliseconds; adding them to a read costs about as much).
FOLD_AT = 2000
# PostgreSQL advisory lock held by a fold: folds take turns (two folds deleting the same
# deltas in different orders could deadlock).
FOLD_LOCK = 0x0A1C_0015

_KEY = "organization_id, campaign_id, send_id, status"
# One statement: the DELETE ... RETURNING takes exactly the deltas it moves (a writer's
# deltas committed meanwhile stay for the next fold; a delta is never moved twice), and the
# upsert adds them to the counts. Returns how many deltas moved and which counts reached
# zero (deleted afterwards: the counts table keeps only what exists).
_FOLD_POSTGRES = text(f"""
WITH moved AS (
    DELETE FROM outbox_status_deltas RETURNING {_KEY}, delta
), summed AS (
    SELECT {_KEY}, sum(delta) AS n FROM moved GROUP BY {_KEY}
), upserted AS (
    INSERT INTO outbox_status_counts ({_KEY}, count)
    SELECT {_KEY}, n FROM summed
    ON CONFLICT ({_KEY}) DO UPDATE SET count = outbox_status_counts.count + EXCLUDED.count
    RETURNING {_KEY}, count
)
SELECT
    (SELECT count(*) FROM moved),
    (SELECT coalesce(json_agg(json_build_array({_KEY})), '[]') FROM upserted WHERE count = 0)
""")
_DELETE_EMPTY = text(
    "DELETE FROM outbox_status_counts WHERE organization_id = :o AND campaign_id = :c"
    " AND send_id = :s AND status = :st AND count = 0"
)
# SQLite: under the database write lock nobody adds deltas between the two statements.
_FOLD_SQLITE = (
    text(f"""
INSERT INTO outbox_status_counts ({_KEY}, count)
SELECT {_KEY}, sum(delta) FROM outbox_status_deltas WHERE true GROUP BY {_KEY}
ON CONFLICT ({_KEY}) DO UPDATE SET count = count + excluded.count"""),
    text("DELETE FROM outbox_status_deltas"),
    text("DELETE FROM outbox_status_counts WHERE count = 0"),
)


def fold(*, wait: bool = True) -> int:
    """Move every committed delta into the counts, in one transaction of its own. Returns
    how many deltas moved. Without `wait`, returns 0 at once when another fold is running
    (PostgreSQL). On SQLite it runs in the session and commits (the write lock is the
    session's): call it between units of work, as the worker's maintenance does."""
    if not is_postgres():
        return _fold_sqlite()
    with db.engine.begin() as connection:
        lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        got = connection.execute(text(f"SELECT {lock}(:key)"), {"key": FOLD_LOCK}).scalar()
        if got is False:
            return 0
        moved, emptied = connection.execute(_FOLD_POSTGRES).one()
        if emptied:
            connection.execute(
                _DELETE_EMPTY,
                [dict(zip(("o", "c", "s", "st"), key, strict=True)) for key in emptied],
            )
    return moved


def _fold_sqlite() -> int:
    take_write_lock()
    connection = db.session.connection()
    moved = connection.execute(text("SELECT count(*) FROM outbox_status_deltas")).scalar()
    if moved:
        for statement in _FOLD_SQLITE:
            connection.execute(statement)
    db.session.commit()
    return moved


def fold_if_many(unfolded: int) -> None:
    """After a read that added `unfolded` deltas: fold when they are many, without waiting
    for a fold already running. PostgreSQL only, on a connection of its own (the reader's
    transaction is left alone); SQLite's worker folds on its own (one writer at a time: a
    page must not queue for the write lock)."""
    if unfolded < FOLD_AT or not is_postgres():
        return
    try:
        fold(wait=False)
    except SQLAlchemyError:  # the figures were exact anyway; the worker folds later
        logger.warning("status counters: fold after a read failed", exc_info=True)
