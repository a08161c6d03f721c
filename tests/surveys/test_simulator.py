"""The phone simulator takes a survey (issue 17): the worker sends each question to the
simulated handset, the coordinator answers as the young person through the simulator's
form (the same inbound path as Twilio's webhook), and every answer is recorded, in Spanish
and in English, until the thank-you shows on the phone."""

from datetime import timedelta
from html import escape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.simulator import SimulatorGateway
from app.outbox.models import InboundMessage
from app.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse
from app.surveys.services import fan_out_due_runs
from tests.factories import make_audience, make_contact, make_survey, make_survey_run
from tests.outreach.helpers import make_worker
from tests.support import NOW, Clock, csrf_token_from

CASES = {
    # language: (replies, recorded values, thank-you)
    "es": (("2)", "Sí!!", "5 muy"), [2.0, 1.0, 5.0], "¡Gracias!"),
    "en": (("a little", "nope", "4"), [2.0, 0.0, 4.0], "Thanks!"),
}


def phone(client, contact) -> str:
    """What the simulated handset shows (the fragment the page polls)."""
    return client.get(f"/simulator/{contact.id}/messages").get_data(as_text=True)


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_survey_answered_in_the_phone_simulator(
    app, client, login, make_org, make_user, language
):
    app.extensions["sms_gateway"] = gateway = SimulatorGateway()
    org = make_org()
    login(make_user(org))
    contact = make_contact(org, language=language)
    survey = make_survey(org)
    make_survey_run(survey, audience_id=make_audience(org).id, starts_at=NOW)
    assert fan_out_due_runs(now=NOW) == 1
    clock = Clock(NOW)
    worker = make_worker(app, clock, gateway)
    worker.run(once=True)  # the first question reaches the phone
    replies, values, thanks = CASES[language]
    questions = db.session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == survey.id)
        .order_by(SurveyQuestion.position)
    ).all()
    intro = survey.intro_en if language == "en" else survey.intro_es
    assert escape(intro) in phone(client, contact)

    for n, (question, reply) in enumerate(zip(questions, replies, strict=True), start=1):
        text = question.text_en if language == "en" else question.text_es
        assert escape(text) in phone(client, contact), n
        page = client.get(f"/simulator/{contact.id}?lang={language}")
        response = client.post(
            f"/simulator/{contact.id}", data={"csrf_token": csrf_token_from(page), "body": reply}
        )
        assert response.status_code == 302
        # The worker sends the next question (or the thank-you) a minute later.
        clock.now = NOW + timedelta(minutes=n)
        worker.run(once=True)

    worker.close()
    conversation = phone(client, contact)
    assert escape(thanks) in conversation
    assert all(escape(reply) in conversation for reply in replies)
    db.session.expire_all()
    answers = db.session.execute(
        select(SurveyAnswer.raw_text, SurveyAnswer.value_num, SurveyAnswer.skipped)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(SurveyAnswer.contact_id == contact.id)
        .order_by(SurveyQuestion.position)
    ).all()
    assert [tuple(a) for a in answers] == [
        (reply, value, False) for reply, value in zip(replies, values, strict=True)
    ]
    response = db.session.scalar(
        select(SurveyResponse).where(SurveyResponse.contact_id == contact.id)
    )
    assert (response.status, response.language) == ("completed", language)
    intents = db.session.scalars(
        select(InboundMessage.intent).where(InboundMessage.contact_id == contact.id)
    ).all()
    assert intents == ["survey_answer"] * len(replies)
