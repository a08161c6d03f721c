"""Sending prepared outbox rows, and reconciling rows whose outcome is unknown.

The common path of one message is two statements (issue 15): `start_row`, an `UPDATE ...
RETURNING` that re-checks the row is still this worker's and still allowed (guards, opt-out)
and sets `send_started_at`, right before the provider call; then one `UPDATE ... WHERE id
AND status='claimed' AND claimed_by=<worker>` that records `sent` with its SID, segments and
`sent_at` and clears the lease. An outcome writer runs them: in a worker's sending threads
on PostgreSQL a `BatchWriter`, which runs the starts, and the outcomes, that the threads
hand it meanwhile as one statement each (at most 50 rows; outcomes gathered for up to 50 ms)
in AUTOCOMMIT on the worker's sending engine (no pre-ping, BEGIN or COMMIT, no app context
per message). A thread waits for its start (the mark is still written before its own call),
not for its outcome: a crash before an outcome is written leaves a row with
`send_started_at` and no outcome, which becomes `unknown` on lease expiry and is reconciled
(the existing path of a crash during the call); the window is at most 50 ms plus one
statement's time. Elsewhere (SQLite files) a `ConnectionWriter` runs one statement per step;
where every session shares one connection (in-memory SQLite) or for direct callers,
`SessionWriter` runs the same statements through the session. The rare paths (a row no
longer allowed, retry with backoff, permanent failure, unknown outcome, the simulator's
immediate final status through `set_final_status`) keep the ORM session.
"""

import logging
import queue
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Integer, String, and_, bindparam, exists, func, or_, select, update

from app.contacts.models import Contact
from app.extensions import db
from app.messaging.gateway import (
    PermanentSmsError,
    RetryableSmsError,
    SmsError,
    whatsapp_address,
)
from app.organizations.models import Organization
from app.outbox import guards
from app.outbox.dispatch import DispatchSettings, backoff_delay, known_sids
from app.outbox.models import OutboxMessage
from app.outbox.preparing import Prepared, unnested
from app.outbox.status import TWILIO_TO_OUTBOX, set_final_status

logger = logging.getLogger("alcance.outreach")


def _finish_error(outbox_id: int, status: str, *, error_code, error_message, now) -> None:
    row = db.session.get(OutboxMessage, outbox_id)
    set_final_status(row, status, now=now, error_code=error_code, error_message=error_message)
    row.claimed_by = row.lease_expires_at = None
    db.session.commit()


def renew_leases(
    ids: list[int], *, worker_id: str, now: datetime, settings: DispatchSettings
) -> set[int]:
    """Extend this worker's lease on rows it still holds; returns the ids it holds.

    A row is held while it is "claimed" by this worker, even past its expiry: recovery
    moves it out of "claimed" (under the row lock), so either recovery or this renewal
    wins, never both."""
    if not ids:
        return set()
    held = db.session.scalars(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == "claimed",
            OutboxMessage.claimed_by == worker_id,
        )
        .values(lease_expires_at=now + settings.lease)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return set(held)


def _may_still_go():
    """SQL: the row's contact, and every feature's guard (a canceled send, a paused
    campaign...), still allow it to go out (re-checked right before the provider call: a
    change since the batch was prepared stops it). Replies need only a reachable contact;
    a staff alert (no contact) only the guards."""
    contact_ok = or_(
        OutboxMessage.contact_id.is_(None),
        exists().where(
            Contact.id == OutboxMessage.contact_id,
            Contact.erased_at.is_(None),
            or_(OutboxMessage.purpose == "system", Contact.opted_out_at.is_(None)),
        ),
    )
    return and_(contact_ok, guards.still_allowed())


_OUTBOX = OutboxMessage.__table__
_MOMENT = OutboxMessage.__table__.c.sent_at.type


