"""Twilio webhooks: signed exactly as Twilio signs, validated against PUBLIC_BASE_URL."""

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.contacts.models import Contact
from app.extensions import db
from app.outbox.models import InboundMessage
from app.participation.models import ParticipationEvent
from tests.factories import make_campaign, make_contact, make_outbox_row
from tests.support import utc
from tests.webhooks.signing import (
    INBOUND_URL,
    STATUS_URL,
    TOKEN,
    inbound_params,
    post,
    status_params,
)


@pytest.fixture(autouse=True)
def auth_token(app):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN


@pytest.fixture
def sent_row(make_org):
    org = make_org()
    contact = make_contact(org)
    campaign = make_campaign(org)
    return make_outbox_row(
        contact,
        campaign_id=campaign.id,
        due_at=utc(2026, 12, 1),
        status="sent",
        twilio_sid="SM" + "a" * 32,
        sent_at=utc(2026, 12, 1),
    )


def test_status_callback_delivered(client, sent_row):
    response = post(client, STATUS_URL, status_params(sent_row.twilio_sid, "delivered"))
    assert response.status_code == 204
    db.session.refresh(sent_row)
    assert sent_row.status == "delivered"
    assert db.session.scalar(select(ParticipationEvent.kind)) == "sms_delivered"


def test_status_never_moves_backwards_and_is_idempotent(client, sent_row):
    for status in ("delivered", "sent", "sending", "delivered", "undelivered"):
        post(client, STATUS_URL, status_params(sent_row.twilio_sid, status))
    db.session.refresh(sent_row)
    assert sent_row.status == "delivered"
    assert db.session.query(ParticipationEvent).count() == 1


def test_undelivered_with_dead_number_marks_contact(client, sent_row):
    post(client, STATUS_URL, status_params(sent_row.twilio_sid, "undelivered", "30005"))
    db.session.refresh(sent_row)
    assert sent_row.status == "undelivered" and sent_row.error_code == "30005"
    assert db.session.get(Contact, sent_row.contact_id).undeliverable


@pytest.mark.parametrize("case", ["missing", "wrong", "wrong_url", "wrong_token", "tampered"])
def test_bad_signatures_are_rejected_and_change_nothing(client, sent_row, case):
    params = status_params(sent_row.twilio_sid, "delivered")
    if case == "missing":
        response = client.post("/webhooks/twilio/status", data=params)
    elif case == "wrong":
        response = post(client, STATUS_URL, params, signature="bm90IGEgc2lnbmF0dXJl")
    elif case == "wrong_url":
        response = post(
            client, STATUS_URL, params, sign_url="https://evil.example/webhooks/twilio/status"
        )
    elif case == "wrong_token":
        response = post(client, STATUS_URL, params, token="another-token")
    else:
        signature = RequestValidator(TOKEN).compute_signature(STATUS_URL, params)
        response = post(
            client, STATUS_URL, {**params, "MessageStatus": "failed"}, signature=signature
        )
    assert response.status_code == 403
    db.session.refresh(sent_row)
    assert sent_row.status == "sent"


def test_proxied_request_validates_against_public_url(client, sent_row):
    # The app sees http://10.0.0.5:8000 behind TLS termination; Twilio signed the public URL.
    response = post(
        client,
        STATUS_URL,
        status_params(sent_row.twilio_sid, "delivered"),
        base_url="http://10.0.0.5:8000",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "alcance.example.org"},
    )
    assert response.status_code == 204


def test_query_string_is_part_of_the_signature(client, sent_row):
    url = STATUS_URL + "?org=1"
    assert post(client, url, status_params(sent_row.twilio_sid, "delivered")).status_code == 204
    assert (
        post(
            client, url, status_params(sent_row.twilio_sid, "delivered"), sign_url=STATUS_URL
        ).status_code
        == 403
    )


def test_malformed_status_body_is_400(client):
    assert post(client, STATUS_URL, {"Foo": "bar"}).status_code == 400


def test_unknown_sid_is_acknowledged_without_change(client, sent_row):
    assert post(client, STATUS_URL, status_params("SM" + "b" * 32, "delivered")).status_code == 204
    db.session.refresh(sent_row)
    assert sent_row.status == "sent"


