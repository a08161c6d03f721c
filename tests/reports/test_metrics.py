"""Every metric against values computed by hand from the dataset in conftest.py."""

from collections import Counter
from datetime import date

import pytest

from app.reports.campaign import campaign_figures
from app.reports.numbers import median
from app.reports.organization import organization_figures
from app.reports.period import Period
from app.reports.tables import campaign_tables, organization_tables
from tests.reports.helpers import MARCH
from tests.support import TODAY

TZ = "America/Mexico_City"


def march():
    return Period(*MARCH, TZ)


@pytest.fixture
def figures(dataset):
    return campaign_figures(dataset.c1, march(), today=TODAY, granularity="day")


@pytest.fixture
def tables(figures):
    return campaign_tables(figures, None, "en")


def rows_by_first(table, value_column):
    """{first column: value} for a table (exact tables only)."""
    index = [c.key for c in table.spec.columns].index(value_column)
    return {row[0]: row[index] for row in table.rows}


def test_reached_and_channels(figures):
    # Delivered in March: M1 -> c1 c2 c3 c4 c5 c6 c10, M2 -> c1 c3 c10 (SMS: 7 contacts).
    # Attended in March: W1 c1 c5 c8 (walk-in), W2 c1 c4 c7 (walk-in) (workshop: 5).
    # Union: c1 c2 c3 c4 c5 c6 c7 c8 c10 = 9 (c9 only had a failure; c6 is erased but counts).
    assert figures.reached == 9
    # Both: c1 c4 c5 = 3; SMS only: c2 c3 c6 c10 = 4; workshop only: c7 c8 = 2.
    assert dict(figures.channels) == {"both": 3, "sms_only": 4, "workshop_only": 2}
    assert (figures.sms_reached, figures.workshop_reached) == (7, 5)


def test_reach_proportion_overall_and_per_place(figures, tables):
    # 9 reached / target population 100.
    assert figures.reach_proportion == pytest.approx(0.09)
    places = [(r[1], r[3], r[4], r[5], r[6]) for r in tables["places"].rows]
    # State 02: c1 c2 c3 c10 = 4 of 40; Tijuana ("Tijuana" and "tijuana"): c1 c2 c10 = 3 of 20;
    # state 09: c4 c5 c6 = 3 of 50. State 14 has no target: not listed.
    assert places == [
        ("02", "", 40, 4, pytest.approx(0.1)),
        ("02", "Tijuana", 20, 3, pytest.approx(0.15)),
        ("09", "", 50, 3, pytest.approx(0.06)),
    ]


def test_representativeness_reached_vs_targeted(tables):
    # Reached age bands in 2026: c2 12-14; c1 c6(band) c10 15-17; c3 c5(band) 18-24; c4 25-29;
    # c7 (36) other; c8 unknown.
    # Targeted (c1 c2 c3 c9 c10 by audience, c6 enrolled, c1 c2 c3 c4 registered = 7):
    # c2 12-14; c1 c6 c9 c10 15-17; c3 18-24; c4 25-29.
    age = {r[0]: (r[2], r[4]) for r in tables["age_band"].rows}
    assert age == {
        "12-14": (1, 1),
        "15-17": (3, 4),
        "18-24": (2, 1),
        "25-29": (1, 1),
        "other": (1, 0),
        "unknown": (1, 0),
    }
    assert [r[0] for r in tables["age_band"].rows] == [
        "12-14",
        "15-17",
        "18-24",
        "25-29",
        "other",
        "unknown",
    ]
    shares = {r[0]: r[3] for r in tables["age_band"].rows}
    assert shares["15-17"] == pytest.approx(3 / 9)
    assert tables["age_band"].total[2:] == [9, 1.0, 7, 1.0]
    # Gender reached: female c1 c3 c5 c10, male c2 c6 c7, nonbinary c4, unknown c8.
    # Targeted: female c1 c3 c9 c10, male c2 c6, nonbinary c4.
    gender = {r[0]: (r[2], r[4]) for r in tables["gender"].rows}
    assert gender == {
        "female": (4, 4),
        "male": (3, 2),
        "nonbinary": (1, 1),
        "undisclosed": (0, 0),
        "unknown": (1, 0),
    }
    # Language reached: es c1 c2 c4 c5 c6 c8 c10 = 7, en c3 c7 = 2; targeted es 6, en 1 (c3).
    assert {r[0]: (r[2], r[4]) for r in tables["language"].rows} == {"es": (7, 6), "en": (2, 1)}
    # States reached: 02 = 4, 09 = 3, 14 = 2; targeted 02 = 5 (c1 c2 c3 c9 c10), 09 = 2 (c4 c6).
    assert {r[1]: (r[3], r[5]) for r in tables["state"].rows} == {
        "02": (4, 5),
        "09": (3, 2),
        "14": (2, 0),
    }
    assert [r[2] for r in tables["state"].rows] == [
        "Baja California",
        "Ciudad de México",
        "Jalisco",
    ]
    # Municipalities: "Tijuana" and "tijuana" fold together (reached c1 c2 c10; targeted
    # c1 c2 c9 c10); the most common spelling is shown.
    assert {(r[1], r[3]): (r[4], r[6]) for r in tables["municipality"].rows} == {
        ("02", "Tijuana"): (3, 4),
        ("02", "Mexicali"): (1, 1),
        ("09", "Coyoacán"): (3, 2),
        ("14", "Guadalajara"): (2, 0),
    }


