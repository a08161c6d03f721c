from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.outbox.timing import (
    ContactRules,
    FrequencyCap,
    QuietHours,
    apply_cap,
    is_within,
    latest_allowed_before,
    local_to_utc,
    next_allowed,
    plan_send,
    rules_for,
    sequence_due,
    weekly_occurrences,
)
from tests.support import utc

DEFAULT = QuietHours()
FLORIDA = rules_for("US", "FL", DEFAULT).window


def local(tz: str, *args) -> datetime:
    """A local wall time in `tz`, returned as UTC."""
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def wall(moment: datetime, tz: str) -> tuple:
    lt = moment.astimezone(ZoneInfo(tz))
    return (lt.date().isoformat(), lt.strftime("%H:%M"))


@pytest.mark.parametrize(
    "tz, due, expected_utc",
    [
        # 06:30 local -> 08:00 the same day
        ("America/Tijuana", (2026, 1, 15, 6, 30), utc(2026, 1, 15, 16, 0)),
        ("America/Mexico_City", (2026, 1, 15, 6, 30), utc(2026, 1, 15, 14, 0)),
        ("America/Cancun", (2026, 1, 15, 6, 30), utc(2026, 1, 15, 13, 0)),
        ("America/Los_Angeles", (2026, 7, 1, 6, 30), utc(2026, 7, 1, 15, 0)),
        ("America/Phoenix", (2026, 7, 1, 6, 30), utc(2026, 7, 1, 15, 0)),
        # 21:30 local -> 08:00 the next day
        ("America/Tijuana", (2026, 7, 1, 21, 30), utc(2026, 7, 2, 15, 0)),
        ("America/Mexico_City", (2026, 7, 1, 21, 30), utc(2026, 7, 2, 14, 0)),
        ("America/Cancun", (2026, 7, 1, 21, 30), utc(2026, 7, 2, 13, 0)),
        ("America/Los_Angeles", (2026, 1, 15, 21, 30), utc(2026, 1, 16, 16, 0)),
        ("America/Phoenix", (2026, 1, 15, 23, 59), utc(2026, 1, 16, 15, 0)),
    ],
)
def test_next_allowed_shifts_quiet_hours(tz, due, expected_utc):
    assert next_allowed(local(tz, *due), tz, DEFAULT) == expected_utc


@pytest.mark.parametrize("tz", ["America/Tijuana", "America/Mexico_City", "America/Phoenix"])
def test_next_allowed_keeps_allowed_moments(tz):
    for hh, mm in [(8, 0), (12, 0), (20, 59)]:
        moment = local(tz, 2026, 5, 4, hh, mm)
        assert next_allowed(moment, tz, DEFAULT) == moment
    assert wall(next_allowed(local(tz, 2026, 5, 4, 21, 0), tz, DEFAULT), tz) == (
        "2026-05-05",
        "08:00",
    )  # the end is exclusive


def test_florida_and_oklahoma_stop_at_20():
    rules = rules_for("US", "FL", DEFAULT)
    assert rules == ContactRules(QuietHours(time(8), time(20)), 3)
    assert rules.daily_cap == FrequencyCap(3, days=1)
    assert rules_for("us", " ok ", DEFAULT).window == QuietHours(time(8), time(20))
    due = local("America/New_York", 2026, 6, 10, 20, 30)
    assert wall(next_allowed(due, "America/New_York", rules.window), "America/New_York") == (
        "2026-06-11",
        "08:00",
    )
    assert next_allowed(due, "America/New_York", DEFAULT) == due  # elsewhere 20:30 is fine


def test_rules_for_other_places_use_the_org_window():
    org = QuietHours(time(9), time(19))
    assert rules_for("US", "CA", org) == ContactRules(org, None)
    assert rules_for("MX", "OK", org) == ContactRules(org, None)
    assert rules_for(None, None, org).daily_cap is None
    # Florida: the intersection of the org window and 08:00-20:00
    assert rules_for("US", "FL", org).window == org
    assert rules_for("US", "FL", QuietHours(time(7), time(22))).window == FLORIDA
    # No overlap with the state's window: the state's window applies.
    assert rules_for("US", "FL", QuietHours(time(20, 30), time(22))).window == FLORIDA


def test_invalid_inputs():
    with pytest.raises(ValueError):
        QuietHours(time(21), time(8))
    with pytest.raises(ValueError):
        next_allowed(datetime(2026, 1, 1, 12), "America/Tijuana", DEFAULT)
    with pytest.raises(ValueError):
        FrequencyCap(0, 7)


@pytest.mark.parametrize(
    "tz, expected_utc",
    [
        ("America/Tijuana", utc(2026, 3, 8, 15)),  # follows US rules: PDT from 03-08
        ("America/Los_Angeles", utc(2026, 3, 8, 15)),
        ("America/Matamoros", utc(2026, 3, 8, 13)),  # US Central rules: CDT
        ("America/Mexico_City", utc(2026, 3, 8, 14)),  # no DST
        ("America/Phoenix", utc(2026, 3, 8, 15)),  # no DST
    ],
)
def test_next_morning_across_spring_forward(tz, expected_utc):
    assert next_allowed(local(tz, 2026, 3, 7, 22, 0), tz, DEFAULT) == expected_utc


