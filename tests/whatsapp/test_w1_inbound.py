"""WhatsApp replies (issue 19): the same receive path as SMS, with "whatsapp:" addresses,
the 24-hour window, the organization's WhatsApp number, quick-reply buttons, the WhatsApp
opt-in keyword and the organization's opt-out scope."""

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select, update

from app.contacts.channels import channel_for, window_open
from app.contacts.models import Contact
from app.extensions import db
from app.outbox import keywords, spool
from app.outbox.inbound import button_text, receive_sms, split_address
from app.outbox.models import InboundMessage, OutboxMessage
from app.surveys.models import SurveyAnswer
from app.surveys.services import fan_out_due_runs
from app.workshops.models import WorkshopRegistration
from tests.factories import (
    make_audience,
    make_contact,
    make_registration,
    make_survey,
    make_survey_run,
    make_workshop,
)
from tests.support import NOW
from tests.webhooks.signing import INBOUND_URL, TOKEN, inbound_params, post

_sids = count(1)
WA_NUMBER_A = "+526645550100"
WA_NUMBER_B = "+526645550200"


def whatsapp(contact_or_phone, body, *, to=None, now=NOW, payload=None, service=None) -> str:
    phone = getattr(contact_or_phone, "phone", contact_or_phone)
    return receive_sms(
        sid=f"SMwa{next(_sids):028d}",
        from_number=f"whatsapp:{phone}",
        to_number=f"whatsapp:{to}" if to else None,
        messaging_service_sid=service,
        body=body,
        now=now,
        button_payload=payload,
    )


def sms(contact, body, *, now=NOW) -> str:
    return receive_sms(
        sid=f"SMsms{next(_sids):027d}", from_number=contact.phone, body=body, now=now
    )


def mexican_1(phone: str) -> str:
    """+52664… as Mexican WhatsApp numbers often arrive: +521664…"""
    return "+521" + phone[3:]


def inbound_of(contact) -> list[InboundMessage]:
    db.session.expire_all()
    return db.session.scalars(
        select(InboundMessage)
        .where(InboundMessage.contact_id == contact.id)
        .order_by(InboundMessage.id)
    ).all()


def system_rows(contact) -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "system")
        .order_by(OutboxMessage.id)
    ).all()


def fresh(contact) -> Contact:
    db.session.expire_all()
    return db.session.get(Contact, contact.id)


@pytest.fixture
def org(make_org):
    return make_org()


# --- addresses -------------------------------------------------------------------------------


def test_split_address():
    assert split_address("whatsapp:+5216641234567") == ("whatsapp", "+5216641234567")
    assert split_address("WhatsApp:+526641234567") == ("whatsapp", "+526641234567")
    assert split_address("+526641234567") == ("sms", "+526641234567")
    assert split_address(None) == ("sms", "")


def test_whatsapp_plus_521_is_the_contact_at_plus_52(app, org):
    contact = make_contact(org)
    assert contact.phone.startswith("+52664")
    assert whatsapp(mexican_1(contact.phone), "hola") == "stored"
    [message] = inbound_of(contact)
    assert message.channel == "whatsapp" and message.body == "hola"


def test_sms_replies_stay_sms(app, org):
    contact = make_contact(org)
    sms(contact, "hola")
    [message] = inbound_of(contact)
    assert message.channel == "sms"
    assert fresh(contact).last_whatsapp_in_at is None


# --- the 24-hour window ----------------------------------------------------------------------


def test_a_whatsapp_message_opens_the_window(app, org):
    contact = make_contact(org, whatsapp_unreachable_at=NOW - timedelta(days=2))
    whatsapp(contact, "hola")
    contact = fresh(contact)
    assert contact.last_whatsapp_in_at == NOW
    assert contact.whatsapp_unreachable_at is None  # it wrote from WhatsApp: it is on it
    assert window_open(contact, now=NOW + timedelta(hours=23, minutes=59))
    assert not window_open(contact, now=NOW + timedelta(hours=24, minutes=1))


def test_an_older_replayed_message_never_moves_the_window_back(app, org):
    contact = make_contact(org)
    whatsapp(contact, "segundo", now=NOW)
    whatsapp(contact, "primero", now=NOW - timedelta(hours=3))  # replayed from the spool
    assert fresh(contact).last_whatsapp_in_at == NOW


# --- routing and tenancy ---------------------------------------------------------------------


