"""Issue 16: the safety net. A crisis message gets a safe automatic answer at once (any hour,
at most once in 12 hours) and a person: a case on-call is assigned, escalated by SMS to
staff phones when nobody acknowledges it in time. Every step is in the case's audit trail."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.conversations import services
from app.conversations.escalation import escalate
from app.conversations.models import Case, CaseEvent, Conversation
from app.conversations.oncall import add_shift
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage
from tests.factories import make_contact
from tests.outreach.helpers import make_worker
from tests.support import NOW, Clock

# 03:00 in Tijuana (UTC-8 in winter), a day after the frozen "now": far outside quiet hours.
AT_THREE = (NOW + timedelta(days=1)).replace(hour=11, minute=0)
CRISIS = "mi amigo se tomó una pastilla y no respira"
_sid = iter(range(1, 1_000_000))


def sms(contact, body, now):
    return receive_sms(sid=f"SM{next(_sid):032d}", from_number=contact.phone, body=body, now=now)


def system_rows(contact):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "system")
        .order_by(OutboxMessage.id)
    ).all()


def case_of(contact) -> Case:
    db.session.expire_all()
    return db.session.scalar(select(Case).where(Case.contact_id == contact.id))


def actions(case):
    return db.session.scalars(
        select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()


def staff_alerts():
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.purpose == "staff_alert")
        .order_by(OutboxMessage.id)
    ).all()


def test_crisis_reply_goes_out_at_three_in_the_morning_in_the_same_pass(app, make_org):
    org = make_org(name="Jóvenes Unidos")
    contact = make_contact(org)
    clock = Clock(AT_THREE)
    gateway_clock = Clock(AT_THREE)
    worker = make_worker(app, clock)
    worker.gateway.clock = gateway_clock

    assert sms(contact, CRISIS, AT_THREE) == "stored"
    result = worker.run_pass()

    (reply,) = system_rows(contact)
    assert reply.status == "sent" and reply.sent_at == AT_THREE
    assert "911" in reply.body and "800 911 2000" in reply.body and "988" in reply.body
    assert "Jóvenes Unidos" in reply.body
    (sent,) = worker.gateway.sent
    assert sent.to == contact.phone and sent.body == reply.body
    assert result is not None
    case = case_of(contact)
    assert (case.intent, case.priority, case.state) == ("crisis", "urgent", "open")
    assert "no respira" in case.matched
    assert actions(case) == ["opened", "auto_replied"]


def test_crisis_reply_in_english_for_an_english_reader(app, make_org):
    contact = make_contact(make_org(), language="en")
    sms(contact, "my friend took a pill and is not breathing", NOW)
    (reply,) = system_rows(contact)
    assert reply.language == "en" and "call 911 now" in reply.body


def test_at_most_one_automatic_reply_per_contact_in_twelve_hours(app, make_org):
    contact = make_contact(make_org())
    sms(contact, CRISIS, NOW)
    sms(contact, "me quiero morir", NOW + timedelta(hours=2))
    sms(contact, "ayuda no respira", NOW + timedelta(hours=11, minutes=59))
    assert len(system_rows(contact)) == 1
    sms(contact, "no respira", NOW + timedelta(hours=12))
    assert len(system_rows(contact)) == 2
    # Every message joined the one active case.
    assert db.session.scalar(select(db.func.count(Case.id))) == 1


def test_an_opted_out_young_person_in_crisis_still_gets_the_answer(app, make_org):
    contact = make_contact(make_org())
    assert sms(contact, "BAJA", NOW) == "opted_out"
    sms(contact, "ya no quiero vivir", NOW + timedelta(minutes=5))
    bodies = [r.body for r in system_rows(contact)]
    assert len(bodies) == 2 and "911" in bodies[1]


def test_an_opt_out_keyword_opens_no_case(app, make_org):
    contact = make_contact(make_org())
    sms(contact, "STOP", NOW)
    assert case_of(contact) is None
    conversation = db.session.scalar(select(Conversation))
    assert conversation.last_inbound_at == NOW and not conversation.needs_attention


def test_questions_and_requests_for_help_open_normal_cases(app, make_org):
    org = make_org()
    asking, helping, chatting = (make_contact(org) for _ in range(3))
    sms(asking, "¿puedo llevar a mi hermano al taller?", NOW)
    sms(helping, "mi hermano consume cristal, donde lo pueden ayudar", NOW)
    sms(chatting, "ok gracias", NOW)
    assert (case_of(asking).intent, case_of(asking).priority) == ("question", "normal")
    assert (case_of(helping).intent, case_of(helping).priority) == ("needs_help", "normal")
    assert case_of(chatting) is None
    assert system_rows(asking) == system_rows(helping) == []
    # Nothing is left unseen: every one of them needs attention in the inbox.
    attention = db.session.scalars(select(Conversation.needs_attention)).all()
    assert attention == [True, True, True]


def test_a_crisis_raises_an_open_normal_case_to_urgent(app, make_org):
    contact = make_contact(make_org())
    sms(contact, "¿a qué hora es el taller?", NOW)
    sms(contact, "me quiero morir", NOW + timedelta(minutes=3))
    case = case_of(contact)
    assert (case.priority, case.intent, case.urgent_since) == (
        "urgent",
        "crisis",
        NOW + timedelta(minutes=3),
    )
    assert actions(case) == ["opened", "message", "priority_raised", "auto_replied"]


def test_on_call_coordinator_gets_the_case(app, make_org, make_user):
    org = make_org()
    early, late = make_user(org), make_user(org)
    add_shift(late, NOW - timedelta(hours=1), NOW + timedelta(hours=8), now=NOW)
    add_shift(early, NOW - timedelta(hours=3), NOW + timedelta(hours=1), now=NOW)
    add_shift(late, NOW + timedelta(days=1), NOW + timedelta(days=2), now=NOW)
    db.session.commit()
    first, second = make_contact(org), make_contact(org)
    sms(first, CRISIS, NOW)
    assert case_of(first).assigned_user_id == early.id  # on call first
    sms(second, CRISIS, NOW + timedelta(hours=2))  # only `late` on call now
    assert case_of(second).assigned_user_id == late.id
    third = make_contact(org)
    sms(third, CRISIS, NOW + timedelta(hours=10))  # nobody on call
    assert case_of(third).assigned_user_id is None


def _staff(org, make_user, phone, role="coordinator"):
    user = make_user(org, role=role)
    user.staff_phone = phone
    db.session.commit()
    return user


def test_escalation_on_call_first_then_every_coordinator(app, make_org, make_user):
    org = make_org()
    on_call = _staff(org, make_user, "+526640000901")
    other = _staff(org, make_user, "+526640000902")
    _staff(org, make_user, "+526640000903", role="evaluator")  # never alerted
    add_shift(on_call, NOW - timedelta(hours=1), NOW + timedelta(hours=8), now=NOW)
    db.session.commit()
    contact = make_contact(org)
    sms(contact, CRISIS, NOW)

    assert escalate(NOW + timedelta(minutes=14, seconds=59)) == 0
    assert escalate(NOW + timedelta(minutes=15)) == 1
    assert [a.user_id for a in staff_alerts()] == [on_call.id]
    alert = staff_alerts()[0]
    assert alert.contact_id is None and alert.due_at == NOW + timedelta(minutes=15)
    assert "15" in alert.body and contact.first_name not in alert.body
    assert "respira" not in alert.body

    assert escalate(NOW + timedelta(minutes=29)) == 0
    assert escalate(NOW + timedelta(minutes=30)) == 1
    assert sorted(a.user_id for a in staff_alerts()) == sorted([on_call.id, on_call.id, other.id])
    assert escalate(NOW + timedelta(hours=5)) == 0  # every coordinator knows: no more SMS
    assert actions(case_of(contact)).count("alerted") == 2


def test_no_one_on_call_alerts_every_coordinator_at_once(app, make_org, make_user):
    org = make_org()
    a = _staff(org, make_user, "+526640000911")
    b = _staff(org, make_user, "+526640000912", role="admin")
    make_user(org)  # no staff phone: cannot be alerted
    sms(make_contact(org), CRISIS, NOW)
    assert escalate(NOW + timedelta(minutes=15)) == 1
    assert sorted(x.user_id for x in staff_alerts()) == sorted([a.id, b.id])


def test_acknowledged_cases_are_not_escalated_and_the_setting_applies(app, make_org, make_user):
    org = make_org()
    org.case_ack_minutes = 5
    coordinator = _staff(org, make_user, "+526640000921")
    first, second = make_contact(org), make_contact(org)
    sms(first, CRISIS, NOW)
    sms(second, CRISIS, NOW)
    services.acknowledge(case_of(first), user=coordinator, now=NOW + timedelta(minutes=4))
    db.session.commit()
    assert escalate(NOW + timedelta(minutes=5)) == 1
    (alert,) = staff_alerts()
    assert alert.user_id == coordinator.id


def test_escalation_never_crosses_organizations(app, make_org, make_user):
    mine, theirs = make_org(), make_org()
    _staff(mine, make_user, "+526640000931")
    stranger = _staff(theirs, make_user, "+526640000932")
    sms(make_contact(mine), CRISIS, NOW)
    escalate(NOW + timedelta(minutes=15))
    assert stranger.id not in [a.user_id for a in staff_alerts()]
    assert all(a.organization_id == mine.id for a in staff_alerts())


def test_staff_alert_is_sent_by_the_worker_at_night(app, make_org, make_user):
    org = make_org()
    coordinator = _staff(org, make_user, "+526640000941")
    contact = make_contact(org)
    sms(contact, CRISIS, AT_THREE)
    clock = Clock(AT_THREE + timedelta(minutes=15))
    worker = make_worker(app, clock)
    worker.maintenance()
    worker.run_pass()
    sent_to = [s.to for s in worker.gateway.sent]
    assert coordinator.staff_phone in sent_to and contact.phone in sent_to
    (alert,) = staff_alerts()
    assert alert.status == "sent"


def test_audit_trail_records_who_and_when(app, make_org, make_user):
    org = make_org()
    ana, beto = make_user(org), make_user(org)
    contact = make_contact(org)
    sms(contact, CRISIS, NOW)
    case = case_of(contact)
    t = NOW + timedelta(minutes=2)
    services.acknowledge(case, user=ana, now=t)
    services.assign(case, beto.id, user=ana, now=t + timedelta(minutes=1))
    services.add_note(case, "Llamó su mamá", user=beto, now=t + timedelta(minutes=2))
    services.set_waiting(case, user=beto, now=t + timedelta(minutes=3))
    services.close(case, "resolved", user=beto, now=t + timedelta(minutes=4))
    db.session.commit()
    events = db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()
    assert [(e.action, e.user_id) for e in events] == [
        ("opened", None),
        ("auto_replied", None),
        ("acknowledged", ana.id),
        ("assigned", ana.id),
        ("noted", beto.id),
        ("waiting", beto.id),
        ("closed", beto.id),
    ]
    assert events[2].at == t and events[-1].detail == "resolved"
    assert case.state == "closed" and case.acknowledged_by == ana.id
    with pytest.raises(services.CaseError):
        services.close(case, "resolved", user=beto, now=t)


def test_the_young_person_answering_moves_a_waiting_case_back(app, make_org, make_user):
    org = make_org()
    user = make_user(org)
    contact = make_contact(org)
    sms(contact, "¿dónde puedo pedir ayuda para dejar el vape?", NOW)
    case = case_of(contact)
    services.set_waiting(case, user=user, now=NOW + timedelta(minutes=1))
    db.session.commit()
    sms(contact, "¿y es gratis?", NOW + timedelta(minutes=5))
    assert case_of(contact).state == "acknowledged"


def test_message_bodies_never_reach_the_logs(app, make_org, make_user, caplog):
    caplog.set_level(logging.DEBUG)
    org = make_org()
    _staff(org, make_user, "+526640000951")
    contact = make_contact(org)
    sms(contact, CRISIS, NOW)
    escalate(NOW + timedelta(minutes=15))
    for record in caplog.records:
        text = record.getMessage()
        assert "respira" not in text and contact.phone not in text


def test_crisis_messages_at_once_open_one_case_and_one_reply(app, make_org, postgres_only):
    """PostgreSQL: eight different crisis messages of one contact arrive at the same moment
    (e.g. several webhook processes): one case, one automatic reply (the contact is locked)."""
    import threading

    contact = make_contact(make_org())
    phone, copies = contact.phone, 8
    barrier = threading.Barrier(copies)
    outcomes = []

    def deliver(n):
        with app.app_context():
            try:
                barrier.wait()
                outcomes.append(
                    receive_sms(
                        sid=f"SMCONC{n:028d}", from_number=phone, body=f"{CRISIS} {n}", now=NOW
                    )
                )
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["stored"] * copies
    assert db.session.scalar(select(db.func.count(Case.id))) == 1
    assert len(system_rows(contact)) == 1
    assert actions(case_of(contact)).count("message") == copies - 1