@pytest.mark.parametrize(
    "tz, expected_utc",
    [
        ("America/Tijuana", utc(2026, 11, 1, 16)),  # PST from 11-01
        ("America/Los_Angeles", utc(2026, 11, 1, 16)),
        ("America/Matamoros", utc(2026, 11, 1, 14)),
        ("America/Mexico_City", utc(2026, 11, 1, 14)),
    ],
)
def test_next_morning_across_fall_back(tz, expected_utc):
    assert next_allowed(local(tz, 2026, 10, 31, 22, 0), tz, DEFAULT) == expected_utc


def test_local_to_utc_gap_and_fold():
    # 02:30 does not exist on 2026-03-08 in Los Angeles/Tijuana: the next valid time is 03:00.
    assert local_to_utc(date(2026, 3, 8), time(2, 30), "America/Los_Angeles") == utc(2026, 3, 8, 10)
    assert local_to_utc(date(2026, 3, 8), time(2, 30), "America/Tijuana") == utc(2026, 3, 8, 10)
    assert local_to_utc(date(2026, 3, 8), time(2, 30), "America/Matamoros") == utc(2026, 3, 8, 8)
    # 01:30 happens twice on 2026-11-01: take the first (PDT).
    assert local_to_utc(date(2026, 11, 1), time(1, 30), "America/Los_Angeles") == utc(
        2026, 11, 1, 8, 30
    )
    assert local_to_utc(date(2026, 3, 8), time(2, 30), "America/Mexico_City") == utc(
        2026, 3, 8, 8, 30
    )
    # the second 01:30 (PST) is in quiet hours; the next allowed moment is 08:00 PST
    assert next_allowed(utc(2026, 11, 1, 9, 30), "America/Los_Angeles", DEFAULT) == utc(
        2026, 11, 1, 16
    )


def test_is_within():
    assert is_within(local("America/Cancun", 2026, 2, 1, 8, 0), "America/Cancun", DEFAULT)
    assert not is_within(local("America/Cancun", 2026, 2, 1, 7, 59), "America/Cancun", DEFAULT)
    assert not is_within(local("America/Cancun", 2026, 2, 1, 21, 0), "America/Cancun", DEFAULT)


MX = "America/Mexico_City"
WORKSHOP = local(MX, 2026, 5, 20, 9, 0)


def test_reminder_in_quiet_hours_moves_to_the_evening_before():
    desired = WORKSHOP - timedelta(hours=2)  # 07:00 local
    moved = latest_allowed_before(
        WORKSHOP, desired, MX, DEFAULT, not_before_utc=local(MX, 2026, 5, 18, 12, 0)
    )
    assert wall(moved, MX) == ("2026-05-19", "20:59")


def test_reminder_skipped_when_no_allowed_moment_remains():
    desired = WORKSHOP - timedelta(hours=2)
    assert (
        latest_allowed_before(
            WORKSHOP, desired, MX, DEFAULT, not_before_utc=local(MX, 2026, 5, 19, 21, 30)
        )
        is None
    )
    assert (
        latest_allowed_before(
            WORKSHOP, desired, MX, DEFAULT, not_before_utc=WORKSHOP - timedelta(hours=1)
        )
        is None
    )


def test_reminder_in_window_is_kept_and_never_after_the_deadline():
    desired = WORKSHOP - timedelta(hours=24)
    assert (
        latest_allowed_before(
            WORKSHOP, desired, MX, DEFAULT, not_before_utc=desired - timedelta(days=3)
        )
        == desired
    )
    late = local(MX, 2026, 5, 20, 10, 0)
    assert (
        latest_allowed_before(WORKSHOP, late, MX, DEFAULT, not_before_utc=late - timedelta(days=3))
        == WORKSHOP
    )


def test_reminder_late_evening_moves_earlier_the_same_day():
    start = local(MX, 2026, 5, 21, 0, 30)
    moved = latest_allowed_before(
        start, start - timedelta(hours=2), MX, DEFAULT, not_before_utc=start - timedelta(days=2)
    )
    assert wall(moved, MX) == ("2026-05-20", "20:59")
    ny = "America/New_York"
    start = local(ny, 2026, 5, 21, 22, 30)
    moved = latest_allowed_before(
        start, start - timedelta(hours=2), ny, FLORIDA, not_before_utc=start - timedelta(days=2)
    )
    assert wall(moved, ny) == ("2026-05-21", "19:59")


def test_reminder_across_spring_forward():
    la = "America/Los_Angeles"
    start = local(la, 2026, 3, 8, 9, 0)  # PDT
    moved = latest_allowed_before(
        start, start - timedelta(hours=2), la, DEFAULT, not_before_utc=start - timedelta(days=2)
    )
    assert moved == utc(2026, 3, 8, 4, 59)  # 20:59 PST on 03-07
    assert wall(moved, la) == ("2026-03-07", "20:59")


