"""Erasure (ARCO cancellation) and retention leave no message text behind: the bodies of
SMS sent to and received from the contact are blanked, pending messages never go out,
and the inbox shows "(erased)"; statuses, times and intents stay for the counts."""

from datetime import timedelta

from sqlalchemy import select

from app.contacts import services
from app.contacts.retention import purge_inactive_contacts
from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.outbox.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from app.participation.services import record_event
from tests.factories import make_campaign, make_contact
from tests.outreach.helpers import make_worker
from tests.support import NOW, TODAY, Clock, csrf_token_from

OTHER_CELL = "6641239876"


def exchange(contact, campaign, *, at=NOW - timedelta(days=2)):
    """Three messages out (delivered, failed with the number in Twilio's error text, and
    one still scheduled), one held, a pending system reply, and two replies in."""
    name = contact.first_name
    common = dict(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        campaign_id=campaign.id,
        language="es",
    )
    out = [
        OutboxMessage(
            **common,
            body=f"Hola {name}, el taller es el sábado",
            due_at=at,
            status="delivered",
            sent_at=at,
            final_at=at,
            segments=1,
            twilio_sid=f"SM{contact.id:032d}",
        ),
        OutboxMessage(
            **common,
            body=f"Hola {name}, ¿vienes?",
            due_at=at,
            status="failed",
            sent_at=at,
            final_at=at,
            error_code="21211",
            error_message=f"The 'To' number {contact.phone} is not valid.",
        ),
        OutboxMessage(
            **common,
            body=f"Hola {name}, recordatorio",
            status="scheduled",
            due_at=NOW + timedelta(hours=1),
        ),
        OutboxMessage(
            **common, body=f"Hola {name}, en pausa", status="held", due_at=NOW + timedelta(hours=2)
        ),
        OutboxMessage(
            **dict(common, campaign_id=None),
            purpose="system",
            body=f"{name}: te diste de alta",
            status="scheduled",
            due_at=NOW,
        ),
    ]
    inbound = [
        InboundMessage(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            campaign_id=campaign.id,
            twilio_sid=f"SMin{contact.id}{n:028d}",
            body=body,
            intent=intent,
            received_at=at + timedelta(minutes=n),
        )
        for n, (body, intent) in enumerate(
            [(f"Soy {name}, mi otro cel es {OTHER_CELL}", "other"), ("BAJA", "opt_out")]
        )
    ]
    db.session.add_all(out + inbound)
    db.session.flush()
    record_event(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        kind="sms_delivered",
        channel="sms",
        occurred_at=at,
        campaign_id=campaign.id,
        outbox_id=out[0].id,
    )
    db.session.commit()


def texts_of(contact_id) -> list[str]:
    db.session.expire_all()
    out = db.session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.contact_id == contact_id)
    ).all()
    inbound = db.session.scalars(
        select(InboundMessage.body).where(InboundMessage.contact_id == contact_id)
    ).all()
    return out + inbound


def test_erasure_blanks_messages_in_and_out_and_keeps_what_counts(app, make_org):
    org = make_org()
    campaign = make_campaign(org)
    rel7 = make_contact(org, first_name="Rel7")
    other = make_contact(org, first_name="Otra")
    exchange(rel7, campaign)
    exchange(other, campaign)
    rel7_id = rel7.id

    services.erase_contact(rel7, today=TODAY, now=NOW)

    assert set(texts_of(rel7_id)) == {""}
    rows = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.contact_id == rel7_id).order_by(OutboxMessage.id)
    ).all()
    assert [(r.status, r.skip_reason) for r in rows] == [
        ("delivered", None),
        ("failed", None),
        ("canceled", "erased"),
        ("canceled", "erased"),
        ("canceled", "erased"),
    ]
    assert all(r.error_message is None for r in rows)
    assert (rows[0].segments, rows[0].sent_at, rows[1].error_code) == (
        1,
        NOW - timedelta(days=2),
        "21211",
    )
    assert all(r.final_at == NOW for r in rows[2:])
    intents = db.session.scalars(
        select(InboundMessage.intent)
        .where(InboundMessage.contact_id == rel7_id)
        .order_by(InboundMessage.id)
    ).all()
    assert intents == ["other", "opt_out"]
    assert (
        db.session.scalar(
            select(ParticipationEvent.kind).where(ParticipationEvent.contact_id == rel7_id)
        )
        == "sms_delivered"
    )
    # Nobody else's messages change.
    assert "" not in texts_of(other.id) and len(texts_of(other.id)) == 7
    assert (
        db.session.scalar(
            select(OutboxMessage.status).where(
                OutboxMessage.contact_id == other.id, OutboxMessage.purpose == "system"
            )
        )
        == "scheduled"
    )


