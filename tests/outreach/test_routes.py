"""Outreach pages: scheduling, sends, inbox and the phone simulator."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.contacts.models import Contact
from app.extensions import db
from app.messaging.simulator import SimulatorGateway
from app.outbox.models import InboundMessage, OutboxMessage
from app.outreach.models import OutreachSend
from tests.factories import make_campaign
from tests.outreach.helpers import make_worker, schedule
from tests.support import Clock, csrf_token_from, utc


def test_schedule_from_the_form(client, login, world):
    login(world["user"])
    response = schedule(client, world)
    assert response.status_code == 302
    assert db.session.query(OutboxMessage).count() == 3
    page = client.get(response.headers["Location"] + "?lang=es").get_data(as_text=True)
    assert "Programado" in page or "Programada" in page or "Scheduled" in page


@pytest.mark.parametrize(
    "data",
    [
        {"local_date": ""},
        {"local_time": "25:99"},
        {"kind": "recurring", "weekdays": []},
        {"kind": "recurring", "weekdays": ["0"], "weeks": "99"},
        {"kind": "sequence", "day_offset": "-1"},
        {"kind": "sometimes"},
        {"message": "999999"},
    ],
)
def test_bad_schedule_input_changes_nothing(client, login, world, data):
    login(world["user"])
    response = schedule(client, world, **data)
    assert response.status_code in (400, 404)
    assert db.session.query(OutboxMessage).count() == 0
    assert db.session.query(OutreachSend).count() == 0


def test_fixed_instant_uses_the_organization_time_zone(client, login, world):
    login(world["user"])
    schedule(client, world, timing="fixed", local_date="2026-12-01", local_time="12:00")
    send = db.session.scalar(select(OutreachSend))
    assert send.fixed_at == utc(2026, 12, 1, 20, 0)  # 12:00 in Tijuana


def test_cancel_a_send(client, login, world):
    login(world["user"])
    schedule(client, world)
    send = db.session.scalar(select(OutreachSend))
    token = csrf_token_from(client.get(f"/sends/{send.id}"))
    assert client.post(f"/sends/{send.id}/cancel", data={"csrf_token": token}).status_code == 302
    assert {r.status for r in db.session.scalars(select(OutboxMessage))} == {"canceled"}
    assert client.post(f"/sends/{send.id}/cancel").status_code == 400  # no CSRF token


def test_other_organizations_outreach_is_404(client, login, world, make_org, make_user):
    other = make_org()
    login(make_user(other, role="coordinator"))
    campaign_id = world["campaign"].id
    for url in (
        f"/campaigns/{campaign_id}/sends",
        f"/campaigns/{campaign_id}/sends/new",
        f"/campaigns/{campaign_id}/inbox",
    ):
        assert client.get(url).status_code == 404
    # Their own campaign cannot use org A's message or audience either.
    mine = make_campaign(other)
    token = csrf_token_from(client.get(f"/campaigns/{mine.id}/sends/new"))
    response = client.post(
        f"/campaigns/{mine.id}/sends/new",
        data={
            "csrf_token": token,
            "message": world["message"].id,
            "audience": world["audience"].id,
            "kind": "once",
            "local_date": "2026-12-01",
            "local_time": "17:00",
        },
    )
    assert response.status_code == 400
    assert db.session.query(OutboxMessage).count() == 0


def test_evaluator_cannot_reach_outreach(client, login, world, make_user):
    login(make_user(world["org"], role="evaluator"))
    assert client.get(f"/campaigns/{world['campaign'].id}/sends").status_code == 403
    assert client.get(f"/campaigns/{world['campaign'].id}/inbox").status_code == 403


def test_simulator_needs_the_simulator_backend(client, login, world):
    login(world["user"])
    assert client.get("/simulator").status_code == 404


def test_simulator_round_trip(app, client, login, world):
    app.extensions["sms_gateway"] = SimulatorGateway()
    login(world["user"])
    schedule(client, world)
    clock = Clock(utc(2026, 12, 2, 1, 0))
    worker = make_worker(app, clock, SimulatorGateway())
    worker.run(once=True)
    contact = world["contacts"][0]
    assert contact.first_name in client.get("/simulator").get_data(as_text=True)
    page = client.get(f"/simulator/{contact.id}?lang=es")
    assert "el fentanilo mata" in page.get_data(as_text=True)
    # Delivered at once on the simulated handset.
    assert {r.status for r in db.session.scalars(select(OutboxMessage))} == {"delivered"}
    token = csrf_token_from(page)
    assert (
        client.post(
            f"/simulator/{contact.id}", data={"csrf_token": token, "body": "BAJA"}
        ).status_code
        == 302
    )
    db.session.refresh(contact)
    assert contact.opted_out_at is not None
    clock.now += timedelta(seconds=5)
    worker.run(once=True)
    worker.close()
    conversation = client.get(f"/simulator/{contact.id}/messages").get_data(as_text=True)
    assert "BAJA" in conversation and "ALTA" in conversation


def test_inbox_shows_flagged_replies_and_marks_reviewed(app, client, login, world):
    from app.outbox.inbound import receive_sms

    login(world["user"])
    contact = world["contacts"][0]
    receive_sms(
        sid="SM" + "1" * 32,
        from_number=contact.phone,
        body="ya no me manden mensajes",
        now=utc(2026, 12, 2),
    )
    inbound = db.session.scalar(select(InboundMessage))
    inbound.campaign_id = world["campaign"].id
    db.session.commit()
    page = client.get(f"/campaigns/{world['campaign'].id}/inbox?flagged=1")
    assert "ya no me manden mensajes" in page.get_data(as_text=True)
    token = csrf_token_from(page)
    client.post(f"/inbox/{inbound.id}/reviewed", data={"csrf_token": token})
    db.session.refresh(inbound)
    assert inbound.reviewed_at is not None
    assert db.session.get(Contact, contact.id).opted_out_at is None
