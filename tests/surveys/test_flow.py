"""The survey conversation: answers recorded, next question, re-ask once then skip, SALTAR,
branching, reminder then partial (injected clock), STOP, participation events, and two
answers at once (PostgreSQL)."""

import threading
from datetime import timedelta
from itertools import count

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select, update

from app.extensions import db
from app.outbox.encoding import analyze
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from app.surveys import texts
from app.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse
from app.surveys.services import expire_responses, fan_out_due_runs
from tests.factories import (
    SURVEY_QUESTIONS,
    make_audience,
    make_contact,
    make_survey,
    make_survey_run,
)
from tests.support import NOW

_sids = count(1)


def sms(contact, body, *, now=NOW) -> str:
    return receive_sms(
        sid=f"SMflow{next(_sids):026d}", from_number=contact.phone, body=body, now=now
    )


def es(msgid: str, **values) -> str:
    """A fixed text in Spanish, as the catalog says it (new texts: once merged)."""
    with force_locale("es"):
        return gettext(msgid, **values)


def deliver(now=NOW) -> int:
    """The worker sent every queued survey message."""
    count_ = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.purpose.in_(("survey", "survey_reply")),
            OutboxMessage.status == "scheduled",
            OutboxMessage.due_at <= now,
        )
        .values(status="sent", sent_at=now, prepared_at=now, send_started_at=now)
    ).rowcount
    db.session.commit()
    return count_


def survey_sms(contact) -> list[tuple[str, str, str]]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(OutboxMessage.purpose, OutboxMessage.status, OutboxMessage.body)
            .where(
                OutboxMessage.contact_id == contact.id,
                OutboxMessage.purpose.in_(("survey", "survey_reply")),
            )
            .order_by(OutboxMessage.id)
        )
    ]


def response_of(contact) -> SurveyResponse:
    db.session.expire_all()
    return db.session.scalar(select(SurveyResponse).where(SurveyResponse.contact_id == contact.id))


def answers(contact) -> list[tuple]:
    rows = db.session.execute(
        select(
            SurveyQuestion.position,
            SurveyAnswer.raw_text,
            SurveyAnswer.value_num,
            SurveyAnswer.value_text,
            SurveyAnswer.skipped,
        )
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(SurveyAnswer.contact_id == contact.id)
        .order_by(SurveyQuestion.position)
    )
    return [tuple(r) for r in rows]


def events(contact) -> list[str]:
    return list(
        db.session.scalars(
            select(ParticipationEvent.kind)
            .where(
                ParticipationEvent.contact_id == contact.id,
                ParticipationEvent.kind.in_(("survey_started", "survey_completed")),
            )
            .order_by(ParticipationEvent.id)
        )
    )


@pytest.fixture
def org(make_org):
    return make_org()


def start_survey(org, questions=SURVEY_QUESTIONS, *, language="es", window_hours=24, n=1):
    """A survey of `questions` asked of `n` new contacts, its first question sent."""
    contacts = [make_contact(org, language=language) for _ in range(n)]
    survey = make_survey(org, questions)
    make_survey_run(
        survey, audience_id=make_audience(org).id, window_hours=window_hours, starts_at=NOW
    )
    assert fan_out_due_runs(now=NOW) == n
    deliver()
    return survey, contacts


