"""Inbound precedence while a survey question waits: keywords (BAJA/STOP, AYUDA, START) →
a crisis message is never an answer → an RSVP with its workshop code → the survey's answer
(bare SI/NO/YES included) → other replies."""

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select, update

from app.conversations.models import Case
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage, OutboxMessage
from app.surveys.models import SurveyAnswer, SurveyResponse
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

_sids = count(1)
YES_NO_FIRST = (
    dict(
        qtype="yesno",
        text_es="¿Sabes dónde pedir ayuda?",
        text_en="Do you know where to get help?",
    ),
    dict(qtype="text", text_es="¿Algo más?", text_en="Anything else?"),
)


def sms(contact, body, *, now=NOW) -> str:
    return receive_sms(
        sid=f"SMprec{next(_sids):026d}", from_number=contact.phone, body=body, now=now
    )


def deliver() -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "scheduled")
        .values(status="sent", sent_at=NOW, prepared_at=NOW, send_started_at=NOW)
    )
    db.session.commit()


def response_of(contact) -> SurveyResponse | None:
    db.session.expire_all()
    return db.session.scalar(select(SurveyResponse).where(SurveyResponse.contact_id == contact.id))


def answer_values(contact) -> list:
    return list(
        db.session.scalars(
            select(SurveyAnswer.value_num)
            .where(SurveyAnswer.contact_id == contact.id)
            .order_by(SurveyAnswer.id)
        )
    )


def last_intent(contact) -> str:
    return db.session.scalar(
        select(InboundMessage.intent)
        .where(InboundMessage.contact_id == contact.id)
        .order_by(InboundMessage.id.desc())
        .limit(1)
    )


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def contact(org):
    """A contact whose survey's yes/no question has reached the phone."""
    contact = make_contact(org)
    make_survey_run(make_survey(org, YES_NO_FIRST), audience_id=make_audience(org).id)
    fan_out_due_runs(now=NOW)
    deliver()
    return contact


def test_bare_si_is_the_survey_answer_not_an_rsvp(app, org, contact):
    workshop = make_workshop(org, code="4821")
    registration = make_registration(workshop, contact, status="invited")
    assert sms(contact, "SI") == "survey_answer"
    assert answer_values(contact) == [1.0]
    db.session.refresh(registration)
    assert registration.status == "invited"
    assert last_intent(contact) == "survey_answer"


@pytest.mark.parametrize("body, value", [("NO", 0.0), ("Yes", 1.0), ("y", 1.0), ("Nop", 0.0)])
def test_bare_answers_go_to_the_survey(app, contact, body, value):
    assert sms(contact, body) == "survey_answer"
    assert answer_values(contact) == [value]


def test_rsvp_with_its_code_goes_to_the_workshop(app, org, contact):
    workshop = make_workshop(org, code="4821")
    make_registration(workshop, contact, status="invited")
    assert sms(contact, "SI 4821") == "rsvp_confirmed"
    assert answer_values(contact) == []
    response = response_of(contact)
    assert (response.status, response.position) == ("invited", 1)
    # The survey still waits for its answer.
    assert sms(contact, "sí", now=NOW + timedelta(minutes=1)) == "survey_answer"
    assert answer_values(contact) == [1.0]


def test_without_a_survey_a_bare_si_is_still_an_rsvp(app, org):
    other = make_contact(org)
    workshop = make_workshop(org, code="4821")
    make_registration(workshop, other, status="invited")
    assert sms(other, "SI") == "rsvp_confirmed"


@pytest.mark.parametrize("keyword", ["BAJA", "STOP"])
def test_opt_out_keywords_come_first_and_stop_the_survey(app, contact, keyword):
    assert sms(contact, keyword) == "opted_out"
    assert response_of(contact).status == "stopped"
    assert answer_values(contact) == []


def test_help_is_answered_and_the_question_keeps_waiting(app, contact):
    assert sms(contact, "AYUDA") == "help"
    assert answer_values(contact) == []
    assert response_of(contact).position == 1
    assert sms(contact, "no") == "survey_answer"


def test_start_from_a_subscribed_contact_is_not_an_answer(app, contact):
    assert sms(contact, "START") == "already_subscribed"
    assert answer_values(contact) == []


def test_an_opted_out_contact_saying_yes_opts_back_in(app, contact):
    sms(contact, "STOP")
    assert sms(contact, "YES") == "opted_in"
    assert response_of(contact).status == "stopped"
    assert answer_values(contact) == []


def test_a_crisis_message_is_never_an_answer(app, contact):
    outcome = sms(contact, "no, ya no quiero vivir, me quiero morir")
    assert outcome != "survey_answer"
    assert answer_values(contact) == []
    case = db.session.scalar(select(Case).where(Case.contact_id == contact.id))
    assert (case.intent, case.priority) == ("crisis", "urgent")
    assert response_of(contact).position == 1
    assert last_intent(contact) != "survey_answer"


def test_a_stop_request_is_flagged_not_taken_as_an_answer(app, contact):
    assert sms(contact, "ya no me manden mensajes") == "flagged"
    assert answer_values(contact) == []


def test_a_free_text_answer_does_not_need_attention(app, contact):
    from app.conversations.models import Conversation

    sms(contact, "sí")
    deliver()
    assert sms(contact, "Me gustó mucho el taller") == "survey_answer"
    conversation = db.session.scalar(
        select(Conversation).where(Conversation.contact_id == contact.id)
    )
    assert conversation.needs_attention is False
    assert db.session.scalar(select(Case).where(Case.contact_id == contact.id)) is None
    assert response_of(contact).status == "completed"


def test_after_the_survey_replies_are_ordinary_again(app, org, contact):
    sms(contact, "sí")
    deliver()
    sms(contact, "nada")
    assert sms(contact, "hola?") in ("stored", "flagged")
    workshop = make_workshop(org, code="4821")
    make_registration(workshop, contact, status="invited")
    assert sms(contact, "SI") == "rsvp_confirmed"
    registration = db.session.scalar(select(WorkshopRegistration))
    assert registration.status == "confirmed"
