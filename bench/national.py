"""Benchmark: a national program on PostgreSQL (issue 15) — `make bench-national`.

    .venv/bin/python bench/national.py [--contacts 1000000] [--outbox 10000000]
        [--events 50000000] [--scale F] [--requests 30] [--users 50] [--seconds 60]
        [--database-url URL] [--keep]

Targets, with 1M contacts, 10M outbox rows and 50M participation events in one
organization: the campaign, send, contacts, dashboard and report pages answer with p50
< 30 ms to one client and p95 < 300 ms to 50 concurrent clients, and the campaign report's
totals equal the figures counted from the raw events. --scale multiplies the three sizes
(0.01 for a quick run); generating the full size takes hours on a small machine, which is
why this is not part of `make bench`.

Steps, on a fresh scratch database (alcance_nat_*, on --database-url's server, default
$BENCH_DATABASE_URL; dropped after unless --keep):
1. Schema and demo as bench/web_load.py does (tables, `flask seed-demo`).
2. Server-side generation (INSERT ... SELECT ... FROM generate_series, ≤ --chunk rows per
   statement and transaction), through the normal tables so that the outbox status
   counter triggers (app/outbox/models.py) and the report rollup triggers
   (app/participation/rollups.py) do their real work: contacts; a campaign with four
   messages and one "once" send per --contacts outbox rows (the last one due tomorrow, its
   rows still scheduled, the others ~91% delivered, 4% undelivered, 3% failed, 2% sent);
   participation events in pairs (sms_sent, then its outcome: delivered, undelivered,
   failed, a reply or an opt-out) over the last 12 months, with campaign and message set.
   The monthly partitions of participation_events (app/participation/partitions.py) are
   created for every generated month first. Then a fold of the status counters and
   VACUUM ANALYZE (what autovacuum does to a loaded table).
3. Report correctness: the campaign report's figures (app.reports.campaign, from the
   rollups), all time and for the last 90 local days, against raw SQL over
   participation_events, side by side with both timings; the organization's attributed
   opt-outs (app.participation.attribution) against the lookup over the raw events.
4. gunicorn (app/gunicorn_conf.py, APP_CONFIG=production; bench/web_load.py), the demo
   coordinator signed in: the first (cold) request of each page, then --requests
   sequential requests per page (p50, p95), then --users concurrent clients with
   bench/web_load.py's think time for --seconds (p95 per page, errors), with the Python
   load generator (it records latencies per page).

Report pages reuse figures for REPORTS_CACHE_SECONDS (app/reports/cache.py): after the
cold request, the sequential and concurrent runs mostly measure cached figures, as users
reloading a dashboard would see them; the cold request and step 3 time the computation.
"""

import argparse
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ZONES, database, free_port, make_app, print_table, stop_process
from web_load import (
    THINK_MS,
    Browser,
    check_pages,
    percentile,
    prepare,
    run_python,
    server_env,
    sign_in,
    start_server,
    wait_until_up,
)

TABLE = "National program on PostgreSQL (bench/national.py)"
TARGET_P50_MS = 30.0
TARGET_P95_MS = 300.0
MESSAGES = 4
# Outcome of a sent message, by (hash mod 100) thresholds: (kind, detail, upper bound).
OUTCOMES = (
    ("sms_delivered", None, 91),
    ("sms_undelivered", "30003", 95),
    ("sms_failed", "30006", 98),
    ("reply", None, 99.5),
    ("opt_out", None, 100),
)
OUTBOX_MIX = (("delivered", 91), ("undelivered", 95), ("failed", 98), ("sent", 100))


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# -- generation ----------------------------------------------------------------------------------


def _zones_sql() -> str:
    """ZONES as a VALUES list with cumulative weight ranges [lo, hi) out of 100."""
    rows, low = [], 0
    for country, state, town, tz, weight in ZONES:
        town_sql = town.replace("'", "''")
        rows.append(f"('{country}', '{state}', '{town_sql}', '{tz}', {low}, {low + weight})")
        low += weight
    assert low == 100, "bench/common.ZONES weights must add up to 100"
    return ", ".join(rows)


def _case(expression: str, thresholds) -> str:
    whens = " ".join(f"WHEN {expression} < {bound} THEN '{value}'" for value, bound in thresholds)
    return f"CASE {whens} END"


