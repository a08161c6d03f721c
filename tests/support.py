"""Time helpers shared by every test folder (import from here, never from a conftest).

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

from datetime import UTC, datetime

# Friday 27 November 2026, 18:00 UTC: 10:00 in Tijuana, 12:00 in Mexico City, 13:00 in
# New York. Mid-morning everywhere the product sends, so nothing falls in quiet hours by
# accident.
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
TODAY = NOW.date()


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
