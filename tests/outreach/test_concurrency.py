"""Several workers against PostgreSQL: every message claimed and sent exactly once."""

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import insert, select

from app.contacts.models import Contact
from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.outbox.dispatch import claim_due
from app.outbox.models import OutboxMessage
from tests.factories import CONSENTED, make_campaign
from tests.outreach.helpers import make_worker
from tests.support import Clock, utc

DUE = utc(2026, 12, 2, 1, 0)


def seed_outbox(org, n: int) -> None:
    campaign = make_campaign(org)
    db.session.execute(
        insert(Contact),
        [
            dict(
                organization_id=org.id,
                phone=f"+5266455{i:05d}",
                language="es",
                birth_year=2000,
                country="MX",
                state_code="02",
                timezone="America/Tijuana",
                consent_source="workshop",
                consent_at=CONSENTED,
                guardian_consent=False,
                undeliverable=False,
            )
            for i in range(n)
        ],
    )
    ids = db.session.scalars(select(Contact.id).where(Contact.organization_id == org.id)).all()
    db.session.execute(
        insert(OutboxMessage),
        [
            dict(
                organization_id=org.id,
                campaign_id=campaign.id,
                contact_id=cid,
                language="es",
                body="Mensaje",
                due_at=DUE,
                status="scheduled",
                purpose="campaign",
            )
            for cid in ids
        ],
    )
    db.session.commit()


def test_concurrent_claims_never_overlap(app, make_org, postgres_only):
    seed_outbox(make_org(), 400)
    results, barrier = {}, threading.Barrier(4)

    def claim(name):
        with app.app_context():
            barrier.wait()
            got = []
            while batch := claim_due(name, now=DUE, limit=25, lease=timedelta(minutes=2)):
                got += batch
            results[name] = got
            db.session.remove()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for ids in results.values() for i in ids]
    assert len(claimed) == 400 and len(set(claimed)) == 400
    assert sum(1 for ids in results.values() if ids) >= 2  # they really ran concurrently


def test_two_workers_send_each_message_once(app, make_org, postgres_only):
    seed_outbox(make_org(), 300)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    workers = [
        make_worker(app, clock, gateway, worker_id=f"w{i}", batch_size=20, concurrency=4)
        for i in range(2)
    ]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in workers:
        w.close()
    counts = Counter(s.to for s in gateway.sent)
    assert len(counts) == 300 and max(counts.values()) == 1
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(select(OutboxMessage))} == {"sent"}