class Generator:
    """Server-side INSERT ... SELECT in chunks, each its own transaction, with progress."""

    def __init__(self, engine, chunk: int):
        self.engine, self.chunk = engine, chunk
        self.rates: dict[str, tuple[int, float]] = {}

    def run(self, label: str, total: int, sql: str, params: dict, part: str = "") -> None:
        """Run `sql` (with :lo and :hi, the inclusive 0-based range of a chunk) over
        [0, total); rows and time add up under `label` (`part` only names the progress)."""
        from sqlalchemy import text

        statement, done, started = text(sql), 0, time.monotonic()
        while done < total:
            size = min(self.chunk, total - done)
            begin = time.monotonic()
            with self.engine.begin() as conn:
                conn.execute(statement, {**params, "lo": done, "hi": done + size - 1})
            done += size
            rate, elapsed = size / (time.monotonic() - begin), time.monotonic() - started
            log(
                f"{label}{part}: {done:,}/{total:,} ({rate:,.0f} rows/s,"
                f" {done / elapsed:,.0f} rows/s overall)"
            )
        seconds = time.monotonic() - started
        previous = self.rates.get(label, (0, 0.0))
        self.rates[label] = (previous[0] + total, previous[1] + seconds)


CONTACTS_SQL = f"""
INSERT INTO contacts (organization_id, phone, first_name, language, birth_year, country,
    state_code, municipality, timezone, consent_source, consent_at, guardian_consent,
    undeliverable, created_at, updated_at)
SELECT :org, CASE z.country WHEN 'MX' THEN '+52222' ELSE '+1213' END || lpad(i::text, 7, '0'),
    (ARRAY['Ana', 'José', 'Itzel', 'Brayan', NULL])[1 + i % 5],
    CASE WHEN i % 3 = 0 THEN 'en' ELSE 'es' END, 1998 + (i * 7) % 10,
    z.country, z.state, z.town, z.tz, 'school', :consent, true, false, :consent, :consent
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS i
JOIN (VALUES {_zones_sql()}) AS z(country, state, town, tz, low, high)
    ON (i * 37) % 100 >= z.low AND (i * 37) % 100 < z.high
"""

# One row per (send, contact); :future sends have only scheduled rows.
OUTBOX_SQL = f"""
INSERT INTO outbox_messages (organization_id, campaign_id, send_id, message_id, contact_id,
    occurrence, channel, purpose, language, body, due_at, status, attempts,
    with_opt_out_notice, reconcile_failures, twilio_sid, segments, prepared_at,
    send_started_at, sent_at, final_at, created_at)
SELECT :org, :campaign, :send, :message, :first_contact + k, 0, 'sms', 'campaign', 'es', :body,
    r.due, r.status, CASE WHEN :future THEN 0 ELSE 1 END, false, 0,
    CASE WHEN NOT :future THEN 'SM' || md5(:send || '-' || k) END,
    CASE WHEN NOT :future THEN 1 END,
    CASE WHEN NOT :future THEN r.due END, CASE WHEN NOT :future THEN r.due END,
    CASE WHEN NOT :future THEN r.due END,
    CASE WHEN r.status IN ('delivered', 'undelivered', 'failed')
        THEN r.due + interval '4 seconds' END,
    :created
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS k
CROSS JOIN LATERAL (SELECT
    CAST(:due AS timestamptz) + (k % 3600) * interval '1 second' AS due,
    CASE WHEN :future THEN 'scheduled'
        ELSE {_case("(k * 7919 + :send * 31) % 100", OUTBOX_MIX)} END AS status) AS r
"""

# A pair's outcome: a hash of the pair, shifted on each round over the contacts so that a
# contact's outcomes vary from round to round.
OUTCOME_KEY = "(q.pair * 48271 + q.pair / :contacts * 7) % 1000 / 10.0"
# Event i belongs to the pair i / 2: even i the sms_sent, odd i its outcome 4 s later.
EVENTS_SQL = f"""
INSERT INTO participation_events (organization_id, contact_id, campaign_id, message_id, kind,
    channel, detail, occurred_at)
SELECT :org, :first_contact + (p.pair * 7919) % :contacts, :campaign,
    (CAST(:messages AS integer[]))[1 + (p.pair + p.pair / :contacts) % {MESSAGES}],
    CASE WHEN i % 2 = 0 THEN 'sms_sent' ELSE p.kind END,
    'sms',
    CASE WHEN i % 2 = 1 THEN p.detail END,
    CAST(:now AS timestamptz) - (p.pair * 104729 % :span) * interval '1 second'
        + (i % 2) * interval '4 seconds'
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS i
CROSS JOIN LATERAL (SELECT i / 2 AS pair) AS q
CROSS JOIN LATERAL (SELECT q.pair,
    {_case(OUTCOME_KEY, [(k, b) for k, _, b in OUTCOMES])} AS kind,
    NULLIF({_case(OUTCOME_KEY, [(d or "", b) for _, d, b in OUTCOMES])},
        '') AS detail) AS p
"""


