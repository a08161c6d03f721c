"""Workshop pages: week calendar, create/edit, detail, reschedule/cancel with confirmation,
invitations, permissions, and organization isolation on every route."""

import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outbox.models import OutboxMessage
from app.timeutil import utcnow
from app.workshops.models import Workshop
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_message,
    make_registration,
    make_workshop,
)
from tests.support import TIJUANA, csrf_token_from, next_saturday_at_five


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).split())


def week_of(moment) -> str:
    year, week, _day = moment.astimezone(TIJUANA).isocalendar()
    return f"{year}-W{week:02d}"


@pytest.fixture
def world(make_org, make_user):
    org = make_org()
    user = make_user(org, role="coordinator", language="en")
    campaign = make_campaign(org)
    start = next_saturday_at_five()
    workshop = make_workshop(org, campaign=campaign, code="4821", starts_at=start, capacity=2)
    return dict(org=org, user=user, campaign=campaign, workshop=workshop, start=start)


@pytest.fixture
def signed_in(client, login, world):
    login(world["user"])
    return world


# --- Week calendar ------------------------------------------------------------------------------


def test_week_view_lists_workshops_with_local_time_seats_and_waitlist(client, signed_in):
    w = signed_in["workshop"]
    org = signed_in["org"]
    for status in ("confirmed", "confirmed", "waitlisted"):
        make_registration(w, make_contact(org), status)
    make_workshop(
        org,
        campaign=signed_in["campaign"],
        code="1111",
        starts_at=signed_in["start"] + timedelta(days=7),
        title_en="Next week's workshop",
    )
    page = text(client.get(f"/workshops/?week={week_of(signed_in['start'])}"))
    assert "Your call" in page and "5:00 PM" in page and "Casa de la Cultura" in page
    assert "2 of 2 confirmed" in page and "1 on the waitlist" in page and "Code 4821" in page
    assert "Next week's workshop" not in page
    html = client.get(f"/workshops/?week={week_of(signed_in['start'])}").get_data(as_text=True)
    nxt = week_of(signed_in["start"] + timedelta(days=7))
    assert f"week={nxt}" in html
    assert "Next week&#39;s workshop" in client.get(f"/workshops/?week={nxt}").get_data(
        as_text=True
    )


def test_week_view_defaults_to_this_week(client, signed_in):
    page = client.get("/workshops/?week=garbage")
    assert page.status_code == 200
    assert "No workshops this week." in text(page) or "Your call" in text(page)


@pytest.mark.parametrize("week", ["0001-W01", "9999-W52", "1999-W52", "2100-W01"])
def test_week_out_of_range_is_a_translated_400(client, signed_in, week):
    page = client.get(f"/workshops/?week={week}")
    assert page.status_code == 400
    assert "Choose a week between" in text(page)
    page = client.get(f"/workshops/?week={week}&lang=es")
    assert page.status_code == 400
    assert "Elige una semana entre" in text(page)


def test_first_and_last_weeks_in_range_render_with_their_neighbours(client, signed_in):
    last_year = utcnow().astimezone(TIJUANA).year + 10
    for week in ("2000-W01", f"{last_year}-W52"):
        page = client.get(f"/workshops/?week={week}")
        assert page.status_code == 200, week


def test_spanish_page(client, signed_in):
    page = text(client.get(f"/workshops/?week={week_of(signed_in['start'])}&lang=es"))
    # es_MX (issue 14): Mexico's 12-hour clock, "5:00 p.m." (text() folds the narrow space).
    assert "Decide tú" in page and "5:00 p.m." in page and "sábado" in page


def test_nav_and_permissions(client, login, make_user, world):
    evaluator = make_user(world["org"], role="evaluator")
    login(evaluator)
    assert client.get("/workshops/").status_code == 403
    assert client.get(f"/workshops/{world['workshop'].id}").status_code == 403


def test_login_required(client, world):
    assert client.get("/workshops/").status_code == 302


# --- Create and edit -----------------------------------------------------------------------------


def form_data(client, url, **changes):
    data = {
        "csrf_token": csrf_token_from(client.get(url)),
        "title_es": "Vapeo: la neta",
        "title_en": "Vaping: the truth",
        "kind": "school_talk",
        "venue_name": "Secundaria Técnica 5",
        "venue_address": "",
        "state": "MX:08",
        "municipality": "Ciudad Juárez",
        "timezone": "",
        "capacity": "25",
        "facilitator": "",
        "language": "both",
    }
    data.update(changes)
    return data


