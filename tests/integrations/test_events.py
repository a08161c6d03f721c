"""Every event kind adds exactly one delivery per subscribed endpoint, in the event's own
transaction (a rolled-back event leaves none), with ids and de-identified fields only."""

import json
from datetime import timedelta
from itertools import count

from sqlalchemy import func, select, update

from app.contacts import bulk
from app.contacts.bulk import OPT_OUT_REASONS
from app.contacts.services import mark_opted_out, opt_in_contact, opt_out_contact
from app.extensions import db
from app.integrations.models import WebhookDelivery
from app.organizations.events import emit
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage
from app.outreach.completion import note_completed_sends
from app.surveys.services import fan_out_due_runs
from app.workshops import rsvp
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_message,
    make_outbox,
    make_survey,
    make_survey_run,
    make_workshop,
)
from tests.support import NOW

_sids = count(1)
CRISIS = "mi amigo se tomó una pastilla y no respira"


def sms(contact, body, *, now=NOW):
    return receive_sms(
        sid=f"SMhook{next(_sids):026d}", from_number=contact.phone, body=body, now=now
    )


def deliveries(event_type=None) -> list[WebhookDelivery]:
    db.session.expire_all()
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if event_type:
        query = query.where(WebhookDelivery.event_type == event_type)
    return list(db.session.scalars(query))


def no_personal_data(delivery, contact):
    text = json.dumps(delivery.payload, ensure_ascii=False)
    assert contact.phone not in text and contact.phone[3:] not in text
    assert contact.first_name not in text


def test_coordinator_opt_out_and_opt_in(app, make_org, make_endpoint, receiver):
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    contact = make_contact(org, first_name="Ana")
    opt_out_contact(contact, now=NOW)
    (out,) = deliveries("contact.opted_out")
    assert out.endpoint_id == endpoint.id and out.status == "pending"
    assert out.payload["data"] == {"contact_id": contact.id, "channel": "coordinator"}
    assert out.payload["id"] == out.uid and out.payload["type"] == "contact.opted_out"
    no_personal_data(out, contact)
    opt_in_contact(contact, consent_confirmed=True, now=NOW + timedelta(minutes=1))
    (back,) = deliveries("contact.opted_in")
    assert back.payload["data"]["contact_id"] == contact.id
    assert len(deliveries()) == 2


def test_stop_and_start_by_sms(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url, ["contact.opted_out", "contact.opted_in"])
    contact = make_contact(org)
    sms(contact, "BAJA")
    sms(contact, "BAJA", now=NOW + timedelta(minutes=1))  # already out: no second event
    sms(contact, "ALTA", now=NOW + timedelta(minutes=2))
    assert [d.event_type for d in deliveries()] == ["contact.opted_out", "contact.opted_in"]
    assert deliveries()[0].payload["data"]["channel"] == "sms"


def test_rolled_back_event_leaves_no_delivery(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url)
    contact = make_contact(org)
    assert mark_opted_out(contact, channel="coordinator", now=NOW)
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    db.session.rollback()
    assert deliveries() == []
    assert db.session.get(type(contact), contact.id).opted_out_at is None


def test_only_subscribed_enabled_endpoints_of_the_organization(
    app, make_org, make_endpoint, receiver
):
    org, other = make_org(), make_org()
    subscribed = make_endpoint(org, receiver.url, ["contact.opted_out"])
    make_endpoint(org, receiver.url, ["case.opened"])  # another event
    make_endpoint(other, receiver.url)  # another organization
    disabled = make_endpoint(org, receiver.url, ["contact.opted_out"])
    disabled.enabled = False
    db.session.commit()
    opt_out_contact(make_contact(org), now=NOW)
    assert [d.endpoint_id for d in deliveries()] == [subscribed.id]


def test_the_same_event_twice_is_one_delivery(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url)
    for _ in range(2):
        emit("case.opened", organization_id=org.id, key="7", occurred_at=NOW, data={})
        db.session.commit()
    assert len(deliveries()) == 1


def test_workshop_registration_changes(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url, ["workshop.registration.changed"])
    workshop = make_workshop(org, starts_at=NOW + timedelta(days=3), capacity=1)
    first, second = make_contact(org, first_name="Ana"), make_contact(org)
    outcome, registration = rsvp.accept(workshop.id, first, org, now=NOW)
    db.session.commit()
    assert outcome == "confirmed"
    rsvp.accept(workshop.id, second, org, now=NOW + timedelta(minutes=1))  # waitlisted
    db.session.commit()
    rsvp.decline(workshop.id, first, org, now=NOW + timedelta(minutes=2))  # promotes second
    db.session.commit()
    got = [
        (d.payload["data"]["contact_id"], d.payload["data"]["status"], d.payload["data"]["reason"])
        for d in deliveries()
    ]
    assert got == [
        (first.id, "confirmed", "rsvp"),
        (second.id, "waitlisted", "rsvp"),
        (first.id, "canceled", "canceled"),
        (second.id, "confirmed", "promoted"),
    ]
    data = deliveries()[0].payload["data"]
    assert data["registration_id"] == registration.id and data["workshop_id"] == workshop.id
    no_personal_data(deliveries()[0], first)