def create_partitions(engine, first_month, last_month) -> int:
    """The monthly partitions from first_month to last_month (app.participation.partitions:
    create_all made the months around now; the generated events go back a year)."""
    from app.participation.partitions import add_months, create_month_partition, partition_exists

    created, month = 0, first_month
    while month <= last_month:
        with engine.begin() as conn:
            if not partition_exists(conn, month):
                create_month_partition(conn, month)
                created += 1
        month = add_months(month, 1)
    return created


def setup_campaign(org_id: int, sends: int, now: datetime, contacts: int) -> dict:
    """A national campaign, its messages and `sends` one-off sends (the last one due
    tomorrow, the others spread over the past year)."""
    from app.campaigns.models import Campaign, CampaignMessage
    from app.extensions import db
    from app.outreach.models import OutreachSend

    campaign = Campaign(
        organization_id=org_id,
        name="Campaña nacional (bench)",
        topic="fentanyl",
        strategy="information_dissemination",
        level="universal",
        status="active",
        target_population=contacts * 2,
        start_date=(now - timedelta(days=366)).date(),
        default_language="es",
    )
    db.session.add(campaign)
    db.session.flush()
    messages = []
    for n in range(MESSAGES):
        message = CampaignMessage(
            organization_id=org_id,
            campaign_id=campaign.id,
            label=f"Mensaje {n + 1}",
            body_es=f"Hola {{nombre}}: mensaje {n + 1} de prevención. Info: alcance.mx/n{n}",
            body_en=f"Hi {{name}}: prevention message {n + 1}. Info: alcance.mx/n{n}",
        )
        db.session.add(message)
        messages.append(message)
    db.session.flush()
    send_rows = []
    for s in range(sends):
        future = s == sends - 1
        due = now + timedelta(days=1) if future else now - timedelta(days=360 * (sends - s) / sends)
        send = OutreachSend(
            organization_id=org_id,
            campaign_id=campaign.id,
            message_id=messages[s % MESSAGES].id,
            kind="once",
            fixed_at=due,
            status="scheduled",
            fanned_out_at=due if not future else now,
        )
        db.session.add(send)
        send_rows.append((send, messages[s % MESSAGES], due, future))
    db.session.commit()
    return {
        "campaign": campaign.id,
        "messages": [m.id for m in messages],
        "sends": [(s.id, m.id, m.body_es, due, future) for s, m, due, future in send_rows],
    }


def contact_range(org_id: int, phone_prefixes=("+52222", "+1213")) -> tuple[int, int]:
    from sqlalchemy import text

    from app.extensions import db

    low, high, n = db.session.execute(
        text(
            "SELECT min(id), max(id), count(*) FROM contacts WHERE organization_id = :org"
            " AND (phone LIKE :a OR phone LIKE :b)"
        ),
        {"org": org_id, "a": phone_prefixes[0] + "%", "b": phone_prefixes[1] + "%"},
    ).one()
    if n and high - low + 1 != n:
        raise RuntimeError("generated contact ids are not contiguous")
    return low, n