def test_create_from_the_form(client, signed_in):
    day = signed_in["start"].astimezone(TIJUANA).date()
    data = form_data(
        client,
        "/workshops/new",
        campaign_id=str(signed_in["campaign"].id),
        local_date=day.isoformat(),
        start_time="10:00",
        end_time="12:00",
    )
    response = client.post("/workshops/new", data=data)
    assert response.status_code == 302
    workshop = db.session.scalar(select(Workshop).where(Workshop.title_es == "Vapeo: la neta"))
    assert workshop.timezone == "America/Ciudad_Juarez"
    local = workshop.starts_at.astimezone(ZoneInfo("America/Ciudad_Juarez"))
    assert (local.date(), local.hour) == (day, 10)
    page = text(client.get(response.headers["Location"]))
    assert workshop.code in page and "Vaping: the truth" in page


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"end_time": "09:00"}, "The workshop must end after it starts."),
        ({"capacity": "0"}, "Number must be between 1 and 5000."),
        ({"title_es": ""}, "Enter the title in Spanish."),
        ({"state": ""}, "Choose the state where the venue is."),
        ({"local_date": "2020-01-01"}, "The start must be in the future."),
    ],
)
def test_bad_input_is_refused_with_a_message(client, signed_in, changes, message):
    day = signed_in["start"].astimezone(TIJUANA).date()
    data = form_data(
        client,
        "/workshops/new",
        campaign_id=str(signed_in["campaign"].id),
        local_date=day.isoformat(),
        start_time="10:00",
        end_time="12:00",
    )
    data.update(changes)
    response = client.post("/workshops/new", data=data)
    assert response.status_code == 400
    assert message in text(response)
    assert db.session.query(Workshop).count() == 1


def test_other_organizations_campaigns_cannot_be_chosen(client, signed_in, make_org):
    foreign = make_campaign(make_org())
    day = signed_in["start"].astimezone(TIJUANA).date()
    data = form_data(
        client,
        "/workshops/new",
        campaign_id=str(foreign.id),
        local_date=day.isoformat(),
        start_time="10:00",
        end_time="12:00",
    )
    assert client.post("/workshops/new", data=data).status_code == 400
    assert db.session.query(Workshop).count() == 1


def test_edit(client, signed_in):
    w = signed_in["workshop"]
    url = f"/workshops/{w.id}/edit"
    assert "Casa de la Cultura" in client.get(url).get_data(as_text=True)
    data = form_data(
        client, url, state="MX:02", municipality="Tijuana", venue_name="CECUT", capacity="40"
    )
    assert client.post(url, data=data).status_code == 302
    db.session.refresh(w)
    assert (w.venue_name, w.capacity, w.starts_at) == ("CECUT", 40, signed_in["start"])


# --- Detail --------------------------------------------------------------------------------------


def test_detail_groups_registrations_and_shows_the_funnel(client, signed_in):
    w, org = signed_in["workshop"], signed_in["org"]
    make_registration(w, make_contact(org, first_name="Ana", phone="+526645550001"))
    make_registration(
        w, make_contact(org, first_name="Beto", phone="+526645550002"), attended_at=utcnow()
    )
    make_registration(w, make_contact(org, first_name="Cami", phone="+526645550003"), "waitlisted")
    make_registration(w, make_contact(org, first_name="Dani"), "invited")
    make_registration(w, make_contact(org, first_name="Eli"), "declined")
    html = client.get(f"/workshops/{w.id}").get_data(as_text=True)
    page = text(client.get(f"/workshops/{w.id}"))
    for name in ("Ana", "Beto", "Cami", "Dani", "Eli"):
        assert name in page
    assert "+526645550003" in page
    assert "Confirmed 2" in page and "Waitlist 1" in page and "Invited, no answer yet 1" in page
    assert re.search(r"5 invited\s+2 confirmed\s+1 attended", page)
    assert f"/workshops/{w.id}/attendance" in html  # the attendance roster
    assert f"/workshops/{w.id}/invite" in html and f"/workshops/{w.id}/reschedule" in html


# --- Reschedule and cancel -----------------------------------------------------------------------


def test_reschedule_asks_for_confirmation_then_notifies(client, signed_in):
    w, org = signed_in["workshop"], signed_in["org"]
    make_registration(w, make_contact(org))
    make_registration(w, make_contact(org), "waitlisted")
    url = f"/workshops/{w.id}/reschedule"
    page = client.get(url)
    assert "2 confirmed or waitlisted people will get an SMS" in text(page)
    assert "data-confirm" in page.get_data(as_text=True)
    new_day = (signed_in["start"] + timedelta(days=7)).astimezone(TIJUANA).date()
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(page),
            "local_date": new_day.isoformat(),
            "start_time": "11:00",
            "end_time": "13:00",
        },
    )
    assert response.status_code == 302
    db.session.refresh(w)
    assert w.sequence == 1 and w.starts_at.astimezone(TIJUANA).hour == 11
    assert db.session.query(OutboxMessage).filter_by(purpose="workshop_notice").count() == 2


