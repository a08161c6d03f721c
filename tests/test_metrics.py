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
