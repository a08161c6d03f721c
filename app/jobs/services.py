"""Enqueue, claim, run and recover jobs. Handlers register with `@job_handler(kind)`."""

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update

from app.db_dialect import claimable, is_postgres
from app.extensions import db
from app.jobs.models import Job
from app.jobs.progress import Progress, discard_progress_file, read_progress_file

logger = logging.getLogger("alcance.jobs")
HANDLERS = {}
LEASE = timedelta(minutes=2)  # renewed by every progress report on PostgreSQL
SQLITE_LEASE = timedelta(minutes=30)  # SQLite cannot renew it mid-transaction


# The page that shows a finished job's result, by kind: (endpoint, its argument), the
# argument's value read from the job's result or else from its payload.
RESULT_ENDPOINTS: dict[str, tuple[str, str]] = {}


def job_handler(kind: str, *, result_page: tuple[str, str] | None = None):
    """Register `function(job, progress) -> result dict` for jobs of `kind`, and the page
    that shows its result: (endpoint, argument) — the feature that queues the job knows it,
    the jobs pages do not."""

    def register(function):
        HANDLERS[kind] = function
        if result_page is not None:
            RESULT_ENDPOINTS[kind] = result_page
        return function

    return register


def enqueue(
    kind: str,
    *,
    organization_id: int | None,
    payload: dict,
    now: datetime,
    user_id: int | None = None,
    total: int | None = None,
) -> Job:
    job = Job(
        kind=kind,
        organization_id=organization_id,
        payload=payload,
        created_by=user_id,
        total=total,
        created_at=now,
        run_after=now,
    )
    db.session.add(job)
    db.session.commit()
    return job


def claim_next(worker_id: str, *, now: datetime, lease: timedelta | None = None) -> Job | None:
    """Claim the oldest runnable job (FOR UPDATE SKIP LOCKED / BEGIN IMMEDIATE)."""
    if lease is None:
        lease = LEASE if is_postgres() else SQLITE_LEASE
    runnable = (
        select(Job.id)
        .where(Job.status == "queued", Job.run_after <= now)
        .order_by(Job.run_after, Job.id)
        .limit(1)
    )
    # Lock first, then update that row (see app.outbox.dispatch.claim_due for why).
    job_id = db.session.scalar(claimable(runnable))
    if job_id is not None:
        db.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="running",
                claimed_by=worker_id,
                lease_expires_at=now + lease,
                attempts=Job.attempts + 1,
                started_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return db.session.get(Job, job_id) if job_id else None


def recover_expired(*, now: datetime) -> int:
    """Jobs of dead workers: back to the queue, or failed after their last attempt."""
    expired = and_(Job.status == "running", Job.lease_expires_at < now)
    retried = db.session.execute(
        update(Job)
        .where(expired, Job.attempts < Job.max_attempts)
        .values(
            status="queued",
            claimed_by=None,
            lease_expires_at=None,
            error="The worker running this job stopped; it was retried.",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        update(Job)
        .where(expired, Job.attempts >= Job.max_attempts)
        .values(
            status="failed",
            finished_at=now,
            claimed_by=None,
            error="The worker running this job stopped too many times.",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return retried


def run(job: Job, *, clock) -> None:
    """Run a claimed job; record success, or the error and a retry with backoff."""
    job_id, worker_id = job.id, job.claimed_by
    progress = Progress(job_id, worker_id, clock=clock, lease=LEASE)
    try:
        result = HANDLERS[job.kind](job, progress)
    except Exception as error:  # the job's own unit of work rolled back; keep the error visible
        db.session.rollback()
        logger.exception("job %s (%s) failed", job_id, job.kind)
        job = db.session.get(Job, job_id)
        final = job.attempts >= job.max_attempts or getattr(error, "permanent", False)
        job.status = "failed" if final else "queued"
        job.error = str(error)[:2000] or type(error).__name__
        job.run_after = clock() + timedelta(seconds=10 * 2**job.attempts)
        job.finished_at = clock() if final else None
        job.claimed_by = job.lease_expires_at = None
        db.session.commit()
        if not is_postgres():
            discard_progress_file(job_id)
        return
    job = db.session.get(Job, job_id)
    final = None if is_postgres() else read_progress_file(job_id)
    if final:
        job.done, job.rejected = final.get("done", job.done), final.get("rejected", job.rejected)
        job.total = final.get("total", job.total)
    job.status, job.result, job.error = "succeeded", result or {}, None
    job.finished_at, job.claimed_by, job.lease_expires_at = clock(), None, None
    if job.total is not None:
        job.done = max(job.done, job.total)
    db.session.commit()
    if not is_postgres():
        discard_progress_file(job_id)  # folded into the row just committed
