"""Issue 14, at the door: a double tap on "Check in" never undoes it, and the workshop's
registrations list and the check-in list show the same attendance."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.participation.models import ParticipationEvent
from app.timeutil import utcnow
from app.workshops import attendance, completion
from app.workshops.models import WorkshopRegistration
from tests.factories import make_contact, make_registration, make_workshop
from tests.support import csrf_token_from

JSON = {"Accept": "application/json"}


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(make_user, org, login, client):
    user = make_user(org, role="coordinator")
    login(user)
    client.get("/?lang=en")
    return user


@pytest.fixture
def workshop(org):
    return make_workshop(org, starts_at=utcnow() - timedelta(minutes=30), code="4821")


def url(workshop, path=""):
    return f"/workshops/{workshop.id}/attendance{path}"


def kinds(contact) -> list[str]:
    return list(
        db.session.scalars(
            select(ParticipationEvent.kind).where(ParticipationEvent.contact_id == contact.id)
        )
    )


# -- a double tap ---------------------------------------------------------------------------


def test_a_second_check_in_post_never_toggles(client, coordinator, org, workshop):
    ana = make_contact(org, first_name="Ana")
    registration = make_registration(workshop, ana)
    csrf = csrf_token_from(client.get(url(workshop)))
    check_in = url(workshop, f"/{registration.id}/check-in")
    first = client.post(check_in, data={"csrf_token": csrf}, headers=JSON).get_json()
    second = client.post(check_in, data={"csrf_token": csrf}, headers=JSON).get_json()
    third = client.post(check_in, data={"csrf_token": csrf})  # without JavaScript
    assert first["message"] == "Ana is checked in."
    assert second["message"] == "Ana was already checked in."
    assert third.status_code == 302
    assert first["counts"]["attended"] == second["counts"]["attended"] == 1
    row = db.session.get(WorkshopRegistration, registration.id)
    assert row.attended_at is not None and kinds(ana) == ["attended"]


def test_after_a_check_in_the_undo_is_not_where_check_in_was(client, coordinator, org, workshop):
    registration = make_registration(workshop, make_contact(org, first_name="Ana"))
    csrf = csrf_token_from(client.get(url(workshop)))
    html = client.post(
        url(workshop, f"/{registration.id}/check-in"), data={"csrf_token": csrf}, headers=JSON
    ).get_json()["html"]
    # The check-in button's place (first in the action column, which workshops.css keeps
    # where the button was) now holds the check-in time: text, not a control...
    action = re.search(r'<div class="roster-row__action">(.*?)</div>\s*</li>', html, re.S)[1]
    done, _sep, rest = action.partition("</span>\n")
    assert "data-roster-done" in done and 'tabindex="-1"' in done and "<button" not in done
    # ...and "Undo" comes after it: a separate form posting to a separate endpoint.
    assert rest.lstrip().startswith('<form method="post" class="roster-row__undo"')
    assert f"/{registration.id}/undo" in rest and "roster-undo" in rest
    assert f"/{registration.id}/check-in" not in html
    css = (Path(__file__).parents[2] / "app/static/css/workshops.css").read_text("utf-8")
    assert ".roster-row--in .roster-row__action { flex-direction: row-reverse;" in css


def test_the_roster_script_ignores_repeat_activation():
    source = (Path(__file__).parents[2] / "app/static/js/roster.js").read_text("utf-8")
    assert "COOLDOWN_MS = 2000" in source and "coolingDown(row)" in source
    assert "[data-roster-done]" in source  # focus goes to the check-in time, not to "Undo"


# -- one source of attendance for both lists ----------------------------------------------


def detail(client, workshop) -> str:
    return client.get(f"/workshops/{workshop.id}").get_data(as_text=True)


def attendance_badges(html: str) -> list[str]:
    return re.findall(r'data-attendance="([a-z_]+)"', html)


def test_sign_in_sheet_attendance_shows_in_both_lists(client, coordinator, org, workshop):
    invited = make_contact(org, first_name="Bego", phone="+526645550101")
    declined = make_contact(org, first_name="Luis", phone="+526645550102")
    make_registration(workshop, invited, status="invited")
    make_registration(workshop, declined, status="declined")
    csrf = csrf_token_from(client.get(url(workshop, "/upload")))
    client.post(
        url(workshop, "/upload"),
        data={
            "csrf_token": csrf,
            "file": (io.BytesIO(b"telefono\n6645550101\n6645550102\n"), "firmas.csv"),
        },
        content_type="multipart/form-data",
    )
    roster = client.get(url(workshop)).get_data(as_text=True)
    assert roster.count("roster-row--in") == 2
    page = detail(client, workshop)
    assert attendance_badges(page) == ["attended", "attended"]
    assert page.count('<details class="ws-group" open>') == 2  # both groups opened
    for entry in attendance.roster(workshop):
        assert entry.attendance == "attended"


def test_no_shows_show_as_no_shows_in_both_lists(client, coordinator, org, workshop):
    missed = make_contact(org, first_name="Eva")
    came = make_contact(org, first_name="Ana")
    make_registration(workshop, missed)
    attendance.check_in(make_registration(workshop, came), user_id=coordinator.id, now=utcnow())
    completion.complete_workshop(workshop, send_thank_you=False, now=utcnow(), early_confirmed=True)
    roster = client.get(url(workshop)).get_data(as_text=True)
    assert roster.count("No-show") == 1 and roster.count("roster-row--in") == 1
    page = detail(client, workshop)
    assert sorted(attendance_badges(page)) == ["attended", "no_show"]
    assert ">No-show<" in page and ">Attended<" in page


@pytest.mark.parametrize(
    ("attended", "no_show", "expected"),
    [
        (True, False, "attended"),
        (True, True, "attended"),
        (False, True, "no_show"),
        (False, False, None),
    ],
)
def test_attendance_status_is_one_rule(attended, no_show, expected):
    moment = utcnow() if attended else None
    assert attendance.attendance_status(moment, no_show) == expected
