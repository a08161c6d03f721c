"""Issue 14: a send can be changed (message, time) until its first message goes out;
afterwards only canceled. The refusal holds when a worker claims a row meanwhile."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select, update

from app.errors import DomainError
from app.extensions import db
from app.outbox import api as outbox_api
from app.outbox.dispatch import claim_due
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend
from app.outreach.services import edit_send
from tests.factories import make_campaign, make_contact, make_message, make_org
from tests.outreach.helpers import schedule_once
from tests.support import NOW, ON_POSTGRES, csrf_token, csrf_token_from, utc


def _setup(n=3):
    org = make_org()
    campaign = make_campaign(org)
    message = make_message(campaign)
    other = make_message(campaign, label="Otro", body_es="Nuevo texto", body_en="New text")
    contacts = [make_contact(org) for _ in range(n)]
    send, _ = schedule_once(org, now=NOW, campaign=campaign, message=message)
    return send, other, contacts


def _rows(send):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.send_id == send.id).order_by(OutboxMessage.id)
    ).all()


def test_editing_rewords_and_reschedules_the_pending_messages(app):
    send, other, _ = _setup()
    changed = edit_send(
        send, message=other, now=NOW, local_date=date(2026, 12, 3), local_time=time(9, 30)
    )
    assert changed == 3
    rows = _rows(send)
    # 09:30 in Tijuana (UTC-8) is 17:30 UTC.
    assert {r.due_at for r in rows} == {utc(2026, 12, 3, 17, 30)}
    assert {r.body for r in rows} == {"Nuevo texto"}
    assert db.session.get(OutreachSend, send.id).message_id == other.id


def test_editing_before_the_fan_out_only_changes_the_send(app):
    app.config["OUTREACH_INLINE_FANOUT"] = 0  # a background job will fan it out
    send, other, _ = _setup()
    assert send.job_id and send.fanned_out_at is None
    assert (
        edit_send(
            send, message=other, now=NOW, local_date=date(2026, 12, 4), local_time=time(10, 0)
        )
        == 0
    )
    send = db.session.get(OutreachSend, send.id)
    assert (send.local_date, send.local_time, send.message_id) == (
        date(2026, 12, 4),
        time(10, 0),
        other.id,
    )
    assert _rows(send) == []


def test_editing_to_a_past_time_is_refused(app):
    send, other, _ = _setup()
    with pytest.raises(DomainError):
        edit_send(
            send, message=other, now=NOW, local_date=date(2026, 11, 27), local_time=time(8, 0)
        )
    rows = _rows(send)
    assert {r.due_at for r in rows} == {utc(2026, 12, 2, 1, 0)}  # 17:00 Tijuana, unchanged
    assert db.session.get(OutreachSend, send.id).local_date == date(2026, 12, 1)


def test_once_a_message_is_claimed_the_send_cannot_change(app):
    send, other, _ = _setup()
    claim_due("w1", now=utc(2026, 12, 2, 1, 0), limit=1, lease=timedelta(minutes=2))
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        edit_send(send, message=other, now=NOW, local_date=date(2026, 12, 3), local_time=time(9, 0))
    assert "cancel" in str(refused.value)
    rows = _rows(send)
    assert {r.due_at for r in rows} == {utc(2026, 12, 2, 1, 0)}
    assert "Nuevo texto" not in {r.body for r in rows}
    assert db.session.get(OutreachSend, send.id).message_id != other.id


def test_a_claim_racing_with_the_edit_makes_it_refuse(app, monkeypatch):
    """A worker claims a row after the edit's first check: the check made again after the
    change refuses, and nothing changes."""
    send, other, _ = _setup()
    first_id = _rows(send)[0].id
    reword = outbox_api.reword_pending

    def claim_then_reword(values, **filters):
        claim = (
            update(OutboxMessage)
            .where(OutboxMessage.id == first_id, OutboxMessage.status == "scheduled")
            .values(status="claimed", claimed_by="w1", lease_expires_at=NOW)
        )
        if ON_POSTGRES:  # another worker's transaction, committed before the edit's update
            with db.engine.connect() as other_connection:
                other_connection.execute(claim)
                other_connection.commit()
        else:  # SQLite has one writer: the claim lands inside the edit's transaction
            db.session.execute(claim)
        return reword(values, **filters)

    monkeypatch.setattr(outbox_api, "reword_pending", claim_then_reword)
    with pytest.raises(DomainError):
        edit_send(send, message=other, now=NOW, local_date=date(2026, 12, 3), local_time=time(9, 0))
    rows = _rows(send)
    pending = [r for r in rows if r.id != first_id]
    assert {r.due_at for r in pending} == {utc(2026, 12, 2, 1, 0)}
    assert "Nuevo texto" not in {r.body for r in rows}
    assert db.session.get(OutreachSend, send.id).message_id != other.id


def test_the_edit_page_changes_a_send(client, login, world):
    login(world["user"])
    other = make_message(world["campaign"], label="Otro", body_es="Nuevo", body_en="New")
    send, _ = schedule_once(
        world["org"], now=NOW, campaign=world["campaign"], message=world["message"]
    )
    url = f"/sends/{send.id}/edit"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(page),
            "message": other.id,
            "timing": "local",
            "local_date": "2026-12-05",
            "local_time": "12:00",
        },
    )
    assert response.status_code == 302
    assert {r.body for r in _rows(send)} == {"Nuevo"}
    detail = client.get(f"/sends/{send.id}").get_data(as_text=True)
    assert f'href="/sends/{send.id}/edit"' in detail


@pytest.mark.parametrize(
    "data",
    [
        {"message": "999999"},
        {"local_date": "2026-02-30"},
        {"local_time": "nonsense"},
        {"local_date": "2026-11-27", "local_time": "08:00"},  # past
    ],
)
def test_bad_edits_are_refused_and_change_nothing(client, login, world, data):
    login(world["user"])
    send, _ = schedule_once(
        world["org"], now=NOW, campaign=world["campaign"], message=world["message"]
    )
    url = f"/sends/{send.id}/edit?lang=es"
    payload = {
        "csrf_token": csrf_token_from(client.get(url)),
        "message": world["message"].id,
        "timing": "local",
        "local_date": "2026-12-05",
        "local_time": "12:00",
        **data,
    }
    response = client.post(url, data=payload)
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    assert {r.due_at for r in _rows(send)} == {utc(2026, 12, 2, 1, 0)}


def test_the_edit_page_refuses_a_started_send(client, login, world):
    login(world["user"])
    send, _ = schedule_once(
        world["org"], now=NOW, campaign=world["campaign"], message=world["message"]
    )
    claim_due("w1", now=utc(2026, 12, 2, 1, 0), limit=1, lease=timedelta(minutes=2))
    db.session.commit()
    response = client.get(f"/sends/{send.id}/edit")
    assert response.status_code == 302
    detail = client.get(f"/sends/{send.id}").get_data(as_text=True)
    assert f'href="/sends/{send.id}/edit"' not in detail
    token = csrf_token(client)
    other = make_message(world["campaign"], label="Otro", body_es="Nuevo", body_en="New")
    response = client.post(
        f"/sends/{send.id}/edit",
        data={
            "csrf_token": token,
            "message": other.id,
            "local_date": "2026-12-05",
            "local_time": "12:00",
        },
    )
    assert response.status_code == 302
    assert "Nuevo" not in {r.body for r in _rows(send)}


def test_another_organizations_send_cannot_be_edited(client, login, world, make_org, make_user):
    send, _ = schedule_once(
        world["org"], now=NOW, campaign=world["campaign"], message=world["message"]
    )
    login(make_user(make_org(), role="coordinator"))
    assert client.get(f"/sends/{send.id}/edit").status_code == 404


def test_an_edit_applies_each_recipients_country_window(app):
    send, other, (mexican,) = _setup(n=1)
    american = make_contact(
        send.campaign.organization,
        country="US",
        state_code="CA",
        timezone="America/Los_Angeles",
        phone="+16195550123",
    )
    # The US contact joins after the fan-out: give it its own row through a second send.
    us_send, _ = schedule_once(
        send.campaign.organization,
        now=NOW,
        campaign=send.campaign,
        message=other,
        filters={"country": "US"},
    )
    for each in (send, us_send):
        edit_send(
            each, message=other, now=NOW, local_date=date(2026, 12, 3), local_time=time(8, 30)
        )
    # Tijuana (MX window from 09:00) and Los Angeles (US window from 08:00), both UTC-8.
    assert {r.due_at for r in _rows(send)} == {utc(2026, 12, 3, 17, 0)}
    assert {r.due_at for r in _rows(us_send)} == {utc(2026, 12, 3, 16, 30)}
    assert american.id in {r.contact_id for r in _rows(us_send)}
