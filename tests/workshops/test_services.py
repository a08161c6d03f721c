"""Workshop services: create/edit with local times and codes, reschedule, cancel, queries."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.workshops import services
from app.workshops.models import Workshop
from tests.factories import (
    WORKSHOP_START,
    make_campaign,
    make_contact,
    make_registration,
    make_workshop,
)
from tests.support import NOW, utc

FIELDS = dict(
    title_es="Decide tú",
    title_en="Your call",
    kind="community_workshop",
    venue_name="Casa de la Cultura",
    venue_address="Av. Revolución 1000",
    country="MX",
    state_code="02",
    municipality="Tijuana",
    timezone="",
    capacity=30,
    facilitator="Mtra. Ruiz",
    language="es",
)


def create(
    org,
    campaign=None,
    *,
    local_date=date(2026, 12, 5),
    start=time(17, 0),
    end=time(19, 0),
    now=NOW,
    **overrides,
):
    campaign = campaign or make_campaign(org)
    return services.create_workshop(
        campaign,
        now=now,
        local_date=local_date,
        start_time=start,
        end_time=end,
        **{**FIELDS, **overrides},
    )


def outbox(**filters):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).filter_by(**filters).order_by(OutboxMessage.id)
    ).all()


# --- Create ------------------------------------------------------------------------------------


def test_create_stores_utc_from_the_venues_local_time(app, make_org):
    workshop = create(make_org())
    assert workshop.timezone == "America/Tijuana"
    assert workshop.starts_at == WORKSHOP_START and workshop.ends_at == WORKSHOP_START + timedelta(
        hours=2
    )
    assert workshop.status == "scheduled" and workshop.sequence == 0
    assert len(workshop.code) == 4 and workshop.code.isdigit()


@pytest.mark.parametrize(
    "state, municipality, zone, utc_start",
    [
        ("08", "Ciudad Juárez", "America/Ciudad_Juarez", utc(2026, 12, 6, 0, 0)),  # US Mountain
        ("08", "Chihuahua", "America/Chihuahua", utc(2026, 12, 5, 23, 0)),  # UTC-6, no DST
        ("23", "Cancún", "America/Cancun", utc(2026, 12, 5, 22, 0)),  # UTC-5
        ("09", None, "America/Mexico_City", utc(2026, 12, 5, 23, 0)),
    ],
)
def test_time_zone_is_derived_from_state_and_municipality(
    app, make_org, state, municipality, zone, utc_start
):
    workshop = create(make_org(), state_code=state, municipality=municipality)
    assert workshop.timezone == zone and workshop.starts_at == utc_start


def test_a_chosen_time_zone_wins(app, make_org):
    workshop = create(make_org(), timezone="America/Mexico_City")
    assert workshop.timezone == "America/Mexico_City"
    assert workshop.starts_at == utc(2026, 12, 5, 23, 0)


def test_us_venue(app, make_org):
    workshop = create(
        make_org(country="US"), country="US", state_code="CA", municipality="San Diego"
    )
    assert workshop.timezone == "America/Los_Angeles" and workshop.country == "US"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"end": time(16, 0)}, "end_time"),
        ({"end": time(17, 0)}, "end_time"),
        ({"start": time(6, 0), "end": time(19, 0)}, "end_time"),  # 13 hours
        ({"local_date": date(2026, 11, 27), "start": time(9, 0)}, "local_date"),  # already past
        ({"local_date": None}, "local_date"),
        ({"start": None}, "start_time"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 5001}, "capacity"),
        ({"capacity": None}, "capacity"),
        ({"title_es": "  "}, "title_es"),
        ({"title_en": ""}, "title_en"),
        ({"title_es": "x" * 161}, "title_es"),
        ({"venue_name": ""}, "venue_name"),
        ({"kind": "party"}, "kind"),
        ({"state_code": "99"}, "state"),
        ({"country": "US", "state_code": "02"}, "state"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"language": "fr"}, "language"),
        # 02:30 does not exist in Tijuana on 14 March 2027 (clocks jump from 02:00 to 03:00).
        ({"local_date": date(2027, 3, 14), "start": time(2, 30), "end": time(4, 0)}, "start_time"),
    ],
)
def test_invalid_workshops_are_refused_and_nothing_is_stored(app, make_org, changes, field):
    org = make_org()
    campaign = make_campaign(org)
    with pytest.raises(DomainError) as error:
        create(org, campaign, **changes)
    assert error.value.field == field
    db.session.rollback()
    assert db.session.query(Workshop).count() == 0


@pytest.mark.parametrize("status", ["completed", "archived"])
def test_closed_campaigns_take_no_workshops(app, make_org, status):
    org = make_org()
    with pytest.raises(DomainError):
        create(org, make_campaign(org, status=status))


def test_draft_campaigns_take_workshops(app, make_org):
    org = make_org()
    assert create(org, make_campaign(org, status="draft")).id


def test_codes_avoid_codes_in_use(app, make_org, monkeypatch):
    org = make_org()
    make_workshop(org, code="1234")
    draws = iter([234, 234, 7777])  # codes are 1000 + a draw below 9000
    monkeypatch.setattr(services.secrets, "randbelow", lambda n: next(draws))
    assert create(org).code == "8777"


def test_codes_never_start_with_zero(app, make_org, monkeypatch):
    for draw, code in ((0, "1000"), (8999, "9999")):
        monkeypatch.setattr(services.secrets, "randbelow", lambda n, d=draw: d if n == 9000 else -1)
        assert create(make_org()).code == code


def test_codes_are_per_organization(app, make_org, monkeypatch):
    make_workshop(make_org(), code="1234")
    monkeypatch.setattr(services.secrets, "randbelow", lambda n: 234)
    assert create(make_org()).code == "1234"


def test_code_collision_with_a_concurrent_creation_is_retried(app, make_org, monkeypatch):
    org = make_org()
    make_workshop(org, code="1234")
    codes = iter(["1234", "5678"])  # the first one was taken after we looked
    monkeypatch.setattr(services, "_new_code", lambda org_id: next(codes))
    workshop = create(org)
    assert workshop.code == "5678"
    assert db.session.query(Workshop).count() == 2


# --- Edit ----------------------------------------------------------------------------------------


def details(workshop, **changes) -> dict:
    values = {
        name: getattr(workshop, name)
        for name in (
            "title_es",
            "title_en",
            "kind",
            "venue_name",
            "venue_address",
            "country",
            "state_code",
            "municipality",
            "capacity",
            "facilitator",
            "language",
        )
    }
    values["timezone"] = ""
    values.update(changes)
    return values


def test_edit_details(app, make_org):
    workshop = create(make_org())
    services.update_workshop(
        workshop, now=NOW, **details(workshop, venue_name="CECUT", capacity=40, facilitator="")
    )
    db.session.refresh(workshop)
    assert workshop.venue_name == "CECUT" and workshop.capacity == 40
    assert workshop.facilitator is None and workshop.starts_at == WORKSHOP_START


def test_capacity_cannot_drop_below_confirmed_seats(app, make_org):
    org = make_org()
    workshop = make_workshop(org, capacity=3)
    for _ in range(2):
        make_registration(workshop, make_contact(org))
    with pytest.raises(DomainError) as error:
        services.update_workshop(workshop, now=NOW, **details(workshop, capacity=1))
    assert error.value.field == "capacity"


def test_more_capacity_promotes_the_waitlist_in_order(app, make_org):
    org = make_org()
    workshop = make_workshop(org, capacity=1)
    make_registration(workshop, make_contact(org))
    first = make_registration(
        workshop, make_contact(org), "waitlisted", at=NOW - timedelta(hours=2)
    )
    second = make_registration(
        workshop, make_contact(org), "waitlisted", at=NOW - timedelta(hours=1)
    )
    promoted = services.update_workshop(workshop, now=NOW, **details(workshop, capacity=2))
    assert promoted == 1
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.status, second.status) == ("confirmed", "waitlisted")
    (notice,) = outbox(purpose="workshop_notice")
    assert notice.contact_id == first.contact_id and "Decide tú" in notice.body
    assert {r.contact_id for r in outbox(purpose="reminder")} == {first.contact_id}


def test_moving_to_another_time_zone_keeps_the_wall_time_until_people_are_invited(app, make_org):
    org = make_org()
    workshop = create(org)
    services.update_workshop(
        workshop, now=NOW, **details(workshop, state_code="23", municipality="Cancún")
    )
    db.session.refresh(workshop)
    assert workshop.timezone == "America/Cancun"
    assert workshop.starts_at == utc(2026, 12, 5, 22, 0)  # still 17:00, now in Cancún
    assert workshop.sequence == 1
    make_registration(workshop, make_contact(org), "invited")
    with pytest.raises(DomainError) as error:
        services.update_workshop(
            workshop, now=NOW, **details(workshop, state_code="02", municipality="Tijuana")
        )
    assert error.value.field == "state"


# --- Reschedule and cancel -----------------------------------------------------------------------


@pytest.fixture
def busy(make_org):
    """A workshop with confirmed, waitlisted, invited and declined people, reminders queued
    and an invitation not sent yet."""
    from app.workshops.reminders import queue_reminders

    org = make_org()
    workshop = make_workshop(org, capacity=2)
    people = {
        name: make_contact(org, language=lang, first_name=name)
        for name, lang in (
            ("Ana", "es"),
            ("Ben", "en"),
            ("Cris", "es"),
            ("Dani", "es"),
            ("Eli", "es"),
        )
    }
    make_registration(workshop, people["Ana"])
    make_registration(workshop, people["Ben"])
    make_registration(workshop, people["Cris"], "waitlisted")
    make_registration(workshop, people["Dani"], "invited")
    make_registration(workshop, people["Eli"], "declined")
    for name in ("Ana", "Ben"):
        queue_reminders(people[name], workshop, org, now=NOW)
    db.session.commit()
    return org, workshop, people


def test_reschedule_notifies_replaces_reminders_and_bumps_the_sequence(app, busy):
    org, workshop, people = busy
    old_reminders = {r.id for r in outbox(purpose="reminder")}
    assert len(old_reminders) == 4
    result = services.reschedule_workshop(
        workshop,
        local_date=date(2026, 12, 12),
        start_time=time(10, 0),
        end_time=time(12, 0),
        now=NOW,
    )
    db.session.refresh(workshop)
    assert workshop.starts_at == utc(2026, 12, 12, 18, 0) and workshop.sequence == 1
    assert result.notified == 3
    notices = {r.contact_id: r for r in outbox(purpose="workshop_notice")}
    assert set(notices) == {people[n].id for n in ("Ana", "Ben", "Cris")}
    assert "sábado 12 de diciembre" in notices[people["Ana"].id].body
    assert (
        "Saturday" in notices[people["Ben"].id].body
        and "10:00 AM" in notices[people["Ben"].id].body
    )
    assert all(n.expires_at == workshop.starts_at for n in notices.values())
    reminders = outbox(purpose="reminder")
    assert {r.status for r in reminders if r.id in old_reminders} == {"canceled"}
    new = [r for r in reminders if r.id not in old_reminders]
    assert {r.contact_id for r in new} == {people["Ana"].id, people["Ben"].id}
    # The 2 h reminder (08:00 in Tijuana) is before Mexico's 09:00: the evening before, 20:59.
    assert {r.due_at for r in new} == {utc(2026, 12, 11, 18, 0), utc(2026, 12, 12, 4, 59)}


def test_reschedule_needs_a_new_future_time(app, busy):
    _org, workshop, _people = busy
    with pytest.raises(DomainError):
        services.reschedule_workshop(
            workshop,
            local_date=date(2026, 12, 5),
            start_time=time(17, 0),
            end_time=time(19, 0),
            now=NOW,
        )
    db.session.rollback()
    with pytest.raises(DomainError):
        services.reschedule_workshop(
            workshop,
            local_date=date(2026, 11, 26),
            start_time=time(17, 0),
            end_time=time(19, 0),
            now=NOW,
        )


def test_cancel_notifies_and_cancels_everything_pending(app, busy):
    org, workshop, people = busy
    result = services.cancel_workshop(workshop, now=NOW)
    db.session.refresh(workshop)
    assert workshop.status == "canceled" and workshop.sequence == 1
    assert result.notified == 3 and result.messages_canceled == 4
    assert {r.status for r in outbox(purpose="reminder")} == {"canceled"}
    notices = outbox(purpose="workshop_notice")
    assert {n.contact_id for n in notices} == {people[n].id for n in ("Ana", "Ben", "Cris")}
    assert all("Decide tú" in n.body or "Your call" in n.body for n in notices)
    with pytest.raises(DomainError):
        services.cancel_workshop(workshop, now=NOW)


def test_notices_respect_quiet_hours(app, busy):
    _org, workshop, people = busy
    late = utc(2026, 11, 28, 6, 30)  # 22:30 in Tijuana
    services.cancel_workshop(workshop, now=late)
    # 09:00 in Tijuana: Mexican numbers get nothing before 09:00.
    assert {n.due_at for n in outbox(purpose="workshop_notice")} == {utc(2026, 11, 28, 17, 0)}


# --- Queries -------------------------------------------------------------------------------------


def test_parse_week():
    today = date(2026, 12, 3)
    assert services.parse_week("2026-W49", today=today) == date(2026, 11, 30)
    assert services.parse_week("2026-w53", today=today) == date(2026, 12, 28)
    assert services.parse_week("2025-W53", today=today) == date(2026, 11, 30)  # no week 53
    assert services.parse_week("nonsense", today=today) == date(2026, 11, 30)
    assert services.parse_week(None, today=today) == date(2026, 11, 30)
    assert services.week_label(date(2026, 11, 30)) == "2026-W49"


def test_workshops_between_counts_seats(app, make_org):
    org = make_org()
    workshop = make_workshop(org, capacity=1)
    make_workshop(org, starts_at=WORKSHOP_START + timedelta(days=7))
    make_workshop(make_org(), starts_at=WORKSHOP_START)  # another organization
    make_registration(workshop, make_contact(org))
    make_registration(workshop, make_contact(org), "waitlisted")
    start, end = services.week_bounds(date(2026, 11, 30), "America/Tijuana")
    rows = services.workshops_between(org.id, start, end)
    assert [(w.id, c, wl) for w, c, wl in rows] == [(workshop.id, 1, 1)]


def test_funnel(app, make_org):
    org = make_org()
    workshop = make_workshop(org)
    make_registration(workshop, make_contact(org))
    make_registration(workshop, make_contact(org), attended_at=NOW)
    make_registration(workshop, make_contact(org), "waitlisted")
    make_registration(workshop, make_contact(org), "declined")
    make_registration(workshop, make_contact(org), "invited")
    funnel = services.funnel(workshop)
    assert (funnel.invited, funnel.confirmed, funnel.attended) == (5, 2, 1)
    assert (funnel.waitlisted, funnel.declined) == (1, 1)
