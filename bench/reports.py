"""Benchmark: the campaign dashboard's data on 200,000 contacts and 1,000,000 events.

    .venv/bin/python bench/reports.py [--contacts 200000] [--events 1000000] [--runs 3]

For each backend (SQLite in a temp file; PostgreSQL at $BENCH_DATABASE_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/test, in a throw-away database) it loads
the contacts (bench/common.seed_contacts, plus genders) and one organization with five
campaigns, then bulk-loads the participation events: executemany on SQLite, COPY on
PostgreSQL (followed by VACUUM ANALYZE). The benchmarked campaign holds half of the
events: 500,000 over about 150,000 contacts, with 80 workshops, an audience-targeted
send and 100,000 enrolments (see KIND_WEIGHTS for the mix of events).

Timed: `campaign_figures` + `campaign_tables` (everything the campaign dashboard
shows, suppressed as for an evaluator) of the largest campaign for all dates and for one
month, of a typical campaign (125,000 events) for all dates, and the organization
dashboard's `organization_figures`. Each is run `--runs` times; the table
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
from datetime import UTC, date, datetime, timedelta

# `common` puts the project root on sys.path: it comes before the app imports below.
from common import backends, database, make_app, print_table, seed_contacts
from sqlalchemy import func, insert, select, text

from app.campaigns.models import Campaign, CampaignMessage, CampaignPlace
from app.contacts.models import Audience, Contact
from app.db_dialect import is_postgres
from app.extensions import db
from app.organizations.services import create_organization
from app.outreach.models import CampaignEnrollment, OutreachSend
from app.participation.models import ParticipationEvent
from app.reports.campaign import campaign_figures
from app.reports.organization import organization_figures
from app.reports.period import Period
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


def run(backend: str, n_contacts: int, n_events: int, runs: int) -> list[tuple]:
    rng = random.Random(2026)
    rows = []
    with database(backend) as url:
        app = make_app(url)
        with app.app_context():
            org = create_organization(
                slug="bench", name="Bench", country="MX", timezone="America/Tijuana"
            )
            started = time.perf_counter()
            seed_contacts(org.id, n_contacts)
            ids = _setup(org.id, n_contacts, rng)
            _load_events(backend, _events(org.id, n_events, n_contacts, ids[4], *ids[:4], rng=rng))
            if backend == "postgresql":
                db.session.commit()
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
            else:
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            load_seconds = time.perf_counter() - started
            events = db.session.scalar(select(func.count()).select_from(ParticipationEvent))
            today = date(2026, 7, 15)
            tz = "America/Tijuana"

            def dashboard(campaign_id, period):
                def compute():
                    db.session.rollback()  # a fresh transaction, as in a request
                    campaign = db.session.get(Campaign, campaign_id)
                    figures = campaign_figures(campaign, period, today=today)
                    campaign_tables(figures, 5, "es")
                    return figures

                return compute

            main_id, other_id = ids[1][0], ids[1][1]
            per_campaign = dict(
                db.session.execute(
                    select(ParticipationEvent.campaign_id, func.count()).group_by(
                        ParticipationEvent.campaign_id
                    )
                ).all()
            )
            all_dates, figures = _time(dashboard(main_id, Period(tz=tz)), runs)
            month, _ = _time(
                dashboard(main_id, Period(date(2026, 3, 1), date(2026, 3, 31), tz)), runs
            )
            typical, typical_figures = _time(dashboard(other_id, Period(tz=tz)), runs)

            def organization():
                db.session.rollback()
                return organization_figures(org.id, Period(tz=tz))

            org_times, _ = _time(organization, runs)
            db.session.remove()
            db.engine.dispose()
    target = TARGETS[backend]
    load = os.getloadavg()[0]
    rows += [
        (f"{backend}: contacts / events loaded", f"{n_contacts:,} / {events:,}", "", None),
        (f"{backend}: load seconds (setup, not timed)", f"{load_seconds:.1f}", "", None),
        (
            f"{backend}: largest campaign: events / reached",
            f"{per_campaign[main_id]:,} / {figures.reached:,}",
            "",
            None,
        ),
        (
            f"{backend}: typical campaign: events / reached",
            f"{per_campaign[other_id]:,} / {typical_figures.reached:,}",
            "",
            None,
        ),
    ]
    for label, t in (
        ("largest campaign, all dates", all_dates),
        ("largest campaign, one month", month),
        ("typical campaign, all dates", typical),
    ):
        rows += [
            (
                f"{backend}: {label}: median s",
                f"{t['median']:.3f}",
                f"< {target:.0f}",
                t["median"] < target,
            ),
            (f"{backend}: {label}: worst s", f"{t['worst']:.3f}", "", None),
            (f"{backend}: {label}: CPU s", f"{t['cpu']:.3f}", f"< {target:.0f}", t["cpu"] < target),
        ]
    rows += [
        (
            f"{backend}: organization dashboard, all dates: median s",
            f"{org_times['median']:.3f}",
            "",
            None,
        ),
        (
            f"{backend}: organization dashboard, all dates: CPU s",
            f"{org_times['cpu']:.3f}",
            "",
            None,
        ),
        (f"{backend}: 1-minute load average (2 cores)", f"{load:.1f}", "", None),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    rows = []
    for backend in [args.backend] if args.backend else backends():
        rows += run(backend, args.contacts, args.events, args.runs)
    print_table("Reports (bench/reports.py)", rows)


if __name__ == "__main__":
    main()
