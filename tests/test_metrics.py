from app.extensions import db
from app.outbox.models import OutboxMessage
from tests.factories import make_contact
from tests.support import utc


def test_metrics_hidden_without_token(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(app, client, make_org):
    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    for bare in ("s3cret-metrics-token", "Basic s3cret-metrics-token"):  # the scheme matters
        assert client.get("/metrics", headers={"Authorization": bare}).status_code == 401
    contact = make_contact(make_org())
    db.session.add(
        OutboxMessage(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            language="es",
            body="x",
            due_at=utc(2026, 1, 1),
            status="failed",
            error_code="21610",
        )
    )
    db.session.commit()
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'alcance_outbox_messages{status="failed"} 1.0' in text
    assert 'alcance_send_errors_total{code="21610"} 1.0' in text
    assert contact.phone not in text


def test_metrics_report_jobs_and_their_durations(app, client, make_org):
    from datetime import timedelta

    from app.jobs.models import Job
    from app.timeutil import utcnow

    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    org = make_org()
    finished = utcnow() - timedelta(minutes=5)
    for seconds in (2, 4):
        db.session.add(
            Job(
                kind="contact_import",
                organization_id=org.id,
                status="succeeded",
                started_at=finished - timedelta(seconds=seconds),
                finished_at=finished,
            )
        )
    db.session.add(Job(kind="event_export", organization_id=org.id, status="queued"))
    db.session.commit()
    text = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
    ).get_data(as_text=True)
    assert 'alcance_jobs{kind="contact_import",status="succeeded"} 2.0' in text
    assert 'alcance_jobs{kind="event_export",status="queued"} 1.0' in text
    assert 'alcance_job_duration_seconds_count{kind="contact_import"} 2.0' in text
    assert 'alcance_job_duration_seconds_sum{kind="contact_import"} 6.0' in text
    assert "alcance_early_status_callbacks 0.0" in text


def test_metrics_report_redis_and_the_sign_in_fallback(app, client, make_user):
    from app.ratelimit import rate_limits
    from tests.support import csrf_token_from

    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    app.config["REDIS_URL"] = "redis://127.0.0.1:6390/0"  # nothing listens there
    rate_limits.init_app(app)
    user = make_user(email="secreta@example.org")
    token = csrf_token_from(client.get("/login"))
    response = client.post(
        "/login", data={"csrf_token": token, "email": user.email, "password": "wrong-password-123"}
    )
    assert response.status_code == 400  # a normal failed sign-in, not a 500
    text = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
    ).get_data(as_text=True)
    assert "alcance_redis_up 0.0" in text
    assert "alcance_login_limits_shared 0.0" in text
    # one attempt, checked in this process's memory against the account and address limits
    assert "alcance_login_limit_fallbacks_total 2.0" in text
    assert "secreta" not in text


def test_metrics_report_shared_limits_when_redis_answers(app, client):
    import os

    import pytest

    if not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    text = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
    ).get_data(as_text=True)
    assert "alcance_redis_up 1.0" in text and "alcance_login_limits_shared 1.0" in text
    assert "alcance_login_limit_fallbacks_total 0.0" in text


def test_metrics_report_unresolved_unknown_outcomes(app, client, make_org):
    """Item 9 of issue 12: failed provider lookups and the age of the oldest unknown row."""
    from tests.support import NOW

    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    contact = make_contact(make_org())
    db.session.add(
        OutboxMessage(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            language="es",
            body="x",
            due_at=utc(2026, 11, 27, 17),
            send_started_at=utc(2026, 11, 27, 17),
            status="unknown",
            reconcile_failures=3,
        )
    )
    db.session.commit()
    text = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
    ).get_data(as_text=True)
    assert "alcance_outbox_unknown_lookup_failures 3.0" in text
    [sample] = [
        line
        for line in text.splitlines()
        if line.startswith("alcance_outbox_unknown_oldest_seconds ")
    ]
    age = float(sample.split()[1])
    assert 3600 <= age < 3600 + 60  # the frozen clock starts at NOW = 18:00
    assert NOW.hour == 18
