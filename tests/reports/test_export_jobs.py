"""Large event exports run in a worker and are downloaded from their own page."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.jobs.models import Job
from app.reports import export_jobs
from app.timeutil import utcnow
from tests.reports.helpers import MARCH_ARGS

EXPORT = "/reports/export/events.csv"


@pytest.fixture
def viewers(app, dataset, make_user, login):
    clients = {}
    for role in ("evaluator", "coordinator"):
        user = make_user(dataset.org, role=role, email=f"{role}@example.org", language="en")
        clients[role] = app.test_client()
        login(user, c=clients[role])
    stranger = make_user(dataset.other_org, role="admin", email="admin@otra.example.org")
    clients["stranger"] = app.test_client()
    login(stranger, c=clients["stranger"])
    return clients


def inline_export(app, client) -> bytes:
    app.config["EXPORT_INLINE_MAX_EVENTS"] = 10**9
    response = client.get(EXPORT, query_string=MARCH_ARGS)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return response.get_data()


def test_a_large_export_is_written_by_a_worker_and_downloaded(app, dataset, viewers, run_jobs):
    evaluator = viewers["evaluator"]
    expected = inline_export(app, evaluator)
    app.config["EXPORT_INLINE_MAX_EVENTS"] = 3
    response = evaluator.get(EXPORT, query_string=MARCH_ARGS)
    assert response.status_code == 302
    page_url = response.headers["Location"]
    job = db.session.get(Job, int(page_url.rsplit("/", 1)[1]))
    assert (job.kind, job.status, job.payload["threshold"]) == ("event_export", "queued", 5)
    page = evaluator.get(page_url).get_data(as_text=True)
    assert 'class="card job-progress"' in page and f"/reports/exports/{job.id}/status" in page
    assert evaluator.get(f"/reports/exports/{job.id}/events.csv").status_code == 404  # not yet

    assert run_jobs() == 1
    status = evaluator.get(f"/reports/exports/{job.id}/status").json
    assert status["status"] == "succeeded" and status["percent"] == 100
    assert status["result_url"].endswith(f"/reports/exports/{job.id}")
    page = evaluator.get(page_url).get_data(as_text=True)
    assert f"/reports/exports/{job.id}/events.csv" in page and "job-progress" not in page
    download = evaluator.get(f"/reports/exports/{job.id}/events.csv")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    assert download.get_data() == expected  # the same file the request would have streamed
    assert (
        'filename="alcance-frontera-events-all-2026-03-01_2026-03-31.csv"'
        in download.headers["Content-Disposition"]
    )
    download.close()


def test_a_coordinators_export_is_not_served_to_evaluators_or_other_orgs(
    app, dataset, viewers, run_jobs
):
    app.config["EXPORT_INLINE_MAX_EVENTS"] = 3
    page_url = viewers["coordinator"].get(EXPORT, query_string=MARCH_ARGS).headers["Location"]
    job_id = int(page_url.rsplit("/", 1)[1])
    assert db.session.get(Job, job_id).payload["threshold"] is None  # exact places
    run_jobs()
    for who in ("evaluator", "stranger"):
        for path in ("", "/status", "/events.csv"):
            assert viewers[who].get(f"/reports/exports/{job_id}{path}").status_code == 404, (
                who,
                path,
            )
    response = viewers["coordinator"].get(f"/reports/exports/{job_id}/events.csv")
    assert response.status_code == 200
    response.close()


def test_export_files_are_deleted_after_a_day(app, dataset, viewers, run_jobs):
    from app.reports.models import ExportFile

    app.config["EXPORT_INLINE_MAX_EVENTS"] = 3
    page_url = viewers["evaluator"].get(EXPORT, query_string=MARCH_ARGS).headers["Location"]
    job_id = int(page_url.rsplit("/", 1)[1])
    run_jobs()
    export = export_jobs.export_file(db.session.get(Job, job_id))
    assert export is not None and len(export.content) < export.size  # stored compressed
    assert export_jobs.purge_old_exports(now=utcnow()) == 0  # fresh: kept
    assert export_jobs.purge_old_exports(now=utcnow() + timedelta(hours=25)) == 1
    assert db.session.query(ExportFile).count() == 0
    assert viewers["evaluator"].get(f"/reports/exports/{job_id}/events.csv").status_code == 404
    assert "no longer available" in viewers["evaluator"].get(page_url).get_data(as_text=True)
