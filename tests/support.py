"""Helpers shared by every test folder: the frozen calendar and clocks, time helpers, CSRF
and sign-in helpers, and shared constants. Import them from here, never from a conftest
(row builders live in tests/factories.py).

The suite runs in a frozen calendar: every test starts with the process clock at `NOW`
(see the autouse `frozen_clock` fixture in tests/conftest.py) and the clock then ticks at
real speed, so sleeps, leases and timeouts still behave. Dates in tests are either relative
to `NOW` (`NOW + timedelta(days=3)`) or literal dates of that frozen calendar (late 2026);
both mean the same thing on any real date and at any real hour. Code under test that takes
a clock (`now=`, `clock=`) gets an explicit one; code that reads the time itself
(`app.timeutil.utcnow`, web forms, CLI commands) sees the frozen clock.

Whole-system tests that start other processes (tests/e2e, tests/scale) run on the real
clock instead: those processes cannot share a frozen clock, so those tests compute their
dates from the real "now" (see their conftest files).
"""

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config import TestingConfig

# --- the test environment ----------------------------------------------------------------

# `TEST_DATABASE_URL` selects PostgreSQL (see tests/conftest.py); SQLite otherwise.
ON_POSTGRES = TestingConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql")

# The password of every user the factories create (it passes the password policy).
STRONG_PASSWORD = "Prevencion-Juvenil-Tijuana-26"

# --- time ------------------------------------------------------------------------------------

# Friday 27 November 2026, 18:00 UTC: 10:00 in Tijuana, 12:00 in Mexico City, 13:00 in
# New York. Mid-morning everywhere the product sends, so nothing falls in quiet hours by
# accident.
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
TODAY = NOW.date()
TIJUANA = ZoneInfo("America/Tijuana")


def utc(*args) -> datetime:
    """An aware UTC datetime: utc(2026, 12, 1, 17, 0)."""
    return datetime(*args, tzinfo=UTC)


class Clock:
    """An injectable clock for services and workers: `clock()` returns `clock.now`, which a
    test moves by hand."""

    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def next_saturday_at_five() -> datetime:
    """17:00 in Tijuana on the Saturday at least 8 days from now (always in the future)."""
    from app.outbox.timing import local_to_utc
    from app.timeutil import utcnow

    day = (utcnow().astimezone(TIJUANA) + timedelta(days=8)).date()
    day += timedelta(days=(5 - day.weekday()) % 7)
    return local_to_utc(day, time(17, 0), TIJUANA)


# --- CSRF and signing in ----------------------------------------------------------------------

_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form in `html`."""
    match = _CSRF_INPUT.search(html)
    assert match, "no CSRF token in page"
    return match.group(1)


def csrf_token_from(response) -> str:
    """The CSRF token of the first form in a page (a test client response)."""
    return csrf_token_in(response.get_data(as_text=True))


def csrf_token(client) -> str:
    """A valid CSRF token for this client's session (from a page with a form)."""
    for path in ("/dashboard", "/login"):
        match = _CSRF_INPUT.search(client.get(path).get_data(as_text=True))
        if match:
            return match.group(1)
    raise AssertionError("no page with a CSRF token")


def log_in(client, user, password=STRONG_PASSWORD):
    """Sign `user` in on `client` through the real login form (CSRF disabled only for this
    POST); returns the login response (a redirect)."""
    app = client.application
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        response = client.post("/login", data={"email": user.email, "password": password})
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response
