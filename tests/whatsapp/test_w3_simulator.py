"""Issue 19, phone simulator: a WhatsApp chat for WhatsApp contacts (green bubbles, read
ticks, template quick-reply buttons) whose button taps enter through the same inbound
path as typed replies, with the fields Twilio posts (From whatsapp:+52…, ButtonPayload)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.simulator import SimulatorGateway
from app.outbox.models import InboundMessage
from tests.factories import (
    make_contact,
    make_org,
    make_outbox_row,
    make_user,
    make_whatsapp_template,
)
from tests.support import NOW, csrf_token_from

BUTTONS = [
    {"title": "Sí, voy", "intent": "rsvp_yes", "value": "", "id": "rsvp_yes"},
    {"title": "No puedo", "intent": "rsvp_no", "value": "", "id": "rsvp_no"},
]


@pytest.fixture
def phone(app, client, login):
    app.extensions["sms_gateway"] = SimulatorGateway()
    org = make_org()
    user = make_user(org, role="coordinator", language="en")
    contact = make_contact(
        org,
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=NOW,
        whatsapp_opt_in_source="form",
    )
    template = make_whatsapp_template(
        org, status="approved", content_sid="HX" + "a" * 32, buttons=BUTTONS
    )
    sent = NOW - timedelta(hours=2)
    make_outbox_row(
        contact,
        channel="whatsapp",
        body="Hola Joven, te esperamos en el taller.",
        status="delivered",
        sent_at=sent,
        final_at=sent,
        read_at=sent + timedelta(minutes=3),
        whatsapp_form="template",
        content_sid=template.content_sid,
    )
    login(user)
    return contact


def test_whatsapp_contacts_get_the_whatsapp_chat(client, phone):
    response = client.get(f"/simulator/{phone.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/simulator/{phone.id}/whatsapp")
    page = client.get(f"/simulator/{phone.id}/whatsapp").get_data(as_text=True)
    assert "wa-sim__bubble--out" in page and "te esperamos en el taller" in page
    assert "wa-sim__ticks--read" in page and "Read by the recipient" in page
    assert page.count('class="wa-sim__button"') == 2 and "Sí, voy" in page
    # The SMS view stays one link away, and the polled fragment has the same chat.
    assert client.get(f"/simulator/{phone.id}?view=sms").status_code == 200
    fragment = client.get(f"/simulator/{phone.id}/whatsapp/messages").get_data(as_text=True)
    assert "No puedo" in fragment and "<html" not in fragment


def test_a_tapped_button_is_an_inbound_whatsapp_reply(client, phone):
    url = f"/simulator/{phone.id}/whatsapp"
    token = csrf_token_from(client.get(url))
    response = client.post(f"{url}/button", data={"csrf_token": token, "payload": "rsvp_yes"})
    assert response.status_code == 302
    inbound = db.session.scalar(select(InboundMessage))
    assert inbound.contact_id == phone.id and inbound.channel == "whatsapp"
    db.session.refresh(phone)
    assert phone.last_whatsapp_in_at is not None  # the 24-hour window opened
    # Typed replies on this page are WhatsApp messages too.
    client.post(url, data={"csrf_token": token, "body": "¿Dónde es?"})
    channels = db.session.scalars(select(InboundMessage.channel)).all()
    assert channels == ["whatsapp", "whatsapp"]
    page = client.get(url).get_data(as_text=True)
    assert "wa-sim__bubble--in" in page and "¿Dónde es?" in page


def test_only_buttons_the_contact_got_can_be_tapped(client, phone):
    url = f"/simulator/{phone.id}/whatsapp"
    token = csrf_token_from(client.get(url))
    assert (
        client.post(f"{url}/button", data={"csrf_token": token, "payload": "x"}).status_code == 400
    )
    assert client.post(f"{url}/button", data={"payload": "rsvp_yes"}).status_code == 400  # CSRF
    assert db.session.scalar(select(InboundMessage)) is None


def test_whatsapp_view_needs_the_simulator_and_the_organization(app, client, login, phone):
    other = make_contact(make_org())
    assert client.get(f"/simulator/{other.id}/whatsapp").status_code == 404
    app.extensions["sms_gateway"] = object()
    assert client.get(f"/simulator/{phone.id}/whatsapp").status_code == 404