def generate(org_id: int, sizes: dict, chunk: int, now: datetime) -> tuple[dict, dict]:
    """Every generated row; returns (ids, generation rates {label: (rows, seconds)})."""
    from app.extensions import db
    from app.participation.partitions import add_months, month_start

    engine = db.engine
    gen = Generator(engine, chunk)
    consent = now - timedelta(days=400)
    gen.run("contacts", sizes["contacts"], CONTACTS_SQL, {"org": org_id, "consent": consent})
    first_contact, n_contacts = contact_range(org_id)
    sends = max(1, math.ceil(sizes["outbox"] / n_contacts))
    ids = setup_campaign(org_id, sends, now, n_contacts)
    ids["first_contact"], ids["contacts"] = first_contact, n_contacts
    remaining = sizes["outbox"]
    for n, (send_id, message_id, body, due, future) in enumerate(ids["sends"], 1):
        rows = min(n_contacts, remaining)
        remaining -= rows
        params = dict(
            org=org_id,
            campaign=ids["campaign"],
            send=send_id,
            message=message_id,
            first_contact=first_contact,
            body=body,
            due=due,
            future=future,
            created=min(due, now),
        )
        gen.run("outbox", rows, OUTBOX_SQL, params, part=f" (send {n}/{len(ids['sends'])})")
    span = 365 * 86400
    created = create_partitions(
        engine, month_start(now - timedelta(seconds=span)), add_months(month_start(now), 3)
    )
    log(f"participation_events: {created} monthly partitions created")
    gen.run(
        "events",
        sizes["events"],
        EVENTS_SQL,
        dict(
            org=org_id,
            campaign=ids["campaign"],
            messages=ids["messages"],
            first_contact=first_contact,
            contacts=n_contacts,
            now=now - timedelta(seconds=5),  # an outcome 4 s later is still in the past
            span=span,
        ),
    )
    return ids, gen.rates


def finish_load(engine) -> dict[str, float]:
    """Fold the status counters, then VACUUM ANALYZE: timings in seconds."""
    from app.outbox.counters import fold

    timings = {}
    begin = time.monotonic()
    fold()
    timings["fold"] = time.monotonic() - begin
    begin = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    timings["vacuum analyze"] = time.monotonic() - begin
    return timings


def archive_old(engine, org_id: int, campaign_id: int, now: datetime, months: int) -> list[tuple]:
    """The outbox archive's move (app/outbox/archive.py) of the messages due more than
    `months` ago, side by side with a plain copy of the same rows (CREATE TABLE AS), then
    the campaign's status figures (counters) against a GROUP BY over its rows, which reads
    the live table and the archive together."""
    from sqlalchemy import text

    from app.extensions import db
    from app.outbox import api
    from app.outbox.archive import ARCHIVED_STATUSES, archive_outbox
    from app.outbox.models import ARCHIVE

    cutoff = now - timedelta(days=30 * months)
    begin = time.monotonic()
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TEMP TABLE archive_reference AS SELECT * FROM ONLY outbox_messages"
                " WHERE status = ANY(:statuses) AND due_at < :cutoff"
                " AND (final_at IS NULL OR final_at < :cutoff)"
            ),
            {"statuses": list(ARCHIVED_STATUSES), "cutoff": cutoff},
        )
        conn.execute(text("DROP TABLE archive_reference"))
    reference = time.monotonic() - begin
    begin = time.monotonic()
    moved = archive_outbox(now=now, months=months)
    seconds = time.monotonic() - begin
    log(f"archive: {moved:,} rows in {seconds:,.1f} s (plain copy {reference:,.1f} s)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE outbox_messages, {ARCHIVE}")
    live = db.session.scalar(text("SELECT count(*) FROM ONLY outbox_messages"))
    counted = dict(
        db.session.execute(
            text(
                "SELECT status, count(*) FROM outbox_messages WHERE campaign_id = :c"
                " GROUP BY status"
            ),
            {"c": campaign_id},
        ).all()
    )
    figures = api.status_counts(org_id, campaign_id=campaign_id)
    db.session.commit()
    return [
        (
            f"archive (> {months} months): rows | s | plain copy s | ratio",
            f"{moved:,} | {seconds:,.1f} | {reference:,.1f} | {seconds / max(reference, 1e-9):.1f}",
            "",
            None,
        ),
        ("outbox after the archive: live | archived", f"{live:,} | {moved:,}", "", None),
        (
            "campaign status figures after the archive (counters | rows)",
            f"{sum(figures.values()):,} | {sum(counted.values()):,}",
            "equal",
            figures == counted,
        ),
    ]


# -- report correctness --------------------------------------------------------------------------

