"""Benchmark: the campaign dashboard's data on 200,000 contacts and 1,000,000 events.

    .venv/bin/python bench/reports.py [--contacts 200000] [--events 1000000] [--runs 3]
        [--backend postgresql] [--database-url URL]

For each backend (SQLite in a temp file; PostgreSQL at $BENCH_DATABASE_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/test, in a throw-away database; or, with
--database-url, in that existing database, emptied before and after) it loads
the contacts (bench/common.seed_contacts, plus genders) and one organization with five
campaigns, then bulk-loads the participation events: executemany on SQLite, COPY on
PostgreSQL (followed by VACUUM ANALYZE). The benchmarked campaign holds half of the
events: 500,000 over about 150,000 contacts, with 80 workshops, an audience-targeted
send and 100,000 enrolments (see KIND_WEIGHTS for the mix of events).

Timed: `campaign_figures` + `campaign_tables` (everything the campaign dashboard
shows, suppressed as for an evaluator) of the largest campaign for all dates and for one
month, of a typical campaign (125,000 events) for all dates, and the organization
dashboard's `organization_figures`. Each figure is timed three ways, side by side: from
the rollups (issue 15, what the pages run), from the raw events (the old implementation,
kept as the tests' reference: `from_rollups=False`), and the minimal raw query that any
raw-event report pays at least: one `count(DISTINCT contact_id) ... GROUP BY campaign_id`
over the events. The reach statement alone is timed both ways too, and the load reports
what the insert triggers cost (the same COPY without them). Each is run `--runs` times; the table
shows the median and worst wall time and the median CPU time (this process plus the
PostgreSQL backend, read from /proc when the server is local), which is what the wall
time would be on an otherwise idle machine. Targets on a 2-core machine: < 1 s on
PostgreSQL, < 2 s on SQLite.
"""

import argparse
import os
import random
import statistics
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

# `common` puts the project root on sys.path: it comes before the app imports below.
from common import backends, database, make_app, print_table, seed_contacts
from sqlalchemy import create_engine, distinct, func, insert, select, text

from app.campaigns.models import Campaign, CampaignMessage, CampaignPlace
from app.contacts.models import Audience, Contact
from app.db_dialect import is_postgres
from app.extensions import db
from app.organizations.services import create_organization
from app.outreach.models import CampaignEnrollment, OutreachSend
from app.participation.models import ParticipationEvent
from app.participation.rollups import ReachHourRollup, ReachRollup
from app.reports.campaign import campaign_figures
from app.reports.funnel import workshop_funnel
from app.reports.messages import campaign_opt_outs, sms_outcomes
from app.reports.metrics import REACH_KINDS
from app.reports.organization import organization_figures
from app.reports.period import Period
from app.reports.reach import campaign_reach, campaign_reach_from_events, targeted_groups
from app.reports.sql import in_period
from app.reports.tables import campaign_tables
from app.workshops.models import Workshop

TARGETS = {"sqlite": 2.0, "postgresql": 1.0}
START = datetime(2026, 1, 5, tzinfo=UTC)
DAYS = 180
# (kind, weight) of the events of a campaign; walk-ins also get an "attended" row.
# An SMS-heavy program: per 1,000 events about 820 deliveries, 50 failures, 60 invitations,
# 25 RSVPs and 17 attendances (80 workshops of the main campaign: ~95 attendees each).
KIND_WEIGHTS = [
    ("sms_delivered", 82),
    ("sms_failed", 3),
    ("sms_undelivered", 2),
    ("reply", 2),
    ("opt_out", 0.6),
    ("invited", 6),
    ("rsvp_yes", 2.5),
    ("attended", 1.5),
    ("no_show", 0.5),
    ("walk_in", 0.2),
]
ERROR_CODES = ["30003", "30005", "30006", "30007", "30008", None]
COLUMNS = (
    "organization_id",
    "contact_id",
    "campaign_id",
    "message_id",
    "outbox_id",
    "workshop_id",
    "kind",
    "channel",
    "detail",
    "occurred_at",
)


