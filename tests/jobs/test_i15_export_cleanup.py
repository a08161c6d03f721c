"""Files background jobs leave behind are deleted (issue 15): an event export's file a day
after it was written, through the worker's periodic tasks; SQLite progress files when their
job ends, and leftovers of jobs that died."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import services
from app.jobs.models import Job
from app.jobs.progress import progress_file
from app.participation.services import record_event
from app.reports import export_jobs
from app.reports.models import ExportFile
from app.reports.period import Period
from app.timeutil import utcnow
from tests.factories import make_contact
from tests.support import ON_POSTGRES


def scheduled(app, name: str):
    """The worker's periodic task `name` (app/schedule.py)."""
    (task,) = [task for task in app.extensions["maintenance_tasks"] if task.name == name]
    return task


@pytest.fixture
def instance_folder(app, tmp_path):
    app.instance_path = str(tmp_path)  # progress files go beside the test, not the repo
    return tmp_path


def exports() -> int:
    return db.session.scalar(select(func.count()).select_from(ExportFile))


def test_the_worker_deletes_an_export_a_day_after_it_was_written(
    app, make_org, make_user, run_jobs, frozen_clock, instance_folder
):
    org = make_org()
    user = make_user(org, role="coordinator")
    contact = make_contact(org)
    for days in (1, 2, 3):
        record_event(
            organization_id=org.id,
            contact_id=contact.id,
            kind="sms_delivered",
            channel="sms",
            occurred_at=utcnow() - timedelta(days=days),
        )
    db.session.commit()
    job = export_jobs.queue_event_export(
        org.id,
        user_id=user.id,
        campaign_id=None,
        period=Period(None, None, org.timezone),
        threshold=None,
        locale="es",
        filename="eventos.csv",
        total=3,
        now=utcnow(),
    )
    assert run_jobs() == 1
    job = db.session.get(Job, job.id)
    assert job.status == "succeeded" and export_jobs.export_file(job) is not None

    purge = scheduled(app, "purge_old_exports")
    frozen_clock.shift(timedelta(hours=23, minutes=59))
    purge.run(utcnow())
    assert exports() == 1  # still within its day: downloadable
    frozen_clock.shift(timedelta(minutes=2))
    purge.run(utcnow())
    db.session.expire_all()
    assert exports() == 0 and export_jobs.export_file(db.session.get(Job, job.id)) is None
    assert db.session.get(Job, job.id).status == "succeeded"  # the job's record stays


@pytest.fixture
def progress_handler():
    seen = []

    @services.job_handler("test_i15_progress")
    def handler(job, progress):
        progress(done=5, total=10, force=True)
        seen.append(progress_file(job.id).exists())
        progress(done=10, total=10, force=True)
        return {}

    yield seen
    services.HANDLERS.pop("test_i15_progress")


def test_a_finished_jobs_progress_file_is_deleted(
    app, make_org, run_jobs, instance_folder, progress_handler
):
    job = services.enqueue(
        "test_i15_progress", organization_id=make_org().id, payload={}, now=utcnow()
    )
    assert run_jobs() == 1
    job = db.session.get(Job, job.id)
    assert (job.status, job.done, job.total) == ("succeeded", 10, 10)  # the figures are kept
    # SQLite writes progress to a file while the job runs; the file goes when it ends.
    assert progress_handler == [not ON_POSTGRES]
    assert not progress_file(job.id).exists()


def test_progress_files_of_jobs_no_longer_running_are_purged(app, make_org, instance_folder):
    org = make_org()
    running, failed = (
        services.enqueue("test_i15_progress", organization_id=org.id, payload={}, now=utcnow())
        for _ in range(2)
    )
    running.status, failed.status = "running", "failed"
    db.session.commit()
    folder = instance_folder / "job-progress"
    folder.mkdir()
    kept = [folder / f"{running.id}.json", folder / "README"]  # live progress; not a job's
    gone = [folder / f"{failed.id}.json", folder / f"{failed.id}.tmp", folder / "999999.json"]
    for path in kept + gone:
        path.write_text("{}")

    assert scheduled(app, "purge_progress_files").run(utcnow()) == 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in kept)
    assert scheduled(app, "purge_progress_files").run(utcnow()) == 0
