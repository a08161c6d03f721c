"""Issue 14: default allowed hours follow the recipient's country (Mexico 09:00-21:00, US
08:00-21:00, Florida and Oklahoma 08:00-20:00), narrowed by the organization's window, at
at dispatch time, for reminders and for notices."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.outbox.models import OutboxMessage
from app.outbox.timing import (
    QuietHours,
    country_window,
    local_to_utc,
    next_allowed,
    org_window,
    rules_for,
)
from app.workshops.reminders import queue_notice, queue_reminders
from tests.factories import make_contact, make_workshop
from tests.outreach.helpers import make_worker
from tests.support import Clock

ORG_DEFAULT = QuietHours(time(8, 0), time(21, 0))
TIJUANA, CHICAGO, NEW_YORK = "America/Tijuana", "America/Chicago", "America/New_York"
DAY = (2026, 12, 2)  # a Wednesday


def at(tz, hour, minute=0, day=DAY):
    return local_to_utc(date(*day), time(hour, minute), tz)


@pytest.mark.parametrize(
    "country, state, window",
    [
        ("MX", "02", (time(9), time(21))),
        ("mx", None, (time(9), time(21))),
        ("US", "TX", (time(8), time(21))),
        ("US", "FL", (time(8), time(20))),
        ("US", "ok", (time(8), time(20))),
        ("CA", None, (time(8), time(21))),
        (None, None, (time(8), time(21))),
    ],
)
def test_country_windows(country, state, window):
    assert (country_window(country, state).start, country_window(country, state).end) == window


def test_mexico_0830_is_deferred_to_0900():
    window = rules_for("MX", "02", ORG_DEFAULT).window
    assert next_allowed(at(TIJUANA, 8, 30), TIJUANA, window) == at(TIJUANA, 9, 0)


def test_texas_0830_is_allowed():
    window = rules_for("US", "TX", ORG_DEFAULT).window
    assert next_allowed(at(CHICAGO, 8, 30), CHICAGO, window) == at(CHICAGO, 8, 30)


def test_florida_2030_is_deferred_to_next_day_0800():
    rules = rules_for("US", "FL", ORG_DEFAULT)
    assert rules.max_per_24h == 3
    assert next_allowed(at(NEW_YORK, 20, 30), NEW_YORK, rules.window) == at(
        NEW_YORK, 8, 0, day=(2026, 12, 3)
    )


@pytest.mark.parametrize(
    "org, country, state, expected",
    [
        ((10, 18), "MX", None, (10, 18)),  # the organization's narrower window wins
        ((10, 18), "US", "FL", (10, 18)),
        ((8, 20), "MX", None, (9, 20)),  # each side narrows the other
        ((7, 22), "US", "TX", (8, 21)),  # never wider than the country's
        ((6, 8), "MX", None, (9, 21)),  # no overlap: the country's window
    ],
)
def test_org_window_narrows_the_country_window(org, country, state, expected):
    window = rules_for(country, state, QuietHours(time(org[0]), time(org[1]))).window
    assert (window.start, window.end) == (time(expected[0]), time(expected[1]))


def test_org_window_reads_the_organization(app, make_org):
    org = make_org()
    org.quiet_start, org.quiet_end = time(10, 0), time(19, 0)
    assert org_window(org) == QuietHours(time(10, 0), time(19, 0))


def _run_worker(app, clock):
    gateway = FakeSmsGateway(clock=clock)
    worker = make_worker(app, clock, gateway)
    try:
        worker.run(once=True)
    finally:
        worker.close()
    return gateway


def _notice(org, contact, *, due_at):
    """A workshop notice (quiet hours apply, no frequency cap) due at `due_at`."""
    workshop = make_workshop(org, starts_at=at(TIJUANA, 17, 0, day=(2026, 12, 5)))
    queue_notice(contact, workshop, org, "workshop_rescheduled", now=due_at)
    row = db.session.scalars(select(OutboxMessage)).one()
    row.due_at = due_at  # e.g. fanned out before the country rule, or after an outage
    db.session.commit()
    return row


def test_dispatch_defers_a_mexican_number_to_0900(app, make_org):
    org = make_org()
    row = _notice(org, make_contact(org), due_at=at(TIJUANA, 8, 30))  # Tijuana, MX
    gateway = _run_worker(app, Clock(at(TIJUANA, 8, 30)))
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert gateway.sent == []
    assert (row.status, row.due_at) == ("scheduled", at(TIJUANA, 9, 0))


def test_dispatch_sends_to_a_texas_number_at_0830(app, make_org):
    org = make_org()
    contact = make_contact(
        org, phone="+12145550101", country="US", state_code="TX", timezone=CHICAGO
    )
    _notice(org, contact, due_at=at(CHICAGO, 8, 30))
    gateway = _run_worker(app, Clock(at(CHICAGO, 8, 30)))
    assert len(gateway.sent) == 1


def test_dispatch_defers_a_florida_number_at_2030_to_0800(app, make_org):
    org = make_org()
    contact = make_contact(
        org, phone="+13055550101", country="US", state_code="FL", timezone=NEW_YORK
    )
    row = _notice(org, contact, due_at=at(NEW_YORK, 20, 30))
    gateway = _run_worker(app, Clock(at(NEW_YORK, 20, 30)))
    db.session.expire_all()
    assert gateway.sent == []
    assert db.session.get(OutboxMessage, row.id).due_at == at(NEW_YORK, 8, 0, day=(2026, 12, 3))


def test_notice_at_0830_waits_for_0900_in_mexico(app, make_org):
    org = make_org()
    contact = make_contact(org)
    workshop = make_workshop(org, starts_at=at(TIJUANA, 17, 0, day=(2026, 12, 5)))
    queue_notice(contact, workshop, org, "workshop_rescheduled", now=at(TIJUANA, 8, 30))
    db.session.commit()
    row = db.session.scalars(select(OutboxMessage)).one()
    assert row.due_at == at(TIJUANA, 9, 0)


def test_reminder_before_0900_moves_to_the_previous_evening_in_mexico(app, make_org):
    org = make_org()
    org.reminder_hours = "1"
    contact = make_contact(org)
    start = at(TIJUANA, 9, 30, day=(2026, 12, 5))  # reminder wanted at 08:30
    workshop = make_workshop(org, starts_at=start)
    queue_reminders(contact, workshop, org, now=start - timedelta(days=3))
    db.session.commit()
    row = db.session.scalars(select(OutboxMessage)).one()
    assert row.due_at == at(TIJUANA, 20, 59, day=(2026, 12, 4))
