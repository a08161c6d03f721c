"""Benchmark: fan a send out to 100,000 recipients (set-based INSERT ... SELECT).

    .venv/bin/python bench/fanout.py [--contacts 100000]

A send this large is fanned out by a worker job (OUTREACH_INLINE_FANOUT): timed are the
request's part (count the audience, record the send, queue the job) and the job run by a
worker (the enrolments and the 100k outbox rows). Target on a 2-core machine: under 10 s
for 100k recipients, on SQLite and PostgreSQL.
"""

import argparse
import time
from datetime import UTC, date, datetime
from datetime import time as clock_time

from common import backends, database, make_app, print_table, seed_contacts

TARGET = 10.0


def run(backend: str, n: int) -> list[tuple]:
    from sqlalchemy import func, select

    from app.campaigns.models import Campaign, CampaignMessage
    from app.contacts.models import Audience
    from app.extensions import db
    from app.jobs.runner import run_pending
    from app.organizations.services import create_organization
    from app.outbox.models import OutboxMessage
    from app.outreach.services import schedule_send

    with database(backend) as url:
        app = make_app(url)
        with app.app_context():
            org = create_organization(
                slug="bench", name="Bench", country="MX", timezone="America/Tijuana"
            )
            seed_contacts(org.id, n)
            campaign = Campaign(
                organization_id=org.id,
                name="Bench",
                topic="fentanyl",
                strategy="education",
                level="universal",
                status="active",
            )
            message = CampaignMessage(
                organization_id=org.id,
                campaign=campaign,
                label="m",
                body_es="Hola {first_name}, infórmate sobre el fentanilo.",
                body_en="Hi {first_name}, learn about fentanyl.",
            )
            audience = Audience(organization_id=org.id, name="Todos", filters={})
            db.session.add_all([campaign, message, audience])
            db.session.commit()
            now = datetime(2026, 11, 27, 18, tzinfo=UTC)
            started = time.perf_counter()
            send, _ = schedule_send(
                campaign,
                message=message,
                audience=audience,
                kind="once",
                user_id=None,
                now=now,
                local_date=date(2026, 12, 1),
                local_time=clock_time(17, 0),
            )
            request_seconds = time.perf_counter() - started
            queued = send.job_id is not None
            db.session.remove()
            started = time.perf_counter()
            run_pending(app, "bench")  # the worker's part
            seconds = request_seconds + time.perf_counter() - started
            rows = db.session.scalar(select(func.count()).select_from(OutboxMessage))
            db.session.remove()
            db.engine.dispose()
    return [
        (
            f"fan-out {backend}: recipients (by a worker job: {queued})",
            f"{rows:,}",
            f"{n:,}",
            rows == n and queued,
        ),
        (
            f"fan-out {backend}: request part (count, record, queue) seconds",
            f"{request_seconds:.2f}",
            "",
            None,
        ),
        (
            f"fan-out {backend}: seconds in all",
            f"{seconds:.2f}",
            f"< {TARGET:.0f}",
            seconds < TARGET,
        ),
        (f"fan-out {backend}: rows/s", f"{rows / seconds:,.0f}", "", None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    for backend in backends():
        rows += run(backend, args.contacts)
    print_table("Fan-out (bench/fanout.py)", rows)


if __name__ == "__main__":
    main()