class _OneByOne:
    """One statement per start and per outcome, run by `scalar`/`rowcount` (subclasses)."""

    def start(self, params: dict) -> bool:
        """Mark one row started (see `start_row`); False when it may not go."""
        return self.scalar(_start_statement(tuple(guards.registered())), params) is not None

    def sent(self, params: dict, report=None) -> str:
        """Record a success (see `record_sent`) at once: `report` is for deferring writers."""
        return _record_sent_one(params, self.rowcount)


class SessionWriter(_OneByOne):
    """Runs a statement through the current session and commits (two round trips)."""

    def scalar(self, statement, params: dict):
        value = db.session.execute(statement, params).scalar()
        db.session.commit()
        return value

    def rowcount(self, statement, params: dict) -> int:
        count = db.session.execute(statement, params).rowcount
        db.session.commit()
        return count

    def close(self) -> None:
        pass


class ConnectionWriter(_OneByOne):
    """Runs each statement in one round trip on a Connection in AUTOCOMMIT isolation,
    borrowed from `engine` (the worker's sending engine: AUTOCOMMIT, no pre-ping, no reset
    on return) only for that statement: a pool checkout is a few microseconds and no round
    trip, and the worker needs as many connections as statements run at once (a few), not
    one per thread waiting on the provider (4 workers × 38 threads exhausted PostgreSQL's
    default 100 connections in the benchmark)."""

    def __init__(self, engine):
        self.engine = engine

    def scalar(self, statement, params: dict):
        with self.engine.connect() as connection:
            return connection.execute(statement, params).scalar()

    def rowcount(self, statement, params: dict) -> int:
        with self.engine.connect() as connection:
            return connection.execute(statement, params).rowcount

    def close(self) -> None:
        pass


