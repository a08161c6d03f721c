"""The outreach worker: `flask --app wsgi outreach worker [--once]`.

Each pass: recover expired leases, reconcile unknown outcomes, enrol late joiners of
sequences, then claim due rows in batches and send them concurrently under the shared
send-rate budget. Safe to run several at once.

Sending at the provider's limit (issue 15):
- Sizing: `plan_dispatch` (dispatch.py) gives the threads (OUTREACH_CONCURRENCY "auto":
  TWILIO_MAX_MPS × the moving average of the provider call's duration × 1.5, within
  OUTREACH_CONCURRENCY_MIN/MAX; the max without a limit) and the batch (10 × threads). It is
  re-evaluated before each batch is claimed; the sending threads, the HTTP connection pool
  (`size_connection_pool` on the gateway, grown only) follow it.
- Sending threads live as long as the worker (`SenderPool`). Each pushes one app context
  (for the rare ORM paths) once; the common path's two statements run in AUTOCOMMIT on the
  worker's own sending engine (sending.py): no app context or pre-ping per message. On
  PostgreSQL the threads hand them to the worker's one `BatchWriter`, which batches the
  starts, and the outcomes, that arrive together (a thread waits for its start, not for
  its outcome: the outcome comes back to the pool once written). That engine has no
  pre-ping and no reset on return, LIFO, and holds min(threads, OUTREACH_DB_CONNECTIONS (8))
  connections, no overflow: the batch writer uses two at most, and several workers stay
  within PostgreSQL's max_connections. The app's engine (web
  settings, pre-ping) keeps serving claims, preparation, maintenance and the rare paths.
- Prefetch: the next batch is claimed and prepared while the current one is still sending,
  once no more than half a batch (at least one row per thread) is left queued or in flight,
  so the threads never idle between batches. The leases of every row queued or in flight,
  prefetched ones included, are renewed every third of a lease; rows still queued when the
  worker stops are given back at once. A pass ends when a claim comes back short.
- With one thread (OUTREACH_CONCURRENCY=1, or an in-memory SQLite database, which is one
  connection shared by every thread) rows are sent in the worker's own thread, one batch
  per pass, without prefetch.
"""

import contextlib
import logging
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from itertools import count

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.extensions import db
from app.jobs.runner import JobThread, run_pending
from app.outbox.budget import LocalSendBudget
from app.outbox.budget_redis import RedisSendBudget
from app.outbox.dispatch import (
    DispatchSettings,
    LatencyMeter,
    claim_due,
    most_threads,
    plan_dispatch,
    recover_expired_leases,
    release_unstarted,
    settings_from_config,
)
from app.outbox.preparing import prepare_batch
from app.outbox.sending import (
    BatchWriter,
    ConnectionWriter,
    SessionWriter,
    reconcile_unknown,
    renew_leases,
    send_prepared,
)
from app.outbox.spool import drain as drain_webhook_spool
from app.outbox.status import apply_early_callbacks
from app.timeutil import utcnow

logger = logging.getLogger("alcance.outreach")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class PassResult:
    claimed: int = 0
    outcomes: dict = field(default_factory=dict)
    more: bool = False  # the last claim was full: more rows may be due right now

    def count(self, outcome: str, n: int = 1) -> None:
        if n:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n