def test_answers_are_recorded_and_the_survey_completes(app, org):
    survey, (contact,) = start_survey(org)
    first = survey_sms(contact)[0]
    assert first[0] == "survey"
    assert first[2] == (
        "Hola, 3 preguntas rapidas. ¿Qué tanto riesgo ves en probar fentanilo? "
        "1) Nada 2) Poco 3) Algo 4) Mucho"
    )
    assert response_of(contact).status == "invited"

    assert sms(contact, "2)", now=NOW + timedelta(minutes=1)) == "survey_answer"
    assert survey_sms(contact)[-1] == (
        "survey_reply",
        "scheduled",
        "¿Sabes dónde pedir ayuda? Responde SI o NO.",
    )
    deliver(NOW + timedelta(minutes=1))
    assert sms(contact, "Sí!!", now=NOW + timedelta(minutes=2)) == "survey_answer"
    assert survey_sms(contact)[-1][2] == (
        "¿Qué tan capaz te sientes de decir que no? 1 = Nada capaz, 5 = Muy capaz"
    )
    deliver(NOW + timedelta(minutes=2))
    assert sms(contact, "5 muy", now=NOW + timedelta(minutes=3)) == "survey_answer"

    assert answers(contact) == [
        (1, "2)", 2.0, None, False),
        (2, "Sí!!", 1.0, None, False),
        (3, "5 muy", 5.0, None, False),
    ]
    response = response_of(contact)
    assert (response.status, response.position) == ("completed", None)
    assert response.started_at == NOW + timedelta(minutes=1)
    assert response.completed_at == NOW + timedelta(minutes=3)
    assert survey_sms(contact)[-1] == ("survey_reply", "scheduled", "¡Gracias!")
    assert events(contact) == ["survey_started", "survey_completed"]
    answered_at = db.session.scalars(
        select(SurveyAnswer.answered_at).order_by(SurveyAnswer.id)
    ).all()
    assert answered_at == [NOW + timedelta(minutes=m) for m in (1, 2, 3)]


def test_english_contact_gets_english_texts_and_answers_in_english(app, org):
    _survey, (contact,) = start_survey(org, language="en")
    assert survey_sms(contact)[0][2] == (
        "Hi, 3 quick questions. How risky is trying fentanyl? 1) None 2) A little 3) Some 4) A lot"
    )
    sms(contact, "a little")
    assert survey_sms(contact)[-1][2] == "Do you know where to get help? Reply YES or NO."
    deliver()
    sms(contact, "nope")
    assert [a[2] for a in answers(contact)] == [2.0, 0.0]


def test_an_answer_not_understood_is_asked_again_once_then_skipped(app, org):
    _survey, (contact,) = start_survey(org)
    assert sms(contact, "que?") == "survey_answer"
    response = response_of(contact)
    assert (response.reasked, response.position, response.status) == (True, 1, "invited")
    assert answers(contact) == []
    assert survey_sms(contact)[-1][2] == (
        f"{es('Sorry, we did not understand your answer.')} ¿Qué tanto riesgo ves en probar "
        f"fentanilo? 1) Nada 2) Poco 3) Algo 4) Mucho {es('To skip this question, reply SKIP.')}"
    )
    deliver()
    assert sms(contact, "no sé la verdad") == "survey_answer"
    assert answers(contact) == [(1, "no sé la verdad", None, None, True)]
    response = response_of(contact)
    assert (response.reasked, response.position, response.status) == (False, 2, "started")
    assert survey_sms(contact)[-1][2].startswith("¿Sabes dónde pedir ayuda?")


def test_skip_word_skips_the_question(app, org):
    _survey, (contact,) = start_survey(org)
    sms(contact, "SALTAR")
    deliver()
    sms(contact, "skip")
    assert answers(contact) == [(1, "SALTAR", None, None, True), (2, "skip", None, None, True)]
    assert response_of(contact).position == 3


def test_number_reask_says_the_range_and_text_answers_are_kept(app, org):
    questions = (
        dict(qtype="number", text_es="¿Cuántos años tienes?", text_en="How old are you?",
             number_min=12, number_max=29),
        dict(qtype="text", text_es="¿Algo más?", text_en="Anything else?"),
    )  # fmt: skip
    _survey, (contact,) = start_survey(org, questions)
    sms(contact, "tengo 45")
    assert survey_sms(contact)[-1][2] == (
        f"{es('Sorry, we did not understand your answer.')} ¿Cuántos años tienes? "
        f"{es('Reply with a number from %(low)d to %(high)d.', low=12, high=29)} "
        f"{es('To skip this question, reply SKIP.')}"
    )
    deliver()
    sms(contact, "tengo 15 años")
    deliver()
    sms(contact, "  Me gustó  ")
    assert answers(contact) == [
        (1, "tengo 15 años", 15.0, None, False),
        (2, "  Me gustó  ", None, "Me gustó", False),
    ]
    assert response_of(contact).status == "completed"