def test_a_message_to_an_organizations_whatsapp_number_reaches_only_its_contact(app, make_org):
    org_a = make_org()
    org_b = make_org()
    org_a.whatsapp_sender, org_b.whatsapp_sender = WA_NUMBER_A, WA_NUMBER_B
    db.session.commit()
    a = make_contact(org_a, 7001)
    b = make_contact(org_b, 7001)  # same phone in another organization
    assert a.phone == b.phone
    # B's contact got the last message: without routing by number, it would take the reply.
    db.session.add(
        OutboxMessage(
            organization_id=org_b.id,
            contact_id=b.id,
            purpose="campaign",
            language="es",
            body="x",
            due_at=NOW - timedelta(hours=1),
            sent_at=NOW - timedelta(hours=1),
            status="sent",
        )
    )
    db.session.commit()
    assert whatsapp(mexican_1(a.phone), "BAJA", to=WA_NUMBER_A) == "opted_out"
    assert fresh(a).opted_out_at == NOW
    assert fresh(b).opted_out_at is None
    assert fresh(b).last_whatsapp_in_at is None
    assert [m.channel for m in inbound_of(a)] == ["whatsapp"] and inbound_of(b) == []


def test_a_message_to_an_organizations_number_never_falls_back_to_another_organization(
    app, make_org
):
    org_a = make_org()
    org_b = make_org()
    org_a.whatsapp_sender = WA_NUMBER_A
    db.session.commit()
    b = make_contact(org_b, 7002)  # only B knows this phone
    assert whatsapp(b.phone, "hola", to=WA_NUMBER_A) == "unknown_sender"
    assert inbound_of(b) == []


def test_the_whatsapp_number_is_matched_with_mexicos_old_mobile_one(app, make_org):
    org_a = make_org()
    org_a.whatsapp_sender = WA_NUMBER_A
    db.session.commit()
    a = make_contact(org_a, 7003)
    assert whatsapp(a.phone, "hola", to=mexican_1(WA_NUMBER_A)) == "stored"
    assert inbound_of(a)[0].organization_id == org_a.id


def test_a_message_through_an_organizations_messaging_service(app, make_org):
    org_a = make_org()
    org_b = make_org()
    org_a.sms_sender = "MG" + "a" * 32
    db.session.commit()
    a = make_contact(org_a, 7004)
    b = make_contact(org_b, 7004)
    whatsapp(a.phone, "BAJA", to="+15005550006", service="MG" + "a" * 32)
    assert fresh(a).opted_out_at is not None and fresh(b).opted_out_at is None


# --- replies go back on WhatsApp -------------------------------------------------------------


def test_replies_to_a_whatsapp_message_go_on_whatsapp(app, org):
    contact = make_contact(org)  # prefers SMS, no WhatsApp opt-in
    whatsapp(contact, "AYUDA")
    sms(contact, "AYUDA")
    assert [row.channel for row in system_rows(contact)] == ["whatsapp", "sms"]


def test_replies_follow_the_contacts_whatsapp_channel(app, org):
    contact = make_contact(org, preferred_channel="whatsapp", whatsapp_opt_in_at=NOW)
    assert channel_for(contact) == "whatsapp"
    sms(contact, "AYUDA")
    assert [row.channel for row in system_rows(contact)] == ["whatsapp"]


def test_an_rsvp_by_whatsapp_is_confirmed_on_whatsapp(app, org):
    workshop = make_workshop(org, code="4821")
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    assert whatsapp(contact, "Sí 4821") == "rsvp_confirmed"
    assert [row.channel for row in system_rows(contact)] == ["whatsapp"]


# --- quick-reply buttons ---------------------------------------------------------------------


def test_button_text_mapping():
    assert button_text("rsvp_yes", "Sí, voy") == "SI"
    assert button_text("rsvp_no", "No puedo") == "NO"
    assert button_text("answer_3", "Algo") == "3"
    assert button_text("reply_1", "Gracias") == "Gracias"
    assert button_text("", "hola") is None and button_text(None, "hola") is None
    # "SI", never "YES": a tap must not count as Twilio's YES opt-in.
    assert not keywords.is_twilio_opt_in(keywords.classify(button_text("rsvp_yes", "Yes")))


