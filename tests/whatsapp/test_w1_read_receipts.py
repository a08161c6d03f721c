"""WhatsApp's "read" status (issue 19): the first read is recorded in `read_at`, the status
never moves backwards, and a read that overtakes "delivered" still counts as delivered."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outbox.models import EarlyStatusCallback, OutboxMessage
from app.outbox.status import apply_early_callbacks, apply_status_callback
from app.participation.models import ParticipationEvent
from tests.factories import make_contact, make_outbox_row
from tests.support import NOW
from tests.webhooks.signing import STATUS_URL, TOKEN, post, status_params

SID = "SM" + "e" * 32


@pytest.fixture
def row(make_org):
    contact = make_contact(make_org())
    return make_outbox_row(
        contact,
        channel="whatsapp",
        due_at=NOW - timedelta(minutes=5),
        status="sent",
        twilio_sid=SID,
        sent_at=NOW - timedelta(minutes=5),
    )


def fresh(row) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, row.id)


def delivered_events() -> int:
    return db.session.scalar(
        select(db.func.count()).where(ParticipationEvent.kind == "sms_delivered")
    )


def test_read_after_delivered_records_the_first_read_only(app, row):
    assert apply_status_callback(SID, "delivered", None, now=NOW)
    assert apply_status_callback(SID, "read", None, now=NOW + timedelta(minutes=1))
    assert not apply_status_callback(SID, "read", None, now=NOW + timedelta(minutes=9))
    row = fresh(row)
    assert row.status == "delivered" and row.read_at == NOW + timedelta(minutes=1)
    assert delivered_events() == 1


def test_read_before_delivered_makes_the_row_delivered(app, row):
    assert apply_status_callback(SID, "read", None, now=NOW)
    assert not apply_status_callback(SID, "delivered", None, now=NOW + timedelta(seconds=1))
    assert not apply_status_callback(SID, "sent", None, now=NOW + timedelta(seconds=2))
    row = fresh(row)
    assert row.status == "delivered" and row.read_at == NOW
    assert delivered_events() == 1


def test_an_sms_row_never_gets_a_read(app, row):
    apply_status_callback(SID, "delivered", None, now=NOW)
    assert fresh(row).read_at is None


def test_a_read_that_comes_before_the_sid_is_kept_and_applied(app, make_org):
    contact = make_contact(make_org())
    early_sid = "SM" + "f" * 32
    assert not apply_status_callback(early_sid, "read", None, now=NOW)
    assert db.session.scalar(select(EarlyStatusCallback.status)) == "read"
    row = make_outbox_row(
        contact,
        channel="whatsapp",
        due_at=NOW,
        status="sent",
        twilio_sid=early_sid,
        sent_at=NOW,
    )
    assert apply_early_callbacks(now=NOW + timedelta(minutes=1)) == 1
    row = fresh(row)
    assert row.status == "delivered" and row.read_at == NOW


def test_the_status_webhook_takes_read(app, client, row):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    response = post(client, STATUS_URL, status_params(SID, "read"))
    assert response.status_code == 204
    row = fresh(row)
    assert row.status == "delivered" and row.read_at is not None
