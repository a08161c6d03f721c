"""Inbound SMS: keywords in both languages act at once; everything else reaches the inbox."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from tests.factories import make_contact, make_outbox_row
from tests.support import utc

NOW = utc(2026, 12, 2, 1, 0)
OPT_OUT_WORDS = [
    "STOP",
    "stop",
    "StopAll",
    "UNSUBSCRIBE",
    "cancel",
    "END",
    "quit",
    "REVOKE",
    "optout",
    "Baja",
    "baja.",
    " ALTO ",
    "Cancelar",
    "parar",
    "DETENER",
    "No más",
    "NO MAS",
    "no mas",
]
_sid = iter(range(1, 100_000))


def sms(contact, body, *, provider_answers_keywords=False, now=NOW):
    return receive_sms(
        sid=f"SM{next(_sid):032d}",
        from_number=contact.phone,
        body=body,
        now=now,
        provider_answers_keywords=provider_answers_keywords,
    )


def replies(contact):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage.body).where(
            OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "system"
        )
    ).all()


def pending(contact):
    return OutboxMessage(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        language="es",
        body="Campaña",
        due_at=NOW + timedelta(days=1),
    )


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
def test_opt_out_keywords_in_both_languages(app, make_org, word):
    contact = make_contact(make_org())
    db.session.add(pending(contact))
    db.session.commit()
    assert sms(contact, word) == "opted_out"
    db.session.refresh(contact)
    assert contact.opted_out_at == NOW and contact.opt_out_channel == "sms"
    assert (
        db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.purpose == "campaign"))
        == "canceled"
    )
    assert len(replies(contact)) == 1  # exactly one confirmation
    assert sms(contact, word) == "opted_out" and len(replies(contact)) == 1


def test_confirmation_in_the_contacts_language(app, make_org):
    org = make_org(name="Jóvenes Libres")
    es = make_contact(org, language="es")
    en = make_contact(org, language="en")
    sms(es, "BAJA")
    sms(en, "STOP")
    assert "Jóvenes Libres" in replies(es)[0] and "ALTA" in replies(es)[0]
    assert replies(en)[0].startswith("Jóvenes Libres: you will not receive")


def test_no_second_confirmation_when_twilio_already_answered(app, make_org):
    contact = make_contact(make_org())
    sms(contact, "STOP", provider_answers_keywords=True)
    assert replies(contact) == []
    other = make_contact(make_org())
    sms(other, "BAJA", provider_answers_keywords=True)  # Spanish: Twilio does not answer it
    assert len(replies(other)) == 1


@pytest.mark.parametrize("word", ["START", "unstop", "Alta", "ALTA"])
def test_opt_in_restores_exactly_where_it_was(app, make_org, word):
    contact = make_contact(make_org())
    future, past = pending(contact), pending(contact)
    past.due_at = NOW + timedelta(minutes=30)
    db.session.add_all([future, past])
    db.session.commit()
    sms(contact, "BAJA")
    assert sms(contact, word, now=NOW + timedelta(hours=1)) == "opted_in"
    db.session.refresh(contact)
    assert contact.opted_out_at is None
    db.session.refresh(future)
    db.session.refresh(past)
    assert future.status == "scheduled" and past.status == "canceled"
    kinds = db.session.scalars(
        select(ParticipationEvent.kind).order_by(ParticipationEvent.id)
    ).all()
    assert kinds == ["opt_out", "opt_in"]


def test_yes_from_an_opted_out_contact_mirrors_twilio_opt_in(app, make_org):
    contact = make_contact(make_org())
    sms(contact, "STOP")
    sms(contact, "YES")
    db.session.refresh(contact)
    assert contact.opted_out_at is None


@pytest.mark.parametrize(
    "word, language, expected",
    [
        ("AYUDA", "es", "Línea de la Vida 800 911 2000"),
        ("help", "en", "988"),
        ("Info", "en", "Msg & data rates may apply"),
    ],
)
def test_help_reply(app, make_org, word, language, expected):
    org = make_org(country="US" if language == "en" else "MX")
    org.contact_line = "664 555 0100"
    db.session.commit()
    contact = make_contact(
        org,
        language=language,
        country=org.country,
        phone="+16195550123" if language == "en" else "+526645550999",
        state_code="CA" if language == "en" else "02",
    )
    assert sms(contact, word) == "help"
    (reply,) = replies(contact)
    assert expected in reply and "664 555 0100" in reply
    assert ("STOP" in reply) or ("BAJA" in reply)


def test_stop_request_is_flagged_not_opted_out(app, make_org):
    contact = make_contact(make_org())
    assert sms(contact, "ya no me manden mensajes por favor") == "flagged"
    db.session.refresh(contact)
    assert contact.opted_out_at is None
    assert db.session.scalar(select(InboundMessage.needs_review)) is True


def test_other_replies_are_stored_once(app, make_org):
    contact = make_contact(make_org())
    sid = "SM" + "f" * 32
    assert (
        receive_sms(sid=sid, from_number=contact.phone, body="¿A qué hora es?", now=NOW) == "stored"
    )
    assert (
        receive_sms(sid=sid, from_number=contact.phone, body="¿A qué hora es?", now=NOW)
        == "duplicate"
    )
    assert db.session.query(InboundMessage).count() == 1
    assert db.session.scalar(select(ParticipationEvent.kind)) == "reply"


def test_unknown_sender_creates_nothing(app, make_org):
    make_contact(make_org())
    for number in ("+526640000001", "not a number", ""):
        assert receive_sms(sid="SM" + "a" * 32, from_number=number, body="STOP", now=NOW) == (
            "unknown_sender"
        )
    assert db.session.query(InboundMessage).count() == 0
    assert db.session.query(OutboxMessage).count() == 0


def test_old_mexican_mobile_form_is_recognized(app, make_org):
    make_contact(make_org(), phone="+526641234567")
    assert (
        receive_sms(sid="SM" + "b" * 32, from_number="+5216641234567", body="BAJA", now=NOW)
        == "opted_out"
    )


# -- several organizations, one phone (issue 12) ----------------------------------------------
PHONE = "+526645557777"
SHARED = "+15005550006"  # the installation's default sender (no organization owns it)
OWN_NUMBER = "+526645550100"
OWN_SERVICE = "MG" + "ab12" * 8


def to_sender(body, *, to=SHARED, service=None, phone=PHONE, now=NOW):
    return receive_sms(
        sid=f"SM{next(_sid):032d}",
        from_number=phone,
        body=body,
        now=now,
        to_number=to,
        messaging_service_sid=service,
    )


def sent_to(contact, *, at):
    """The organization has messaged this contact (it knows the phone from a real SMS)."""
    make_outbox_row(
        contact,
        language=contact.language,
        due_at=at,
        status="sent",
        send_started_at=at,
        sent_at=at,
        twilio_sid=f"SM{next(_sid):032d}",
    )


def with_sender(org, sender):
    org.sms_sender = sender
    db.session.commit()
    return org


def state(contact):
    db.session.expire_all()
    pending_statuses = db.session.scalars(
        select(OutboxMessage.status).where(
            OutboxMessage.contact_id == contact.id,
            OutboxMessage.purpose == "campaign",
            OutboxMessage.sent_at.is_(None),
        )
    ).all()
    opt_outs = db.session.scalars(
        select(ParticipationEvent.organization_id).where(
            ParticipationEvent.contact_id == contact.id, ParticipationEvent.kind == "opt_out"
        )
    ).all()
    return db.session.get(type(contact), contact.id).opted_out_at, pending_statuses, opt_outs


def test_baja_to_a_shared_sender_opts_out_every_organization_sharing_it(app, make_org):
    """The young person said stop to the number, not to the organization that wrote last."""
    first, last = make_org(name="Jóvenes Libres"), make_org(name="Frontera Sana")
    a, b = make_contact(first, phone=PHONE), make_contact(last, phone=PHONE)
    sent_to(a, at=NOW - timedelta(days=3))
    sent_to(b, at=NOW - timedelta(days=1))  # b's organization messaged last
    db.session.add_all([pending(a), pending(b)])
    db.session.commit()

    assert to_sender("BAJA") == "opted_out"

    assert state(a) == (NOW, ["canceled"], [first.id])  # each organization records it
    assert state(b) == (NOW, ["canceled"], [last.id])
    # One confirmation (one SMS from one number), naming both organizations.
    confirmations = replies(a) + replies(b)
    assert len(confirmations) == 1
    assert "Frontera Sana" in confirmations[0] and "Jóvenes Libres" in confirmations[0]
    assert db.session.query(InboundMessage).count() == 1
    # Again: nothing new anywhere.
    assert to_sender("BAJA") == "opted_out" and len(replies(a) + replies(b)) == 1


def test_stop_to_an_organizations_own_number_opts_out_only_that_organization(app, make_org):
    owner = with_sender(make_org(), OWN_NUMBER)
    other = make_org()
    mine, theirs = make_contact(owner, phone=PHONE), make_contact(other, phone=PHONE)
    sent_to(mine, at=NOW - timedelta(days=5))
    sent_to(theirs, at=NOW - timedelta(days=1))  # the other one wrote last, from the shared sender
    db.session.add_all([pending(mine), pending(theirs)])
    db.session.commit()

    assert to_sender("STOP", to=OWN_NUMBER) == "opted_out"

    assert state(mine) == (NOW, ["canceled"], [owner.id])
    assert state(theirs) == (None, ["scheduled"], [])
    stored = db.session.scalar(select(InboundMessage))
    assert stored.organization_id == owner.id and stored.contact_id == mine.id


def test_a_messaging_service_sid_identifies_its_organization(app, make_org):
    owner = with_sender(make_org(), OWN_SERVICE)
    other = make_org()
    mine, theirs = make_contact(owner, phone=PHONE), make_contact(other, phone=PHONE)
    sent_to(theirs, at=NOW - timedelta(days=1))
    # Sent to one of the service's pool numbers: Twilio adds the service's SID.
    assert to_sender("Baja", to="+526645550199", service=OWN_SERVICE) == "opted_out"
    assert state(mine)[0] == NOW and state(theirs)[0] is None


def test_a_shared_sender_opt_out_leaves_organizations_with_their_own_sender(app, make_org):
    own = with_sender(make_org(), OWN_NUMBER)
    shared_one, shared_two = make_org(), make_org()
    mine = make_contact(own, phone=PHONE)
    one, two = make_contact(shared_one, phone=PHONE), make_contact(shared_two, phone=PHONE)
    sent_to(mine, at=NOW - timedelta(hours=1))  # messaged last, but from its own number
    sent_to(one, at=NOW - timedelta(days=2))

    assert to_sender("alto") == "opted_out"
    assert state(mine)[0] is None
    assert state(one)[0] == NOW and state(two)[0] == NOW  # two never messaged: still opted out


def test_an_unowned_number_nobody_shares_falls_back_to_the_contact_we_messaged(app, make_org):
    """A STOP to a number that is no organization's own (e.g. the sender an organization
    used before it got its own) is never lost: it reaches the contact we last messaged."""
    owner = with_sender(make_org(), OWN_NUMBER)
    mine = make_contact(owner, phone=PHONE)
    sent_to(mine, at=NOW - timedelta(days=1))
    assert to_sender("STOP") == "opted_out"
    assert state(mine)[0] == NOW


def test_start_to_a_shared_sender_restores_every_organization_it_opted_out(app, make_org):
    first, second = make_org(), make_org()
    a, b = make_contact(first, phone=PHONE), make_contact(second, phone=PHONE)
    sent_to(a, at=NOW - timedelta(days=1))
    by_coordinator = make_contact(
        make_org(),
        phone=PHONE,
        opted_out_at=NOW - timedelta(days=30),
        opt_out_channel="coordinator",
    )
    db.session.add_all([pending(a), pending(b)])
    db.session.commit()
    to_sender("BAJA")
    assert to_sender("ALTA", now=NOW + timedelta(hours=1)) == "opted_in"
    assert state(a)[:2] == (None, ["scheduled"]) and state(b)[:2] == (None, ["scheduled"])
    # An opt-out recorded by a coordinator (not said to this number) is not undone.
    assert state(by_coordinator)[0] == NOW - timedelta(days=30)


def test_help_to_a_shared_sender_answers_for_each_organization_that_messages_the_phone(
    app, make_org
):
    first, second = make_org(name="Jóvenes Libres"), make_org(name="Frontera Sana")
    silent = make_org(name="Nunca Escribió")
    first.contact_line, second.contact_line = "664 555 0101", "664 555 0202"
    db.session.commit()
    a, b = make_contact(first, phone=PHONE), make_contact(second, phone=PHONE, language="en")
    never = make_contact(silent, phone=PHONE)
    sent_to(a, at=NOW - timedelta(days=2))
    sent_to(b, at=NOW - timedelta(days=1))

    assert to_sender("AYUDA") == "help"

    (for_a,), (for_b,) = replies(a), replies(b)
    assert "Jóvenes Libres" in for_a and "664 555 0101" in for_a
    assert "Frontera Sana" in for_b and "664 555 0202" in for_b and "Reply STOP" in for_b
    assert replies(never) == []  # it never wrote to this phone: it has nothing to answer


def test_other_replies_to_a_shared_sender_go_to_the_organization_that_wrote_last(app, make_org):
    first, last = make_org(), make_org()
    a, b = make_contact(first, phone=PHONE), make_contact(last, phone=PHONE)
    sent_to(a, at=NOW - timedelta(days=3))
    sent_to(b, at=NOW - timedelta(days=1))
    assert to_sender("¿Dónde es el taller?") == "stored"
    stored = db.session.scalar(select(InboundMessage))
    assert (stored.organization_id, stored.contact_id) == (last.id, b.id)
    assert state(a)[0] is None and state(b)[0] is None


def test_rows_already_claimed_in_both_organizations_are_not_sent_after_baja(app, make_org):
    """STOP cancels what is scheduled; what a worker already claimed is caught by the
    send-time check, in every organization that shares the sender."""
    from app.outbox.dispatch import claim_due
    from app.outbox.preparing import prepare_batch
    from tests.outreach.helpers import schedule_once

    orgs = [make_org(), make_org()]
    contacts = [make_contact(org, phone=PHONE) for org in orgs]
    for org in orgs:
        schedule_once(org, now=NOW - timedelta(days=1))
    due = NOW + timedelta(days=5)
    ids = claim_due("w1", now=due, limit=10, lease=timedelta(minutes=2))
    assert len(ids) == 2

    assert to_sender("BAJA") == "opted_out"

    assert prepare_batch(ids, worker_id="w1", now=due) == []
    for contact in contacts:
        assert state(contact)[0] == NOW
