"""The survey conversation: what an answer does to a contact's active response.

An answer to the waiting question is parsed (app.surveys.answers, in the response's
language) and recorded (SurveyAnswer: raw text, parsed value, time); then the question's
branch for that value, or the next question, is sent at once (purpose "survey_reply": a
reply, not capped), or the survey ends with its thank-you. An answer not understood is
re-asked once with what we accept; a second one not understood is recorded as skipped (with
its raw text) and the survey moves on, as after "SALTAR"/"SKIP".

Only a question the contact has received can be answered: while the waiting question's SMS
is still queued (the first question before its time, or the next one during the seconds the
worker takes), a message is not taken as its answer (it is filed as any reply). With the
response row locked while an answer is handled, two answers arriving at once never both
advance the same question: the second one finds the next question not yet sent.

Participation: "survey_started" at the first answer (or skip), "survey_completed" at the end
(campaign_id: the run's campaign, if any). An opt-out stops every active response of the
contact and cancels its pending survey messages (`stop_contact`).
"""

from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.contacts.models import Contact
from app.db_dialect import is_postgres, write_lock_in_transaction
from app.extensions import db
from app.organizations.events import emit
from app.outbox import api as outbox
from app.outbox.inbound import reply_channel
from app.outbox.models import OutboxMessage
from app.participation.services import record_event
from app.surveys import texts
from app.surveys.models import (
    ACTIVE_RESPONSE_STATUSES,
    BRANCH_END,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from app.surveys.services import NOT_YET_SENT, cancel_pending_questions

OUTCOME = "survey_answer"  # what receive_sms returns for a message taken as an answer
RAW_MAX = 1600


def lock_active_response(contact_id: int) -> SurveyResponse | None:
    """The contact's active response, locked until the transaction ends (PostgreSQL: its
    row; SQLite: the write lock), read fresh."""
    stmt = (
        select(SurveyResponse)
        .where(
            SurveyResponse.contact_id == contact_id,
            SurveyResponse.status.in_(ACTIVE_RESPONSE_STATUSES),
        )
        .execution_options(populate_existing=True)
    )
    if is_postgres():
        stmt = stmt.with_for_update()
    else:
        write_lock_in_transaction()
    return db.session.scalar(stmt)


def question_received(response: SurveyResponse) -> bool:
    """Whether the waiting question's SMS has left (it may be answered)."""
    if response.last_outbox_id is None:
        return True  # pruned from the outbox long ago
    status = db.session.scalar(
        select(OutboxMessage.status).where(OutboxMessage.id == response.last_outbox_id)
    )
    return status not in NOT_YET_SENT


def take_answer(ctx) -> str | None:
    """The inbound interceptor (app.outbox.inbound.register_interceptor): the message is the
    answer to the contact's active survey question, or None (not ours)."""
    contact = ctx.contact
    if contact.opted_out_at is not None:
        return None  # no survey for an opted-out contact; a bare YES is Twilio's opt-in
    response = lock_active_response(contact.id)
    if response is None or not question_received(response):
        return None
    return answer(response, ctx.inbound.body or "", inbound_id=ctx.inbound.id, now=ctx.now)


# --- one answer ----------------------------------------------------------------------------


def _questions(response: SurveyResponse) -> list[SurveyQuestion]:
    return db.session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == response.survey_id)
        .order_by(SurveyQuestion.position)
    ).all()


def _event(response: SurveyResponse, kind: str, now: datetime) -> None:
    run = response.run
    record_event(
        organization_id=response.organization_id,
        contact_id=response.contact_id,
        kind=kind,
        channel="sms",
        occurred_at=now,
        campaign_id=run.campaign_id,
        workshop_id=run.workshop_id,
        detail=f"survey_run:{run.id}",
    )


def _send(response: SurveyResponse, body: str, now: datetime) -> OutboxMessage:
    contact = db.session.get(Contact, response.contact_id)
    return outbox.enqueue(
        organization_id=response.organization_id,
        contact_id=response.contact_id,
        purpose="survey_reply",
        language=response.language,
        body=body,
        due_at=now,
        now=now,
        # An answer on WhatsApp gets the next question there (issue 19): an answer row
        # keeps the channel it is given.
        channel=reply_channel(contact, now=now),
    )


