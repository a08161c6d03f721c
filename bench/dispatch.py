"""Benchmark: dispatch throughput through the real TwilioGateway against a fake Twilio
HTTP server that answers each request after 100 ms.

    .venv/bin/python bench/dispatch.py [--messages 4000] [--limit 50]

Runs `flask outreach worker --once` processes (1 and 4) on SQLite and PostgreSQL:
- unlimited budget: target at least 200 messages/s sustained;
- TWILIO_MAX_MPS=--limit with one worker: target within 5 % of the limit.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from datetime import datetime, time as clock_time, timezone

from common import ROOT, backends, database, make_app, print_table, seed_contacts

LATENCY = 0.1


def start_fake_twilio():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0", "--latency", str(LATENCY)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    env = dict(re.findall(r"(\w+)=(\S+)", line))
    return process, env


def seed(url: str, n: int) -> None:
    from sqlalchemy import insert, select

    from app.campaigns.models import Campaign
    from app.contacts.models import Contact
    from app.extensions import db
    from app.organizations.services import create_organization
    from app.outreach.models import OutboxMessage

    app = make_app(url)
    with app.app_context():
        org = create_organization(slug="bench", name="Bench", country="MX",
                                  timezone="America/Tijuana")
        # Any hour of the day the benchmark runs at must be "allowed" for this measurement.
        org.quiet_start, org.quiet_end = clock_time(0, 0), clock_time(23, 59, 59)
        org.opt_out_notice = "always"
        campaign = Campaign(organization_id=org.id, name="Bench", topic="fentanyl",
                            strategy="education", level="universal", status="active")
        db.session.add(campaign)
        db.session.commit()
        seed_contacts(org.id, n)
        now = datetime.now(timezone.utc)
        ids = db.session.scalars(select(Contact.id)).all()
        db.session.execute(insert(OutboxMessage), [dict(
            organization_id=org.id, campaign_id=campaign.id, contact_id=cid, language="es",
            body="Hola, infórmate sobre el fentanilo.", due_at=now, status="scheduled",
            purpose="campaign") for cid in ids])
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def sent_stats(url: str) -> tuple[int, float]:
    """(messages sent, seconds between the first and the last send)."""
    from sqlalchemy import create_engine, select

    from app.outreach.models import OutboxMessage
    from app.timeutil import UTCDateTime  # noqa: F401  (aware datetimes on SQLite too)

    engine = create_engine(url)
    with engine.connect() as conn:
        moments = sorted(conn.execute(select(OutboxMessage.sent_at).where(
            OutboxMessage.status == "sent")).scalars())
    engine.dispose()
    return len(moments), (moments[-1] - moments[0]).total_seconds() if moments else 0.0


def run_workers(url: str, twilio_env: dict, *, workers: int, mps: float, n: int) -> tuple:
    """Returns (sustained msg/s between first and last send, msg/s including start-up)."""
    env = {**os.environ, **twilio_env, "APP_CONFIG": "development", "DATABASE_URL": url,
           "SMS_BACKEND": "twilio", "TWILIO_MAX_MPS": str(mps), "SECRET_KEY": "bench" * 8,
           "PUBLIC_BASE_URL": "https://alcance.example.org"}
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "outreach", "worker",
                               "--once", "--concurrency", "32", "--batch", "256"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    for proc in procs:
        proc.wait()
    seconds = time.perf_counter() - started
    sent, span = sent_stats(url)
    if sent != n:
        print(f"  warning: {sent} of {n} sent", file=sys.stderr)
    return (sent - 1) / span, sent / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--limit", type=float, default=50.0)
    args = parser.parse_args()
    fake, twilio_env = start_fake_twilio()
    rows = []
    try:
        for backend in backends():
            for workers in (1, 4):
                with database(backend) as url:
                    seed(url, args.messages)
                    rate, overall = run_workers(url, twilio_env, workers=workers, mps=100_000,
                                                n=args.messages)
                rows.append((f"dispatch {backend} {workers} worker(s), no limit, msg/s",
                             f"{rate:,.0f}", ">= 200", rate >= 200))
                rows.append((f"  same, including process start-up", f"{overall:,.0f}", "", None))
            with database(backend) as url:
                n = int(args.limit * 30)
                seed(url, n)
                rate, _ = run_workers(url, twilio_env, workers=1, mps=args.limit, n=n)
            rows.append((f"dispatch {backend} limit {args.limit:g}/s, msg/s", f"{rate:,.1f}",
                         f"{args.limit * 0.95:g}-{args.limit * 1.05:g}",
                         abs(rate - args.limit) <= 0.05 * args.limit))
    finally:
        fake.terminate()
        fake.wait()
    print_table(f"Dispatch via TwilioGateway, fake Twilio latency {LATENCY * 1000:.0f} ms "
                "(bench/dispatch.py)", rows)


if __name__ == "__main__":
    main()
