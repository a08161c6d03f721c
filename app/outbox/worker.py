"""The outreach worker: `flask --app wsgi outreach worker [--once]`.

Each pass: recover expired leases, reconcile unknown outcomes, enrol late joiners of
sequences, then claim due rows in batches and send them concurrently (bounded threads)
under the shared send-rate budget. Safe to run several at once.
"""

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from sqlalchemy.engine import make_url

from app.extensions import db
from app.jobs.runner import JobThread, run_pending
from app.outbox.budget import LocalSendBudget
from app.outbox.budget_redis import RedisSendBudget
from app.outbox.dispatch import (
    DispatchSettings,
    claim_due,
    recover_expired_leases,
    settings_from_config,
)
from app.outbox.preparing import prepare_batch
from app.outbox.sending import reconcile_unknown, renew_leases, send_prepared
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
        if _shares_one_connection(app.config["SQLALCHEMY_DATABASE_URI"]):
            # An in-memory SQLite database is one connection shared by every thread: parallel
            # sends would commit or roll back each other's work. Send one at a time.
            self.settings = replace(self.settings, concurrency=1)
        self.budget = budget or build_budget(app)
        self.worker_id = worker_id or new_worker_id()
        self.status_callback = app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/status"
        self.tasks = app.extensions.get("maintenance_tasks", ()) if tasks is None else tasks
        self._last_run: dict = {}
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="send"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _send(self, item) -> str:
        with self.app.app_context():
            try:
                return send_prepared(
                    item,
                    gateway=self.gateway,
                    clock=self.clock,
                    budget=self.budget,
                    settings=self.settings,
                    status_callback=self.status_callback,
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

    def run_pass(self) -> PassResult:
        """Claim and send one batch. Returns what happened."""
        # Fail closed before claiming: rows claimed while the shared send budget (Redis)
        # cannot grant would only sit claimed. The budget logs why, once per interval.
        available = getattr(self.budget, "available", None)
        if available is not None and not available():
            return PassResult(outcomes={"budget_unavailable": 1})
        ids = claim_due(
            self.worker_id,
            now=self.clock(),
            limit=self.settings.batch_size,
            lease=self.settings.lease,
        )
        result = PassResult(claimed=len(ids))
        ready = prepare_batch(ids, worker_id=self.worker_id, now=self.clock())
        result.outcomes["held_back"] = len(ids) - len(ready)
        for outcome in self._send_batch(ready):
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
        return result

    def _send_batch(self, ready):
        """Send the batch (in this thread when concurrency is 1, else in the pool), yielding
        outcomes. A batch can outlive its lease (a low TWILIO_MAX_MPS, a slow provider), so
        the rows not yet sent are re-leased every third of a lease: nobody recovers them."""
        last = self.clock()
        if self.settings.concurrency == 1:
            for n, item in enumerate(ready):
                yield self._send(item)
                last = self._keep_leases(ready[n + 1 :], last)
            return
        futures = {self._pool.submit(self._send, item): item for item in ready}
        pending = set(futures)
        every = max(self.settings.lease.total_seconds() / 3, 0.05)
        while pending:
            done, pending = wait(pending, timeout=every, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
            last = self._keep_leases([futures[f] for f in pending], last)

    def _keep_leases(self, items, last):
        now = self.clock()
        if items and now - last >= self.settings.lease / 3:
            renew_leases(
                [item.id for item in items],
                worker_id=self.worker_id,
                now=now,
                settings=self.settings,
            )
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
        thread = None
        if jobs and once:
            run_pending(self.app, self.worker_id)
        elif jobs:
            thread = JobThread(self.app, self.worker_id, stop, poll_seconds=poll_seconds)
            thread.start()
        try:
            with self.app.app_context():
                self._loop(
                    once=once,
                    poll_seconds=poll_seconds,
                    stop=stop,
                    maintenance_every=maintenance_every,
                )
        finally:
            stop.set()
            if thread is not None:
                thread.join()

    def _loop(self, *, once, poll_seconds, stop, maintenance_every) -> None:
        last_maintenance = 0.0
        while not stop.is_set():
            if time.monotonic() - last_maintenance >= maintenance_every or once:
                self.maintenance()
                last_maintenance = time.monotonic()
            result = self.run_pass()
            if result.claimed:
                logger.info("outreach pass claimed=%d outcomes=%s", result.claimed, result.outcomes)
            if once and result.claimed < self.settings.batch_size:
                break
            if not result.claimed:
                stop.wait(poll_seconds)


def _shares_one_connection(uri: str) -> bool:
    url = make_url(uri)
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def build_budget(app):
    """Redis-shared when REDIS_URL is set (several workers), else per process."""
    if app.config.get("REDIS_URL"):
        return RedisSendBudget(app.config["REDIS_URL"], app.config["TWILIO_MAX_MPS"])
    return LocalSendBudget(app.config["TWILIO_MAX_MPS"])