def test_workshop_invitation_is_one_invited_event_per_new_registration(
    app, make_org, make_endpoint, receiver
):
    from datetime import time

    from app.organizations.events import wanted
    from app.workshops.services import invite_audience

    org = make_org()
    workshop = make_workshop(org, starts_at=NOW + timedelta(days=3))
    message = make_message(workshop.campaign, body_es="Ven a {workshop_title}")
    contacts = [make_contact(org) for _ in range(2)]
    assert not wanted(org.id, "workshop.registration.changed")  # nobody listens yet
    make_endpoint(org, receiver.url, ["workshop.registration.changed"])
    assert wanted(org.id, "workshop.registration.changed") and not wanted(org.id, "case.opened")

    def invite(now):
        return invite_audience(
            workshop,
            message=message,
            audience=make_audience(org, {}),
            local_date=(NOW + timedelta(days=1)).date(),
            local_time=time(17, 0),
            user_id=None,
            now=now,
        )

    invite(NOW)
    got = sorted(
        (d.payload["data"]["contact_id"], d.payload["data"]["status"], d.payload["data"]["reason"])
        for d in deliveries()
    )
    assert got == sorted((c.id, "invited", "invitation") for c in contacts)
    assert all(d.payload["data"]["registration_id"] for d in deliveries())
    invite(NOW + timedelta(hours=1))  # invited again: the registrations stay, no new event
    assert len(deliveries()) == 2
    no_personal_data(deliveries()[0], contacts[0])


def test_urgent_case_opened_once(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url, ["case.opened"])
    contact = make_contact(org, first_name="Ana")
    sms(contact, CRISIS)
    sms(contact, CRISIS, now=NOW + timedelta(minutes=1))  # joins the same case
    (opened,) = deliveries()
    assert opened.payload["data"]["priority"] == "urgent"
    assert set(opened.payload["data"]) == {
        "case_id",
        "contact_id",
        "campaign_id",
        "intent",
        "priority",
    }
    assert "pastilla" not in json.dumps(opened.payload, ensure_ascii=False)
    no_personal_data(opened, contact)


def test_survey_completed(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url, ["survey.completed"])
    contact = make_contact(org, first_name="Ana")
    survey = make_survey(
        org, [dict(qtype="yesno", text_es="¿Sabes dónde pedir ayuda?", text_en="Help?")]
    )
    make_survey_run(survey, audience_id=make_audience(org).id, starts_at=NOW)
    assert fan_out_due_runs(now=NOW) == 1
    assert deliveries() == []
    db.session.execute(  # the worker sent the question
        update(OutboxMessage)
        .where(OutboxMessage.purpose == "survey")
        .values(status="sent", sent_at=NOW, prepared_at=NOW, send_started_at=NOW)
    )
    db.session.commit()
    sms(contact, "SI", now=NOW + timedelta(minutes=1))
    (done,) = deliveries()
    assert done.payload["data"]["survey_id"] == survey.id
    assert done.payload["data"]["contact_id"] == contact.id
    no_personal_data(done, contact)


def test_send_completed_once_when_nothing_is_left_to_go(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url, ["send.completed"])
    message = make_message(make_campaign(org))
    send, rows = make_outbox(message, ["delivered", "scheduled", "skipped"])
    send.fanned_out_at = NOW
    db.session.commit()
    assert note_completed_sends(now=NOW) == 0  # one still scheduled
    rows[1].status = "sent"
    db.session.commit()
    assert note_completed_sends(now=NOW + timedelta(minutes=1)) == 1
    assert note_completed_sends(now=NOW + timedelta(minutes=2)) == 0
    (done,) = deliveries()
    assert done.payload["data"]["send_id"] == send.id
    assert done.payload["data"]["messages"] == 3
    assert done.payload["data"]["statuses"] == {"delivered": 1, "sent": 1, "skipped": 1}


def test_bulk_opt_out_one_delivery_per_contact_it_changed(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url, ["contact.opted_out"])
    contacts = [make_contact(org) for _ in range(3)]
    opt_out_contact(contacts[0], now=NOW - timedelta(days=1))  # already out: kept as is
    result = bulk.opt_out(
        bulk.Selection(org_id=org.id, ids=tuple(c.id for c in contacts)),
        reason=OPT_OUT_REASONS[0],
        today=NOW.date(),
        now=NOW,
        user_id=None,
    )
    assert result.opted_out == 2
    rows = deliveries()
    assert len(rows) == 3
    assert sorted(d.payload["data"]["contact_id"] for d in rows[1:]) == [
        contacts[1].id,
        contacts[2].id,
    ]