def test_weekly_recurrence_keeps_local_time_across_dst():
    tj = "America/Tijuana"
    times = weekly_occurrences(date(2026, 2, 23), time(17), {0}, 6, tj)
    assert [wall(t, tj) for t in times] == [
        (d, "17:00")
        for d in (
            "2026-02-23",
            "2026-03-02",
            "2026-03-09",
            "2026-03-16",
            "2026-03-23",
            "2026-03-30",
        )
    ]
    assert times[1] == utc(2026, 3, 3, 1) and times[2] == utc(2026, 3, 10, 0)
    cdmx = weekly_occurrences(date(2026, 2, 23), time(17), {0}, 6, MX)
    assert {t.time() for t in cdmx} == {time(23)}


def test_weekly_recurrence_several_weekdays_and_late_start():
    times = weekly_occurrences(date(2026, 5, 6), time(10), {0, 3}, 2, MX)  # from a Wednesday
    assert [wall(t, MX)[0] for t in times] == [
        "2026-05-07",
        "2026-05-11",
        "2026-05-14",
        "2026-05-18",
    ]
    with pytest.raises(ValueError):
        weekly_occurrences(date(2026, 5, 6), time(10), {7}, 2, MX)


def test_sequence_days_after_enrolment():
    enrolled = local(MX, 2026, 4, 10, 6, 0)
    due = sequence_due(enrolled, [0, 3, 7], time(10), MX)
    assert [wall(d, MX) for d in due] == [
        ("2026-04-10", "10:00"),
        ("2026-04-13", "10:00"),
        ("2026-04-17", "10:00"),
    ]


def test_sequence_day_zero_already_past_is_due_at_once_then_shifted():
    enrolled = local(MX, 2026, 4, 10, 15, 0)
    assert sequence_due(enrolled, [0, 3], time(10), MX)[0] == enrolled
    late = local(MX, 2026, 4, 10, 22, 30)
    due = sequence_due(late, [0, 3], time(10), MX, window=DEFAULT)
    assert [wall(d, MX) for d in due] == [("2026-04-11", "08:00"), ("2026-04-13", "10:00")]
    with pytest.raises(ValueError):
        sequence_due(late, [-1], time(10), MX)


def test_sequence_uses_the_recipient_local_enrolment_day():
    enrolled = local("America/Tijuana", 2026, 4, 10, 20, 0)  # already 04-11 in UTC
    due = sequence_due(enrolled, [3], time(17), "America/Tijuana")
    assert wall(due[0], "America/Tijuana") == ("2026-04-13", "17:00")


D = utc(2026, 6, 15, 18)
DAYS = timedelta(days=1)


def test_cap_allows_under_the_limit_and_ignores_old_sends():
    assert apply_cap(D, []) == D
    assert apply_cap(D, [D - 6 * DAYS, D - DAYS]) == D
    assert apply_cap(D, [D - 8 * DAYS, D - 7 * DAYS, D - DAYS, D - 2 * DAYS]) == D


def test_cap_defers_to_when_the_oldest_send_leaves_the_window():
    assert apply_cap(D, [D - 6 * DAYS, D - 3 * DAYS, D - DAYS]) == D + DAYS
    assert apply_cap(D, [D - 6 * DAYS, D - 5 * DAYS, D - 3 * DAYS, D - DAYS]) == D + 2 * DAYS
    # a send already scheduled inside the deferral is counted too
    sends = [D - 6 * DAYS, D - 3 * DAYS, D - DAYS, D + DAYS / 2]
    assert apply_cap(D, sends) == D + 4 * DAYS


def test_cap_drops_beyond_max_defer():
    sends = [D - 6 * DAYS, D - 3 * DAYS, D - DAYS]
    assert apply_cap(D, sends, max_defer=timedelta(hours=12)) is None
    assert apply_cap(D, sends, FrequencyCap(2, days=30)) is None  # would wait 27 days


def test_daily_cap_for_florida():
    ny = "America/New_York"
    sends = [local(ny, 2026, 6, 15, h) for h in (9, 12, 15)]
    due = local(ny, 2026, 6, 15, 18)
    deferred = apply_cap(due, sends, FrequencyCap(3, days=1))
    assert wall(deferred, ny) == ("2026-06-16", "09:00")
    assert plan_send(due, ny, rules_for("US", "FL"), sends, cap=None) == deferred
    assert plan_send(due, ny, rules_for("US", "CA"), sends, cap=None) == due


def test_plan_send_reapplies_quiet_hours_after_a_cap_deferral():
    ny = "America/New_York"
    sends = [local(ny, 2026, 5, 1, 20, 30), local(ny, 2026, 5, 3, 10), local(ny, 2026, 5, 5, 10)]
    due = local(ny, 2026, 5, 7, 12)
    planned = plan_send(due, ny, rules_for("US", "FL"), sends)
    assert wall(planned, ny) == ("2026-05-09", "08:00")  # 05-08 20:30 is after 20:00 in FL
    assert plan_send(due, ny, rules_for("US", "FL"), sends, max_defer=DAYS) is None
    assert plan_send(local(ny, 2026, 5, 7, 6), ny, rules_for("US", "FL"), []) == local(
        ny, 2026, 5, 7, 8
    )
