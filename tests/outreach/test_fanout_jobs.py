"""Large sends are fanned out by a worker job, not inside the request (issue: long work)."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.models import Job
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend
from app.outreach.services import cancel_send, enroll_late_joiners
from app.participation.models import ParticipationEvent
from tests.factories import make_contact
from tests.outreach.helpers import schedule
from tests.support import csrf_token_from, utc


@pytest.fixture
def large(app):
    app.config["OUTREACH_INLINE_FANOUT"] = 2  # world's audience has 3 contacts: "large"


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_a_large_send_is_fanned_out_by_a_job_with_progress(
    app, client, login, world, large, run_jobs
):
    login(world["user"])
    response = schedule(client, world)
    assert response.status_code == 302
    send = db.session.scalar(select(OutreachSend))
    assert rows() == 0 and send.fanned_out_at is None  # nothing heavy inside the request
    job = db.session.get(Job, send.job_id)
    assert (job.kind, job.status, job.total) == ("send_fanout", "queued", 3)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "en segundo plano" in page and 'class="card job-progress"' in page
    assert run_jobs() == 1
    job = db.session.get(Job, job.id)
    assert job.status == "succeeded" and job.result == {"send_id": send.id, "created": 3}
    assert rows() == 3 and db.session.get(OutreachSend, send.id).fanned_out_at is not None
    status = client.get(f"/jobs/{job.id}/status").json
    assert status["percent"] == 100 and status["result_url"].endswith(f"/sends/{send.id}")
    assert 'class="card job-progress"' not in client.get(f"/sends/{send.id}").get_data(as_text=True)


def test_a_send_canceled_before_its_job_runs_gets_no_rows(
    app, client, login, world, large, run_jobs
):
    login(world["user"])
    schedule(client, world)
    send = db.session.scalar(select(OutreachSend))
    cancel_send(send, now=utc(2026, 11, 28))
    assert run_jobs() == 1
    assert rows() == 0 and db.session.get(OutreachSend, send.id).status == "canceled"


def test_a_campaign_completed_meanwhile_gets_no_rows(app, client, login, world, large, run_jobs):
    login(world["user"])
    schedule(client, world)
    world["campaign"].status = "completed"
    db.session.commit()
    assert run_jobs() == 1
    assert rows() == 0
    assert db.session.scalar(select(OutreachSend.status)) == "canceled"


def test_the_job_is_idempotent_and_late_joiners_wait_for_it(
    app, client, login, world, large, run_jobs
):
    from app.outreach.fanout_jobs import run_send_fanout

    login(world["user"])
    schedule(client, world, kind="sequence", day_offset="0", local_time="17:00")
    send = db.session.scalar(select(OutreachSend))
    assert enroll_late_joiners(now=utc(2026, 11, 28)) == 0  # its job has not run yet
    assert rows() == 0
    assert run_jobs() == 1
    first = rows()
    assert first == 3
    job = db.session.get(Job, send.job_id)
    assert run_send_fanout(job, lambda **_: None)["created"] == 0  # a second attempt adds nothing
    make_contact(world["org"])  # joins the audience later: the sequence reaches them too
    assert enroll_late_joiners(now=utc(2026, 11, 28)) == 1 and rows() == 4


def test_a_large_workshop_invitation_records_invited_once(
    app, client, login, make_org, make_user, run_jobs
):
    from datetime import timedelta

    from app.timeutil import utcnow
    from tests.factories import make_audience, make_campaign, make_message, make_workshop
    from tests.support import TIJUANA

    app.config["OUTREACH_INLINE_FANOUT"] = 2
    org = make_org()
    login(make_user(org, role="coordinator"))
    campaign = make_campaign(org)
    start = (utcnow() + timedelta(days=10)).replace(hour=1, minute=0, second=0, microsecond=0)
    workshop = make_workshop(org, campaign=campaign, code="4821", starts_at=start)
    message = make_message(
        campaign,
        label="Invitación",
        body_es="Te esperamos el {workshop_date}.",
        body_en="See you on {workshop_date}.",
    )
    audience = make_audience(org, {})
    for _ in range(3):
        make_contact(org)
    url = f"/workshops/{workshop.id}/invite"
    day = (start - timedelta(days=3)).astimezone(TIJUANA).date()
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(client.get(url)),
            "message": message.id,
            "audience": audience.id,
            "local_date": day.isoformat(),
            "local_time": "17:00",
        },
    )
    assert response.status_code == 302 and "/sends/" in response.headers["Location"]
    assert rows() == 0
    assert run_jobs() == 1
    assert rows() == 3
    invited = db.session.scalar(
        select(func.count())
        .select_from(ParticipationEvent)
        .where(ParticipationEvent.kind == "invited")
    )
    assert invited == 3
