"""Runs jobs inside the worker processes (a thread beside the outreach sender)."""

import logging
import threading

from app.extensions import db
from app.jobs.services import claim_next, recover_expired, run
from app.timeutil import utcnow

logger = logging.getLogger("alcance.jobs")


def run_pending(app, worker_id: str, *, clock=utcnow, limit: int = 100) -> int:
    """Run runnable jobs until none is left (or `limit`). Returns how many ran."""
    ran = 0
    with app.app_context():
        recover_expired(now=clock())
        while ran < limit:
            job = claim_next(worker_id, now=clock())
            if job is None:
                break
            run(job, clock=clock)
            ran += 1
        db.session.remove()
    return ran


class JobThread(threading.Thread):
    def __init__(self, app, worker_id: str, stop: threading.Event, *, poll_seconds=1.0):
        super().__init__(name="jobs", daemon=True)
        self.app, self.worker_id, self.stop, self.poll = app, worker_id, stop, poll_seconds

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not run_pending(self.app, self.worker_id, limit=1):
                    self.stop.wait(self.poll)
            except Exception:  # keep the thread alive; the job's lease lets another retry it
                logger.exception("job runner error")
                self.stop.wait(self.poll)