def test_targeted_without_audiences_uses_enrolments_and_registrations(dataset):
    from app.extensions import db
    from app.outreach.models import OutreachSend

    db.session.query(OutreachSend).delete()
    db.session.commit()
    figures = campaign_figures(dataset.c1, march(), today=TODAY)
    # Enrolled c6 + registered c1 c2 c3 c4 = 5.
    assert figures.targeted == 5


def test_dose(figures, tables):
    # Messages per reached contact: c1 2, c2 1, c3 2, c4 1, c5 1, c6 1, c7 0, c8 0, c10 2
    # -> {0: 2, 1: 4, 2: 3}; sorted 0 0 1 1 1 1 2 2 2: median 1; mean 10 / 9.
    assert dict(figures.message_dose) == {0: 2, 1: 4, 2: 3}
    assert median(figures.message_dose) == 1
    # Workshops per reached contact: c1 2 (W1, W2); c4 c5 c7 c8 1; c2 c3 c6 c10 0.
    assert dict(figures.workshop_dose) == {0: 4, 1: 4, 2: 1}
    assert median(figures.workshop_dose) == 1
    assert figures.attendances == 6
    assert rows_by_first(tables["message_dose"], "contacts") == {
        "0": 2,
        "1": 4,
        "2": 3,
        "3": 0,
        "4": 0,
        "5": 0,
        "6-9": 0,
        "10+": 0,
    }
    assert rows_by_first(tables["workshop_dose"], "contacts") == {"0": 4, "1": 4, "2": 1, "3+": 0}
    summary = rows_by_first(tables["summary"], "value")
    assert summary["mean_messages"] == pytest.approx(10 / 9)
    assert summary["median_messages"] == 1 and summary["median_workshops"] == 1


def test_median_of_even_counts():
    assert median(Counter({1: 1, 3: 1})) == 2
    assert median(Counter()) is None