@pytest.mark.parametrize("payload, status", [("rsvp_yes", "confirmed"), ("rsvp_no", "declined")])
def test_a_tapped_rsvp_button_is_an_rsvp(app, org, payload, status):
    workshop = make_workshop(org, code="4821")
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    outcome = whatsapp(contact, "Sí, voy" if payload == "rsvp_yes" else "No puedo", payload=payload)
    assert outcome == f"rsvp_{status}"
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(WorkshopRegistration.status).where(WorkshopRegistration.contact_id == contact.id)
        )
        == status
    )
    [message] = inbound_of(contact)
    assert message.intent == payload and message.channel == "whatsapp"


def test_a_tapped_answer_button_answers_the_survey(app, org):
    contact = make_contact(org)
    make_survey_run(
        make_survey(org, (dict(qtype="yesno", text_es="¿Sabes?", text_en="Do you know?"),)),
        audience_id=make_audience(org).id,
    )
    fan_out_due_runs(now=NOW)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "scheduled")
        .values(status="sent", sent_at=NOW, prepared_at=NOW, send_started_at=NOW)
    )
    db.session.commit()
    assert whatsapp(contact, "Sí", payload="answer_si") == "survey_answer"
    assert db.session.scalar(
        select(SurveyAnswer.value_num).where(SurveyAnswer.contact_id == contact.id)
    ) == pytest.approx(1.0)


def test_a_button_payload_by_sms_is_ignored(app, org):
    contact = make_contact(org)
    receive_sms(
        sid="SMsmsbutton" + "0" * 21,
        from_number=contact.phone,
        body="hola",
        now=NOW,
        button_payload="rsvp_yes",
    )
    assert inbound_of(contact)[0].body == "hola"


# --- the WhatsApp opt-in keyword -------------------------------------------------------------


@pytest.mark.parametrize("word", ["WHATSAPP", "whatsapp", "WhatsApp!", "WA", "wa", "Whats app"])
def test_the_whatsapp_keyword_opts_in_to_whatsapp(app, org, word):
    contact = make_contact(org, whatsapp_opted_out_at=NOW - timedelta(days=3))
    assert sms(contact, word) == "whatsapp_opted_in"
    contact = fresh(contact)
    assert contact.whatsapp_opt_in_at == NOW and contact.whatsapp_opt_in_source == "keyword"
    assert contact.preferred_channel == "whatsapp" and contact.whatsapp_opted_out_at is None
    assert channel_for(contact) == "whatsapp"
    [row] = system_rows(contact)
    assert row.channel == "sms"  # said by SMS: confirmed by SMS, which surely arrives
    assert "WhatsApp" in row.body
    assert inbound_of(contact)[0].intent == "whatsapp_opt_in"


def test_the_whatsapp_keyword_is_confirmed_in_the_contacts_language(app, org):
    contact = make_contact(org, language="en")
    sms(contact, "WA")
    [row] = system_rows(contact)
    assert row.body.startswith(org.name + ": you will receive our messages on WhatsApp")


def test_the_whatsapp_keyword_does_not_lift_an_opt_out_of_everything(app, org):
    contact = make_contact(org, opted_out_at=NOW - timedelta(days=1), opt_out_channel="sms")
    assert sms(contact, "WHATSAPP") == "whatsapp_opt_in_opted_out"
    assert fresh(contact).opted_out_at is not None
    assert system_rows(contact) == []


# --- opt-out scope ---------------------------------------------------------------------------


