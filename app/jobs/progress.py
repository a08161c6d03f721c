"""Progress reports of a running job, visible while its own transaction is still open.

A job such as a contact import is one transaction, yet the web page must see its progress
meanwhile. On PostgreSQL progress is written on a separate autocommit connection (which
also renews the lease); SQLite allows one writer at a time, so there progress goes to a
small JSON file in the instance folder (SQLite means one machine) and the lease is long.
"""

import json
import os
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import update

from app.db_dialect import is_postgres
from app.extensions import db
from app.jobs.models import Job


def progress_folder() -> Path:
    return Path(current_app.instance_path) / "job-progress"


def progress_file(job_id: int) -> Path:
    return progress_folder() / f"{job_id}.json"


def discard_progress_file(job_id: int) -> None:
    """The job ended: its row holds the final figures (app.jobs.cleanup purges leftovers)."""
    progress_file(job_id).unlink(missing_ok=True)


def read_progress_file(job_id: int) -> dict | None:
    try:
        return json.loads(progress_file(job_id).read_text())
    except (OSError, ValueError):
        return None


class Progress:
    def __init__(
        self,
        job_id: int,
        worker_id: str | None,
        *,
        clock,
        lease: timedelta,
        every_seconds: float = 0.5,
    ):
        self.job_id, self.worker_id, self.clock, self.lease = job_id, worker_id, clock, lease
        self.every = every_seconds
        self._last = 0.0
        self._postgres = is_postgres()

    def __call__(
        self, *, done: int, rejected: int = 0, total: int | None = None, force: bool = False
    ) -> None:
        if not force and time.monotonic() - self._last < self.every:
            return
        self._last = time.monotonic()
        values = {"done": done, "rejected": rejected}
        if total is not None:
            values["total"] = total
        if self._postgres:
            values["lease_expires_at"] = self.clock() + self.lease  # alive: renew the lease
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(
                    update(Job)
                    .where(Job.id == self.job_id, Job.status == "running")
                    .values(**values)
                )
            return
        path = progress_file(self.job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values))
        os.replace(tmp, path)  # atomic: readers never see half a file