class _Pending:
    """A start or an outcome waiting for the batch writer; `wait` blocks for its answer."""

    __slots__ = ("kind", "params", "report", "answer", "_done")

    def __init__(self, kind: str, params: dict, report=None):
        self.kind, self.params, self.report, self.answer = kind, params, report, None
        self._done = None
        if report is None:  # held until resolved: lighter than an Event, one waiter
            self._done = threading.Lock()
            self._done.acquire()

    def resolve(self, answer) -> None:
        self.answer = answer
        if self.report is not None:
            self.report(answer)
        else:
            self._done.release()

    def wait(self):
        self._done.acquire()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class BatchWriter(ConnectionWriter):
    """Group commit for a worker's sending threads (PostgreSQL): two threads of its own run
    the starts and the outcomes the threads hand it, up to BATCH_ROWS rows a statement.

    With one statement each (ConnectionWriter), 64 threads queued ~100 ms for one of a few
    connections and PostgreSQL spent ~1.8 ms of CPU per message (the statement-level status
    trigger runs, and plans its EXECUTE, once per statement) in bench/dispatch.py. Batched,
    a start statement serves the rows that arrived while the previous one ran (no timer:
    under light load a batch is one row, as before).
    - A start stays right before its own call: the thread waits for the statement that
      marks its row (and re-checks guards and opt-out under the row lock), then calls.
    - Outcomes are recorded after the call without the thread waiting: the outcome lane
      gathers what arrives within GATHER_OUTCOMES (50 ms) into one statement of at most
      BATCH_ROWS (50) rows, and `report` gets each outcome once committed. A crash in
      between leaves rows with `send_started_at` and no outcome: `unknown` at lease
      expiry, then reconciled, the path a crash during the provider call already takes.
    - A batch that fails (a deadlock with a multi-row cancel or lease renewal, a broken
      connection) is retried one row at a time, as ConnectionWriter would run it."""

    BATCH_ROWS = 50
    START_LANES = 3
    # An outcome waits up to this long for others to share its statement (at most
    # BATCH_ROWS rows): ~8x fewer statements, each a status-trigger run and a commit, than
    # taking only what arrived during the previous one. The crash window stays inside the
    # unknown -> reconcile path (see the class docstring). Starts never wait for a timer.
    GATHER_OUTCOMES = 0.05
    shared = True  # one per worker, for all its threads: the worker closes it

    def __init__(self, engine):
        super().__init__(engine)
        # Lanes, each a thread and (while it writes) a connection. A start never waits behind
        # a batch of outcomes; several start lanes keep commits overlapping (each waits for
        # the WAL flush: ~1 ms on an idle disk, tens on a busy one), which PostgreSQL
        # flushes together.
        self._queues = {"start": queue.SimpleQueue(), "sent": queue.SimpleQueue()}
        self._closing = threading.Event()
        self._lanes = [
            (kind, threading.Thread(target=self._serve, args=(kind,), name=f"writer-{kind}"))
            for kind in ["start"] * self.START_LANES + ["sent"]
        ]
        for _, thread in self._lanes:
            thread.daemon = True
            thread.start()

    @property
    def alive(self) -> bool:
        return all(thread.is_alive() for _, thread in self._lanes)

    def start(self, params: dict) -> bool:
        if not self.alive:  # closed: a late caller still gets its statement
            return super().start(params)
        pending = _Pending("start", params)
        self._queues["start"].put(pending)
        return pending.wait()

    def sent(self, params: dict, report=None) -> str | None:
        """With `report`: returns None at once and reports the outcome when recorded."""
        if not self.alive:
            return super().sent(params, report)
        pending = _Pending("sent", params, report)
        self._queues["sent"].put(pending)
        return None if report is not None else pending.wait()

    def close(self) -> None:
        """Record what is queued, then stop the writer's threads."""
        self._closing.set()
        for kind, _ in self._lanes:  # one stop mark each: a lane takes one, then stops
            self._queues[kind].put(None)
        for _, thread in self._lanes:
            thread.join()

    def _serve(self, kind: str) -> None:
        lane, many = self._queues[kind], (self._start_many if kind == "start" else self._sent_many)
        gather = self.GATHER_OUTCOMES if kind == "sent" else 0.0
        while True:
            taken = [lane.get()]
            if gather and taken[0] is not None and lane.qsize() < self.BATCH_ROWS - 1:
                self._closing.wait(gather)  # one wake-up, not one per arriving outcome
            while taken[-1] is not None and len(taken) < self.BATCH_ROWS:
                try:  # what arrived meanwhile; the rest is for the next turn, or another lane
                    taken.append(lane.get_nowait())
                except queue.Empty:
                    break
            pending = [p for p in taken if p is not None]
            if pending:
                self._run(many, pending)
            if taken[-1] is None:
                return

    def _run(self, many, batch: list) -> None:
        answers = None
        if len(batch) > 1:
            try:
                answers = many(batch)
            except Exception:
                logger.warning("batched outbox write of %d rows failed; one by one", len(batch))
        if answers is None:
            answers = [self._one(pending) for pending in batch]
        for pending, answer in zip(batch, answers, strict=True):
            pending.resolve(answer)

    def _one(self, pending: _Pending):
        try:
            if pending.kind == "start":
                return _OneByOne.start(self, pending.params)
            return _record_sent_one(pending.params, self.rowcount)
        except Exception as error:  # no connection: the row's lease expires
            logger.exception("outbox write failed outbox_id=%s", pending.params["p_id"])
            return error if pending.kind == "start" else "error"

    def _start_many(self, batch: list) -> list:
        started = set()
        for worker, rows in _by_worker(batch).items():
            with self.engine.connect() as connection:
                started |= set(
                    connection.execute(
                        _start_many_statement(tuple(guards.registered())),
                        dict(
                            p_worker=worker,
                            p_ids=[p.params["p_id"] for p in rows],
                            p_nows=[p.params["p_now"] for p in rows],
                            p_leases=[p.params["p_lease_until"] for p in rows],
                        ),
                    ).scalars()
                )
        return [p.params["p_id"] in started for p in batch]

    def _sent_many(self, batch: list) -> list:
        recorded = set()
        for worker, rows in _by_worker(batch).items():
            with self.engine.connect() as connection:
                recorded |= set(
                    connection.execute(
                        _SENT_MANY_STATEMENT,
                        dict(
                            p_worker=worker,
                            p_ids=[p.params["p_id"] for p in rows],
                            p_sids=[p.params["p_sid"] for p in rows],
                            p_nows=[p.params["p_now"] for p in rows],
                            p_segments=[p.params["p_segments"] for p in rows],
                        ),
                    ).scalars()
                )
        # The few rows no longer ours: the late answer, or left alone, one statement each.
        return [
            "sent" if p.params["p_id"] in recorded else _record_late(p.params, self.rowcount)
            for p in batch
        ]


