"""Issue 14, completing a workshop: pending invitations and reminders are canceled (the
workshop page and the campaign agree), completing before the scheduled end needs a
confirmation, and a completion can be undone for 24 hours."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.campaigns.services import outbox_counts
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend
from app.participation.models import ParticipationEvent
from app.timeutil import utcnow
from app.workshops import attendance, completion, services
from app.workshops.models import Workshop, WorkshopRegistration
from tests.factories import (
    make_contact,
    make_message,
    make_outbox_row,
    make_registration,
    make_workshop,
)
from tests.support import NOW, csrf_token_from

STARTS = NOW - timedelta(minutes=30)  # a 2-hour workshop, under way
AFTER_END = STARTS + timedelta(hours=3)


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def workshop(org):
    return make_workshop(org, starts_at=STARTS, code="4821")


def count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def statuses(workshop, purpose) -> list[tuple[str, str | None]]:
    return list(
        db.session.execute(
            select(OutboxMessage.status, OutboxMessage.skip_reason)
            .where(OutboxMessage.workshop_id == workshop.id, OutboxMessage.purpose == purpose)
            .order_by(OutboxMessage.id)
        ).all()
    )


def workshop_row(contact, workshop, purpose, status="scheduled", **values):
    return make_outbox_row(
        contact,
        campaign_id=workshop.campaign_id,
        workshop_id=workshop.id,
        purpose=purpose,
        status=status,
        **values,
    )


# -- pending messages ---------------------------------------------------------------------


def test_completing_cancels_pending_invitations_reminders_and_notices(org, workshop):
    people = [make_contact(org) for _ in range(5)]
    for contact in people[:3]:
        workshop_row(contact, workshop, "invitation")
    workshop_row(people[3], workshop, "reminder", status="held")
    workshop_row(people[4], workshop, "workshop_notice")
    workshop_row(people[0], workshop, "reminder", status="delivered")  # history stays
    other = make_workshop(
        org, campaign=workshop.campaign, starts_at=STARTS + timedelta(days=7), code="7777"
    )
    workshop_row(people[0], other, "invitation")  # another workshop's: untouched

    result = completion.complete_workshop(workshop, send_thank_you=False, now=AFTER_END)
    assert result.messages_canceled == 5
    assert statuses(workshop, "invitation") == [("canceled", "workshop_completed")] * 3
    assert statuses(workshop, "reminder") == [
        ("canceled", "workshop_completed"),
        ("delivered", None),
    ]
    assert statuses(workshop, "workshop_notice") == [("canceled", "workshop_completed")]
    assert statuses(other, "invitation") == [("scheduled", None)]

    # the workshop page and the campaign's counts agree: nothing left to send
    counts = services.message_counts(workshop)
    assert "scheduled" not in counts["invitation"] and "held" not in counts["reminder"]
    assert counts["invitation"] == {"canceled": 3}
    campaign = outbox_counts(workshop.campaign)
    assert campaign["scheduled"] == 1  # the other workshop's invitation only
    assert campaign["canceled"] == 5 and "held" not in campaign


def test_completing_cancels_sends_not_yet_fanned_out_only(org, workshop):
    message = make_message(workshop.campaign)

    def send(fanned_out_at):
        row = OutreachSend(
            organization_id=org.id,
            campaign_id=workshop.campaign_id,
            message_id=message.id,
            kind="once",
            fixed_at=NOW,
            workshop_id=workshop.id,
            status="scheduled",
            fanned_out_at=fanned_out_at,
        )
        db.session.add(row)
        db.session.commit()
        return row.id

    waiting, done = send(None), send(NOW - timedelta(days=2))
    completion.complete_workshop(workshop, send_thank_you=False, now=AFTER_END)
    assert db.session.get(OutreachSend, waiting).status == "canceled"  # would invite later
    assert db.session.get(OutreachSend, done).status == "scheduled"  # its history stays


# -- before the scheduled end -------------------------------------------------------------


def test_completing_before_the_end_needs_a_confirmation(org, workshop):
    registration = make_registration(workshop, make_contact(org))
    with pytest.raises(attendance.AttendanceError) as error:
        completion.complete_workshop(workshop, send_thank_you=False, now=NOW)
    assert error.value.field == "early"
    assert "has not reached its scheduled end" in str(error.value)
    assert db.session.get(Workshop, workshop.id).status == "scheduled"
    assert not db.session.get(WorkshopRegistration, registration.id).no_show

    result = completion.complete_workshop(
        workshop, send_thank_you=False, now=NOW, early_confirmed=True
    )
    assert result.no_shows == 1


def test_after_the_end_no_confirmation_is_needed(org, workshop):
    completion.complete_workshop(workshop, send_thank_you=False, now=workshop.ends_at)
    assert db.session.get(Workshop, workshop.id).status == "completed"


@pytest.fixture
def coordinator(make_user, org, login, client):
    user = make_user(org, role="coordinator")
    login(user)
    client.get("/?lang=en")
    return user


def roster_url(workshop, path=""):
    return f"/workshops/{workshop.id}/attendance{path}"


def test_the_roster_asks_for_the_confirmation_server_side(client, coordinator, org, workshop):
    make_registration(workshop, make_contact(org))
    page = client.get(roster_url(workshop))
    html = page.get_data(as_text=True)
    assert 'id="early"' in html and "before its scheduled end" in html
    csrf = csrf_token_from(page)
    response = client.post(roster_url(workshop, "/complete"), data={"csrf_token": csrf})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The workshop has not reached its scheduled end." in html
    assert db.session.get(Workshop, workshop.id).status == "scheduled"

    response = client.post(
        roster_url(workshop, "/complete"), data={"csrf_token": csrf, "early": "y"}
    )
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The workshop is completed." in html
    assert "Undo the completion" in html  # within 24 hours


# -- undoing a completion ----------------------------------------------------------------


def completed(org, workshop, *, at=AFTER_END):
    """A completed workshop: one attendee (thank-you queued), one no-show."""
    came, missed = make_contact(org, first_name="Ana"), make_contact(org, first_name="Luis")
    attendance.check_in(make_registration(workshop, came), user_id=None, now=NOW)
    no_show = make_registration(workshop, missed)
    result = completion.complete_workshop(
        workshop, send_thank_you=True, now=at, early_confirmed=True
    )
    assert (result.no_shows, result.thank_yous) == (1, 1)
    return came, missed, no_show


def no_show_events(workshop) -> int:
    return count(
        select(ParticipationEvent).where(
            ParticipationEvent.workshop_id == workshop.id, ParticipationEvent.kind == "no_show"
        )
    )


def test_undo_within_24_hours_reverts_no_shows_and_cancels_thank_yous(org, workshop):
    came, missed, no_show = completed(org, workshop)
    assert completion.completed_at(workshop) == AFTER_END
    assert completion.undo_deadline(workshop) == AFTER_END + timedelta(hours=24)

    result = completion.undo_completion(workshop, now=AFTER_END + timedelta(hours=23))
    assert (result.no_shows_reverted, result.thank_yous_canceled) == (1, 1)
    assert workshop.status == "scheduled" and completion.completed_at(workshop) is None
    registration = db.session.get(WorkshopRegistration, no_show.id)
    assert not registration.no_show and registration.status == "confirmed"
    assert no_show_events(workshop) == 0
    assert statuses(workshop, "thank_you") == [("canceled", "completion_undone")]

    # completing again queues the thank-you again, and the no-show again
    again = completion.complete_workshop(
        workshop, send_thank_you=True, now=AFTER_END + timedelta(hours=23, minutes=5)
    )
    assert (again.no_shows, again.thank_yous) == (1, 1)
    assert [s for s, _reason in statuses(workshop, "thank_you")] == ["canceled", "scheduled"]


def test_a_thank_you_already_sent_stays_sent(org, workshop):
    completed(org, workshop)
    db.session.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.purpose == "thank_you")
        .values(status="sent")
    )
    db.session.commit()
    result = completion.undo_completion(workshop, now=AFTER_END + timedelta(hours=1))
    assert result.thank_yous_canceled == 0
    assert statuses(workshop, "thank_you") == [("sent", None)]


def test_editing_a_completed_workshop_does_not_move_the_undo_window(org, workshop):
    completed(org, workshop)
    workshop.facilitator = "Otra persona"  # a later change of its details
    workshop.updated_at = AFTER_END + timedelta(hours=5)
    db.session.commit()
    assert completion.undo_deadline(workshop) == AFTER_END + timedelta(hours=24)
    with pytest.raises(attendance.AttendanceError):
        completion.undo_completion(workshop, now=AFTER_END + timedelta(hours=24, seconds=1))


def test_undo_after_24_hours_is_refused_and_changes_nothing(org, workshop):
    _came, _missed, no_show = completed(org, workshop)
    with pytest.raises(attendance.AttendanceError) as error:
        completion.undo_completion(workshop, now=AFTER_END + timedelta(hours=24, seconds=1))
    assert "only within 24 hours" in str(error.value)
    assert db.session.get(Workshop, workshop.id).status == "completed"
    assert db.session.get(WorkshopRegistration, no_show.id).no_show
    assert no_show_events(workshop) == 1
    assert statuses(workshop, "thank_you") == [("scheduled", None)]


def test_undo_of_a_workshop_not_completed_is_refused(org, workshop):
    with pytest.raises(attendance.AttendanceError):
        completion.undo_completion(workshop, now=NOW)


def test_undo_from_the_roster(client, coordinator, org, workshop):
    now = utcnow()
    _came, _missed, no_show = completed(org, workshop, at=now)
    page = client.get(roster_url(workshop))
    html = page.get_data(as_text=True)
    assert "Completed by mistake?" in html
    response = client.post(
        roster_url(workshop, "/undo-completion"), data={"csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The completion is undone: the workshop is open again." in html
    assert "1 no-show is registered again." in html
    assert "1 thank-you SMS not yet sent was canceled." in html
    assert db.session.get(Workshop, workshop.id).status == "scheduled"
    assert not db.session.get(WorkshopRegistration, no_show.id).no_show


def test_undo_needs_the_csrf_token_and_the_permission(client, make_user, login, org, workshop):
    completed(org, workshop, at=utcnow())
    login(make_user(org, role="evaluator"))
    csrf = csrf_token_from(client.get("/dashboard"))
    path = roster_url(workshop, "/undo-completion")
    assert client.post(path, data={"csrf_token": csrf}).status_code == 403
    login(make_user(org, role="coordinator"))
    assert client.post(path, data={}).status_code == 400
    assert db.session.get(Workshop, workshop.id).status == "completed"