def test_delivery_failures_opt_outs_replies(figures, tables):
    # Delivered 7 (M1) + 3 (M2) = 10; failed c9/M1 (30003) and c4/M2 (no code) = 2;
    # undelivered c2/M2 (30005) = 1. Rate 10 / 13.
    assert (figures.delivered, figures.failed, figures.undelivered) == (10, 2, 1)
    assert figures.delivery_rate == pytest.approx(10 / 13)
    assert figures.failure_codes == {"30003": 1, "30005": 1, None: 1}
    assert [(r[0], r[2]) for r in tables["failures"].rows] == [
        ("30003", 1),
        ("30005", 1),
        ("none", 1),
    ]
    # Opt-outs attributed to C1: c4 (after M1) and c10 (after M2). c8 had no delivery before
    # opting out; c1's opt-out follows C2/M3. Rate 2 / 7 SMS-reached.
    assert figures.opt_outs == 2
    assert figures.opt_out_rate == pytest.approx(2 / 7)
    # Replies: c1 and c3 (twice): 2 contacts / 7.
    assert figures.replies == 2
    assert figures.reply_rate == pytest.approx(2 / 7)
    messages = {r[1]: r[2:] for r in tables["messages"].rows}
    # M1: 7 deliveries to 7 contacts, c9 failed, 1 opt-out (c4): 1/7; delivery rate 7/8.
    # M2: 3 to 3, c4 failed, c2 undelivered, 1 opt-out (c10): 1/3; delivery rate 3/5.
    assert messages["Aviso 1"][:4] == [7, 7, 1, 0]
    assert messages["Aviso 1"][4:7] == [pytest.approx(7 / 8), 1, pytest.approx(1 / 7)]
    assert messages["Aviso 2"][:4] == [3, 3, 1, 1]
    assert messages["Aviso 2"][4:7] == [pytest.approx(3 / 5), 1, pytest.approx(1 / 3)]
    # No tracked link was clicked: 0 clicked, click-through 0 (tests/links: with clicks).
    assert messages["Aviso 1"][7:] == messages["Aviso 2"][7:] == [0, 0]
    # The messages add up to the campaign's deliveries and failures.
    assert sum(r[2] for r in tables["messages"].rows) == figures.delivered
    assert sum(r[4] for r in tables["messages"].rows) == figures.failed
    assert sum(r[5] for r in tables["messages"].rows) == figures.undelivered


def test_funnel_per_workshop_and_campaign(figures, tables):
    w1, w2 = figures.workshops
    # W1: invited c1 c2 c3; RSVP yes c1 c2; attended c1 c5 c8 (c8 walk-in); after RSVP c1;
    # no-show c2.
    assert (
        w1.invited,
        w1.rsvp_yes,
        w1.attended,
        w1.walk_ins,
        w1.attended_after_rsvp,
        w1.no_shows,
    ) == (3, 2, 3, 1, 1, 1)
    # W2: invited c1 c4; RSVP c1 c4; attended c1 c4 c7 (c7 walk-in); after RSVP c1 c4.
    assert (
        w2.invited,
        w2.rsvp_yes,
        w2.attended,
        w2.walk_ins,
        w2.attended_after_rsvp,
        w2.no_shows,
    ) == (2, 2, 3, 1, 2, 0)
    assert figures.funnel_totals() == {
        "invited": 5,
        "rsvp_yes": 4,
        "attended": 6,
        "walk_ins": 2,
        "attended_after_rsvp": 3,
        "no_shows": 1,
    }
    row1 = tables["funnel"].rows[0]
    assert row1[1:3] == ["1111", "Workshop 1111"]
    assert row1[-2:] == [pytest.approx(2 / 3), pytest.approx(1 / 2)]  # RSVP and show-up rates
    assert tables["funnel"].total[-2:] == [pytest.approx(4 / 5), pytest.approx(3 / 4)]


def test_time_series_per_day_in_local_time(figures):
    series = {p.start: (p.new, p.cumulative) for p in figures.series}
    assert len(figures.series) == 31 and figures.granularity == "day"
    # First reach: c1 c2 c3 c4 c5 c6 c10 on 2 March; c8 at 2026-03-11 03:00 UTC, which is
    # 10 March 21:00 in Mexico City; c7 on 20 March.
    assert series[date(2026, 3, 1)] == (0, 0)
    assert series[date(2026, 3, 2)] == (7, 7)
    assert series[date(2026, 3, 10)] == (1, 8)
    assert series[date(2026, 3, 11)] == (0, 8)
    assert series[date(2026, 3, 20)] == (1, 9)
    assert series[date(2026, 3, 31)] == (0, 9)