def test_branching_ends_the_survey_or_jumps_ahead(app, org):
    questions = (
        dict(qtype="yesno", text_es="¿Hablaste del tema con alguien?", text_en="Did you talk?",
             branches={"0": 0, "1": 3}),
        dict(qtype="text", text_es="Nunca se pregunta", text_en="Never asked"),
        dict(qtype="choice", text_es="¿Con quién?", text_en="Who with?",
             options=[{"es": "Mamá", "en": "Mom"}, {"es": "Amigo", "en": "Friend"}]),
    )  # fmt: skip
    _survey, (said_no, said_yes) = start_survey(org, questions, n=2)
    sms(said_no, "nel")
    assert answers(said_no) == [(1, "nel", 0.0, None, False)]
    assert response_of(said_no).status == "completed"
    assert survey_sms(said_no)[-1][2] == "¡Gracias!"

    sms(said_yes, "si")
    assert response_of(said_yes).position == 3
    assert survey_sms(said_yes)[-1][2] == "¿Con quién? 1) Mamá 2) Amigo"
    deliver()
    sms(said_yes, "amigo")
    assert answers(said_yes) == [(1, "si", 1.0, None, False), (3, "amigo", 2.0, None, False)]
    assert response_of(said_yes).status == "completed"


def test_a_message_before_the_question_went_is_not_an_answer(app, org):
    contact = make_contact(org)
    survey = make_survey(org)
    make_survey_run(survey, audience_id=make_audience(org).id)
    fan_out_due_runs(now=NOW)  # queued, not sent yet
    assert sms(contact, "2") == "stored"
    assert response_of(contact).status == "invited"
    assert answers(contact) == []


def test_no_answer_gets_one_reminder_then_the_response_closes_as_partial(app, org):
    _survey, (contact,) = start_survey(org)
    response = response_of(contact)
    assert response.expires_at == NOW + timedelta(hours=24)
    assert expire_responses(now=NOW + timedelta(hours=23)) == 0

    later = NOW + timedelta(hours=24)
    assert expire_responses(now=later) == 1
    reminder = survey_sms(contact)[-1]
    assert reminder[0:2] == ("survey_reply", "scheduled")
    assert reminder[2].startswith(f"{es('Reminder: your answer helps us.')} ¿Qué tanto riesgo")
    response = response_of(contact)
    assert (response.reminded, response.status) == (True, "invited")
    assert response.expires_at == later + timedelta(hours=24)
    assert expire_responses(now=later + timedelta(hours=1)) == 0  # one reminder only

    assert expire_responses(now=later + timedelta(hours=24)) == 1
    response = response_of(contact)
    assert (response.status, response.position) == ("partial", None)
    assert response.closed_at == later + timedelta(hours=24)
    assert survey_sms(contact)[-1][1] == "canceled"  # the reminder, never sent
    assert events(contact) == []


def test_an_answer_after_the_reminder_still_counts(app, org):
    _survey, (contact,) = start_survey(org)
    later = NOW + timedelta(hours=24)
    expire_responses(now=later)
    deliver(later)
    assert sms(contact, "mucho", now=later + timedelta(hours=1)) == "survey_answer"
    assert answers(contact) == [(1, "mucho", 4.0, None, False)]
    response = response_of(contact)
    assert response.expires_at == later + timedelta(hours=25)


