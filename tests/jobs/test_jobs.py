"""Background jobs: queued in the database, claimed with a lease, retried, with progress."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs import services
from app.jobs.models import Job
from app.jobs.runner import run_pending
from tests.support import Clock, csrf_token_from, utc

NOW = utc(2026, 12, 1, 12)


@pytest.fixture
def handlers():
    calls = []

    @services.job_handler("test_ok")
    def ok(job, progress):
        for done in range(0, 101, 25):
            progress(done=done, rejected=done // 50, total=100, force=True)
        calls.append(job.id)
        return {"answer": 42}

    @services.job_handler("test_boom")
    def boom(job, progress):
        raise RuntimeError("disk on fire")

    yield calls
    services.HANDLERS.pop("test_ok")
    services.HANDLERS.pop("test_boom")


def test_job_runs_with_progress(app, make_org, handlers):
    org = make_org()
    job = services.enqueue("test_ok", organization_id=org.id, payload={}, now=NOW)
    assert run_pending(app, "w1", clock=Clock(NOW)) == 1
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.status, job.result, job.done, job.total, job.rejected) == (
        "succeeded",
        {"answer": 42},
        100,
        100,
        2,
    )
    assert run_pending(app, "w1", clock=Clock(NOW)) == 0


def test_failure_is_retried_with_backoff_then_kept_visible(app, make_org, handlers):
    job = services.enqueue("test_boom", organization_id=make_org().id, payload={}, now=NOW)
    clock = Clock(NOW)
    run_pending(app, "w1", clock=clock)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "queued" and job.error == "disk on fire" and job.run_after > NOW
    for _ in range(2):
        clock.now = job.run_after
        run_pending(app, "w1", clock=clock)
        db.session.expire_all()
        job = db.session.get(Job, job.id)
    assert job.status == "failed" and job.attempts == 3 and job.error == "disk on fire"


def test_job_of_a_dead_worker_is_recovered(app, make_org, handlers):
    job = services.enqueue("test_ok", organization_id=make_org().id, payload={}, now=NOW)
    claimed = services.claim_next("dead-worker", now=NOW, lease=timedelta(minutes=2))
    assert claimed.id == job.id and claimed.status == "running"
    # The worker was killed: nothing happens until the lease expires, then it is retried.
    assert run_pending(app, "w2", clock=Clock(NOW + timedelta(minutes=1))) == 0
    assert run_pending(app, "w2", clock=Clock(NOW + timedelta(minutes=3))) == 1
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "succeeded" and job.attempts == 2 and handlers == [job.id]


def test_concurrent_workers_claim_different_jobs(app, make_org, handlers, postgres_only):
    org = make_org()
    ids = [
        services.enqueue("test_ok", organization_id=org.id, payload={}, now=NOW).id
        for _ in range(12)
    ]
    claimed, barrier = [], threading.Barrier(3)

    def work(name):
        with app.app_context():
            barrier.wait()
            while job := services.claim_next(name, now=NOW):
                claimed.append(job.id)
            db.session.remove()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_job_pages_are_organization_scoped(app, client, login, make_org, make_user, handlers):
    mine, theirs = make_org(), make_org()
    login(make_user(mine, role="coordinator"))
    own = services.enqueue("test_ok", organization_id=mine.id, payload={}, now=NOW, total=100)
    other = services.enqueue("test_ok", organization_id=theirs.id, payload={}, now=NOW)
    status = client.get(f"/jobs/{own.id}/status").json
    assert status["status"] == "queued" and status["percent"] == 0
    assert client.get(f"/jobs/{other.id}/status").status_code == 404
    assert client.get(f"/jobs/{other.id}").status_code == 404
    run_pending(app, "w1", clock=Clock(NOW))
    db.session.expire_all()  # the worker wrote through its own session
    assert client.get(f"/jobs/{own.id}/status").json["status"] == "succeeded"


def test_import_runs_as_a_job_and_reports_progress(
    app, client, login, make_org, make_user, run_jobs, monkeypatch
):
    from app.contacts import import_jobs
    from app.contacts.models import Contact, ContactImport

    monkeypatch.setattr(import_jobs, "ANALYZE_AFTER", 100)  # a "large" import here

    org = make_org()
    login(make_user(org, role="coordinator"))
    rows = "\n".join(f"+52664555{n:04d},Joven {n}" for n in range(150))
    token = csrf_token_from(client.get("/contacts/imports/new"))
    from io import BytesIO

    client.post(
        "/contacts/imports/new",
        data={
            "csrf_token": token,
            "file": (BytesIO(f"telefono,nombre\n{rows}\n".encode()), "l.csv"),
            "duplicate_rule": "update",
            "consent_source": "workshop",
        },
        content_type="multipart/form-data",
    )
    imp = db.session.scalar(select(ContactImport))
    client.post(f"/contacts/imports/{imp.id}/confirm", data={"csrf_token": token})
    job = db.session.scalar(select(Job))
    assert (job.kind, job.total, job.status) == ("contact_import", 150, "queued")
    assert db.session.query(Contact).count() == 0  # nothing happened inside the request
    assert run_jobs() == 1
    job = db.session.get(Job, job.id)
    assert job.status == "succeeded", job.error
    assert job.done == 150 and job.result["created"] == 150
    status = client.get(f"/jobs/{job.id}/status").json
    assert status["percent"] == 100 and status["result_url"].endswith(f"/contacts/imports/{imp.id}")
    assert _contacts_analyzed()  # the planner's statistics were refreshed after the import


def _contacts_analyzed() -> bool:
    from sqlalchemy import text

    if db.engine.dialect.name == "postgresql":
        return db.session.scalar(
            text(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname = 'contacts'"
            )
        )
    return bool(
        db.session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        and db.session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'contacts'"))
    )


def test_a_claim_takes_one_job(app, make_org, handlers):
    org = make_org()
    for _ in range(3):
        services.enqueue("test_ok", organization_id=org.id, payload={}, now=NOW)
    assert services.claim_next("w1", now=NOW).id == 1
    statuses = db.session.scalars(select(Job.status).order_by(Job.id)).all()
    assert statuses == ["running", "queued", "queued"]


def test_import_job_writes_reasons_in_the_coordinators_language(
    app, client, login, make_org, make_user, run_jobs
):
    from io import BytesIO

    from app.contacts.models import ContactImport

    login(make_user(make_org(), role="coordinator"))
    client.get("/contacts/imports/new?lang=en")
    token = csrf_token_from(client.get("/contacts/imports/new"))
    client.post(
        "/contacts/imports/new",
        data={
            "csrf_token": token,
            "file": (BytesIO(b"telefono,nombre\n12345,Malo\n+526645550101,Ana\n"), "l.csv"),
            "duplicate_rule": "update",
            "consent_source": "workshop",
        },
        content_type="multipart/form-data",
    )
    imp = db.session.scalar(select(ContactImport))
    client.post(f"/contacts/imports/{imp.id}/confirm", data={"csrf_token": token})
    run_jobs()
    report = client.get(f"/contacts/imports/{imp.id}/rejected.csv").get_data(as_text=True)
    assert "Invalid mobile phone number." in report  # English, though the worker defaults to es
