"""The real Twilio SDK's WhatsApp requests (issue 19), against the fake Twilio server: the
`whatsapp:` To and From, ContentSid + ContentVariables instead of a Body; SMS requests
unchanged; and the whole path from the worker through a signed failed status callback
(63003: not on WhatsApp) to one SMS."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.gateway import PermanentSmsError
from app.messaging.twilio_gateway import TwilioGateway
from app.outbox.models import OutboxMessage
from tests.fake_twilio import FROM_NUMBER, MESSAGING_SERVICE_SID, FakeTwilioServer
from tests.outreach.helpers import make_worker
from tests.support import Clock
from tests.whatsapp.test_w2_send_path import DUE, send_to, whatsapp_contact

TO = "+5216641234567"
CONTENT = "HX" + "0f" * 16
TOKEN = "app-auth-token-for-callbacks"


@pytest.fixture
def fake():
    with FakeTwilioServer(clock=lambda: DUE) as server:
        yield server


def gateway_for(fake, **sender):
    sender = sender or {"from_number": FROM_NUMBER}
    return TwilioGateway(fake.account_sid, fake.auth_token, api_base_url=fake.base_url, **sender)


def test_sms_request_is_unchanged(fake):
    with gateway_for(fake) as gateway:
        gateway.send(TO, "Hola", status_callback="https://alcance.example.org/cb")
    assert fake.creates[-1].form == {
        "To": TO,
        "From": FROM_NUMBER,
        "Body": "Hola",
        "StatusCallback": "https://alcance.example.org/cb",
    }


def test_whatsapp_template_request(fake):
    variables = json.dumps({"1": "Ana", "2": "Sin Fentanilo"})
    with gateway_for(fake) as gateway:
        result = gateway.send(
            TO,
            "Hola Ana (texto SMS)",
            channel="whatsapp",
            content_sid=CONTENT,
            content_variables=variables,
        )
    form = fake.creates[-1].form
    assert form == {
        "To": "whatsapp:" + TO,
        "From": "whatsapp:" + FROM_NUMBER,
        "ContentSid": CONTENT,
        "ContentVariables": variables,
    }
    assert fake.message(result.sid)["to"] == "whatsapp:" + TO


def test_whatsapp_free_form_through_a_messaging_service_and_own_sender(fake):
    fake.whatsapp_inbound(TO, DUE - timedelta(hours=1))
    with gateway_for(fake, messaging_service_sid=MESSAGING_SERVICE_SID) as gateway:
        gateway.send(TO, "Hola", channel="whatsapp")
        gateway.send(TO, "Hola", channel="whatsapp", sender="+5216640000999")
    first, second = (r.form for r in fake.creates)
    assert first == {
        "To": "whatsapp:" + TO,
        "MessagingServiceSid": MESSAGING_SERVICE_SID,
        "Body": "Hola",
    }
    assert second == {"To": "whatsapp:" + TO, "From": "whatsapp:+5216640000999", "Body": "Hola"}


def test_whatsapp_refusals_at_create(fake):
    fake.not_on_whatsapp(TO, sync=True)
    with gateway_for(fake) as gateway, pytest.raises(PermanentSmsError) as refused:
        gateway.send(TO, "Hola", channel="whatsapp", content_sid=CONTENT)
    assert refused.value.code == 63003
    fake.window_sync = True
    with gateway_for(fake) as gateway, pytest.raises(PermanentSmsError) as refused:
        gateway.send("+5216649999999", "Hola", channel="whatsapp")
    assert refused.value.code == 63016


def test_window_error_in_the_status_like_twilio(fake):
    with gateway_for(fake) as gateway:
        outside = gateway.send(
            TO, "Hola", channel="whatsapp", status_callback="https://a.example.org/s"
        )
        fake.whatsapp_inbound(TO, DUE - timedelta(hours=23, minutes=59))
        inside = gateway.send(
            TO, "Hola", channel="whatsapp", status_callback="https://a.example.org/s"
        )
        found = gateway.find_sent("whatsapp:" + TO, since=DUE - timedelta(minutes=1))
    assert {m.sid for m in found} == {outside.sid, inside.sid}
    seen = []

    class Target:  # a stand-in for a Flask test client: records what would be posted
        def post(self, path, data=None, headers=None, base_url=None):
            seen.append(dict(data))

            class Answer:
                status_code = 200

                def close(self):
                    pass

            return Answer()

    fake.emit_status_callbacks(Target(), TOKEN, statuses=("sent", "delivered", "read"))
    assert [(p["MessageSid"], p["MessageStatus"], p.get("ErrorCode")) for p in seen] == [
        (outside.sid, "failed", "63016"),
        (inside.sid, "sent", None),
        (inside.sid, "delivered", None),
        (inside.sid, "read", None),
    ]
    assert seen[-1]["EventType"] == "READ" and seen[-1]["ChannelPrefix"] == "whatsapp"


def test_not_on_whatsapp_callback_falls_back_to_one_sms(app, make_org, fake):
    """Worker -> Twilio SDK -> fake Twilio (accepts, then fails with 63003) -> signed status
    callback to the app's webhook -> fallback row -> worker -> one SMS, never two."""
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    fake.whatsapp_inbound(contact.phone, DUE - timedelta(hours=1))
    fake.not_on_whatsapp(contact.phone)
    send_to(org)
    clock = Clock(DUE)
    with gateway_for(fake) as gateway:
        worker = make_worker(app, clock, gateway)
        try:
            worker.run(once=True)
            client = app.test_client()
            results = fake.emit_status_callbacks(client, TOKEN)
            assert [(r.status, r.http_status) for r in results] == [("failed", 204)]
            fake.emit_status_callbacks(client, TOKEN)  # Twilio retries: no second fallback
            worker.run(once=True)
            worker.run(once=True)
        finally:
            worker.close()
    forms = [r.form for r in fake.creates]
    assert [f["To"] for f in forms] == ["whatsapp:" + contact.phone, contact.phone]
    assert forms[1]["Body"] == forms[0]["Body"]
    db.session.expire_all()
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.channel, r.status, r.error_code) for r in rows] == [
        ("whatsapp", "failed", "63003"),
        ("sms", "sent", None),
    ]
    assert rows[1].fallback_of_id == rows[0].id