RAW_TOTALS_SQL = """
SELECT
    count(DISTINCT contact_id) FILTER (WHERE kind IN ('sms_delivered', 'attended', 'walk_in')),
    count(*) FILTER (WHERE kind = 'sms_delivered'),
    count(*) FILTER (WHERE kind = 'sms_failed'),
    count(*) FILTER (WHERE kind = 'sms_undelivered'),
    count(DISTINCT contact_id) FILTER (WHERE kind = 'reply')
FROM participation_events
WHERE organization_id = :org AND campaign_id = :campaign
    AND occurred_at >= :low AND occurred_at < :high
"""
RAW_MESSAGES_SQL = """
SELECT message_id, count(*), count(DISTINCT contact_id)
FROM participation_events
WHERE organization_id = :org AND campaign_id = :campaign AND kind = 'sms_delivered'
    AND occurred_at >= :low AND occurred_at < :high
GROUP BY message_id
"""
RAW_DOSES_SQL = """
SELECT n, count(*) FROM (
    SELECT contact_id, count(*) AS n FROM participation_events
    WHERE organization_id = :org AND campaign_id = :campaign AND kind = 'sms_delivered'
        AND occurred_at >= :low AND occurred_at < :high
    GROUP BY contact_id
) AS per_contact GROUP BY n
"""
FAR_PAST, FAR_FUTURE = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def raw_figures(org_id: int, campaign_id: int, period) -> dict:
    from sqlalchemy import text

    from app.extensions import db

    low, high = period.bounds_utc()
    params = {
        "org": org_id,
        "campaign": campaign_id,
        "low": low or FAR_PAST,
        "high": high or FAR_FUTURE,
    }
    reached, delivered, failed, undelivered, repliers = db.session.execute(
        text(RAW_TOTALS_SQL), params
    ).one()
    messages = {m: (d, c) for m, d, c in db.session.execute(text(RAW_MESSAGES_SQL), params)}
    doses = {n: c for n, c in db.session.execute(text(RAW_DOSES_SQL), params)}
    db.session.commit()
    return {
        "reached contacts": reached,
        "deliveries": delivered,
        "failed": failed,
        "undelivered": undelivered,
        "contacts who replied": repliers,
        "deliveries per message": messages,
        "contacts per delivery count": doses,
    }


def app_figures(figures) -> dict:
    return {
        "reached contacts": figures.reached,
        "deliveries": figures.delivered,
        "failed": figures.failed,
        "undelivered": figures.undelivered,
        "contacts who replied": figures.replies,
        "deliveries per message": {
            m.message_id: (m.delivered, m.delivered_contacts)
            for m in figures.messages
            if m.delivered
        },
        # The report counts reached contacts without a delivery as dose 0: not in the raw.
        "contacts per delivery count": {n: c for n, c in figures.message_doses.items() if n and c},
    }


def _shown(value) -> str:
    """A figure, or a dict of them as its size and the sum of its (first) values."""
    if isinstance(value, dict):
        total = sum(v if isinstance(v, int) else v[0] for v in value.values())
        return f"{len(value)} keys, sum {total:,}"
    return f"{value:,}"


def check_report(org_id: int, campaign_id: int) -> list[tuple]:
    """The campaign report's figures (rollups) against raw SQL, all time and 90 days."""
    from zoneinfo import ZoneInfo

    from app.campaigns.models import Campaign
    from app.extensions import db
    from app.organizations.models import Organization
    from app.reports.campaign import campaign_figures
    from app.reports.period import Period

    tz = db.session.get(Organization, org_id).timezone
    today = datetime.now(ZoneInfo(tz)).date()
    rows = []
    for label, period in (
        ("all time", Period(tz=tz)),
        ("last 90 days", Period(today - timedelta(days=89), today, tz)),
    ):
        campaign = db.session.get(Campaign, campaign_id)
        begin = time.perf_counter()
        figures = app_figures(campaign_figures(campaign, period, today=today))
        app_ms = (time.perf_counter() - begin) * 1000
        db.session.commit()
        begin = time.perf_counter()
        raw = raw_figures(org_id, campaign_id, period)
        raw_ms = (time.perf_counter() - begin) * 1000
        for name, value in figures.items():
            rows.append(
                (
                    f"report {label}: {name} (report | raw)",
                    f"{_shown(value)} | {_shown(raw[name])}",
                    "equal",
                    value == raw[name],
                )
            )
        rows.append(
            (
                f"report {label}: ms report (rollups) | raw SQL",
                f"{app_ms:,.0f} | {raw_ms:,.0f}",
                "",
                None,
            )
        )
        rows += check_opt_outs(org_id, period, label)
    return rows