def _setup(org_id: int, n_contacts: int, rng: random.Random):
    """Campaigns, messages, workshops, audience send, enrolments. Returns ids."""
    db.session.execute(
        text(
            "UPDATE contacts SET gender = CASE id % 7 WHEN 0 THEN 'male' WHEN 1 THEN 'male' "
            "WHEN 2 THEN 'male' WHEN 3 THEN 'female' WHEN 4 THEN 'female' WHEN 5 THEN 'female' "
            "ELSE 'nonbinary' END"
        )
    )
    strategies = [
        "information_dissemination",
        "education",
        "alternatives",
        "environmental",
        "education",
    ]
    campaigns = []
    for i in range(5):
        campaign = Campaign(
            organization_id=org_id,
            name=f"Campaña {i}",
            topic="fentanyl",
            strategy=strategies[i],
            level=["universal", "selective"][i % 2],
            status="active",
            target_population=250_000 if i == 0 else 50_000,
        )
        db.session.add(campaign)
        db.session.flush()
        campaigns.append(campaign.id)
        for label in ("Aviso 1", "Aviso 2", "Aviso 3"):
            db.session.add(
                CampaignMessage(
                    organization_id=org_id,
                    campaign_id=campaign.id,
                    label=label,
                    body_es="Hola",
                    body_en="Hi",
                )
            )
    main = campaigns[0]
    for state, town, target in (
        ("02", None, 60_000),
        ("02", "Tijuana", 40_000),
        ("09", None, 80_000),
        ("19", "Monterrey", 30_000),
    ):
        db.session.add(
            CampaignPlace(
                campaign_id=main,
                country="MX",
                state_code=state,
                municipality=town,
                target_population=target,
            )
        )
    db.session.flush()
    messages = {
        c: list(
            db.session.scalars(
                select(CampaignMessage.id)
                .where(CampaignMessage.campaign_id == c)
                .order_by(CampaignMessage.id)
            )
        )
        for c in campaigns
    }
    workshops = {}
    for c in campaigns:
        count = 80 if c == main else 10
        rows = []
        for w in range(count):
            starts = START + timedelta(days=rng.randrange(DAYS), hours=18)
            rows.append(
                dict(
                    organization_id=org_id,
                    campaign_id=c,
                    code=f"{c % 10}{w:03d}",
                    title_es=f"Taller {w}",
                    title_en=f"Workshop {w}",
                    kind="community_workshop",
                    venue_name="Casa de la Cultura",
                    country="MX",
                    state_code="02",
                    timezone="America/Tijuana",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    capacity=60,
                    language="es",
                    status="scheduled",
                    sequence=0,
                    created_at=START,
                    updated_at=START,
                )
            )
        db.session.execute(insert(Workshop), rows)
        workshops[c] = list(
            db.session.scalars(select(Workshop.id).where(Workshop.campaign_id == c))
        )
    audience = Audience(
        organization_id=org_id, name="Norte y centro", filters={"state_codes": ["02", "09", "19"]}
    )
    db.session.add(audience)
    db.session.flush()
    db.session.add(
        OutreachSend(
            organization_id=org_id,
            campaign_id=main,
            message_id=messages[main][0],
            audience_id=audience.id,
            kind="once",
        )
    )
    first_contact = db.session.scalar(select(Contact.id).order_by(Contact.id).limit(1))
    db.session.execute(
        insert(CampaignEnrollment),
        [
            dict(
                organization_id=org_id,
                campaign_id=main,
                contact_id=first_contact + i,
                enrolled_at=START,
            )
            for i in range(0, min(n_contacts, 200_000), 2)
        ],
    )
    db.session.commit()
    return main, campaigns, messages, workshops, first_contact