class SenderPool:
    """The worker's sending threads, fed through a queue; outcomes come back through another.

    Each thread keeps one app context and one writer (sending.py) for its whole life."""

    def __init__(self, worker: "Worker"):
        self.worker = worker
        self._items: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._outstanding: dict[int, object] = {}  # ticket -> item, queued or in flight
        self._tickets = count()
        self._threads: list[threading.Thread] = []
        self.size = 0

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    def outstanding_ids(self) -> list[int]:
        return [item.id for item in self._outstanding.values()]

    def resize(self, n: int) -> None:
        """Start threads up to `n`, or ask the extra ones to stop after the queued rows."""
        while self.size < n:
            thread = threading.Thread(
                target=self._serve, name=f"send-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
            self.size += 1
        while self.size > n:
            self._items.put(None)
            self.size -= 1

    def submit(self, items) -> None:
        for item in items:
            ticket = next(self._tickets)
            self._outstanding[ticket] = item
            self._items.put((ticket, item))

    def collect(self, timeout: float) -> list[str]:
        """Outcomes finished so far, waiting up to `timeout` seconds for the first one.
        Re-raises what stopped a sending thread outright (KeyboardInterrupt, SystemExit)."""
        finished = []
        try:
            finished.append(self._done.get(timeout=timeout))
            while True:
                finished.append(self._done.get_nowait())
        except queue.Empty:
            pass
        outcomes = []
        for ticket, outcome in finished:
            self._outstanding.pop(ticket, None)
            if isinstance(outcome, BaseException):
                raise outcome
            outcomes.append(outcome)
        return outcomes

    def close(self) -> list[int]:
        """Stop every thread after its current row; returns the ids of rows never started."""
        unstarted = []
        while True:
            try:
                entry = self._items.get_nowait()
            except queue.Empty:
                break
            if entry is not None:
                unstarted.append(entry[1].id)
                self._outstanding.pop(entry[0], None)
        for thread in self._threads:
            if thread.is_alive():
                self._items.put(None)
        for thread in self._threads:
            thread.join()
        self._threads, self.size = [], 0
        return unstarted

    def _reporter(self, ticket: int):
        return lambda outcome: self._done.put((ticket, outcome))

    def _serve(self) -> None:
        with self.worker.app.app_context():
            writer = None
            try:
                while (entry := self._items.get()) is not None:
                    ticket, item = entry
                    try:
                        if writer is None:
                            writer = self.worker.open_writer()
                        outcome = self.worker.send(item, writer, self._reporter(ticket))
                        if outcome is None:  # the batch writer reports it once recorded
                            continue
                    except Exception:  # no connection: the row's lease expires, it is requeued
                        logger.exception("no database connection to send outbox_id=%s", item.id)
                        outcome = "error"
                    except BaseException as stop:  # KeyboardInterrupt/SystemExit: tell the worker
                        self._done.put((ticket, stop))
                        raise
                    if outcome == "error":  # maybe a broken connection: take a new one
                        writer = _closed(writer)
                    self._done.put((ticket, outcome))
            finally:
                _closed(writer)


def _closed(writer) -> None:
    """Close `writer` (if any, and the thread's own), whatever state its connection is in;
    returns None."""
    if writer is not None and not getattr(writer, "shared", False):
        with contextlib.suppress(Exception):
            writer.close()


class Worker:
    def __init__(
        self,
        app,
        *,
        gateway=None,
        clock=utcnow,
        settings: DispatchSettings | None = None,
        budget=None,
        worker_id: str | None = None,
        tasks=None,
    ):
        self.app = app
        self.gateway = gateway or app.extensions["sms_gateway"]
        self.clock = clock
        self.settings = settings or settings_from_config(app.config)
        self._shared_connection = _shares_one_connection(app.config["SQLALCHEMY_DATABASE_URI"])
        if self._shared_connection:
            # An in-memory SQLite database is one connection shared by every thread: parallel
            # sends would commit or roll back each other's work. Send one at a time.
            self.settings = replace(self.settings, concurrency=1)
        self.latency = LatencyMeter()
        self.plan = plan_dispatch(self.settings, self.latency.value)
        self._size_http_pool()
        self.budget = budget or build_budget(app)
        self.worker_id = worker_id or new_worker_id()
        self.status_callback = app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/status"
        self.tasks = app.extensions.get("maintenance_tasks", ()) if tasks is None else tasks
        self._last_run: dict = {}
        self._engine = None  # the sending threads' engine, made at first use
        self._engine_lock = threading.Lock()
        self._pool: SenderPool | None = None
        self._batch_writer: BatchWriter | None = None  # shared by the sending threads
        self._writer = None  # the worker thread's own, when it sends (one thread)
        self._maintenance_every: float | None = None
        self._last_maintenance = 0.0
        self._stop = threading.Event()

    def close(self) -> None:
        """Stop the sending threads (rows never started are given back) and close the
        sending connections. `run` does this when it returns; a later `run` starts afresh."""
        if self._pool is not None:
            unstarted = self._pool.close()
            if unstarted:
                with self.app.app_context():
                    release_unstarted(unstarted, worker_id=self.worker_id)
            self._pool = None
        self._close_writer()
        if self._batch_writer is not None:
            self._batch_writer.close()  # records the outcomes still queued
            self._batch_writer = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _close_writer(self) -> None:
        self._writer = _closed(self._writer)

    # -- sizing ---------------------------------------------------------------------------
    def _replan(self) -> None:
        plan = plan_dispatch(self.settings, self.latency.value)
        if plan != self.plan:
            logger.info(
                "dispatch sized threads=%d batch=%d latency_ms=%.0f",
                plan.concurrency,
                plan.batch_size,
                self.latency.value * 1000,
            )
            self.plan = plan
            self._size_http_pool()
        if self._pool is not None:
            self._pool.resize(self.plan.concurrency)

    def _size_http_pool(self) -> None:
        size = getattr(self.gateway, "size_connection_pool", None)
        if size is not None:
            size(self.plan.concurrency)

    def sending_engine(self):
        """The engine of the sending threads' statements: AUTOCOMMIT, no pre-ping and
        min(most threads, OUTREACH_DB_CONNECTIONS) connections, opened as needed."""
        with self._engine_lock:
            if self._engine is None:
                with self.app.app_context():
                    url = db.engine.url  # as Flask-SQLAlchemy resolved it (SQLite paths)
                options = dict(self.app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
                options.update(
                    pool_pre_ping=False,
                    pool_size=min(most_threads(self.settings), self.settings.db_connections),
                    max_overflow=0,
                    pool_use_lifo=True,  # idle extras time out server-side, not in rotation
                    pool_reset_on_return=None,  # AUTOCOMMIT: never a transaction to end
                    isolation_level="AUTOCOMMIT",
                )
                self._engine = create_engine(url, **options)
            return self._engine

    def open_writer(self):
        """What runs a sending thread's per-message statements (sending.py): on PostgreSQL
        the worker's one BatchWriter, shared by its threads."""
        if self._shared_connection:
            return SessionWriter()
        engine = self.sending_engine()
        if engine.dialect.name != "postgresql":
            return ConnectionWriter(engine)
        with self._engine_lock:
            if self._batch_writer is None or not self._batch_writer.alive:
                self._batch_writer = BatchWriter(engine)
            return self._batch_writer

    # -- sending --------------------------------------------------------------------------
    def send(self, item, writer, report=None) -> str | None:
        """Send one prepared row; any unexpected error is logged and reported as "error".
        With `report`, None may be returned: `report` gets the outcome once recorded."""
        try:
            return send_prepared(
                item,
                gateway=self.gateway,
                clock=self.clock,
                budget=self.budget,
                settings=self.settings,
                status_callback=self.status_callback,
                writer=writer,
                latency=self.latency,
                report=report,
            )
        except Exception:  # one bad row must not stop the batch; its lease expires
            logger.exception("send failed unexpectedly outbox_id=%s", item.id)
            db.session.rollback()
            return "error"

    def maintenance(self) -> None:
        """The outbox's own upkeep, then the app's periodic tasks (app/schedule.py, given
        to the app by create_app) that are due."""
        now = self.clock()
        drain_webhook_spool()  # first: a spooled STOP lands before anything is sent
        recover_expired_leases(now=now)
        reconcile_unknown(gateway=self.gateway, clock=self.clock, settings=self.settings)
        apply_early_callbacks(now=now)
        for task in self.tasks:
            last = self._last_run.get(task.name)
            if last is None or now - last >= task.every:
                task.run(now)
                self._last_run[task.name] = now
        self._last_maintenance = time.monotonic()

    def _maintain_if_due(self) -> None:
        every = self._maintenance_every
        if every is not None and time.monotonic() - self._last_maintenance >= every:
            self.maintenance()

    def run_pass(self) -> PassResult:
        """Claim and send due rows. Returns what happened."""
        self._replan()
        if self.plan.concurrency == 1:
            return self._run_inline_pass()
        return self._run_pipelined_pass()

    def _budget_unavailable(self, result: PassResult) -> bool:
        # Fail closed before claiming: rows claimed while the shared send budget (Redis)
        # cannot grant would only sit claimed. The budget logs why, once per interval.
        available = getattr(self.budget, "available", None)
        if available is not None and not available():
            result.count("budget_unavailable")
            return True
        return False

    def _claim(self, result: PassResult) -> list:
        """Claim and prepare one batch; returns the rows to send. Sets `result.more`."""
        limit = self.plan.batch_size
        ids = claim_due(self.worker_id, now=self.clock(), limit=limit, lease=self.settings.lease)
        ready = prepare_batch(ids, worker_id=self.worker_id, now=self.clock())
        result.claimed += len(ids)
        result.count("held_back", len(ids) - len(ready))
        result.more = len(ids) == limit
        return ready

    def _run_inline_pass(self) -> PassResult:
        """One batch, sent in this thread; the rows not yet sent are re-leased every third of
        a lease (a low TWILIO_MAX_MPS, a slow provider): nobody recovers them."""
        result = PassResult()
        if self._budget_unavailable(result):
            return result
        ready = self._claim(result)
        if ready and self._writer is None:
            self._writer = self.open_writer()
        last = self.clock()
        for n, item in enumerate(ready):
            result.count(self.send(item, self._writer))
            last = self._keep_leases(lambda n=n: [i.id for i in ready[n + 1 :]], last)
        return result

    def _run_pipelined_pass(self) -> PassResult:
        """Keep the sending threads fed: claim the next batch while the current one sends,
        until a claim comes back short (or the budget is unavailable, or the worker stops)."""
        result = PassResult()
        if self._pool is None:
            self._pool = SenderPool(self)
        pool = self._pool
        pool.resize(self.plan.concurrency)
        feeding, last = True, self.clock()
        every = max(self.settings.lease.total_seconds() / 3, 0.05)
        while True:
            if feeding and pool.outstanding <= self._low_water() and not self._stop.is_set():
                if self._budget_unavailable(result):
                    feeding = False
                    continue
                self._replan()
                pool.submit(self._claim(result))
                feeding = result.more
                continue
            if not pool.outstanding:
                break
            for outcome in pool.collect(timeout=every):
                result.count(outcome)
            if self._stop.is_set():
                break  # close() lets the rows in flight finish and gives back the queued ones
            last = self._keep_leases(pool.outstanding_ids, last)
            if feeding:
                self._maintain_if_due()
        result.more = False
        return result

    def _low_water(self) -> int:
        """Claim the next batch once no more than this many rows are queued or in flight:
        half a batch (with BATCH_PER_THREAD 10, five rows per thread), at least one per
        thread, which covers claiming and preparing the next batch."""
        return max(self.plan.concurrency, self.plan.batch_size // 2)

    def _keep_leases(self, held, last):
        """Renew the leases of the rows `held()` lists, every third of a lease (listed only
        then: the pipelined pass checks after every few outcomes)."""
        now = self.clock()
        if now - last >= self.settings.lease / 3 and (ids := held()):
            renew_leases(ids, worker_id=self.worker_id, now=now, settings=self.settings)
            return now
        return last

    def run(
        self,
        *,
        once: bool = False,
        poll_seconds: float = 1.0,
        stop: threading.Event | None = None,
        maintenance_every: float = 30.0,
        jobs: bool = False,
    ) -> None:
        """Send due messages; with `jobs`, also run background jobs (imports, …) in a thread,
        or, with `once`, run the pending ones first."""
        stop = stop or threading.Event()
        self._stop = stop
        self._maintenance_every = maintenance_every
        logger.info(
            "dispatch sized threads=%d batch=%d (concurrency %s, max_mps %g)",
            self.plan.concurrency,
            self.plan.batch_size,
            self.settings.concurrency or "auto",
            self.settings.max_mps,
        )
        thread = None
        if jobs and once:
            run_pending(self.app, self.worker_id)
        elif jobs:
            thread = JobThread(self.app, self.worker_id, stop, poll_seconds=poll_seconds)
            thread.start()
        try:
            with self.app.app_context():
                self._loop(once=once, poll_seconds=poll_seconds, stop=stop)
        finally:
            self.close()
            stop.set()
            if thread is not None:
                thread.join()

    def _loop(self, *, once, poll_seconds, stop) -> None:
        self._last_maintenance = 0.0
        while not stop.is_set():
            if once:
                self.maintenance()
            else:
                self._maintain_if_due()
            result = self.run_pass()
            if result.claimed:
                logger.info("outreach pass claimed=%d outcomes=%s", result.claimed, result.outcomes)
            if once and not result.more:
                break
            if not result.claimed:
                stop.wait(poll_seconds)


def _shares_one_connection(uri: str) -> bool:
    url = make_url(uri)
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def build_budget(app):
    """Redis-shared when REDIS_URL is set (several workers), else per process. Without a
    limit (TWILIO_MAX_MPS 0) there is nothing to share: no Redis is needed."""
    rate = app.config["TWILIO_MAX_MPS"]
    if app.config.get("REDIS_URL") and rate > 0:
        return RedisSendBudget(app.config["REDIS_URL"], rate)
    return LocalSendBudget(rate)