def test_reschedule_with_bad_times_changes_nothing(client, signed_in):
    w = signed_in["workshop"]
    url = f"/workshops/{w.id}/reschedule"
    token = csrf_token_from(client.get(url))
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "local_date": "2020-01-01",
            "start_time": "11:00",
            "end_time": "13:00",
        },
    )
    assert response.status_code == 400
    db.session.refresh(w)
    assert w.sequence == 0 and w.starts_at == signed_in["start"]


def test_cancel_needs_a_post_with_csrf(client, signed_in):
    w, org = signed_in["workshop"], signed_in["org"]
    make_registration(w, make_contact(org))
    url = f"/workshops/{w.id}/cancel"
    page = client.get(url)
    assert "1 confirmed or waitlisted person will get an SMS" in text(page)
    assert client.post(url, data={}).status_code == 400  # no CSRF token: nothing happens
    db.session.refresh(w)
    assert w.status == "scheduled"
    assert client.post(url, data={"csrf_token": csrf_token_from(page)}).status_code == 302
    db.session.refresh(w)
    assert w.status == "canceled"
    assert "Canceled" in text(client.get(f"/workshops/{w.id}"))


# --- Invitations ---------------------------------------------------------------------------------


def test_invite_from_the_form(client, signed_in):
    org, w = signed_in["org"], signed_in["workshop"]
    message = make_message(
        signed_in["campaign"],
        label="Invitación",
        body_es="Te invitamos a {workshop_title} el {workshop_date}.",
        body_en="Join us at {workshop_title} on {workshop_date}.",
    )
    audience = make_audience(org, {})
    contacts = [make_contact(org) for _ in range(3)]
    url = f"/workshops/{w.id}/invite"
    page = client.get(url)
    assert "Invitación" in text(page)
    day = (signed_in["start"] - timedelta(days=3)).astimezone(TIJUANA).date()
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(page),
            "message": message.id,
            "audience": audience.id,
            "local_date": day.isoformat(),
            "local_time": "17:00",
        },
    )
    assert response.status_code == 302
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert len(rows) == len(contacts) and {r.purpose for r in rows} == {"invitation"}
    assert "3 invitations scheduled." in text(client.get(response.headers["Location"]))


def test_invitation_after_the_start_is_refused(client, signed_in):
    org, w = signed_in["org"], signed_in["workshop"]
    message = make_message(  # an invitation: it says when (issue 14)
        signed_in["campaign"], body_es="Taller el {workshop_date}", body_en="On {workshop_date}"
    )
    audience = make_audience(org, {})
    make_contact(org)
    url = f"/workshops/{w.id}/invite"
    day = (signed_in["start"] + timedelta(days=1)).astimezone(TIJUANA).date()
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(client.get(url)),
            "message": message.id,
            "audience": audience.id,
            "local_date": day.isoformat(),
            "local_time": "17:00",
        },
    )
    assert response.status_code == 400
    assert "The invitation must go out before the workshop starts." in text(response)
    assert db.session.query(OutboxMessage).count() == 0


# --- Isolation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/workshops/{id}"),
        ("get", "/workshops/{id}/edit"),
        ("post", "/workshops/{id}/edit"),
        ("get", "/workshops/{id}/reschedule"),
        ("post", "/workshops/{id}/reschedule"),
        ("get", "/workshops/{id}/cancel"),
        ("post", "/workshops/{id}/cancel"),
        ("get", "/workshops/{id}/invite"),
        ("post", "/workshops/{id}/invite"),
    ],
)
def test_other_organizations_workshops_are_404_everywhere(
    client, login, make_org, make_user, world, method, path
):
    intruder = make_user(make_org(), role="admin", language="en")
    login(intruder)
    token = csrf_token_from(client.get("/workshops/"))
    url = path.format(id=world["workshop"].id)
    response = getattr(client, method)(
        url, data={"csrf_token": token} if method == "post" else None
    )
    assert response.status_code == 404
    db.session.refresh(world["workshop"])
    assert world["workshop"].status == "scheduled" and world["workshop"].sequence == 0


def test_other_organizations_workshops_are_not_listed(client, login, make_org, make_user, world):
    intruder = make_user(make_org(), role="coordinator", language="en")
    login(intruder)
    page = text(client.get(f"/workshops/?week={week_of(world['start'])}"))
    assert "Your call" not in page and "4821" not in page