def test_a_callback_before_the_sid_is_recorded_is_applied_when_it_is(client, sent_row):
    """Twilio can call back before the worker has written the SID it got from the API."""
    from app.outbox.models import EarlyStatusCallback
    from app.outbox.status import apply_early_callbacks

    early_sid, stranger_sid = "SM" + "d" * 32, "SM" + "e" * 32
    for sid, status in (
        (early_sid, "sent"),
        (early_sid, "undelivered"),
        (stranger_sid, "delivered"),
    ):
        params = status_params(sid, status, error="30003" if status == "undelivered" else None)
        assert post(client, STATUS_URL, params).status_code == 204
    kept = db.session.scalars(select(EarlyStatusCallback).order_by(EarlyStatusCallback.id)).all()
    assert [(k.twilio_sid, k.status, k.error_code) for k in kept] == [
        (early_sid, "undelivered", "30003"),
        (stranger_sid, "delivered", None),
    ]  # "sent": no news
    received = kept[0].received_at

    assert apply_early_callbacks(now=received) == 0  # the SID is not known yet
    sent_row.twilio_sid = early_sid  # the worker records it
    db.session.commit()
    assert apply_early_callbacks(now=received) == 1
    assert apply_early_callbacks(now=received) == 0  # applied once
    db.session.refresh(sent_row)
    assert (sent_row.status, sent_row.error_code, sent_row.final_at) == (
        "undelivered",
        "30003",
        received,
    )
    events = db.session.scalars(select(ParticipationEvent)).all()
    assert [(e.kind, e.occurred_at) for e in events] == [("sms_undelivered", received)]
    # Never matched (another application's message on the account): forgotten after 3 days.
    assert [k.twilio_sid for k in db.session.scalars(select(EarlyStatusCallback))] == [stranger_sid]
    from datetime import timedelta

    apply_early_callbacks(now=received + timedelta(days=3, seconds=1))
    assert db.session.scalar(select(EarlyStatusCallback)) is None


def test_inbound_baja_opts_out_and_answers_twiml(client, sent_row):
    contact = db.session.get(Contact, sent_row.contact_id)
    response = post(client, INBOUND_URL, inbound_params(contact.phone, "Baja"))
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert "<Response></Response>" in response.get_data(as_text=True)
    db.session.refresh(contact)
    assert contact.opted_out_at is not None
    # Retried webhook (same MessageSid): handled once.
    post(client, INBOUND_URL, inbound_params(contact.phone, "Baja"))
    assert db.session.query(InboundMessage).count() == 1


def test_inbound_rejects_bad_signature_and_malformed(client, sent_row):
    params = inbound_params("+526645550001", "STOP")
    assert post(client, INBOUND_URL, params, token="nope").status_code == 403
    assert post(client, INBOUND_URL, {"Body": "x"}).status_code == 400
    assert db.session.query(InboundMessage).count() == 0


def test_a_repeated_early_callback_is_kept_once(client):
    from app.outbox.models import EarlyStatusCallback

    sid = "SM" + "9" * 32
    for params in [status_params(sid, "undelivered", "30003")] * 3 + [
        status_params(sid, "delivered")
    ]:
        assert post(client, STATUS_URL, params).status_code == 204
    kept = db.session.scalars(select(EarlyStatusCallback).order_by(EarlyStatusCallback.id)).all()
    assert [(k.status, k.error_code) for k in kept] == [
        ("undelivered", "30003"),
        ("delivered", None),
    ]


# -- routing by the number written to (issue 12) ---------------------------------------------
def test_inbound_is_routed_by_the_number_it_was_sent_to(client, make_org):
    owner, other = make_org(), make_org()
    owner.sms_sender = "+526645550100"
    db.session.commit()
    phone = "+526645557777"
    mine, theirs = make_contact(owner, phone=phone), make_contact(other, phone=phone)
    params = {**inbound_params(phone, "STOP", sid="SM" + "8" * 32), "To": "+526645550100"}
    assert post(client, INBOUND_URL, params).status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, mine.id).opted_out_at is not None
    assert db.session.get(Contact, theirs.id).opted_out_at is None


def test_inbound_is_routed_by_the_messaging_service_it_was_sent_to(client, make_org):
    owner, other = make_org(), make_org()
    owner.sms_sender = "MG" + "c" * 32
    db.session.commit()
    phone = "+526645557777"
    mine, theirs = make_contact(owner, phone=phone), make_contact(other, phone=phone)
    params = {
        **inbound_params(phone, "BAJA", sid="SM" + "8" * 32),
        "To": "+526645550199",
        "MessagingServiceSid": "MG" + "c" * 32,
    }
    assert post(client, INBOUND_URL, params).status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, mine.id).opted_out_at is not None
    assert db.session.get(Contact, theirs.id).opted_out_at is None