def test_pending_messages_of_an_erased_contact_are_never_sent(app, make_org):
    org = make_org()
    campaign = make_campaign(org)
    contact = make_contact(org, first_name="Rel7")
    exchange(contact, campaign, at=NOW - timedelta(days=1))
    services.erase_contact(contact, today=TODAY, now=NOW)
    clock = Clock(NOW + timedelta(days=1))
    gateway = FakeSmsGateway(clock=clock)
    worker = make_worker(app, clock, gateway)
    worker.run(once=True)
    worker.close()
    assert gateway.sent == []


def test_retention_blanks_the_messages_of_purged_contacts(app, make_org):
    org = make_org()
    campaign = make_campaign(org)
    old = NOW - timedelta(days=500)
    stale = make_contact(org, first_name="Rel7", created_at=old, updated_at=old)
    db.session.add_all(
        [
            OutboxMessage(
                organization_id=org.id,
                contact_id=stale.id,
                campaign_id=campaign.id,
                language="es",
                body="Hola Rel7",
                due_at=old,
                status="delivered",
                sent_at=old,
                final_at=old,
            ),
            InboundMessage(
                organization_id=org.id,
                contact_id=stale.id,
                campaign_id=campaign.id,
                twilio_sid="SM" + "7" * 32,
                body=f"Soy Rel7, mi otro cel es {OTHER_CELL}",
                intent="other",
                received_at=old,
            ),
        ]
    )
    db.session.commit()
    kept = make_contact(org, first_name="Activa")
    db.session.add(
        InboundMessage(
            organization_id=org.id,
            contact_id=kept.id,
            twilio_sid="SM" + "8" * 32,
            body="Hola",
            intent="other",
            received_at=NOW - timedelta(days=1),
        )
    )
    db.session.commit()
    stale_id, kept_id = stale.id, kept.id

    assert purge_inactive_contacts(months=12, now=NOW) == 1
    assert texts_of(stale_id) == ["", ""]
    assert (
        db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.contact_id == stale_id))
        == "delivered"
    )
    assert texts_of(kept_id) == ["Hola"]


def test_inbox_shows_erased_for_the_replies_of_an_erased_contact(
    app, client, login, make_org, make_user
):
    org = make_org()
    user = make_user(org, role="coordinator", language="en")
    campaign = make_campaign(org)
    contact = make_contact(org, first_name="Rel7")
    exchange(contact, campaign)
    login(user)
    url = f"/campaigns/{campaign.id}/inbox"
    assert f"mi otro cel es {OTHER_CELL}" in client.get(url).get_data(as_text=True)

    page = client.get(f"/contacts/{contact.id}/erase")
    assert (
        client.post(
            f"/contacts/{contact.id}/erase",
            data={"csrf_token": csrf_token_from(page), "confirm": "y"},
        ).status_code
        == 302
    )

    html = client.get(url).get_data(as_text=True)
    assert OTHER_CELL not in html and "Rel7" not in html
    assert html.count("(erased)") >= 4  # the contact and the message, on both rows
    es = client.get(url + "?lang=es").get_data(as_text=True)
    assert es.count("(eliminado)") >= 4
