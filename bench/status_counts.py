"""Benchmark: a send's and a campaign's messages by status, as the send and campaign pages
read them, for a send of 100,000 messages (issue 15).

    .venv/bin/python bench/status_counts.py [--messages 100000] [--runs 30]

Side by side: the GROUP BY over the outbox rows the pages ran before, and the status
counters they read now (app.outbox.api.status_counts: the folded counts plus the deltas not
folded yet), both right after a fold and with 1,800 deltas waiting (about what a worker
adds between two maintenance passes at 30 messages/s; past 2,000 a read folds). Also what
the counters cost writers: the fan-out INSERT ... SELECT, a 100k-row cancel and 1,000
single-row status updates (the worker's), with the triggers and without (PostgreSQL only:
SQLite's triggers cannot be switched off).
"""

import argparse
import statistics
import time
from datetime import UTC, datetime

from common import backends, database, make_app, print_table, seed_contacts

DUE = datetime(2026, 12, 2, 1, tzinfo=UTC)
PENDING_DELTAS = 1_800
SINGLE_UPDATES = 1_000


def _median_ms(fn, runs: int) -> float:
    fn()  # warm the caches and the plan
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _timed(fn) -> float:
    from app.extensions import db

    started = time.perf_counter()
    fn()
    db.session.commit()
    return time.perf_counter() - started


def _setup(n: int):
    from app.campaigns.models import Campaign, CampaignMessage
    from app.extensions import db
    from app.organizations.services import create_organization
    from app.outreach.models import OutreachSend

    org = create_organization(slug="bench", name="Bench", country="MX", timezone="America/Tijuana")
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
        organization_id=org.id, campaign=campaign, label="m", body_es="Hola", body_en="Hi"
    )
    db.session.add_all([campaign, message])
    db.session.flush()
    sends = []
    for _ in range(2):
        send = OutreachSend(
            organization_id=org.id,
            campaign_id=campaign.id,
            message_id=message.id,
            kind="once",
            fixed_at=DUE,
            status="scheduled",
        )
        db.session.add(send)
        sends.append(send)
    db.session.commit()
    return org, campaign, sends


def _fan_out(org, send) -> None:
    """The send's messages in one INSERT ... SELECT, as the fan-out writes them, with the
    statuses of a send some days later (mostly delivered)."""
    from sqlalchemy import text

    from app.extensions import db

    db.session.execute(
        text("""
        INSERT INTO outbox_messages (organization_id, campaign_id, send_id, message_id,
            contact_id, occurrence, channel, purpose, language, body, due_at, status,
            attempts, reconcile_failures, with_opt_out_notice, created_at)
        SELECT c.organization_id, :campaign, :send, :message, c.id, 0, 'sms', 'campaign',
            c.language, 'Hola', :due,
            CASE c.id % 20 WHEN 0 THEN 'undelivered' WHEN 1 THEN 'failed'
                WHEN 2 THEN 'sent' WHEN 3 THEN 'scheduled' ELSE 'delivered' END,
            0, 0, false, :due
        FROM contacts c WHERE c.organization_id = :org"""),
        dict(campaign=send.campaign_id, send=send.id, message=send.message_id, due=DUE, org=org),
    )


def _group_by(**where):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.outbox.models import OutboxMessage

    conditions = [getattr(OutboxMessage, k) == v for k, v in where.items()]
    return dict(
        db.session.execute(
            select(OutboxMessage.status, func.count())
            .where(*conditions)
            .group_by(OutboxMessage.status)
        ).all()
    )


def _single_updates(send_id: int, status: str) -> None:
    """What the worker does: one status UPDATE per message, each its own transaction."""
    from sqlalchemy import select, update

    from app.extensions import db
    from app.outbox.models import OutboxMessage

    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.send_id == send_id)
        .order_by(OutboxMessage.id)
        .limit(SINGLE_UPDATES)
    ).all()
    for outbox_id in ids:
        db.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(status=status)
        )
        db.session.commit()


