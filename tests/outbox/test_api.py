"""The outbox's public API keeps its promises: features describe messages and may hold,
release, cancel or reword only those not yet claimed; anything else is refused."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outbox import api
from app.outbox.models import OutboxMessage
from tests.factories import make_contact, make_outbox_row
from tests.support import NOW


@pytest.fixture
def contact(make_org):
    return make_contact(make_org())


def _enqueue(contact, **overrides):
    values = dict(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        purpose="system",
        language="es",
        body="Hola",
        due_at=NOW,
        now=NOW,
    )
    return api.enqueue(**{**values, **overrides})


def test_enqueue_stores_a_scheduled_message_with_its_channel_and_purpose(app, contact):
    row = _enqueue(contact)
    db.session.commit()
    stored = db.session.get(OutboxMessage, row.id)
    assert (stored.status, stored.channel, stored.purpose, stored.attempts) == (
        "scheduled",
        "sms",
        "system",
        0,
    )


def test_enqueue_can_record_a_message_that_could_never_go(app, contact):
    row = _enqueue(contact, skipped="no_allowed_time")
    db.session.commit()
    assert (row.status, row.skip_reason, row.final_at) == ("skipped", "no_allowed_time", NOW)


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"purpose": "marketing"}, ValueError),
        ({"channel": "fax"}, ValueError),
        ({"status": "sent"}, TypeError),
        ({"twilio_sid": "SM1"}, TypeError),
    ],
)
def test_enqueue_refuses_unknown_purposes_channels_and_outbox_owned_columns(
    app, contact, overrides, error
):
    with pytest.raises(error):
        _enqueue(contact, **overrides)
    assert db.session.scalar(select(OutboxMessage.id)) is None


def test_features_may_only_hold_and_release(app, contact):
    row = make_outbox_row(contact, status="scheduled")
    assert api.set_status(("scheduled",), "held", contact_id=contact.id) == 1
    assert api.set_status(("held",), "scheduled", contact_id=contact.id) == 1
    for from_statuses, to_status in ((("scheduled",), "sent"), (("claimed",), "scheduled")):
        with pytest.raises(ValueError):
            api.set_status(from_statuses, to_status, contact_id=contact.id)
    db.session.commit()
    assert db.session.get(OutboxMessage, row.id).status == "scheduled"


def test_cancel_and_reword_touch_only_messages_not_yet_claimed(app, contact):
    pending = make_outbox_row(contact, status="scheduled")
    sent = make_outbox_row(contact, status="sent")
    assert api.reword_pending({"body": "Nuevo"}, contact_id=contact.id) == 1
    assert api.cancel_pending(reason="erased", now=NOW, contact_id=contact.id) == 1
    with pytest.raises(ValueError):
        api.cancel_pending(reason="x", now=NOW, statuses=("sent",), contact_id=contact.id)
    with pytest.raises(TypeError):
        api.reword_pending({"status": "sent"}, contact_id=contact.id)
    db.session.commit()
    assert (pending.status, pending.skip_reason, pending.body) == ("canceled", "erased", "Nuevo")
    assert (sent.status, sent.body, sent.skip_reason) == ("sent", "Hola", None)


def test_history_is_never_deleted(app, contact):
    make_outbox_row(contact, status="delivered")
    with pytest.raises(ValueError):
        api.delete_never_sent(contact_id=contact.id)
    assert db.session.scalar(select(OutboxMessage.status)) == "delivered"