def test_the_reminder_waits_for_the_allowed_hours(app, org):
    _survey, (contact,) = start_survey(org, window_hours=12)
    night = NOW + timedelta(hours=12)  # 22:00 in Tijuana
    expire_responses(now=night)
    due, expires = db.session.execute(
        select(OutboxMessage.due_at, OutboxMessage.expires_at)
        .where(OutboxMessage.purpose == "survey_reply")
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert due == NOW + timedelta(hours=23)  # 09:00 the next day in Tijuana
    assert expires == NOW + timedelta(hours=35)  # 21:00 that day


def test_stop_ends_the_survey_and_cancels_its_pending_messages(app, org):
    _survey, (contact,) = start_survey(org)
    sms(contact, "poco")  # question 2 queued, not sent
    assert sms(contact, "BAJA") == "opted_out"
    response = response_of(contact)
    assert (response.status, response.position) == ("stopped", None)
    statuses = [(purpose, status) for purpose, status, _ in survey_sms(contact)]
    assert statuses == [("survey", "sent"), ("survey_reply", "canceled")]
    reason = db.session.scalar(
        select(OutboxMessage.skip_reason).where(OutboxMessage.status == "canceled")
    )
    assert reason == "survey_stopped"
    assert sms(contact, "ALTA") == "opted_in"  # an opt-in does not bring the survey back
    assert survey_sms(contact)[-1][1] == "canceled"
    assert response_of(contact).status == "stopped"
    assert sms(contact, "sí") != "survey_answer"


def test_the_answer_is_filed_in_the_thread_without_needing_attention(app, org):
    from app.conversations.models import Conversation

    _survey, (contact,) = start_survey(org)
    sms(contact, "algo")
    inbound = db.session.scalar(select(InboundMessage))
    assert inbound.intent == "survey_answer"
    conversation = db.session.scalar(select(Conversation))
    assert conversation.contact_id == contact.id
    assert (conversation.needs_attention, conversation.unread) == (False, 0)
    assert db.session.scalar(select(SurveyAnswer.inbound_id)) == inbound.id


def test_fixed_texts_are_gsm7_in_both_languages(app, org):
    survey = make_survey(org, intro_es="", intro_en="", thanks_es="", thanks_en="")
    question = survey.questions[1]  # yes/no: its hint is fixed text too
    for language in ("es", "en"):
        own = texts.question_sms(question, language)
        fixed = [
            own.replace(getattr(question, f"text_{language}"), ""),
            texts.first_sms(survey, question, language).replace(own, ""),
            texts.reask_sms(question, language).replace(own, ""),
            texts.reminder_sms(question, language).replace(own, ""),
            texts.thanks_sms(survey, language),
        ]
        assert all(analyze(text).is_gsm for text in fixed), fixed
    assert texts.thanks_sms(survey, "es") == es("Thank you for your answers!")
    assert texts.segments(texts.question_sms(survey.questions[0], "en")) == 1


def test_two_answers_at_once_advance_the_question_once(app, make_org, postgres_only):
    org = make_org()
    _survey, (contact,) = start_survey(org)
    phone = contact.phone
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def reply(i, body):
        with app.app_context():
            try:
                barrier.wait()
                outcomes.append(
                    receive_sms(sid=f"SMtwice{i:027d}", from_number=phone, body=body, now=NOW)
                )
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=reply, args=(i, b)) for i, b in enumerate(("2", "3"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(outcomes) == ["stored", "survey_answer"]
    db.session.expire_all()
    assert len(answers(contact)) == 1
    assert response_of(contact).position == 2
    assert [p for p, _, _ in survey_sms(contact)].count("survey_reply") == 1


def test_a_reply_after_a_survey_question_stays_filed_under_the_campaign(app, org):
    """A survey's questions belong to no campaign (a baseline goes before the campaign
    starts): a reply that follows one is filed under the campaign that last wrote to the
    young person, not under none."""
    from tests.factories import make_campaign, make_message, make_outbox_row

    _survey, (contact,) = start_survey(org)
    message = make_message(make_campaign(org, status="active"))
    make_outbox_row(
        contact,
        campaign_id=message.campaign_id,
        message_id=message.id,
        status="sent",
        sent_at=NOW - timedelta(days=2),
    )
    db.session.commit()
    assert sms(contact, "Tengo una duda sobre el taller", now=NOW + timedelta(minutes=5))
    inbound = db.session.scalar(select(InboundMessage).order_by(InboundMessage.id.desc()))
    assert inbound.campaign_id == message.campaign_id
