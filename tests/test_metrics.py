from app.extensions import db
from app.outreach.models import OutboxMessage
from tests.factories import make_contact
from tests.outreach.helpers import utc


def test_metrics_hidden_without_token(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(app, client, make_org):
    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    for bare in ("s3cret-metrics-token", "Basic s3cret-metrics-token"):  # the scheme matters
        assert client.get("/metrics", headers={"Authorization": bare}).status_code == 401
    contact = make_contact(make_org())
    db.session.add(OutboxMessage(organization_id=contact.organization_id, contact_id=contact.id,
                                 language="es", body="x", due_at=utc(2026, 1, 1), status="failed",
                                 error_code="21610"))
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
        db.session.add(Job(kind="contact_import", organization_id=org.id, status="succeeded",
                           started_at=finished - timedelta(seconds=seconds),
                           finished_at=finished))
    db.session.add(Job(kind="event_export", organization_id=org.id, status="queued"))
    db.session.commit()
    text = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
                      ).get_data(as_text=True)
    assert 'alcance_jobs{kind="contact_import",status="succeeded"} 2.0' in text
    assert 'alcance_jobs{kind="event_export",status="queued"} 1.0' in text
    assert 'alcance_job_duration_seconds_count{kind="contact_import"} 2.0' in text
    assert 'alcance_job_duration_seconds_sum{kind="contact_import"} 6.0' in text
    assert "alcance_early_status_callbacks 0.0" in text