def _by_worker(batch: list) -> dict[str, list]:
    rows = defaultdict(list)
    for pending in batch:
        rows[pending.params["p_worker"]].append(pending)
    return rows


OutcomeWriter = SessionWriter | ConnectionWriter | BatchWriter


@lru_cache(maxsize=8)
def _start_statement(_guards: tuple):
    """Built once per set of registered guards (keyed by them); parameters bound per row."""
    return (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id == bindparam("p_id"),
            _OUTBOX.c.status == "claimed",
            _OUTBOX.c.claimed_by == bindparam("p_worker"),
            _may_still_go(),
        )
        .values(
            send_started_at=bindparam("p_now", type_=_MOMENT),
            attempts=_OUTBOX.c.attempts + 1,
            lease_expires_at=bindparam("p_lease_until", type_=_MOMENT),
        )
        .returning(_OUTBOX.c.id)
    )


def _sent_values() -> dict:
    return dict(
        status="sent",
        twilio_sid=bindparam("p_sid"),
        sent_at=bindparam("p_now", type_=_MOMENT),
        segments=bindparam("p_segments"),
        claimed_by=None,
        lease_expires_at=None,
    )


# The one statement that records a successful call: only on a row still claimed by us.
SENT_STATEMENT = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("p_id"),
        _OUTBOX.c.status == "claimed",
        _OUTBOX.c.claimed_by == bindparam("p_worker"),
    )
    .values(**_sent_values())
)
# The row stopped being ours during the call: lease expiry made it `unknown`. We hold the
# provider's answer, so record it as reconciliation would (unless it already did).
_LATE_SENT_STATEMENT = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("p_id"),
        _OUTBOX.c.status == "unknown",
        _OUTBOX.c.twilio_sid.is_(None),
    )
    .values(**_sent_values(), reconcile_after=None)
)


# The batch forms (BatchWriter, PostgreSQL): the same conditions, the rows' values in
# arrays (one statement text whatever the batch size, so it is prepared once).
@lru_cache(maxsize=8)
def _start_many_statement(_guards: tuple):
    rows = unnested(("id", Integer), ("now", _MOMENT), ("lease", _MOMENT))
    return (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id == rows.c.id,
            _OUTBOX.c.status == "claimed",
            _OUTBOX.c.claimed_by == bindparam("p_worker"),
            _may_still_go(),
        )
        .values(
            send_started_at=rows.c.now,
            attempts=_OUTBOX.c.attempts + 1,
            lease_expires_at=rows.c.lease,
        )
        .returning(_OUTBOX.c.id)
    )


def _sent_many_statement():
    rows = unnested(("id", Integer), ("sid", String), ("now", _MOMENT), ("segment", Integer))
    return (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id == rows.c.id,
            _OUTBOX.c.status == "claimed",
            _OUTBOX.c.claimed_by == bindparam("p_worker"),
        )
        .values(
            status="sent",
            twilio_sid=rows.c.sid,
            sent_at=rows.c.now,
            segments=rows.c.segment,
            claimed_by=None,
            lease_expires_at=None,
        )
        .returning(_OUTBOX.c.id)
    )


_SENT_MANY_STATEMENT = _sent_many_statement()


def _sent_params(item: Prepared, result, now: datetime) -> dict:
    return dict(
        p_id=item.id,
        p_worker=item.worker_id,
        p_sid=result.sid,
        p_now=now,
        p_segments=result.num_segments or None,
    )