def _events(
    org_id,
    n_events,
    n_contacts,
    first_contact,
    main,
    campaigns,
    messages,
    workshops,
    rng: random.Random,
):
    """Yield event tuples (COLUMNS order, occurred_at as an aware datetime)."""
    kinds, weights = zip(*KIND_WEIGHTS, strict=True)
    per_campaign = [(main, n_events // 2)] + [
        (c, n_events // 2 // (len(campaigns) - 1)) for c in campaigns[1:]
    ]
    made = 0
    for c, count in per_campaign:
        # Each campaign reaches a different slice of the contacts (3/4 of them for the main).
        span = int(n_contacts * (0.75 if c == main else 0.3))
        offset = 0 if c == main else rng.randrange(n_contacts - span)
        for kind in rng.choices(kinds, weights, k=count):
            if made >= n_events:
                return
            contact = first_contact + offset + int(rng.random() ** 1.3 * span)
            when = START + timedelta(seconds=rng.randrange(DAYS * 86400))
            sms = kind in ("sms_delivered", "sms_failed", "sms_undelivered")
            workshop = (
                rng.choice(workshops[c])
                if kind in ("invited", "rsvp_yes", "attended", "no_show", "walk_in")
                else None
            )
            row = (
                org_id,
                contact,
                c,
                rng.choice(messages[c]) if sms else None,
                None,
                workshop,
                kind,
                "workshop" if kind in ("attended", "no_show", "walk_in") else "sms",
                rng.choice(ERROR_CODES) if kind in ("sms_failed", "sms_undelivered") else None,
                when,
            )
            yield row
            made += 1
            if kind == "walk_in" and made < n_events:
                yield row[:6] + ("attended",) + row[7:]
                made += 1


def _load_events(backend: str, rows) -> None:
    connection = db.session.connection().connection.dbapi_connection
    if backend == "postgresql":
        columns = ", ".join(COLUMNS)
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY participation_events ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        connection.commit()
        return
    sql = (
        f"INSERT INTO participation_events ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(COLUMNS))})"
    )

    def sqlite_rows():
        for row in rows:  # UTCDateTime's SQLite storage: naive UTC text
            yield row[:-1] + (row[-1].strftime("%Y-%m-%d %H:%M:%S.%f"),)

    connection.executemany(sql, sqlite_rows())
    connection.commit()


def _backend_cpu() -> float | None:
    """CPU seconds used so far by this session's PostgreSQL backend (local server only)."""
    if not is_postgres():
        return 0.0
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _time(fn, runs: int) -> tuple[dict, object]:
    """Median and worst wall time, and the median CPU time (this process plus the database
    backend): on a shared machine CPU time shows the cost without other people's load."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        backend = _backend_cpu()
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        after = _backend_cpu()
        cpus.append(
            time.process_time() - cpu + ((after - backend) if None not in (backend, after) else 0.0)
        )
    return {
        "median": statistics.median(walls),
        "worst": max(walls),
        "cpu": statistics.median(cpus),
    }, result


@contextmanager
def _target_database(backend: str, url: str | None):
    """A throw-away database (common.database), or `url` emptied before and after."""
    if url is None:
        with database(backend) as fresh:
            yield fresh
        return
    engine = create_engine(url)
    db.metadata.drop_all(engine)
    engine.dispose()
    try:
        yield url
    finally:
        engine = create_engine(url)
        db.metadata.drop_all(engine)
        engine.dispose()


def _minimal(org_id: int, campaign_id: int | None, period: Period):
    """The least any raw-event report pays: distinct reached contacts per campaign."""
    E = ParticipationEvent

    def compute():
        db.session.rollback()
        scope = [E.campaign_id == campaign_id] if campaign_id else [E.campaign_id.is_not(None)]
        return db.session.execute(
            select(E.campaign_id, func.count(distinct(E.contact_id)))
            .where(
                E.organization_id == org_id,
                *scope,
                E.kind.in_(REACH_KINDS),
                *in_period(E.occurred_at, period),
            )
            .group_by(E.campaign_id)
        ).all()

    return compute


def _load(backend: str, org_id: int, n_contacts: int, n_events: int, rng) -> tuple:
    started = time.perf_counter()
    seed_contacts(org_id, n_contacts)
    ids = _setup(org_id, n_contacts, rng)
    _load_events(backend, _events(org_id, n_events, n_contacts, ids[4], *ids[:4], rng=rng))
    if backend == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return ids, time.perf_counter() - started


def _timings(org_id: int, ids: tuple, runs: int) -> dict:
    """{scenario: {way: timing}} and the figures of the two campaigns."""
    today = date(2026, 7, 15)
    tz = "America/Tijuana"
    main_id, other_id = ids[1][0], ids[1][1]

    def dashboard(campaign_id, period, from_rollups):
        def compute():
            db.session.rollback()  # a fresh transaction, as in a request
            campaign = db.session.get(Campaign, campaign_id)
            figures = campaign_figures(campaign, period, today=today, from_rollups=from_rollups)
            campaign_tables(figures, 5, "es")
            return figures

        return compute

    def reach(campaign_id, period, function):
        def compute():
            db.session.rollback()
            return function(org_id, campaign_id, period, ids[2][campaign_id])

        return compute

    def organization(from_rollups):
        def compute():
            db.session.rollback()
            return organization_figures(org_id, Period(tz=tz), from_rollups=from_rollups)

        return compute

    scenarios = {
        "largest campaign, all dates": (main_id, Period(tz=tz)),
        "largest campaign, one month": (main_id, Period(date(2026, 3, 1), date(2026, 3, 31), tz)),
        "typical campaign, all dates": (other_id, Period(tz=tz)),
    }
    timings, figures = {}, {}
    for label, (campaign_id, period) in scenarios.items():
        timings[label] = {}
        for way, from_rollups in (("rollups", True), ("raw events", False)):
            timings[label][way], result = _time(dashboard(campaign_id, period, from_rollups), runs)
            figures[(label, way)] = result
        timings[label]["minimal count(DISTINCT)"], _ = _time(
            _minimal(org_id, campaign_id, period), runs
        )
        if label == "largest campaign, all dates":
            timings["largest campaign, reach statement"] = {
                "rollups": _time(reach(campaign_id, period, campaign_reach), runs)[0],
                "raw events": _time(reach(campaign_id, period, campaign_reach_from_events), runs)[
                    0
                ],
            }
    timings["largest campaign, all dates, parts"] = _parts(org_id, main_id, today, runs)
    timings["organization, all dates"] = {
        "rollups": _time(organization(True), runs)[0],
        "raw events": _time(organization(False), runs)[0],
        "minimal count(DISTINCT)": _time(_minimal(org_id, None, Period(tz=tz)), runs)[0],
    }
    for label in scenarios:  # the two ways must agree (the tests prove it; this shows it)
        assert figures[(label, "rollups")].reached == figures[(label, "raw events")].reached
    return timings, figures


def _parts(org_id: int, campaign_id: int, today: date, runs: int) -> dict:
    """Where the rest of a campaign report goes (all dates, rollups): each statement."""
    period = Period(tz="America/Tijuana")

    def fresh(fn):
        def compute():
            db.session.rollback()
            return fn()

        return compute

    figures = campaign_figures(db.session.get(Campaign, campaign_id), period, today=today)
    parts = {
        "targeted": lambda: targeted_groups(
            org_id, campaign_id, today=today, reference_year=today.year
        ),
        "funnel": lambda: workshop_funnel(org_id, campaign_id, period),
        "sms outcomes": lambda: sms_outcomes(org_id, campaign_id, period),
        "opt-outs": lambda: campaign_opt_outs(org_id, campaign_id, period),
        "tables (evaluator)": lambda: campaign_tables(figures, 5, "es"),
    }
    return {name: _time(fresh(fn), runs)[0] for name, fn in parts.items()}


def run(backend: str, n_contacts: int, n_events: int, runs: int, url: str | None) -> list[tuple]:
    rng = random.Random(2026)
    rows = []
    with _target_database(backend, url) as target_url:
        app = make_app(target_url)
        with app.app_context():
            org = create_organization(
                slug="bench", name="Bench", country="MX", timezone="America/Tijuana"
            )
            ids, load_seconds = _load(backend, org.id, n_contacts, n_events, rng)
            events = db.session.scalar(select(func.count()).select_from(ParticipationEvent))
            rollup_rows = db.session.scalar(select(func.count()).select_from(ReachRollup))
            hour_rows = db.session.scalar(select(func.count()).select_from(ReachHourRollup))
            main_id = ids[1][0]
            main_events = db.session.scalar(
                select(func.count()).where(ParticipationEvent.campaign_id == main_id)
            )
            timings, figures = _timings(org.id, ids, runs)
            db.session.remove()
            db.engine.dispose()
    target = TARGETS[backend]
    load = os.getloadavg()[0]
    reached = figures[("largest campaign, all dates", "rollups")].reached
    rows += [
        (f"{backend}: contacts / events loaded", f"{n_contacts:,} / {events:,}", "", None),
        (f"{backend}: load s (with rollup triggers)", f"{load_seconds:.1f}", "", None),
        (f"{backend}: rollup rows: contacts / hours", f"{rollup_rows:,} / {hour_rows:,}", "", None),
        (
            f"{backend}: largest campaign: events / reached",
            f"{main_events:,} / {reached:,}",
            "",
            None,
        ),
    ]
    for label, ways in timings.items():
        for way, t in ways.items():
            checked = way == "rollups" and not label.endswith("statement")
            rows += [
                (
                    f"{backend}: {label}: {way}: median s",
                    f"{t['median']:.3f}",
                    f"< {target:.0f}" if checked else "",
                    t["median"] < target if checked else None,
                ),
                (f"{backend}: {label}: {way}: CPU s", f"{t['cpu']:.3f}", "", None),
            ]
        if "rollups" in ways and "raw events" in ways:
            speedup = ways["raw events"]["median"] / max(ways["rollups"]["median"], 1e-9)
            rows.append((f"{backend}: {label}: raw / rollups", f"{speedup:.1f}x", "", None))
    rows.append((f"{backend}: 1-minute load average (2 cores)", f"{load:.1f}", "", None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--database-url", help="an existing database to use (emptied before and after)"
    )
    args = parser.parse_args()
    if args.database_url and not args.backend:
        parser.error("--database-url needs --backend")
    rows = []
    for backend in [args.backend] if args.backend else backends():
        rows += run(backend, args.contacts, args.events, args.runs, args.database_url)
    print_table("Reports (bench/reports.py)", rows)


if __name__ == "__main__":
    main()