def check_opt_outs(org_id: int, period, label: str) -> list[tuple]:
    """The organization's attributed opt-outs (participation.attribution) against the
    lookup over the raw events, per campaign and in total."""
    from app.extensions import db
    from app.reports.messages import attributed_opt_outs

    timings, results = {}, {}
    for way, from_rollups in (("rollup", True), ("raw", False)):
        begin = time.perf_counter()
        results[way] = attributed_opt_outs(
            org_id, period, "campaign_id", lambda a: True, from_rollups=from_rollups
        )
        timings[way] = (time.perf_counter() - begin) * 1000
        db.session.commit()
    rolled, raw = results["rollup"], results["raw"]
    return [
        (
            f"report {label}: opt-outs attributed (rollup | raw)",
            f"{rolled.total:,} | {raw.total:,}",
            "equal",
            (rolled.total, rolled.by) == (raw.total, raw.by),
        ),
        (
            f"report {label}: ms opt-out attribution rollup | raw",
            f"{timings['rollup']:,.0f} | {timings['raw']:,.0f}",
            "",
            None,
        ),
    ]


# -- the web pages -------------------------------------------------------------------------------


def timed_get(port: int, cookie: str, path: str) -> float:
    browser = Browser(port)
    browser.cookies = dict(part.split("=", 1) for part in cookie.split("; "))
    begin = time.perf_counter()
    status, _, _ = browser.request("GET", path)
    elapsed = (time.perf_counter() - begin) * 1000
    if status != 200:
        raise RuntimeError(f"{path} answered HTTP {status}")
    return elapsed


def measure_pages(port: int, pages: dict[str, str], args) -> list[tuple]:
    cookie = sign_in(port)
    rows = []
    for name, path in pages.items():  # before any warm-up: report figures not cached yet
        rows.append(
            (f"{name}: first request ms", f"{timed_get(port, cookie, path):,.0f}", "", None)
        )
    check_pages(port, cookie, list(pages.values()))
    for name, path in pages.items():
        latencies = sorted(timed_get(port, cookie, path) for _ in range(args.requests))
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        rows += [
            (
                f"{name}: 1 client p50 ms",
                f"{p50:,.1f}",
                f"< {TARGET_P50_MS:.0f}",
                p50 < TARGET_P50_MS,
            ),
            (f"{name}: 1 client p95 ms", f"{p95:,.1f}", "", None),
        ]
    log(f"{args.users} clients for {args.seconds} s")
    paths = list(pages.values())
    m = run_python(port, cookie, paths, users=args.users, seconds=args.seconds, think=THINK_MS)
    think = f"think {THINK_MS[0] / 1000:g}-{THINK_MS[1] / 1000:g} s"
    for name, path in pages.items():
        p95 = percentile(m["by_path"][path], 95)
        rows.append(
            (
                f"{name}: {args.users} clients p95 ms",
                f"{p95:,.0f}",
                f"< {TARGET_P95_MS:.0f}",
                p95 < TARGET_P95_MS,
            )
        )
    rows += [
        (
            f"all pages: {args.users} clients ({think}) p95 ms",
            f"{m['p95']:,.0f}",
            f"< {TARGET_P95_MS:.0f}",
            m["p95"] < TARGET_P95_MS,
        ),
        (
            f"all pages: {args.users} clients requests/s",
            f"{m['requests'] / m['seconds']:,.1f}",
            "",
            None,
        ),
        (f"all pages: {args.users} clients errors", f"{m['errors']}", "0", m["errors"] == 0),
        *[
            (f"  error: {kind}", f"{count}", "", None)
            for kind, count in sorted(m["error_kinds"].items())
        ],
    ]
    return rows


ACCESS_LINE = re.compile(r'"GET (\S+)" (\d{3}) \S+ (\d+)ms')
SLOW_MS = 1000


def summarize_server_log(path: Path) -> None:
    """gunicorn's non-200 answers by path and status, its slow requests and its error lines
    (the access log holds no query strings and no personal data: app/gunicorn_conf.py)."""
    text = path.read_text(errors="replace")
    lines = [(m.group(1), m.group(2), int(m.group(3))) for m in ACCESS_LINE.finditer(text)]
    statuses = Counter((page, status) for page, status, _ in lines if status != "200")
    for (page, status), count in sorted(statuses.items()):
        log(f"server log: HTTP {status} {page}: {count}")
    # Server-side durations: tells a slow page from requests queued before a worker took them.
    slow = Counter(page for page, _, ms in lines if ms >= SLOW_MS)
    longest = {}
    for page, _, ms in lines:
        longest[page] = max(longest.get(page, 0), ms)
    for page, count in sorted(slow.items()):
        log(
            f"server log: {page}: {count} requests took >= {SLOW_MS} ms, longest {longest[page]} ms"
        )
    errors = [line for line in text.splitlines() if "Traceback" in line or "ERROR" in line]
    errors += [line for line in text.splitlines() if "CRITICAL" in line]
    for line in errors[:20]:
        log(f"server log: {line[:400]}")


