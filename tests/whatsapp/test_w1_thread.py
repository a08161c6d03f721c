"""The conversation thread shows each message's channel, and a coordinator's reply (or the
crisis auto-reply) to a WhatsApp message goes back on WhatsApp (issue 19)."""

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select

from app.conversations.replies import send_reply
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage
from tests.factories import make_contact, make_outbox_row
from tests.support import NOW, csrf_token

CRISIS = "mi amigo se tomó una pastilla y no respira"
_sids = count(1)


def inbound(contact, body, *, whatsapp: bool, now=NOW) -> str:
    address = f"whatsapp:{contact.phone}" if whatsapp else contact.phone
    return receive_sms(sid=f"SMth{next(_sids):028d}", from_number=address, body=body, now=now)


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def coordinator(org, make_user, login):
    user = make_user(org, "coordinator", language="en")
    login(user)
    return user


def test_the_thread_shows_a_channel_badge_on_every_message(client, org, coordinator):
    contact = make_contact(org)
    inbound(contact, "hola por whatsapp", whatsapp=True, now=NOW - timedelta(hours=2))
    inbound(contact, "hola por sms", whatsapp=False, now=NOW - timedelta(hours=1))
    make_outbox_row(contact, purpose="reply", channel="whatsapp", body="respuesta", due_at=NOW)
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert html.count('data-channel="whatsapp"') == 2
    assert html.count('data-channel="sms"') == 1
    assert ">WhatsApp</span>" in html and ">SMS</span>" in html


def test_the_badge_is_translated(client, org, make_user, login):
    login(make_user(org, "coordinator", language="es"))
    contact = make_contact(org)
    inbound(contact, "hola", whatsapp=True)
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert 'data-channel="whatsapp"' in html


def test_a_coordinators_reply_to_a_whatsapp_message_goes_on_whatsapp(app, org, make_user):
    user = make_user(org, "coordinator")
    contact = make_contact(org)
    inbound(contact, "tengo una duda", whatsapp=True, now=NOW - timedelta(minutes=10))
    row = send_reply(contact, "Claro, dime.", user=user, now=NOW)
    assert row.channel == "whatsapp"
    # A day later the window is closed: the reply goes by SMS (the contact's channel).
    later = send_reply(contact, "¿Sigues ahí?", user=user, now=NOW + timedelta(hours=25))
    assert later.channel == "sms"


def test_a_reply_to_an_sms_goes_by_sms(app, org, make_user):
    user = make_user(org, "coordinator")
    contact = make_contact(org)
    inbound(contact, "tengo una duda", whatsapp=False)
    assert send_reply(contact, "Claro.", user=user, now=NOW).channel == "sms"


def test_the_crisis_reply_goes_back_on_whatsapp(app, org):
    contact = make_contact(org)
    inbound(contact, CRISIS, whatsapp=True)
    db.session.expire_all()
    rows = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "system"
        )
    ).all()
    assert rows and {row.channel for row in rows} == {"whatsapp"}


def test_the_reply_route_sets_the_channel(client, org, coordinator):
    contact = make_contact(org)
    inbound(contact, "hola", whatsapp=True, now=NOW - timedelta(minutes=5))
    client.post(
        f"/conversations/{contact.id}/reply",
        data={"csrf_token": csrf_token(client), "body": "Hola", "send": "1"},
    )
    db.session.expire_all()
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "reply"))
    assert row is not None and row.channel == "whatsapp"
