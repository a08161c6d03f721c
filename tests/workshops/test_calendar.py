"""The organization's iCalendar feed: valid RFC 5545 parsed back with `icalendar`, stable
UIDs, venue time zones, SEQUENCE and STATUS:CANCELLED, a secret URL, and no personal data."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from app.extensions import db
from app.workshops import services
from tests.factories import WORKSHOP_START, make_contact, make_registration, make_workshop
from tests.support import NOW, csrf_token_from, utc


def feed(client, org):
    response = client.get(f"/workshops/calendar/{org.calendar_token}.ics")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/calendar"
    return response


def events(response) -> dict:
    calendar = Calendar.from_ical(response.data)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def org(make_org):
    return make_org(name="Jóvenes Libres")


def test_feed_parses_with_stable_uids_and_venue_time_zones(client, org):
    tijuana = make_workshop(
        org, code="4821", facilitator="Mtra. Ruiz", venue_address="Av. Revolución 1000"
    )
    cancun = make_workshop(
        org,
        code="1234",
        timezone="America/Cancun",
        state_code="23",
        municipality="Cancún",
        starts_at=utc(2026, 12, 8, 22, 0),
        title_es="Vapeo: la neta",
        title_en="Vaping: the truth",
    )
    response = feed(client, org)
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["version"]) == "2.0" and "Alcance" in str(calendar["prodid"])
    assert {str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")} == {
        "America/Tijuana",
        "America/Cancun",
    }
    found = events(response)
    assert set(found) == {f"workshop-{tijuana.id}@alcance", f"workshop-{cancun.id}@alcance"}

    event = found[f"workshop-{tijuana.id}@alcance"]
    start = event.decoded("dtstart")
    assert event["dtstart"].params["TZID"] == "America/Tijuana"
    assert start == WORKSHOP_START and start.replace(tzinfo=None) == datetime(2026, 12, 5, 17, 0)
    assert event.decoded("dtend") == WORKSHOP_START + timedelta(hours=2)
    assert str(event["summary"]) == "Decide tú"  # the organization's default language
    assert "Casa de la Cultura" in str(event["location"])
    assert "Av. Revolución 1000" in str(event["location"])
    assert "Baja California" in str(event["location"])
    description = str(event["description"])
    assert "Mtra. Ruiz" in description and "4821" in description and "Your call" in description
    assert int(event["sequence"]) == 0 and str(event["status"]) == "CONFIRMED"
    assert event.decoded("dtstamp").tzinfo is not None

    other = found[f"workshop-{cancun.id}@alcance"]
    assert other["dtstart"].params["TZID"] == "America/Cancun"
    assert other.decoded("dtstart").astimezone(ZoneInfo("America/Cancun")).hour == 17


def test_rescheduled_and_canceled_workshops(client, org):
    from datetime import date, time

    moved = make_workshop(org, code="4821")
    dropped = make_workshop(org, code="1234")
    services.reschedule_workshop(
        moved, local_date=date(2026, 12, 12), start_time=time(10, 0), end_time=time(12, 0), now=NOW
    )
    services.cancel_workshop(dropped, now=NOW)
    found = events(feed(client, org))
    event = found[f"workshop-{moved.id}@alcance"]
    assert int(event["sequence"]) == 1
    assert event.decoded("dtstart") == utc(2026, 12, 12, 18, 0)
    canceled = found[f"workshop-{dropped.id}@alcance"]
    assert str(canceled["status"]) == "CANCELLED" and int(canceled["sequence"]) == 1


def test_no_young_peoples_data_in_the_feed(client, org):
    workshop = make_workshop(org, code="4821")
    contact = make_contact(org, first_name="Xochiquetzal", phone="+526645559876")
    make_registration(workshop, contact)
    body = feed(client, org).get_data(as_text=True)
    assert "Xochiquetzal" not in body and "5559876" not in body and "+52" not in body


def test_only_the_organizations_own_workshops(client, org, make_org):
    mine = make_workshop(org, code="4821")
    other_org = make_org()
    theirs = make_workshop(other_org, code="4821")
    assert set(events(feed(client, org))) == {f"workshop-{mine.id}@alcance"}
    assert set(events(feed(client, other_org))) == {f"workshop-{theirs.id}@alcance"}


def test_old_workshops_leave_the_feed(client, org):
    from app.timeutil import utcnow

    make_workshop(org, code="1111", starts_at=utcnow() - timedelta(days=200))
    recent = make_workshop(org, code="2222", starts_at=utcnow() - timedelta(days=20))
    found = events(feed(client, org))
    assert set(found) == {f"workshop-{recent.id}@alcance"}


def test_empty_feed_is_still_a_calendar(client, org):
    calendar = Calendar.from_ical(feed(client, org).data)
    assert calendar.walk("VEVENT") == []


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 200])
def test_bad_token_is_404(client, org, token):
    make_workshop(org)
    assert client.get(f"/workshops/calendar/{token}.ics").status_code == 404


def test_feed_needs_no_login_and_sets_no_cookie(client, org):
    response = feed(client, org)
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"].startswith("private")


def test_admin_regenerates_the_token(client, login, org, make_user):
    admin = make_user(org, role="admin", language="en")
    old = org.calendar_token
    login(admin)
    page = client.get("/workshops/")
    assert old in page.get_data(as_text=True)
    response = client.post("/workshops/calendar/token", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    db.session.refresh(org)
    assert org.calendar_token != old
    assert client.get(f"/workshops/calendar/{old}.ics").status_code == 404
    assert client.get(f"/workshops/calendar/{org.calendar_token}.ics").status_code == 200


def test_coordinators_cannot_regenerate_the_token(client, login, org, make_user):
    coordinator = make_user(org, role="coordinator", language="en")
    login(coordinator)
    page = client.get("/workshops/")
    html = page.get_data(as_text=True)
    assert org.calendar_token in html and "Keep this link private" in html
    assert "/workshops/calendar/token" not in html
    response = client.post("/workshops/calendar/token", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 403
