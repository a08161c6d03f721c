"""`flask seed-demo` has conversations (issue 16): saved replies, local services, the demo
coordinator on call with a staff phone, messages waiting in the inbox and one urgent case
handled from start to end — through the real inbound path and services, idempotently."""

from datetime import timedelta

from sqlalchemy import func, select

from app.auth.models import User
from app.conversations.models import (
    Case,
    CaseEvent,
    Conversation,
    LocalService,
    OnCallShift,
    Referral,
    SavedReply,
)
from app.extensions import db
from app.outbox.encoding import analyze
from app.outbox.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from app.timeutil import utcnow

COORDINATOR = "coordinacion@demo.alcance.mx"


def seed(runner, *args):
    result = runner.invoke(args=["seed-demo", *args])
    assert result.exit_code == 0, result.output


def counts() -> dict:
    def n(model):
        return db.session.scalar(select(func.count()).select_from(model))

    return {
        model.__name__: n(model)
        for model in (
            SavedReply,
            LocalService,
            OnCallShift,
            Case,
            CaseEvent,
            Referral,
            Conversation,
            InboundMessage,
            OutboxMessage,
        )
    }


def test_seed_demo_has_saved_replies_services_and_a_coordinator_on_call(seeded_demo):
    replies = db.session.scalars(select(SavedReply).order_by(SavedReply.id)).all()
    assert 4 <= len(replies) <= 5
    assert all(r.body_es.strip() and r.body_en.strip() for r in replies)
    assert all(len(r.body_es) <= 640 and len(r.body_en) <= 640 for r in replies)
    assert any("BAJA" in r.body_es and "STOP" in r.body_en for r in replies)
    assert any("800 911 2000" in r.body_es for r in replies)
    # Most saved replies stay in one GSM-7 SMS where good Spanish allows.
    assert sum(analyze(r.body_es).is_gsm for r in replies) >= 3

    services = db.session.scalars(select(LocalService).order_by(LocalService.id)).all()
    assert [(s.state_code, s.active) for s in services] == [("02", True), ("CA", True)]

    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR))
    assert coordinator.staff_phone == "+526465550123"
    shift = db.session.scalar(select(OnCallShift))
    now = utcnow()
    assert shift.user_id == coordinator.id and shift.starts_at <= now < shift.ends_at


def test_seed_demo_has_a_closed_urgent_case_with_its_referral_and_audit_trail(seeded_demo):
    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR))
    case = db.session.scalar(select(Case).where(Case.priority == "urgent"))
    assert (case.intent, case.state, case.close_reason) == ("crisis", "closed", "referred")
    assert case.acknowledged_by == coordinator.id and case.assigned_user_id == coordinator.id
    assert case.escalation_level == 0
    assert case.acknowledged_at - case.opened_at < timedelta(minutes=15)

    referral = db.session.scalar(select(Referral).where(Referral.case_id == case.id))
    assert (referral.service_type, referral.details_sent) == ("linea_vida", True)
    assert referral.referred_by == coordinator.id

    trail = db.session.execute(
        select(CaseEvent.action, CaseEvent.user_id)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    assert [action for action, _user in trail] == [
        "opened",
        "auto_replied",
        "acknowledged",
        "replied",
        "referred",
        "noted",
        "closed",
    ]
    assert {user for action, user in trail if action not in ("opened", "auto_replied")} == {
        coordinator.id
    }

    # The automatic crisis reply, the coordinator's reply and the helpline's details went
    # out through the outbox and were delivered by the demo's worker.
    sent = db.session.execute(
        select(OutboxMessage.purpose, OutboxMessage.status, OutboxMessage.body)
        .where(OutboxMessage.contact_id == case.contact_id)
        .where(OutboxMessage.purpose.in_(("system", "reply")))
        .order_by(OutboxMessage.id)
    ).all()
    assert [(p, s) for p, s, _b in sent] == [
        ("system", "delivered"),
        ("reply", "delivered"),
        ("reply", "delivered"),
    ]
    assert "911" in sent[0][2] and "800 911 2000" in sent[2][2]
    assert db.session.scalar(
        select(func.count()).where(
            ParticipationEvent.kind == "referred", ParticipationEvent.detail == "linea_vida"
        )
    )


def test_seed_demo_leaves_messages_waiting_in_the_inbox(seeded_demo):
    open_cases = dict(
        db.session.execute(
            select(Case.intent, func.count()).where(Case.state == "open").group_by(Case.intent)
        ).all()
    )
    assert open_cases.get("needs_help", 0) >= 1 and open_cases.get("question", 0) >= 2
    flagged = db.session.scalar(
        select(InboundMessage).where(
            InboundMessage.body == "ya no me manden mensajes porfa",
        )
    )
    assert flagged.intent == "stop_request" and flagged.needs_review
    assert flagged.contact.opted_out_at is None  # the one-click opt-out is left to try
    waiting = db.session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.needs_attention)
    )
    assert waiting >= 5


def test_seeding_twice_adds_nothing(app, runner, seeded_demo):
    from app.demo.conversations import seed_conversations
    from app.organizations.models import Organization

    seed(runner)
    first = counts()
    seed(runner, "--force")
    assert counts() == first
    org = db.session.scalar(select(Organization).where(Organization.slug == "demo"))
    seed_conversations(app, org, today=utcnow().date(), now=utcnow())
    assert counts() == first
