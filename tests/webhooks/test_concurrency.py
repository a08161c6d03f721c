"""Twilio may deliver one webhook several times at once (issue 12, item 15): a duplicate
SID is a normal, idempotent outcome answered 2xx, never a 500 (PostgreSQL: real row locks)."""

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outbox.models import EarlyStatusCallback, InboundMessage, OutboxMessage
from app.outbox.status import apply_early_callbacks
from app.participation.models import ParticipationEvent
from tests.factories import make_contact, make_outbox_row
from tests.support import NOW
from tests.webhooks.signing import (
    INBOUND_URL,
    STATUS_URL,
    TOKEN,
    inbound_params,
    post,
    status_params,
)

SID = "SM" + "7" * 32
COPIES = 20


@pytest.fixture(autouse=True)
def webhook_setup(app, tmp_path, postgres_only):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    app.config["INBOUND_SPOOL_DIR"] = str(tmp_path / "spool")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # count 500s as Twilio would see them


def deliver_at_once(app, url, params, copies=COPIES) -> Counter:
    """POST the same signed webhook `copies` times at the same moment; the status codes."""
    barrier, statuses = threading.Barrier(copies), []

    def deliver():
        with app.app_context():
            client = app.test_client()
            try:
                barrier.wait()
                statuses.append(post(client, url, params).status_code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.expire_all()
    return Counter(statuses)


def events(kind):
    return db.session.scalar(select(db.func.count()).where(ParticipationEvent.kind == kind))


def test_the_same_inbound_sms_delivered_twenty_times_at_once(app, make_org):
    contact = make_contact(make_org())
    assert deliver_at_once(app, INBOUND_URL, inbound_params(contact.phone, "BAJA", SID)) == {
        200: COPIES
    }
    assert db.session.query(InboundMessage).count() == 1
    assert events("opt_out") == 1
    assert db.session.query(OutboxMessage).filter_by(purpose="system").count() == 1  # one reply


def test_the_same_reply_delivered_twenty_times_at_once(app, make_org):
    contact = make_contact(make_org())
    params = inbound_params(contact.phone, "¿Dónde es?", SID)
    assert deliver_at_once(app, INBOUND_URL, params) == {200: COPIES}
    assert db.session.query(InboundMessage).count() == 1 and events("reply") == 1


def sent_row(org):
    return make_outbox_row(make_contact(org), status="sent", sent_at=NOW, twilio_sid=SID)


def test_the_same_status_callback_delivered_twenty_times_at_once(app, make_org):
    row = sent_row(make_org())
    params = status_params(SID, "undelivered", "21610")  # also opts the contact out
    assert deliver_at_once(app, STATUS_URL, params) == {204: COPIES}
    db.session.refresh(row)
    assert row.status == "undelivered"
    assert events("sms_undelivered") == 1 and events("opt_out") == 1


def test_the_same_early_callback_delivered_twenty_times_at_once(app, make_org):
    """Before the worker has recorded the SID: kept (not an error), applied once later."""
    org = make_org()
    params = status_params(SID, "delivered")
    assert deliver_at_once(app, STATUS_URL, params) == {204: COPIES}
    assert db.session.query(EarlyStatusCallback).count() >= 1
    row = sent_row(org)  # the worker records the SID
    assert apply_early_callbacks(now=NOW) == 1
    db.session.refresh(row)
    assert row.status == "delivered" and events("sms_delivered") == 1