def _write_costs(backend: str, org, send) -> list[tuple]:
    """PostgreSQL: fan-out, cancel, single-row updates and delete of a 100k-row send, with
    the triggers off and then on (each round deletes its own rows: the counters stay
    exact)."""
    from sqlalchemy import text, update

    from app.extensions import db
    from app.outbox.models import OutboxMessage

    rows = []
    for label, switch in (("no triggers", "DISABLE"), ("with triggers", "ENABLE")):
        db.session.execute(text(f"ALTER TABLE outbox_messages {switch} TRIGGER USER"))
        db.session.commit()
        figures = {
            "fan-out INSERT s": _timed(lambda: _fan_out(org.id, send)),
            "cancel UPDATE s": _timed(
                lambda: db.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.send_id == send.id)
                    .values(status="canceled")
                    .execution_options(synchronize_session=False)
                )
            ),
            "1-row UPDATE ms": _timed(lambda: _single_updates(send.id, "delivered"))
            * 1000
            / SINGLE_UPDATES,
            "DELETE s": _timed(
                lambda: db.session.execute(
                    text("DELETE FROM outbox_messages WHERE send_id = :s"), {"s": send.id}
                )
            ),
        }
        rows += [
            (f"{backend}: {name} ({label})", f"{value:.2f}", "", None)
            for name, value in figures.items()
        ]
    return rows


def _reads(backend: str, n: int, runs: int, campaign, send) -> list[tuple]:
    from app.outbox import api
    from app.outbox.counters import fold
    from app.outreach.services import status_counts

    def counters():
        return status_counts(send_ids=[send.id])[send.id]

    def campaign_counters():
        return status_counts(campaign_id=campaign.id)

    fold()
    assert counters() == _group_by(send_id=send.id), "the counters must be exact"
    figures = {
        "send GROUP BY (before)": _median_ms(lambda: _group_by(send_id=send.id), runs),
        "send counters (now)": _median_ms(counters, runs),
        "campaign GROUP BY (before)": _median_ms(lambda: _group_by(campaign_id=campaign.id), runs),
        "campaign counters (now)": _median_ms(campaign_counters, runs),
        "organization counters": _median_ms(lambda: api.status_counts(send.organization_id), runs),
    }
    # Deltas waiting for the next fold: single-row updates add two each (-1 old, +1 new).
    _pending_deltas(send.id, PENDING_DELTAS // 2)
    assert counters() == _group_by(send_id=send.id), "the counters must be exact"
    figures[f"send counters, {PENDING_DELTAS:,} deltas unfolded"] = _median_ms(counters, runs)
    started = time.perf_counter()
    moved = fold()
    fold_ms = (time.perf_counter() - started) * 1000
    rows = [(f"{backend}: {name} ms", f"{value:.2f}", "", None) for name, value in figures.items()]
    before, after = (
        figures["send GROUP BY (before)"],
        figures["send counters (now)"],
    )
    rows.append((f"{backend}: send read speed-up", f"{before / after:.0f}x", "", None))
    rows.append((f"{backend}: fold of {moved:,} deltas ms", f"{fold_ms:.1f}", "", None))
    rows.insert(0, (f"{backend}: messages in the send", f"{n:,}", "", None))
    return rows


def _pending_deltas(send_id: int, count: int) -> None:
    from sqlalchemy import select, update

    from app.extensions import db
    from app.outbox.counters import fold
    from app.outbox.models import OutboxMessage

    fold()
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.send_id == send_id, OutboxMessage.status == "delivered")
        .order_by(OutboxMessage.id.desc())
        .limit(count)
    ).all()
    for outbox_id in ids:
        db.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(status="failed")
        )
        db.session.commit()


def run(backend: str, n: int, runs: int) -> list[tuple]:
    from sqlalchemy import text

    from app.extensions import db

    with database(backend) as url:
        app = make_app(url)
        with app.app_context():
            org, campaign, (send, other) = _setup(n)
            rows = []
            if backend == "postgresql":
                rows += _write_costs(backend, org, other)
            _fan_out(org.id, send)
            db.session.commit()
            db.session.execute(text("ANALYZE outbox_messages"))
            db.session.commit()
            rows = _reads(backend, n, runs, campaign, send) + rows
            db.session.remove()
            db.engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    rows = []
    for backend in backends():
        rows += run(backend, args.messages, args.runs)
    print_table("Status counts (bench/status_counts.py)", rows)


if __name__ == "__main__":
    main()
