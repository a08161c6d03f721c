"""A wrong PUBLIC_BASE_URL makes every webhook fail its signature: that must be visible —
counted in /metrics, one WARNING per interval naming the validated URL, and the admin status
page — and still change nothing."""

import logging
import os

import pytest
from twilio.request_validator import RequestValidator

from app.ratelimit import rate_limits

TOKEN = "test-auth-token-0123456789abcdef"
METRICS = "s3cret-metrics-token"
TWILIO_CALLS = "https://alcance.example.org/webhooks/twilio/status"  # what Twilio signs
WRONG_BASE = "https://old-name.example.org"  # a stale PUBLIC_BASE_URL
PHONE = "+526645550001"


@pytest.fixture(autouse=True)
def twilio(app):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    app.config["METRICS_TOKEN"] = METRICS


def status_callback(client, **headers):
    params = {
        "MessageSid": "SM" + "a" * 32,
        "MessageStatus": "delivered",
        "To": PHONE,
        "From": "+15005550006",
    }
    signature = RequestValidator(TOKEN).compute_signature(TWILIO_CALLS, params)
    return client.post(
        "/webhooks/twilio/status",
        data=params,
        base_url="http://internal:8000",
        headers={"X-Twilio-Signature": signature, **headers},
    )


def metrics(client) -> str:
    return client.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"}).get_data(
        as_text=True
    )


def test_rejections_are_counted_and_warned_once_per_interval(app, client, caplog):
    app.config["PUBLIC_BASE_URL"] = WRONG_BASE
    caplog.set_level(logging.INFO, logger="alcance")
    for _ in range(3):
        assert status_callback(client).status_code == 403
    assert client.post("/webhooks/twilio/status", data={"MessageSid": "SMx"}).status_code == 403
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert WRONG_BASE + "/webhooks/twilio/status" in warnings[0]  # the URL validated
    assert "PUBLIC_BASE_URL" in warnings[0]
    assert PHONE not in caplog.text and "delivered" not in caplog.text
    text = metrics(client)
    assert 'alcance_webhook_signature_rejections_total{reason="invalid"} 3.0' in text
    assert 'alcance_webhook_signature_rejections_total{reason="missing"} 1.0' in text


def test_a_correct_public_url_is_not_counted(app, client):
    assert status_callback(client).status_code in (200, 204)
    assert 'alcance_webhook_signature_rejections_total{reason="invalid"} 0.0' in metrics(client)


def test_admin_status_page_shows_the_rejected_url(app, client, make_user, login):
    app.config["PUBLIC_BASE_URL"] = WRONG_BASE
    status_callback(client)
    login(make_user(role="admin", language="es"))
    page = client.get("/admin/status?lang=es")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Estado del sistema" in html
    assert WRONG_BASE in html and f"{WRONG_BASE}/webhooks/twilio/status" in html
    assert "La firma no coincide" in html
    assert PHONE not in html


def test_status_page_is_for_admins_only(app, client, make_user, login):
    login(make_user(role="coordinator"))
    assert client.get("/admin/status").status_code == 403


def test_status_page_shows_redis_down(app, client, make_user, login):
    app.config["REDIS_URL"] = "redis://127.0.0.1:6390/0"
    rate_limits.init_app(app)
    login(make_user(role="admin", language="en"))
    html = client.get("/admin/status?lang=en").get_data(as_text=True)
    assert "Does not answer" in html and "workers send no messages" in html
    assert "Counted by this web process only" in html
    assert "Counted by each process on its own until Redis answers" in html


def test_rejections_are_shared_by_every_process_through_redis(app, client, test_config):
    if not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    from app import create_app
    from app.webhooks.signature import rejections

    app.config["PUBLIC_BASE_URL"] = WRONG_BASE
    status_callback(client)
    other = create_app(test_config)  # another web process of the same installation
    other.config["RATELIMIT_KEY_PREFIX"] = app.config["RATELIMIT_KEY_PREFIX"]
    rate_limits.init_app(other)
    with other.app_context():
        seen = rejections()
    assert seen.shared and seen.counts == {"invalid": 1}
    assert seen.last_url == WRONG_BASE + "/webhooks/twilio/status"
