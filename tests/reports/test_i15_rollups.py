"""Issue 15: the report rollups give, contact for contact, the figures of the raw events.

Randomized event histories (seeded: reproducible) for three organizations, inserted one
row per statement and many rows per statement (the PostgreSQL trigger reads each
statement's rows together), with contacts erased along the way; the campaign and
organization figures from the rollups must equal the raw-event reference
(`from_rollups=False`) for all time and for custom periods, in time zones with DST and a
fractional offset (where reports fall back to the events).
"""

import random
import threading
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, delete, func, insert, select, text, update

from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.services import erase_contact
from app.extensions import db
from app.participation.models import ParticipationEvent
from app.participation.rollups import (
    ROLLUP_TABLES,
    MessageTotalRollup,
    ReachRollup,
    backfill_sql,
)
from app.reports.campaign import campaign_figures
from app.reports.organization import organization_figures
from app.reports.period import Period, period_hours
from app.reports.reach import campaign_reach
from tests.factories import make_campaign, make_contact, make_message, make_org, make_workshop
from tests.support import NOW, ON_POSTGRES, TODAY

SMS_KINDS = ("sms_sent", "sms_delivered", "sms_delivered", "sms_failed", "sms_undelivered")
OTHER_KINDS = ("reply", "opt_out", "opt_in")
WORKSHOP_KINDS = ("invited", "rsvp_yes", "attended", "walk_in", "no_show", "attended")
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_HOURS = (NOW - START) // timedelta(hours=1)


def _world(seed: int, zones=("America/Mexico_City", "America/Tijuana", "Asia/Kolkata")):
    """Organizations (one per zone) with contacts of varied attributes, two campaigns of
    two messages and a workshop each."""
    rng = random.Random(seed)
    world = []
    for zone in zones:
        org = make_org(timezone=zone)
        contacts = [
            make_contact(
                org,
                birth_year=rng.choice([None, 1990, 2000, 2008, 2011, 2013]),
                age_band=rng.choice([None, "18-24"]),
                gender=rng.choice([None, "female", "male", "nonbinary"]),
                language=rng.choice(["es", "en"]),
                state_code=rng.choice(["02", "09", None]),
                municipality=rng.choice(["Tijuana", "tijuana", "Coyoacán", None]),
            )
            for _ in range(14)
        ]
        campaigns = []
        for strategy in ("information_dissemination", "education"):
            campaign = make_campaign(org, strategy=strategy)
            messages = [make_message(campaign, label=f"M{i}") for i in range(2)]
            workshop = make_workshop(org, campaign=campaign)
            campaigns.append((campaign, messages, workshop))
        world.append((org, contacts, campaigns))
    return world


def _random_event(rng: random.Random, org, contacts, campaigns) -> dict:
    campaign, messages, workshop = rng.choice(campaigns)
    group = rng.random()
    kind = rng.choice(SMS_KINDS if group < 0.6 else WORKSHOP_KINDS if group < 0.85 else OTHER_KINDS)
    sms = kind.startswith("sms_")
    # Minutes and seconds too: events right before and after local midnights.
    occurred_at = START + timedelta(hours=rng.randrange(SPAN_HOURS), seconds=rng.randrange(3600))
    return dict(
        organization_id=org.id,
        contact_id=rng.choice(contacts).id,
        campaign_id=None if rng.random() < 0.05 else campaign.id,
        # Deliveries of a message, of no known message (a notice), or of another campaign's.
        message_id=rng.choice([m.id for m in messages] + [None]) if sms else None,
        workshop_id=workshop.id if kind in WORKSHOP_KINDS else None,
        kind=kind,
        channel="sms" if sms or kind in OTHER_KINDS else "workshop",
        detail=rng.choice([None, "30003", "30005"])
        if kind in ("sms_failed", "sms_undelivered")
        else None,
        occurred_at=occurred_at,
    )


def _insert_history(seed: int, world, rounds: int = 3, per_round: int = 120) -> None:
    """Events in rounds: one statement per event, then batches of one statement (with
    repeated keys inside), contacts erased between rounds."""
    rng = random.Random(seed)
    for r in range(rounds):
        for org, contacts, campaigns in world:
            events = [_random_event(rng, org, contacts, campaigns) for _ in range(per_round)]
            half = len(events) // 2
            for values in events[:half]:
                db.session.execute(insert(ParticipationEvent).values(**values))
            db.session.commit()
            for start in range(half, len(events), 25):
                # One multi-row INSERT (an executemany may run one statement per row).
                db.session.execute(insert(ParticipationEvent).values(events[start : start + 25]))
            db.session.commit()
            live = [c for c in contacts if c.erased_at is None]
            if r < rounds - 1 and live:
                erase_contact(rng.choice(live), today=TODAY, now=NOW)
                db.session.commit()


