"""Issue 16, the web side: what coordinators do to a case from the thread (acknowledge,
assign, wait, note, close, reopen, refer) and the audit trail that records it. Bad input
changes nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.conversations.models import Case, CaseEvent, LocalService, Referral
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage
from app.participation.models import ParticipationEvent
from tests.factories import make_contact
from tests.support import NOW, csrf_token

CRISIS = "mi amigo se tomó una pastilla y no respira"
_sid = iter(range(1, 1_000_000))


@pytest.fixture
def contact(org):
    return make_contact(org, 1, first_name="Ana")


@pytest.fixture
def case(contact):
    receive_sms(
        sid=f"SMc{next(_sid):031d}",
        from_number=contact.phone,
        body=CRISIS,
        now=NOW - timedelta(minutes=3),
    )
    return db.session.scalar(select(Case).where(Case.contact_id == contact.id))


def fresh(case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def trail(case) -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(
        select(CaseEvent.action, CaseEvent.user_id, CaseEvent.detail, CaseEvent.note)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id)
    ).all()


def act(client, case, action, **data):
    response = client.post(
        f"/cases/{case.id}/{action}", data={"csrf_token": csrf_token(client), **data}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/conversations/{case.contact_id}")
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_acknowledge(client, coordinator, case):
    html = act(client, case, "acknowledge")
    assert "Case acknowledged." in html
    c = fresh(case)
    assert c.state == "acknowledged" and c.acknowledged_by == coordinator.id
    assert c.assigned_user_id == coordinator.id  # nobody had it: now it is theirs
    assert trail(case)[-1][:2] == ("acknowledged", coordinator.id)
    assert "Acknowledged" in html and coordinator.email in html
    assert 'data-state="acknowledged"' in html


def test_assign_and_unassign(client, org, coordinator, case, make_user):
    colleague = make_user(org, "admin")
    html = act(client, case, "assign", assignee=str(colleague.id))
    assert "Assignment saved." in html
    assert fresh(case).assigned_user_id == colleague.id
    assert trail(case)[-1] == ("assigned", coordinator.id, str(colleague.id), None)
    assert f"data-assignee>{colleague.email}" in html
    act(client, case, "assign", assignee="")
    assert fresh(case).assigned_user_id is None
    assert trail(case)[-1][0] == "unassigned"


@pytest.mark.parametrize("who", ["evaluator", "other_org", "inactive", "nonsense"])
def test_assign_only_to_active_coordinators_of_the_organization(
    client, org, coordinator, case, make_user, make_org, who
):
    assignee = {
        "evaluator": lambda: str(make_user(org, "evaluator").id),
        "other_org": lambda: str(make_user(make_org(), "coordinator").id),
        "inactive": lambda: _inactive(make_user(org, "coordinator")),
        "nonsense": lambda: "abc",
    }[who]()
    before = trail(case)
    html = act(client, case, "assign", assignee=assignee)
    assert "Not a valid choice" in html
    assert fresh(case).assigned_user_id is None and trail(case) == before


def _inactive(user):
    user.active = False
    db.session.commit()
    return str(user.id)


def test_mark_waiting(client, coordinator, case):
    html = act(client, case, "waiting")
    assert "Case marked as waiting on the young person." in html
    assert fresh(case).state == "waiting"
    assert [a for a, *_ in trail(case)][-2:] == ["acknowledged", "waiting"]


def test_add_note(client, coordinator, case):
    html = act(client, case, "note", note="Llamé a su escuela; la orientadora la busca.")
    assert "Note added." in html
    assert trail(case)[-1] == (
        "noted",
        coordinator.id,
        None,
        "Llamé a su escuela; la orientadora la busca.",
    )
    assert "la orientadora la busca" in html


def test_an_empty_note_is_refused(client, coordinator, case):
    before = trail(case)
    html = act(client, case, "note", note="   ")
    assert "Write the note." in html
    assert trail(case) == before


def test_close_with_a_reason_then_reopen(client, coordinator, case):
    html = act(client, case, "close", reason="resolved")
    assert "Case closed." in html
    c = fresh(case)
    assert (c.state, c.close_reason) == ("closed", "resolved") and c.closed_at is not None
    assert trail(case)[-1] == ("closed", coordinator.id, "resolved", None)
    assert "Resolved" in html and f"/cases/{case.id}/reopen" in html
    html = act(client, case, "reopen")
    assert "Case reopened." in html
    assert fresh(case).state == "acknowledged"
    assert trail(case)[-1][:2] == ("reopened", coordinator.id)


def test_close_without_a_known_reason_changes_nothing(client, coordinator, case):
    before = trail(case)
    html = act(client, case, "close", reason="bored")
    assert "Not a valid choice" in html
    assert fresh(case).state == "open" and trail(case) == before


def test_a_closed_case_refuses_actions_with_a_message(client, coordinator, case):
    act(client, case, "close", reason="duplicate")
    before = trail(case)
    for action, data in (("acknowledge", {}), ("waiting", {}), ("assign", {"assignee": ""})):
        html = act(client, case, action, **data)
        if action != "assign":
            assert "This case is closed." in html
    html = act(client, case, "refer", service="linea_vida")
    assert "This case is closed." in html
    assert trail(case) == before


def test_reopen_an_open_case_is_refused(client, coordinator, case):
    html = act(client, case, "reopen")
    assert "This case is not closed." in html
    assert fresh(case).state == "open"


def test_close_reasons_are_translated(client, coordinator, case):
    html = client.get(f"/conversations/{case.contact_id}?lang=es").get_data(as_text=True)
    assert "Resuelto" in html


def test_refer_to_a_helpline_with_the_details_by_sms(client, coordinator, contact, case):
    html = act(client, case, "refer", service="linea_vida", send_details="y")
    assert "Referral recorded." in html
    referral = db.session.scalar(select(Referral).where(Referral.case_id == case.id))
    assert referral.service_type == "linea_vida" and referral.details_sent
    c = fresh(case)
    assert c.state == "referred" and c.follow_up_at == referral.follow_up_at
    assert trail(case)[-1] == ("referred", coordinator.id, "linea_vida", None)
    details = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "reply"
        )
    ).one()
    assert "800 911 2000" in details.body
    event = db.session.scalar(
        select(ParticipationEvent).where(ParticipationEvent.kind == "referred")
    )
    assert event.detail == "linea_vida"
    assert "Línea de la Vida" in html


def test_refer_to_a_local_service_without_sms(client, org, coordinator, contact, case):
    local = LocalService(organization_id=org.id, name="Centro Comunitario Otay", phone="664 1")
    db.session.add(local)
    db.session.commit()
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert f'value="local:{local.id}"' in html
    act(client, case, "refer", service=f"local:{local.id}")
    referral = db.session.scalar(select(Referral).where(Referral.case_id == case.id))
    assert referral.local_service_id == local.id and not referral.details_sent
    replies = db.session.scalar(select(func.count()).where(OutboxMessage.purpose == "reply"))
    assert replies == 0


@pytest.mark.parametrize("service", ["local:999", "nowhere", "", "local:abc"])
def test_refer_to_an_unknown_service_changes_nothing(client, coordinator, case, service):
    before = trail(case)
    html = act(client, case, "refer", service=service)
    assert "Not a valid choice" in html or "Choose a service" in html
    assert fresh(case).state == "open" and trail(case) == before
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 0


def test_another_organizations_local_service_is_not_a_choice(client, coordinator, case, make_org):
    foreign = LocalService(organization_id=make_org().id, name="Ajeno")
    db.session.add(foreign)
    db.session.commit()
    html = act(client, case, "refer", service=f"local:{foreign.id}")
    assert "Not a valid choice" in html and fresh(case).state == "open"


def test_actions_need_the_csrf_token(client, coordinator, case):
    response = client.post(f"/cases/{case.id}/acknowledge")
    assert response.status_code == 400
    assert fresh(case).state == "open"


def test_the_trail_lists_who_did_what_and_when(client, coordinator, case):
    act(client, case, "acknowledge")
    act(client, case, "note", note="Hablamos por teléfono.")
    html = client.get(f"/conversations/{case.contact_id}").get_data(as_text=True)
    history = html[html.index("case-events") :]
    order = [
        history.index("Case opened"),
        history.index("Automatic crisis reply sent"),
        history.index("Acknowledged"),
        history.index("Note added"),
    ]
    assert order == sorted(order)
    assert "Alcance" in history and coordinator.email in history
    assert "Crisis · Urgent" in history
