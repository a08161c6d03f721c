"""Inbound SMS: keywords in both languages act at once; everything else reaches the inbox."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outreach.inbound import receive_sms
from app.outreach.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from tests.factories import make_contact
from tests.outreach.helpers import utc

NOW = utc(2026, 12, 2, 1, 0)
OPT_OUT_WORDS = ["STOP", "stop", "StopAll", "UNSUBSCRIBE", "cancel", "END", "quit", "REVOKE",
                 "optout", "Baja", "baja.", " ALTO ", "Cancelar", "parar", "DETENER", "No más",
                 "NO MAS", "no mas"]
_sid = iter(range(1, 100_000))


def sms(contact, body, *, provider_answers_keywords=False, now=NOW):
    return receive_sms(sid=f"SM{next(_sid):032d}", from_number=contact.phone, body=body, now=now,
                       provider_answers_keywords=provider_answers_keywords)


def replies(contact):
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage.body).where(
        OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "system")).all()


def pending(contact):
    return OutboxMessage(organization_id=contact.organization_id, contact_id=contact.id,
                         language="es", body="Campaña", due_at=NOW + timedelta(days=1))


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
def test_opt_out_keywords_in_both_languages(app, make_org, word):
    contact = make_contact(make_org())
    db.session.add(pending(contact))
    db.session.commit()
    assert sms(contact, word) == "opted_out"
    db.session.refresh(contact)
    assert contact.opted_out_at == NOW and contact.opt_out_channel == "sms"
    assert db.session.scalar(select(OutboxMessage.status).where(
        OutboxMessage.purpose == "campaign")) == "canceled"
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
    kinds = db.session.scalars(select(ParticipationEvent.kind).order_by(ParticipationEvent.id)).all()
    assert kinds == ["opt_out", "opt_in"]


def test_yes_from_an_opted_out_contact_mirrors_twilio_opt_in(app, make_org):
    contact = make_contact(make_org())
    sms(contact, "STOP")
    sms(contact, "YES")
    db.session.refresh(contact)
    assert contact.opted_out_at is None


@pytest.mark.parametrize("word, language, expected", [
    ("AYUDA", "es", "Línea de la Vida 800 911 2000"),
    ("help", "en", "988"),
    ("Info", "en", "Msg & data rates may apply"),
])
def test_help_reply(app, make_org, word, language, expected):
    org = make_org(country="US" if language == "en" else "MX")
    org.contact_line = "664 555 0100"
    db.session.commit()
    contact = make_contact(org, language=language, country=org.country,
                           phone="+16195550123" if language == "en" else "+526645550999",
                           state_code="CA" if language == "en" else "02")
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
    assert receive_sms(sid=sid, from_number=contact.phone, body="¿A qué hora es?", now=NOW) == "stored"
    assert receive_sms(sid=sid, from_number=contact.phone, body="¿A qué hora es?", now=NOW) == "duplicate"
    assert db.session.query(InboundMessage).count() == 1
    assert db.session.scalar(select(ParticipationEvent.kind)) == "reply"


def test_unknown_sender_creates_nothing(app, make_org):
    make_contact(make_org())
    for number in ("+526640000001", "not a number", ""):
        assert receive_sms(sid="SM" + "a" * 32, from_number=number, body="STOP", now=NOW) == (
            "unknown_sender")
    assert db.session.query(InboundMessage).count() == 0
    assert db.session.query(OutboxMessage).count() == 0


def test_old_mexican_mobile_form_is_recognized(app, make_org):
    contact = make_contact(make_org(), phone="+526641234567")
    assert receive_sms(sid="SM" + "b" * 32, from_number="+5216641234567", body="BAJA",
                       now=NOW) == "opted_out"