def _periods(seed: int, zone: str) -> list[Period]:
    rng = random.Random(seed)
    periods = [Period(None, None, zone), Period(date(2026, 3, 8), date(2026, 3, 8), zone)]
    # DST starts in Tijuana on 8 March 2026 (a 23-hour local day) and ends on 1 November.
    periods.append(Period(date(2026, 10, 31), date(2026, 11, 2), zone))
    for _ in range(4):
        first = date(2026, 1, 1) + timedelta(days=rng.randrange(320))
        last = first + timedelta(days=rng.randrange(90))
        periods.append(Period(first, last, zone))
    periods += [Period(date(2026, 6, 1), None, zone), Period(None, date(2026, 5, 31), zone)]
    return periods


def _comparable(figures) -> dict:
    """The figures as plain data, with rows in a fixed order (SQL groups come unordered)."""
    data = asdict(figures)
    for name in ("reached_groups", "targeted_groups", "campaigns", "by_strategy", "by_level"):
        if name in data:
            data[name] = sorted(data[name], key=repr)
    return data


def _assert_rollups_equal_events(world, seed: int) -> int:
    checked = 0
    for org, _contacts, campaigns in world:
        for period in _periods(seed, org.timezone):
            for campaign, _messages, _workshop in campaigns:
                from_rollups = campaign_figures(campaign, period, today=TODAY)
                reference = campaign_figures(campaign, period, today=TODAY, from_rollups=False)
                assert _comparable(from_rollups) == _comparable(reference), (org.timezone, period)
                checked += from_rollups.reached
            assert _comparable(organization_figures(org.id, period)) == _comparable(
                organization_figures(org.id, period, from_rollups=False)
            ), (org.timezone, period)
    return checked


