"""Invitations through the outreach scheduler, and the full loop: invitation SMS, RSVP reply
through the phone simulator, confirmation, reminders, all sent by the worker."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.messaging.simulator import SimulatorGateway
from app.outbox.models import InboundMessage, OutboxMessage
from app.outreach.models import OutreachSend
from app.participation.models import ParticipationEvent
from app.timeutil import utcnow
from app.workshops.models import WorkshopRegistration
from app.workshops.services import cancel_workshop, invite_audience, reschedule_workshop
from tests.factories import (
    WORKSHOP_START,
    make_audience,
    make_campaign,
    make_contact,
    make_message,
    make_workshop,
)
from tests.outreach.helpers import make_worker
from tests.support import NOW, Clock, csrf_token_from, utc

INVITE_ES = "Hola {first_name}, ven a {workshop_title} el {workshop_date} a las {workshop_time}."
INVITE_EN = "Hi {first_name}, join {workshop_title} on {workshop_date} at {workshop_time}."


@pytest.fixture
def setup(make_org):
    org = make_org()
    campaign = make_campaign(org)
    workshop = make_workshop(org, campaign=campaign, code="4821")
    message = make_message(campaign, label="Invitación", body_es=INVITE_ES, body_en=INVITE_EN)
    audience = make_audience(org, {})
    return org, campaign, workshop, message, audience


def invite(workshop, message, audience, *, day=date(2026, 12, 1), at=time(17, 0), now=NOW):
    return invite_audience(
        workshop,
        message=message,
        audience=audience,
        local_date=day,
        local_time=at,
        user_id=None,
        now=now,
    )


def rows(**filters):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage)
        .filter_by(**filters)
        .order_by(OutboxMessage.contact_id, OutboxMessage.id)
    ).all()


def test_fan_out_rows_are_invitations_with_the_rsvp_line_in_each_language(app, setup):
    org, campaign, workshop, message, audience = setup
    es = make_contact(org, first_name="Lupita", language="es")
    en = make_contact(org, first_name="Mike", language="en")
    make_contact(org, opted_out_at=NOW)  # not invited
    send, created = invite(workshop, message, audience)
    assert created == 2 and send.workshop_id == workshop.id
    body = {r.contact_id: r for r in rows()}
    assert set(body) == {es.id, en.id}
    assert body[es.id].body == (
        "Hola Lupita, ven a Decide tú el sábado 5 de diciembre a las 17:00.\n"
        "Responde SI 4821 para apartar tu lugar."
    )
    assert body[en.id].body == (
        "Hi Mike, join Your call on Saturday, December 5 at 5:00 PM.\n"
        "Reply YES 4821 to save your spot."
    )
    for row in body.values():
        assert (row.purpose, row.workshop_id, row.campaign_id) == (
            "invitation",
            workshop.id,
            campaign.id,
        )
        assert row.expires_at == WORKSHOP_START and row.due_at == utc(
            2026, 12, 2, 1, 0
        )  # 17:00 local


def test_invited_registrations_and_events(app, setup):
    org, _campaign, workshop, message, audience = setup
    contacts = [make_contact(org) for _ in range(3)]
    invite(workshop, message, audience)
    registrations = db.session.scalars(select(WorkshopRegistration)).all()
    assert {(r.contact_id, r.status, r.invited_at) for r in registrations} == {
        (c.id, "invited", NOW) for c in contacts
    }
    events = db.session.scalars(select(ParticipationEvent)).all()
    assert sorted(e.contact_id for e in events) == sorted(c.id for c in contacts)
    assert {(e.kind, e.workshop_id) for e in events} == {("invited", workshop.id)}


def test_reinviting_keeps_existing_answers(app, setup):
    org, _campaign, workshop, message, audience = setup
    contact = make_contact(org)
    invite(workshop, message, audience)
    registration = db.session.scalar(select(WorkshopRegistration))
    registration.status = "confirmed"
    db.session.commit()
    later = NOW + timedelta(hours=1)
    _send, created = invite(workshop, message, audience, now=later)
    assert created == 1  # a second SMS, but the answer stays
    db.session.refresh(registration)
    assert registration.status == "confirmed" and registration.invited_at == NOW
    assert db.session.query(ParticipationEvent).filter_by(kind="invited").count() == 1
    assert contact.id


def test_frequency_cap_and_quiet_hours_apply(app, setup):
    org, _campaign, workshop, message, audience = setup
    make_contact(org, timezone="America/Mexico_City", state_code="09")
    # Quiet hours: the next morning at 09:00, the earliest hour for Mexican numbers.
    invite(workshop, message, audience, at=time(22, 30))
    (row,) = rows()
    assert row.due_at == utc(2026, 12, 2, 15, 0)


@pytest.mark.parametrize("case", ["after_start", "canceled", "past", "draft", "missing"])
def test_invitations_that_make_no_sense_are_refused(app, setup, case):
    org, campaign, workshop, message, audience = setup
    make_contact(org)
    kwargs = {}
    if case == "after_start":
        kwargs = {"day": date(2026, 12, 5), "at": time(18, 0)}
    elif case == "canceled":
        workshop.status = "canceled"
    elif case == "past":
        kwargs = {"now": WORKSHOP_START + timedelta(minutes=1)}
    elif case == "draft":
        campaign.status = "draft"
    else:
        kwargs = {"at": None}
    db.session.commit()
    with pytest.raises(DomainError):
        invite(workshop, message, audience, **kwargs)
    db.session.rollback()
    assert rows() == [] and db.session.query(WorkshopRegistration).count() == 0


def test_workshop_of_another_campaign_is_refused(app, setup):
    org, _campaign, workshop, _message, audience = setup
    other = make_campaign(org, name="Otra")
    with pytest.raises(DomainError):
        invite(workshop, make_message(other), audience)


def test_reschedule_rewrites_pending_invitations(app, setup):
    org, _campaign, workshop, message, audience = setup
    es = make_contact(org, first_name="Lupita")
    en = make_contact(org, first_name="Mike", language="en")
    invite(workshop, message, audience)
    result = reschedule_workshop(
        workshop,
        local_date=date(2026, 12, 12),
        start_time=time(10, 0),
        end_time=time(12, 0),
        now=NOW,
    )
    assert result.invitations_updated == 2
    body = {r.contact_id: r for r in rows(purpose="invitation")}
    assert body[es.id].body == (
        "Hola Lupita, ven a Decide tú el sábado 12 de diciembre a las 10:00."
        "\nResponde SI 4821 para apartar tu lugar."
    )
    assert "Saturday, December 12 at 10:00 AM" in body[en.id].body
    assert {r.expires_at for r in body.values()} == {utc(2026, 12, 12, 18, 0)}


def test_cancel_cancels_pending_invitations_and_the_send(app, setup):
    org, _campaign, workshop, message, audience = setup
    make_contact(org)
    send, _created = invite(workshop, message, audience)
    cancel_workshop(workshop, now=NOW)
    assert {(r.status, r.skip_reason) for r in rows()} == {("canceled", "workshop_canceled")}
    db.session.refresh(send)
    assert send.status == "canceled"


def test_full_loop_with_the_worker_and_the_phone_simulator(app, client, login, make_user, make_org):
    # The simulator page uses the real clock: build the world around it.
    from app.outbox.inbound import receive_sms
    from app.workshops.texts import workshop_values
    from tests.support import TIJUANA, next_saturday_at_five

    start = next_saturday_at_five()
    org = make_org()
    campaign = make_campaign(org)
    workshop = make_workshop(org, campaign=campaign, code="4821", starts_at=start)
    message = make_message(campaign, label="Invitación", body_es=INVITE_ES, body_en=INVITE_EN)
    contact = make_contact(org, first_name="Lupita")
    english = make_contact(org, first_name="Mike", language="en")
    invited_at = start - timedelta(days=4)
    invite(
        workshop,
        message,
        make_audience(org, {}),
        day=invited_at.astimezone(TIJUANA).date(),
        now=utcnow(),
    )
    clock = Clock(invited_at)
    gateway = FakeSmsGateway(clock=clock)
    worker = make_worker(app, clock, gateway)
    try:
        worker.run(once=True)
        sent = {m.to: m.body for m in gateway.sent}
        assert "Responde SI 4821 para apartar tu lugar." in sent[contact.phone]
        assert "Reply YES 4821 to save your spot." in sent[english.phone]

        # Lupita answers from the in-app phone simulator: the same path as Twilio's webhook.
        app.extensions["sms_gateway"] = SimulatorGateway()
        login(make_user(org, role="coordinator", language="en"))
        page = client.get(f"/simulator/{contact.id}")
        assert (
            client.post(
                f"/simulator/{contact.id}", data={"csrf_token": csrf_token_from(page), "body": "Sí"}
            ).status_code
            == 302
        )
        # Mike answers by SMS with the code.
        assert (
            receive_sms(
                sid="SMloop" + "0" * 28, from_number=english.phone, body="yes 4821", now=utcnow()
            )
            == "rsvp_confirmed"
        )
        registrations = {
            r.contact_id: r.status for r in db.session.scalars(select(WorkshopRegistration))
        }
        assert registrations == {contact.id: "confirmed", english.id: "confirmed"}
        inbound = db.session.scalars(select(InboundMessage)).all()
        assert {(m.intent, m.campaign_id) for m in inbound} == {("rsvp_yes", campaign.id)}
        inbox = client.get(f"/campaigns/{campaign.id}/inbox").get_data(as_text=True)
        assert "RSVP yes" in inbox and "Sí" in inbox

        clock.now = max(utcnow(), invited_at) + timedelta(minutes=1)  # replies go out at once
        worker.run(once=True)
        values = workshop_values(workshop, "en")
        assert [m.body for m in gateway.sent if m.to == english.phone][1:] == [
            f"Your spot is saved: Your call, {values['workshop_date']} at "
            f"{values['workshop_time']}, Casa de la Cultura. Reply NO 4821 if you cannot come."
        ]

        # Reminders: 24 h and 2 h before the start, to both.
        for hours in (24, 2):
            clock.now = start - timedelta(hours=hours)
            worker.run(once=True)
        reminders = rows(purpose="reminder")
        assert len(reminders) == 4 and {r.status for r in reminders} == {"sent"}
        for phone in (contact.phone, english.phone):
            # The invitation, the confirmation and two reminders.
            assert len([m for m in gateway.sent if m.to == phone]) == 4
        assert [m.body for m in gateway.sent if m.to == english.phone][-1].startswith(
            "Reminder: Your call"
        )
    finally:
        worker.close()
    assert db.session.query(OutreachSend).count() == 1