def _record(response, question, raw: str, value, *, skipped: bool, inbound_id, now) -> None:
    if isinstance(value, bool):
        value_num, value_text = (1.0 if value else 0.0), None
    elif isinstance(value, int):
        value_num, value_text = float(value), None
    else:
        value_num, value_text = None, value
    db.session.add(
        SurveyAnswer(
            organization_id=response.organization_id,
            response_id=response.id,
            question_id=question.id,
            contact_id=response.contact_id,
            raw_text=raw[:RAW_MAX],
            value_num=value_num,
            value_text=value_text,
            skipped=skipped,
            inbound_id=inbound_id,
            answered_at=now,
        )
    )
    if response.status == "invited":
        response.status, response.started_at = "started", now
        _event(response, "survey_started", now)


def branch_key(value) -> str | None:
    """The key of `SurveyQuestion.branches` an answer's value selects ("1"/"0" for yes/no)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return None


def next_position(question: SurveyQuestion, positions: list[int], value) -> int | None:
    """Where the survey goes after `question` was answered `value` (None: skipped): its
    branch for that value (0 ends it), else the next question; None when it ends. A branch
    never goes back (a survey never loops)."""
    later = [p for p in positions if p > question.position]
    key = branch_key(value)
    target = (question.branches or {}).get(key) if key is not None else None
    if target is not None:
        target = int(target)
        if target == BRANCH_END:
            return None
        if target in later:
            return target
    return later[0] if later else None


def _ask(response, question, body: str, now: datetime) -> None:
    row = _send(response, body, now)
    db.session.flush()
    response.position = question.position
    response.last_outbox_id = row.id
    response.asked_at = now
    response.expires_at = now + timedelta(hours=response.run.window_hours)


def _complete(response: SurveyResponse, now: datetime) -> None:
    survey = response.run.survey
    _send(response, texts.thanks_sms(survey, response.language), now)
    response.status = "completed"
    response.completed_at = response.closed_at = now
    response.position = response.expires_at = None
    _event(response, "survey_completed", now)
    # Outbound webhooks: ids only, never the answers.
    emit(
        "survey.completed",
        organization_id=response.organization_id,
        key=str(response.id),
        occurred_at=now,
        data={
            "response_id": response.id,
            "survey_id": response.survey_id,
            "run_id": response.run_id,
            "campaign_id": response.run.campaign_id,
            "workshop_id": response.run.workshop_id,
            "contact_id": response.contact_id,
            "language": response.language,
        },
        contact_id=response.contact_id,
    )


def answer(response: SurveyResponse, text: str, *, inbound_id=None, now: datetime) -> str:
    """Apply one reply to the response's waiting question (the caller holds the response's
    lock and commits): record it, then ask the next question, re-ask, or end. Returns
    OUTCOME."""
    questions = _questions(response)
    by_position = {q.position: q for q in questions}
    question = by_position.get(response.position)
    if question is None:  # the survey changed under the run: nothing left to ask
        _complete(response, now)
        return OUTCOME
    parsed = texts.parse(question, text, response.language)
    if parsed.valid and not parsed.skip:
        _record(
            response, question, text, parsed.value, skipped=False, inbound_id=inbound_id, now=now
        )
        value = parsed.value
    elif parsed.skip or response.reasked:
        _record(response, question, text, None, skipped=True, inbound_id=inbound_id, now=now)
        value = None
    else:
        response.reasked = True
        _ask(response, question, texts.reask_sms(question, response.language), now)
        return OUTCOME
    following = next_position(question, list(by_position), value)
    if following is None:
        _complete(response, now)
    else:
        response.reasked = False
        nxt = by_position[following]
        _ask(response, nxt, texts.question_sms(nxt, response.language), now)
    return OUTCOME


# --- opt-out ---------------------------------------------------------------------------------


def stop_contact(contact_id: int, *, now: datetime) -> int:
    """The contact opted out: each of its active responses is "stopped" and its pending
    survey messages are canceled (joins the caller's unit of work). Returns responses."""
    # Not "opted_out": an opt-in restores those, and a stopped survey does not resume.
    cancel_pending_questions(reason="survey_stopped", now=now, contact_id=contact_id)
    return db.session.execute(
        update(SurveyResponse)
        .where(
            SurveyResponse.contact_id == contact_id,
            SurveyResponse.status.in_(ACTIVE_RESPONSE_STATUSES),
        )
        .values(status="stopped", closed_at=now, position=None, expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
