"""What finished jobs leave behind (issue 15).

A large event export's file lives in `export_files` and is deleted 24 hours after it was
written (app.reports.export_jobs.purge_old_exports, worker maintenance). On SQLite a job's
progress also goes to a small file in the instance folder (app.jobs.progress); the runner
deletes it when the job ends, and `purge_progress_files` deletes those a job left behind
(a worker killed mid-job, a crash between two writes), so the folder does not grow with
every job ever run.
"""

from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.jobs.models import Job
from app.jobs.progress import progress_folder


def _job_id(path: Path) -> int | None:
    try:
        return int(path.name.split(".", 1)[0])
    except ValueError:
        return None


def purge_progress_files() -> int:
    """Delete the progress files of jobs that are not running (or no longer exist); a
    running job's file is its live progress. Returns how many files were deleted."""
    folder = progress_folder()
    if not folder.is_dir():
        return 0
    files = [(path, _job_id(path)) for path in folder.iterdir() if path.is_file()]
    ids = {job_id for _, job_id in files if job_id is not None}
    running = set(
        db.session.scalars(select(Job.id).where(Job.id.in_(ids), Job.status == "running"))
        if ids
        else ()
    )
    db.session.rollback()  # end the read; nothing written
    removed = 0
    for path, job_id in files:
        if job_id is None or job_id in running:
            continue  # not ours, or live progress
        path.unlink(missing_ok=True)
        removed += 1
    return removed
