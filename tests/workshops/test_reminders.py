"""Reminders before a workshop: offsets per organization, quiet hours moving them EARLIER,
daylight saving time, skipped reminders counted, and the worker sending them."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.outbox.models import OutboxMessage
from app.workshops.reminders import NO_ALLOWED_TIME, queue_reminders, reminder_hours
from tests.factories import make_contact, make_workshop
from tests.outreach.helpers import make_worker
from tests.support import Clock, utc

SAN_DIEGO = dict(
    country="US", state_code="CA", municipality="San Diego", timezone="America/Los_Angeles"
)


def reminders():
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.purpose == "reminder")
        .order_by(OutboxMessage.due_at)
    ).all()


def plan(org, contact, starts_at, *, now, **workshop):
    w = make_workshop(org, starts_at=starts_at, **workshop)
    result = queue_reminders(contact, w, org, now=now)
    db.session.commit()
    return w, result


@pytest.mark.parametrize(
    "setting, expected",
    [
        ("24,2", [24, 2]),
        ("2, 24", [24, 2]),
        ("48;24;2", [48, 24, 2]),
        ("", []),
        ("24,abc,0,-1,2", [24, 2]),
        ("24,24", [24]),
        ("9999", []),
    ],
)
def test_reminder_hours_setting(make_org, app, setting, expected):
    org = make_org()
    org.reminder_hours = setting
    assert reminder_hours(org) == expected


def test_reminders_24_and_2_hours_before(app, make_org):
    org = make_org()
    contact = make_contact(org, timezone="America/Mexico_City", state_code="09")
    start = utc(2026, 12, 5, 23, 0)  # 17:00 in Mexico City
    w, result = plan(
        org, contact, start, now=utc(2026, 11, 27, 18, 0), timezone="America/Mexico_City"
    )
    assert (result.queued, result.skipped) == (2, 0)
    rows = reminders()
    assert [r.due_at for r in rows] == [start - timedelta(hours=24), start - timedelta(hours=2)]
    assert all(
        r.expires_at == start
        and r.workshop_id == w.id
        and r.campaign_id == w.campaign_id
        and r.status == "scheduled"
        for r in rows
    )
    assert "Decide tú" in rows[0].body and "17:00" in rows[0].body


def test_a_reminder_in_quiet_hours_moves_to_the_evening_before(app, make_org):
    org = make_org()
    contact = make_contact(org, timezone="America/Mexico_City", state_code="09")
    start = utc(2026, 12, 5, 15, 0)  # 09:00 in Mexico City
    plan(org, contact, start, now=utc(2026, 11, 27, 18, 0), timezone="America/Mexico_City")
    assert [r.due_at for r in reminders()] == [
        utc(2026, 12, 4, 15, 0),  # 24 h before: 09:00, allowed
        utc(2026, 12, 5, 2, 59),  # 2 h before is 07:00: moved to 20:59 the day before
    ]


def test_the_contacts_zone_and_state_rules_decide(app, make_org):
    org = make_org(country="US", timezone="America/New_York")
    contact = make_contact(
        org,
        phone="+13055550142",
        country="US",
        state_code="FL",
        municipality="Miami",
        timezone="America/New_York",
    )
    start = utc(2026, 12, 5, 13, 30)  # 08:30 in Miami
    plan(
        org,
        contact,
        start,
        now=utc(2026, 11, 27, 18, 0),
        timezone="America/New_York",
        country="US",
        state_code="FL",
        municipality="Miami",
    )
    # Florida: 08:00-20:00, so the 06:30 reminder moves to 19:59 the evening before.
    assert [r.due_at for r in reminders()] == [utc(2026, 12, 4, 13, 30), utc(2026, 12, 5, 0, 59)]


def test_the_day_after_spring_forward(app, make_org):
    org = make_org()
    # San Diego: US daylight saving rules and the US window (08:00), like Tijuana's clocks.
    contact = make_contact(org, **SAN_DIEGO)
    start = utc(2026, 3, 9, 15, 30)  # Monday 9 March 2026, 08:30 PDT (the clocks moved on the 8th)
    plan(org, contact, start, now=utc(2026, 3, 1, 18, 0))
    assert [r.due_at for r in reminders()] == [
        utc(2026, 3, 8, 15, 30),  # 24 h before: Sunday 08:30 PDT
        utc(2026, 3, 9, 3, 59),  # 06:30 is too early: Sunday 20:59 PDT
    ]


def test_spring_forward_day_itself_moves_the_24h_reminder_a_day_earlier(app, make_org):
    org = make_org()
    contact = make_contact(org)
    start = utc(2026, 3, 8, 15, 30)  # Sunday 8 March 2026, 08:30 PDT
    plan(org, contact, start, now=utc(2026, 3, 1, 18, 0))
    # 24 h before is Saturday 07:30 PST (not 08:30: that day had 23 hours): Friday 20:59 PST.
    assert [r.due_at for r in reminders()] == [utc(2026, 3, 7, 4, 59), utc(2026, 3, 8, 4, 59)]


def test_the_day_after_fall_back(app, make_org):
    org = make_org()
    contact = make_contact(org, **SAN_DIEGO)
    start = utc(2026, 11, 2, 16, 30)  # Monday 2 November 2026, 08:30 PST
    plan(org, contact, start, now=utc(2026, 10, 20, 18, 0))
    assert [r.due_at for r in reminders()] == [
        utc(2026, 11, 1, 16, 30),  # Sunday 08:30 PST
        utc(2026, 11, 2, 4, 59),  # Sunday 20:59 PST
    ]


def test_no_allowed_moment_left_is_skipped_and_counted(app, make_org):
    org = make_org()
    contact = make_contact(org)
    start = utc(2026, 12, 5, 16, 30)  # Saturday 08:30 in Tijuana
    now = utc(2026, 12, 5, 5, 30)  # Friday 21:30: quiet hours until the start
    _w, result = plan(org, contact, start, now=now)
    assert (result.queued, result.skipped) == (0, 1)
    (row,) = reminders()  # the 24 h one was already past: not created at all
    assert row.status == "skipped" and row.skip_reason == NO_ALLOWED_TIME
    assert row.due_at == start - timedelta(hours=2) and row.final_at == now


def test_late_confirmation_gets_only_the_reminders_still_ahead(app, make_org):
    org = make_org()
    contact = make_contact(org)
    start = utc(2026, 12, 5, 1, 0)  # Friday 17:00 in Tijuana
    _w, result = plan(org, contact, start, now=utc(2026, 12, 4, 20, 0))  # 12:00 the same day
    assert (result.queued, result.skipped) == (1, 0)
    assert [r.due_at for r in reminders()] == [utc(2026, 12, 4, 23, 0)]


def test_two_offsets_moved_to_the_same_minute_remind_once(app, make_org):
    org = make_org()
    org.reminder_hours = "3,2"
    contact = make_contact(org)
    start = utc(2026, 12, 5, 16, 30)  # 08:30: 05:30 and 06:30 both move to 20:59
    _w, result = plan(org, contact, start, now=utc(2026, 11, 27, 18, 0))
    assert result.queued == 1 and len(reminders()) == 1


def test_worker_sends_the_reminder_and_skips_it_after_the_start(app, make_org):
    org = make_org()
    contact = make_contact(org)
    start = utc(2026, 12, 6, 1, 0)
    plan(org, contact, start, now=utc(2026, 11, 27, 18, 0))
    two_hours_before = start - timedelta(hours=2)
    clock = Clock(two_hours_before)
    gateway = FakeSmsGateway(clock=clock)
    worker = make_worker(app, clock, gateway)
    try:
        worker.run(once=True)
        assert len(gateway.sent) == 2  # both due (24 h one is late but before the start)
        assert all("Decide tú" in message.body for message in gateway.sent)
    finally:
        worker.close()


def test_a_late_reminder_is_never_sent_after_the_start(app, make_org):
    org = make_org()
    contact = make_contact(org)
    start = utc(2026, 12, 6, 1, 0)
    plan(org, contact, start, now=utc(2026, 11, 27, 18, 0))
    clock = Clock(start + timedelta(minutes=5))  # the worker was down
    gateway = FakeSmsGateway(clock=clock)
    worker = make_worker(app, clock, gateway)
    try:
        worker.run(once=True)
    finally:
        worker.close()
    assert gateway.sent == []
    assert {(r.status, r.skip_reason) for r in reminders()} == {("skipped", "expired")}