def record_sent(
    item: Prepared, result, *, now: datetime, writer: OutcomeWriter, report=None
) -> str | None:
    """Record a successful call in one statement. Returns "sent", or "lease_lost" when the
    row is no longer this worker's and was not waiting for this answer (left alone). With
    `report`, a BatchWriter returns None and reports the outcome once recorded."""
    return writer.sent(_sent_params(item, result, now), report)


def _record_sent_one(params: dict, rowcount) -> str:
    if rowcount(SENT_STATEMENT, params):
        return "sent"
    return _record_late(params, rowcount)


def _record_late(params: dict, rowcount) -> str:
    if rowcount(_LATE_SENT_STATEMENT, params):
        logger.warning("outcome recorded after the lease expired outbox_id=%s", params["p_id"])
        return "sent"
    logger.warning("outcome not recorded: outbox_id=%s is no longer this worker's", params["p_id"])
    return "lease_lost"


def start_row(
    item: Prepared,
    *,
    now: datetime,
    settings: DispatchSettings,
    writer: OutcomeWriter | None = None,
) -> str | None:
    """Mark one prepared row as handed to the provider, right before its own call.

    One conditional UPDATE under the row lock: the row must still be claimed by this worker
    (not recovered by another, not canceled) and still allowed to go. Returns None when the
    call may proceed, else the outcome to report. A row whose rules changed since it was
    prepared (opt-out, pause) goes back to `scheduled`, where the next preparation applies
    them; one that is no longer ours is left alone."""
    started = (writer or SessionWriter()).start(
        dict(p_id=item.id, p_worker=item.worker_id, p_now=now, p_lease_until=now + settings.lease)
    )
    if started:
        return None
    given_back = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == item.id,
            OutboxMessage.status == "claimed",
            OutboxMessage.claimed_by == item.worker_id,
        )
        .values(status="scheduled", claimed_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if given_back:
        return "held_back"
    status = db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == item.id))
    db.session.commit()
    if status == "canceled":
        return "canceled"
    logger.warning("lease lost before sending outbox_id=%s; left to recovery", item.id)
    return "lease_lost"