def _delete_a_message_and_a_campaign(world) -> None:
    """The database's own cascades: a deleted message leaves its events without one
    (their deliveries count as "without a known message"); a deleted campaign leaves its
    events without a campaign (counted nowhere), and takes its rollup rows with it."""
    _org, _contacts, campaigns = world[0]
    db.session.execute(delete(CampaignMessage).where(CampaignMessage.id == campaigns[0][1][0].id))
    db.session.execute(delete(Campaign).where(Campaign.id == campaigns[1][0].id))
    db.session.commit()
    db.session.expire_all()
    campaigns[0][1].pop(0)
    del campaigns[1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollup_figures_equal_the_raw_events(app, seed):
    world = _world(seed)
    _insert_history(seed, world)
    _delete_a_message_and_a_campaign(world)
    _insert_history(seed + 100, world, rounds=1)
    # Not vacuous: people were reached, and hour-aligned periods read the rollups.
    assert _assert_rollups_equal_events(world, seed) > 0
    assert period_hours(Period(date(2026, 3, 1), date(2026, 3, 31), "America/Tijuana"))
    assert period_hours(Period(date(2026, 3, 1), date(2026, 3, 31), "Asia/Kolkata")) is None


def test_reports_read_the_rollups_not_the_events(app):
    """All-time and hour-aligned reach figures come from the rollups: events changed behind
    the triggers' back (which the app never does: events are only inserted, and deleted
    when a check-in is undone, which the rollups follow) leave them unchanged. (Failures and
    the funnel still read their rare kinds from the events; opt-outs have their own rollup,
    participation.attribution.)"""
    world = _world(7, zones=("America/Mexico_City",))
    _insert_history(7, world, rounds=1)
    org, _contacts, campaigns = world[0]
    campaign = campaigns[0][0]
    periods = [Period(None, None, org.timezone), Period(date(2026, 2, 1), None, org.timezone)]

    def reach(period):
        figures = campaign_figures(campaign, period, today=TODAY)
        return (
            sorted(figures.reached_groups, key=repr),
            figures.message_doses,
            figures.delivered,
            figures.series,
            [(m.message_id, m.delivered, m.delivered_contacts) for m in figures.messages],
        )

    before = [reach(p) for p in periods]
    assert before[0][2] > 0
    db.session.execute(update(ParticipationEvent).values(kind="reply"))
    db.session.commit()
    assert [reach(p) for p in periods] == before
    empty = campaign_figures(campaign, periods[0], today=TODAY, from_rollups=False)
    assert empty.reached == 0


def test_no_figures_cross_organizations(app):
    world = _world(11, zones=("America/Mexico_City", "America/Mexico_City"))
    _insert_history(11, world, rounds=1)
    (org_a, _, campaigns_a), (org_b, _, campaigns_b) = world
    everything = Period(None, None, org_a.timezone)
    own = campaign_reach(org_a.id, campaigns_a[0][0].id, everything, [])
    assert sum(g.n for g in own.groups) > 0
    foreign = campaign_reach(org_a.id, campaigns_b[0][0].id, everything, [])
    assert foreign.groups == [] and foreign.delivered == 0
    for org in (org_a, org_b):
        rows = db.session.scalars(
            select(func.count())
            .select_from(ReachRollup)
            .where(ReachRollup.organization_id == org.id)
        ).one()
        assert rows > 0


def _snapshot() -> dict:
    return {
        table.name: sorted(tuple(row) for row in db.session.execute(select(table)))
        for table in ROLLUP_TABLES
    }


def test_backfill_rebuilds_what_the_triggers_maintain(app):
    world = _world(5, zones=("America/Tijuana",))
    _insert_history(5, world, rounds=2)
    maintained = _snapshot()
    assert all(maintained.values())
    for table in ROLLUP_TABLES:
        db.session.execute(delete(table))
    dialect = db.session.get_bind().dialect.name
    for statement in backfill_sql(dialect):
        db.session.execute(text(statement))
    db.session.commit()
    assert _snapshot() == maintained


@pytest.mark.skipif(not ON_POSTGRES, reason="concurrent writers need PostgreSQL")
def test_concurrent_inserts_stay_exact(app):
    """Writers committing the same (message, contact) deliveries at once, in shuffled
    order: every pair counts once in the message totals, the figures equal the events,
    and no writer deadlocks (each statement's trigger takes its row locks in key order; a
    transaction of several statements over the same keys in another order can still
    deadlock, and PostgreSQL then rolls one back whole, which keeps the rollups exact)."""
    world = _world(9, zones=("America/Mexico_City",))
    org, contacts, campaigns = world[0]
    campaign, messages, _workshop = campaigns[0]
    rows = [
        dict(
            organization_id=org.id,
            contact_id=contact.id,
            campaign_id=campaign.id,
            message_id=message.id,
            kind=kind,
            channel="sms",
            occurred_at=NOW - timedelta(hours=i),
        )
        for i, (contact, message, kind) in enumerate(
            (c, m, k) for c in contacts for m in messages for k in ("sms_delivered", "sms_failed")
        )
    ]
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    writers, transactions = 4, 3
    barrier = threading.Barrier(writers)
    errors = []

    def writer(seed: int):
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for _ in range(transactions):
                with engine.begin() as conn:
                    conn.execute(insert(ParticipationEvent).values(rng.sample(rows, len(rows))))
        except Exception as error:  # surfaced below: a deadlock would show up here
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert errors == []
    db.session.expire_all()
    contacts_per_message = db.session.execute(
        select(MessageTotalRollup.message_key, func.sum(MessageTotalRollup.contacts))
        .where(MessageTotalRollup.campaign_id == campaign.id)
        .group_by(MessageTotalRollup.message_key)
    ).all()
    assert sorted(contacts_per_message) == sorted((m.id, len(contacts)) for m in messages)
    everything = Period(None, None, org.timezone)
    figures = campaign_figures(campaign, everything, today=TODAY)
    assert figures.reached == len(contacts)
    assert figures.delivered == writers * transactions * len(rows) // 2
    assert _comparable(figures) == _comparable(
        campaign_figures(campaign, everything, today=TODAY, from_rollups=False)
    )


def test_undoing_a_check_in_leaves_the_rollups_equal_to_the_events(app):
    """A check-in undone deletes its attendance events: the reach the rollups give must
    drop with them, as recomputing from the events does."""
    from app.workshops.attendance import check_in, undo_check_in
    from tests.factories import make_registration

    org = make_org()
    campaign = make_campaign(org, status="active")
    workshop = make_workshop(org, campaign=campaign, starts_at=NOW - timedelta(hours=1))
    stays, leaves = make_contact(org), make_contact(org)
    registrations = [make_registration(workshop, contact) for contact in (stays, leaves)]
    for registration in registrations:
        assert check_in(registration, user_id=None, now=NOW)
    assert undo_check_in(registrations[1], now=NOW + timedelta(minutes=5))
    period = Period(TODAY - timedelta(days=1), TODAY + timedelta(days=1), org.timezone)
    for span in (Period(tz=org.timezone), period):
        rolled = campaign_figures(campaign, span, today=TODAY)
        raw = campaign_figures(campaign, span, today=TODAY, from_rollups=False)
        assert _comparable(rolled) == _comparable(raw)
        assert rolled.reached == 1