def test_time_series_per_week(dataset):
    figures = campaign_figures(dataset.c1, march(), today=TODAY, granularity="week")
    # 1 March 2026 is a Sunday: its week starts on Monday 23 February.
    assert [(p.start, p.new, p.cumulative) for p in figures.series] == [
        (date(2026, 2, 23), 0, 0),
        (date(2026, 3, 2), 7, 7),
        (date(2026, 3, 9), 1, 8),
        (date(2026, 3, 16), 1, 9),
        (date(2026, 3, 23), 0, 9),
        (date(2026, 3, 30), 0, 9),
    ]


def test_date_range_filtering(dataset):
    early = campaign_figures(
        dataset.c1, Period(date(2026, 3, 1), date(2026, 3, 5), TZ), today=TODAY
    )
    # Only M1 (2 March): 7 reached, 7 delivered, c9's failure; c4's opt-out (5 March, noon
    # local) falls inside, c8's and c10's later ones do not. Of the funnel, only the W1
    # invitations (5 March) happened yet; W2 neither starts nor has events in the period.
    assert (early.reached, early.delivered, early.failed, early.undelivered) == (7, 7, 1, 0)
    assert early.opt_outs == 1
    assert [(w.code, w.invited, w.rsvp_yes, w.attended) for w in early.workshops] == [
        ("1111", 3, 0, 0)
    ]
    # The end day is included up to local midnight: 5 March 23:59 local = 6 March 05:59 UTC.
    assert Period(date(2026, 3, 1), date(2026, 3, 5), TZ).bounds_utc()[1].isoformat() == (
        "2026-03-06T06:00:00+00:00"
    )
    everything = campaign_figures(dataset.c1, Period(tz=TZ), today=TODAY)
    # All dates add c7's April delivery: still 9 people, 11 deliveries; c7 is now "both".
    assert (everything.reached, everything.delivered) == (9, 11)
    assert dict(everything.channels) == {"both": 4, "sms_only": 4, "workshop_only": 1}
    april = campaign_figures(
        dataset.c1, Period(date(2026, 4, 1), date(2026, 4, 30), TZ), today=TODAY
    )
    assert (april.reached, april.delivered, april.opt_outs) == (1, 1, 0)


def test_organization_figures(dataset):
    figures = organization_figures(dataset.org.id, march())
    by_id = {c.campaign_id: c for c in figures.campaigns}
    c1, c2 = by_id[dataset.c1.id], by_id[dataset.c2.id]
    assert (c1.reached, c1.sms_reached, c1.workshop_reached, c1.delivered, c1.opt_outs) == (
        9,
        7,
        5,
        10,
        2,
    )
    # C2: M3 delivered to c1 c2; c1's opt-out is attributed to it.
    assert (c2.reached, c2.sms_reached, c2.delivered, c2.opt_outs) == (2, 2, 2, 1)
    # Organization: c1 and c2 are already counted in C1, so still 9 people; 12 deliveries of
    # 15 final reports; opt-outs attributed to some campaign: c4 c10 c1 = 3, of 7 SMS-reached.
    assert (figures.reached, figures.sms_reached, figures.workshop_reached) == (9, 7, 5)
    assert (figures.delivered, figures.failed, figures.undelivered) == (12, 2, 1)
    assert figures.delivery_rate == pytest.approx(0.8)
    assert figures.opt_outs == 3 and figures.opt_out_rate == pytest.approx(3 / 7)
    tables = organization_tables(figures)
    strategy = {r[0]: r[2:] for r in tables["strategy"].rows}
    assert strategy == {"information_dissemination": [1, 9, 7, 5, 10], "education": [1, 2, 2, 0, 2]}
    level = {r[0]: r[2:] for r in tables["level"].rows}
    assert level == {"universal": [1, 9, 7, 5, 10], "selective": [1, 2, 2, 0, 2]}
    # Organization B's campaign and its six deliveries never appear.
    assert dataset.other_campaign.id not in by_id


def test_other_organization_events_are_never_counted(dataset):
    other = organization_figures(dataset.other_org.id, march())
    assert (other.reached, other.delivered, other.opt_outs) == (6, 6, 6)
    mine = campaign_figures(dataset.c1, march(), today=TODAY)
    assert mine.reached == 9 and mine.opt_outs == 2