def serve_and_measure(url: str, ids: dict, args) -> list[tuple]:
    past_send = ids["sends"][0][0]
    pages = {
        "campaign page": f"/campaigns/{ids['campaign']}",
        "sends of the campaign": f"/campaigns/{ids['campaign']}/sends",
        "send page": f"/sends/{past_send}",
        "contacts list": "/contacts/",
        "dashboard": "/dashboard",
        "campaign report": f"/reports/campaigns/{ids['campaign']}",
        "organization reports": "/reports/",
    }
    port = free_port()
    env = server_env(url, port)
    with tempfile.TemporaryDirectory() as tmp:
        log_file = open(os.path.join(tmp, "gunicorn.log"), "wb")  # noqa: SIM115  (closed below)
        server = start_server(env, log_file)
        try:
            wait_until_up(port, server)
            return measure_pages(port, pages, args)
        except Exception:
            log_file.flush()
            print(Path(log_file.name).read_text(errors="replace")[-5000:], file=sys.stderr)
            raise
        finally:
            stop_process(server, timeout=40)
            log_file.close()
            summarize_server_log(Path(log_file.name))


# -- main ----------------------------------------------------------------------------------------


def sizes_of(args) -> dict:
    return {
        "contacts": max(1, round(args.contacts * args.scale)),
        "outbox": max(1, round(args.outbox * args.scale)),
        "events": max(2, round(args.events * args.scale)),
    }


def rate_rows(rates: dict, sizes: dict, full: dict) -> list[tuple]:
    rows, estimate = [], 0.0
    for label, (n, seconds) in rates.items():
        per_second = n / seconds if seconds else float("inf")
        rows.append((f"generate {label}: rows | rows/s", f"{n:,} | {per_second:,.0f}", "", None))
        estimate += full[label] / per_second
    rows.append(
        (
            "full size generation, extrapolated (h)",
            f"{estimate / 3600:,.1f}",
            "",
            None,
        )
    )
    return rows


def run(args) -> list[tuple]:
    from app.extensions import db

    sizes = sizes_of(args)
    full = {"contacts": args.contacts, "outbox": args.outbox, "events": args.events}
    log(f"sizes: {sizes}")
    rows = []
    with database("postgresql", prefix="alcance_nat_", keep=args.keep) as url:
        if args.keep:
            log(f"database kept: {url}")
        port = free_port()
        ids = prepare(url, server_env(url, port), 0)
        app = make_app(url)
        now = datetime.now(UTC).replace(microsecond=0)
        with app.app_context():
            begin = time.monotonic()
            generated, rates = generate(ids["org"], sizes, args.chunk, now)
            log(f"generated in {time.monotonic() - begin:,.0f} s")
            timings = finish_load(db.engine)
            log(f"fold + VACUUM ANALYZE: {timings}")
            rows += rate_rows(rates, sizes, full)
            rows += [(f"{k} s", f"{v:,.1f}", "", None) for k, v in timings.items()]
            rows += check_report(ids["org"], generated["campaign"])
            if args.archive_months:
                rows += archive_old(
                    db.engine, ids["org"], generated["campaign"], now, args.archive_months
                )
            db.session.remove()
            db.engine.dispose()
        rows += serve_and_measure(url, generated, args)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--outbox", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the three sizes")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per INSERT")
    parser.add_argument("--requests", type=int, default=30, help="per page, one client")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--database-url", help="server for the scratch database")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--archive-months",
        type=int,
        default=6,
        help="archive the outbox rows due this many months ago before the pages (0: no)",
    )
    args = parser.parse_args()
    if args.database_url:
        os.environ["BENCH_DATABASE_URL"] = args.database_url
    sizes = sizes_of(args)
    rows = run(args)
    print_table(
        f"{TABLE}: {sizes['contacts']:,} contacts, {sizes['outbox']:,} outbox rows,"
        f" {sizes['events']:,} events",
        rows,
    )


if __name__ == "__main__":
    main()