def send_prepared(
    item: Prepared,
    *,
    gateway,
    clock,
    budget,
    settings: DispatchSettings,
    status_callback: str | None,
    writer: OutcomeWriter | None = None,
    latency=None,
    report=None,
) -> str | None:
    """Send one prepared row and record the outcome right after the call.

    `writer` runs the two common-path statements (default: through the session); `latency`
    (a LatencyMeter), if given, observes how long the provider call took. With `report`, a
    BatchWriter may record a success later: None is returned and `report` gets the outcome."""
    writer = writer or SessionWriter()
    budget.acquire()
    outcome = start_row(item, now=clock(), settings=settings, writer=writer)
    if outcome is not None:
        return outcome
    try:
        result = _call(gateway, item, status_callback, latency)
    except RetryableSmsError as error:
        row = db.session.get(OutboxMessage, item.id)
        code = str(error.code or error.status or "retry")
        if row.attempts >= settings.max_attempts:
            _finish_error(item.id, "failed", error_code=code, error_message=str(error), now=clock())
            return "failed"
        row.status, row.send_started_at, row.claimed_by, row.lease_expires_at = (
            "scheduled",
            None,
            None,
            None,
        )
        row.error_code, row.error_message = code, str(error)[:200]
        row.due_at = clock() + backoff_delay(row.attempts, settings)
        db.session.commit()
        return "retry"
    except PermanentSmsError as error:
        _finish_error(
            item.id,
            "failed",
            error_code=str(error.code or error.status),
            error_message=str(error),
            now=clock(),
        )
        return "failed"
    except SmsError as error:  # OutcomeUnknownSmsError and anything unexpected from the gateway
        # Only a row still ours: another worker may have reconciled it meanwhile.
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item.id, OutboxMessage.status.in_(("claimed", "unknown")))
            .values(
                status="unknown",
                error_message=str(error)[:200],
                claimed_by=None,
                lease_expires_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        logger.warning("send outcome unknown outbox_id=%s; will reconcile", item.id)
        return "unknown"

    now = clock()
    final = result.status if result.status in ("delivered", "failed", "undelivered") else None
    if final is None and getattr(gateway, "name", "") == "simulator":
        final = "delivered"  # the simulated handset receives at once
    if final is None:
        return record_sent(item, result, now=now, writer=writer, report=report)
    # Rare: a final status at once (the simulator) goes through set_final_status and its
    # events, in one transaction with the sent row.
    if not db.session.execute(SENT_STATEMENT, _sent_params(item, result, now)).rowcount:
        db.session.commit()
        return record_sent(item, result, now=now, writer=SessionWriter())
    set_final_status(db.session.get(OutboxMessage, item.id), final, now=now)
    db.session.commit()
    return "sent"


def _call(gateway, item: Prepared, status_callback: str | None, latency):
    called = time.monotonic()
    try:
        if item.channel == "sms":  # the SMS call stays as it always was
            return gateway.send(
                item.to, item.body, status_callback=status_callback, sender=item.sender
            )
        return gateway.send(
            item.to,
            item.body,
            status_callback=status_callback,
            sender=item.sender,
            channel=item.channel,
            content_sid=item.content_sid,
            content_variables=item.content_variables,
        )
    finally:
        if latency is not None:
            latency.observe(time.monotonic() - called)


def _pair_rows_with_messages(rows, messages, *, now, grace, counts) -> None:
    """Resolve the unknown rows of one recipient against what the provider has for it.

    A provider message belongs to a row only when it has the row's exact text (and sender,
    checked by the caller). Rows with the same text are resolved together: as many
    messages as rows -> paired in order; fewer (but some) -> nobody can tell which row went
    out, so all stay unknown and visible. A row with no message of its text is requeued
    after the grace period, unless the provider holds a message to that number that no row
    accounts for (its text could not be compared): then it waits, and escalates."""
    by_text: dict[str, list] = defaultdict(list)
    for row in rows:
        by_text[row.body].append(row)
    unexplained = [m for m in messages if m.body not in by_text]
    for text, same in by_text.items():
        found = sorted((m for m in messages if m.body == text), key=lambda m: m.date_created)
        same.sort(key=lambda r: (r.send_started_at or r.due_at, r.id))
        if found and len(found) >= len(same):
            for row, match in zip(same, found, strict=False):  # oldest with oldest
                row.twilio_sid, row.sent_at, row.status = match.sid, match.date_created, "sent"
                row.reconcile_after = None
                final = TWILIO_TO_OUTBOX.get(match.status, "sent")
                if final != "sent":
                    set_final_status(
                        row,
                        final,
                        now=now,
                        error_code=str(match.error_code) if match.error_code else None,
                    )
                counts["found"] += 1
            continue
        for row in same:
            started = row.send_started_at or row.due_at
            if found or unexplained or now - started <= grace:
                counts["ambiguous" if found else "pending"] += 1
            elif reason := guards.withdrawn(row):
                row.status, row.skip_reason, row.final_at = "canceled", reason, now
                counts["canceled"] += 1
            else:  # the provider never accepted it: the next preparation decides again
                row.status, row.send_started_at, row.due_at = "scheduled", None, now
                row.claimed_by = row.lease_expires_at = row.reconcile_after = None
                counts["requeued"] += 1


def _group(items, key) -> list[tuple]:
    groups: dict = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return list(groups.items())


def _escalate_stale_unknown(*, now: datetime, settings: DispatchSettings) -> int:
    """Unknown rows the provider could not resolve for `unknown_escalation` become
    `failed_unknown`: final, counted as not delivered, never re-sent, visible on the send."""
    stale = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "unknown",
                func.coalesce(OutboxMessage.send_started_at, OutboxMessage.due_at)
                < now - settings.unknown_escalation,
            )
            .with_for_update(skip_locked=True)
        )
    )
    for row in stale:
        row.status, row.final_at, row.claimed_by, row.lease_expires_at = (
            "failed_unknown",
            now,
            None,
            None,
        )
        row.error_message = "provider could not confirm whether it accepted the message"
    db.session.commit()
    if stale:
        logger.error("escalated %d unknown outbox rows to failed_unknown", len(stale))
    return len(stale)