def _pending_whatsapp(contact) -> OutboxMessage:
    row = OutboxMessage(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        purpose="campaign",
        channel="whatsapp",
        language="es",
        body="Hola",
        due_at=NOW + timedelta(days=1),
        status="scheduled",
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_stop_on_whatsapp_stops_every_channel_by_default(app, org):
    assert org.opt_out_all_channels
    contact = make_contact(org, preferred_channel="whatsapp", whatsapp_opt_in_at=NOW)
    row = _pending_whatsapp(contact)
    assert whatsapp(contact, "BAJA") == "opted_out"
    contact = fresh(contact)
    assert contact.opted_out_at == NOW and contact.opt_out_channel == "whatsapp"
    assert db.session.get(OutboxMessage, row.id).status == "canceled"
    [confirmation] = system_rows(contact)
    assert confirmation.channel == "whatsapp"  # confirmed where it was said
    # Opting back in by SMS lifts what the STOP set.
    assert sms(contact, "ALTA") == "opted_in"
    assert fresh(contact).opted_out_at is None


def test_stop_on_whatsapp_stops_whatsapp_only_when_the_organization_says_so(app, org):
    org.opt_out_all_channels = False
    db.session.commit()
    contact = make_contact(org, preferred_channel="whatsapp", whatsapp_opt_in_at=NOW)
    row = _pending_whatsapp(contact)
    assert whatsapp(contact, "STOP") == "whatsapp_opted_out"
    contact = fresh(contact)
    assert contact.opted_out_at is None and contact.whatsapp_opted_out_at == NOW
    assert channel_for(contact) == "sms"  # back on SMS
    row = db.session.get(OutboxMessage, row.id)
    assert row.status == "scheduled" and row.channel == "sms"
    [confirmation] = system_rows(contact)
    assert confirmation.channel == "whatsapp"
    assert "WhatsApp" in confirmation.body and "SMS" in confirmation.body
    # A second STOP changes nothing more.
    assert whatsapp(contact, "STOP") == "opted_out"
    assert len(system_rows(contact)) == 1
    # START on WhatsApp lifts the WhatsApp-only opt-out.
    assert whatsapp(contact, "START") == "opted_in"
    contact = fresh(contact)
    assert contact.whatsapp_opted_out_at is None and channel_for(contact) == "whatsapp"


def test_stop_by_sms_always_stops_everything(app, org):
    org.opt_out_all_channels = False
    db.session.commit()
    contact = make_contact(org, preferred_channel="whatsapp", whatsapp_opt_in_at=NOW)
    assert sms(contact, "BAJA") == "opted_out"
    contact = fresh(contact)
    assert contact.opted_out_at == NOW and contact.opt_out_channel == "sms"
    assert contact.whatsapp_opted_out_at is None


def test_every_keyword_and_the_inbox_work_on_whatsapp(app, org):
    contact = make_contact(org)
    assert whatsapp(contact, "AYUDA") == "help"
    assert whatsapp(contact, "ya no me manden mensajes") == "flagged"
    assert whatsapp(contact, "quiero ir al taller") == "stored"
    assert [m.intent for m in inbound_of(contact)] == ["help", "stop_request", "other"]


# --- through the signed webhook and the spool ------------------------------------------------


def test_the_webhook_takes_a_whatsapp_button_tap(app, client, org):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    workshop = make_workshop(org, code="4821")
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    params = inbound_params(
        f"whatsapp:{mexican_1(contact.phone)}", "Sí, voy", to="whatsapp:+15005550006"
    )
    params.update(ButtonPayload="rsvp_yes", ButtonText="Sí, voy")
    assert post(client, INBOUND_URL, params).status_code == 200
    [message] = inbound_of(contact)
    assert (message.channel, message.intent, message.body) == ("whatsapp", "rsvp_yes", "SI")
    assert fresh(contact).last_whatsapp_in_at is not None


def test_a_spooled_whatsapp_message_replays_with_its_button(app, org, tmp_path):
    app.config["INBOUND_SPOOL_DIR"] = str(tmp_path)
    workshop = make_workshop(org, code="4821")
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    spool.append(
        {
            "v": spool.FORMAT,
            "kind": "inbound",
            "received_at": NOW.isoformat(),
            "fields": {
                "MessageSid": "SM" + "9" * 32,
                "From": f"whatsapp:{contact.phone}",
                "To": "whatsapp:+15005550006",
                "Body": "No puedo",
                "MessagingServiceSid": "",
                "ButtonPayload": "rsvp_no",
                "ButtonText": "No puedo",
            },
        }
    )
    assert spool.drain() == 1
    [message] = inbound_of(contact)
    assert (message.channel, message.intent) == ("whatsapp", "rsvp_no")
    assert fresh(contact).last_whatsapp_in_at == NOW


def test_a_survey_answered_on_whatsapp_asks_the_next_question_there(app, org):
    contact = make_contact(org)
    make_survey_run(make_survey(org), audience_id=make_audience(org).id)
    fan_out_due_runs(now=NOW)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "scheduled")
        .values(status="sent", sent_at=NOW, prepared_at=NOW, send_started_at=NOW)
    )
    db.session.commit()
    assert whatsapp(contact, "Algo", payload="answer_3") == "survey_answer"
    db.session.expire_all()
    next_question = db.session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "survey_reply"
        )
    )
    assert next_question is not None and next_question.channel == "whatsapp"
    assert db.session.scalar(
        select(SurveyAnswer.value_num).where(SurveyAnswer.contact_id == contact.id)
    ) == pytest.approx(3.0)
