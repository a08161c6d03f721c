"""Benchmark: dispatch throughput through the real TwilioGateway against a fake Twilio
HTTP server that answers each request after 100 ms.

    .venv/bin/python bench/dispatch.py [--messages 4000] [--limit 50]

Runs `flask outreach worker --once` processes (1 and 4) on SQLite and PostgreSQL:
- unlimited budget: target at least 200 messages/s sustained;
- TWILIO_MAX_MPS=--limit with one worker: target within 5 % of the limit;
- TWILIO_MAX_MPS=--limit with 4 workers sharing the budget through Redis: together within
  5 % of the limit (skipped when Redis does not answer).
Several workers always get REDIS_URL ($BENCH_REDIS_URL, default redis://127.0.0.1:6379/14)
when Redis answers, so the send budget is shared as in production.
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from datetime import time as clock_time

from common import (
    ROOT,
    backends,
    database,
    make_app,
    print_table,
    redis_url,
    seed_contacts,
    start_fake_twilio,
    stop_process,
)

LATENCY = 0.1


def seed(url: str, n: int) -> None:
    from sqlalchemy import insert, select

    from app.campaigns.models import Campaign
    from app.contacts.models import Contact
    from app.extensions import db
    from app.organizations.services import create_organization
    from app.outbox.models import OutboxMessage

    app = make_app(url)
    with app.app_context():
        org = create_organization(
            slug="bench", name="Bench", country="MX", timezone="America/Tijuana"
        )
        # Any hour of the day the benchmark runs at must be "allowed" for this measurement.
        org.quiet_start, org.quiet_end = clock_time(0, 0), clock_time(23, 59, 59)
        org.opt_out_notice = "always"
        campaign = Campaign(
            organization_id=org.id,
            name="Bench",
            topic="fentanyl",
            strategy="education",
            level="universal",
            status="active",
        )
        db.session.add(campaign)
        db.session.commit()
        seed_contacts(org.id, n)
        now = datetime.now(UTC)
        ids = db.session.scalars(select(Contact.id)).all()
        db.session.execute(
            insert(OutboxMessage),
            [
                dict(
                    organization_id=org.id,
                    campaign_id=campaign.id,
                    contact_id=cid,
                    language="es",
                    body="Hola, infórmate sobre el fentanilo.",
                    due_at=now,
                    status="scheduled",
                    purpose="campaign",
                )
                for cid in ids
            ],
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def sent_stats(url: str) -> tuple[int, float]:
    """(messages sent, seconds between the first and the last send)."""
    from sqlalchemy import create_engine, select

    from app.outbox.models import OutboxMessage
    from app.timeutil import UTCDateTime  # noqa: F401  (aware datetimes on SQLite too)

    engine = create_engine(url)
    with engine.connect() as conn:
        moments = sorted(
            conn.execute(
                select(OutboxMessage.sent_at).where(OutboxMessage.status == "sent")
            ).scalars()
        )
    engine.dispose()
    return len(moments), (moments[-1] - moments[0]).total_seconds() if moments else 0.0


def worker_env(url: str, twilio_env: dict, *, mps: float, redis: str | None = None) -> dict:
    return {
        **os.environ,
        **twilio_env,
        "APP_CONFIG": "development",
        "DATABASE_URL": url,
        "SMS_BACKEND": "twilio",
        "TWILIO_MAX_MPS": str(mps),
        "SECRET_KEY": "bench" * 13,
        "PUBLIC_BASE_URL": "https://alcance.example.org",
        "REDIS_URL": redis or "",
    }


def run_workers(
    url: str, twilio_env: dict, *, workers: int, mps: float, n: int, redis: str | None = None
) -> tuple:
    """Returns (sustained msg/s between first and last send, msg/s including start-up)."""
    env = worker_env(url, twilio_env, mps=mps, redis=redis)
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "outreach",
                "worker",
                "--once",
                "--concurrency",
                "32",
                "--batch",
                "256",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
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
    parser.add_argument("--backend", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    shared = redis_url()
    fake, twilio_env = start_fake_twilio(LATENCY)
    rows = []
    try:
        for backend in [args.backend] if args.backend else backends():
            for workers in (1, 4):
                redis = shared if workers > 1 else None
                with database(backend) as url:
                    seed(url, args.messages)
                    rate, overall = run_workers(
                        url, twilio_env, workers=workers, mps=100_000, n=args.messages, redis=redis
                    )
                budget = ", Redis budget" if redis else ""
                rows.append(
                    (
                        f"dispatch {backend} {workers} worker(s){budget}, no limit, msg/s",
                        f"{rate:,.0f}",
                        ">= 200",
                        rate >= 200,
                    )
                )
                rows.append(("  same, including process start-up", f"{overall:,.0f}", "", None))
            target = f"{args.limit * 0.95:g}-{args.limit * 1.05:g}"
            with database(backend) as url:
                n = int(args.limit * 30)
                seed(url, n)
                rate, _ = run_workers(url, twilio_env, workers=1, mps=args.limit, n=n)
            rows.append(
                (
                    f"dispatch {backend} limit {args.limit:g}/s, 1 worker, msg/s",
                    f"{rate:,.1f}",
                    target,
                    abs(rate - args.limit) <= 0.05 * args.limit,
                )
            )
            if shared:
                with database(backend) as url:
                    n = int(args.limit * 30)
                    seed(url, n)
                    rate, _ = run_workers(
                        url, twilio_env, workers=4, mps=args.limit, n=n, redis=shared
                    )
                rows.append(
                    (
                        f"dispatch {backend} limit {args.limit:g}/s, 4 workers, Redis, msg/s",
                        f"{rate:,.1f}",
                        target,
                        abs(rate - args.limit) <= 0.05 * args.limit,
                    )
                )
            else:
                rows.append(
                    (f"dispatch {backend} limit, 4 workers, Redis", "no Redis", target, None)
                )
    finally:
        stop_process(fake)
    print_table(
        f"Dispatch via TwilioGateway, fake Twilio latency {LATENCY * 1000:.0f} ms "
        "(bench/dispatch.py)",
        rows,
    )


if __name__ == "__main__":
    main()