def reconcile_unknown(*, gateway, clock, settings: DispatchSettings, limit: int = 100) -> dict:
    """Resolve `unknown` rows by asking the provider; never re-send what it accepted.

    Rows are looked up per recipient (one provider request for all of a number's unknown
    rows) and matched by exact text and sender, never by number and time alone. A failed
    lookup is logged, counted on the row and retried with backoff; a row still unresolved
    after `unknown_escalation` becomes `failed_unknown`."""
    counts = {
        "found": 0,
        "requeued": 0,
        "canceled": 0,
        "pending": 0,
        "ambiguous": 0,
        "lookup_failed": 0,
        "escalated": 0,
    }
    counts["escalated"] = _escalate_stale_unknown(now=clock(), settings=settings)
    now = clock()
    # Several workers reconcile at once: each locks the rows it works on (skipping others').
    rows = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "unknown",
                or_(OutboxMessage.reconcile_after.is_(None), OutboxMessage.reconcile_after <= now),
            )
            .order_by(OutboxMessage.send_started_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        db.session.commit()
        return counts
    phones = dict(
        db.session.execute(
            select(Contact.id, Contact.phone).where(Contact.id.in_({r.contact_id for r in rows}))
        ).all()
    )
    by_phone: dict[str, list] = defaultdict(list)
    for row in rows:
        if phones.get(row.contact_id):  # a WhatsApp message is listed under its address
            phone = phones[row.contact_id]
            by_phone[whatsapp_address(phone) if row.channel == "whatsapp" else phone].append(row)
        else:  # erased meanwhile: nothing to look up; it escalates if never resolved
            counts["pending"] += 1
    default_sender = getattr(gateway, "sender", None)
    own_senders = dict(
        db.session.execute(
            select(Organization.id, Organization.sms_sender).where(
                Organization.id.in_({r.organization_id for r in rows})
            )
        ).all()
    )
    for phone, same_phone in by_phone.items():
        since = min(r.send_started_at or r.due_at for r in same_phone) - timedelta(minutes=2)
        try:
            found = gateway.find_sent(phone, since=since)
        except SmsError as error:
            for row in same_phone:
                row.reconcile_failures = (row.reconcile_failures or 0) + 1
                row.reconcile_after = now + backoff_delay(row.reconcile_failures, settings)
            counts["lookup_failed"] += len(same_phone)
            logger.warning(
                "provider lookup failed for %d unknown outbox rows (ids %s): %s; "
                "retrying with backoff",
                len(same_phone),
                ",".join(str(r.id) for r in same_phone),
                type(error).__name__,
            )
            continue
        found = [m for m in found if m.date_created >= since]
        taken = known_sids([m.sid for m in found])
        # One phone can hold rows of several organizations, each with its own sender.
        for sender, rows_ in _group(
            same_phone,
            # WhatsApp: the address already tells the channel; its sender is not compared.
            lambda r: (
                None
                if r.channel == "whatsapp"
                else own_senders.get(r.organization_id) or default_sender
            ),
        ):
            free = [
                m
                for m in found
                if m.sid not in taken and (sender is None or m.sender is None or m.sender == sender)
            ]
            _pair_rows_with_messages(
                rows_, free, now=now, grace=settings.reconcile_grace, counts=counts
            )
            taken |= {r.twilio_sid for r in rows_ if r.twilio_sid}
    db.session.commit()
    return counts
