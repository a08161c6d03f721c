"""The worker sends each due message once, re-checks everything at send time, and never
re-sends a message whose outcome is unknown without reconciling it first."""

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.messaging.gateway import OutcomeUnknownSmsError, PermanentSmsError, RetryableSmsError
from app.outbox.models import OutboxMessage
from app.participation.models import ParticipationEvent
from tests.factories import make_contact
from tests.outreach.helpers import make_worker, schedule_once
from tests.support import Clock, utc

SCHEDULED_AT = utc(2026, 11, 27, 18, 0)
DUE = utc(2026, 12, 2, 1, 0)  # 17:00 in Tijuana on 1 December


def outbox(contact=None):
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if contact is not None:
        stmt = stmt.where(OutboxMessage.contact_id == contact.id)
    db.session.expire_all()
    return db.session.scalars(stmt).all()


def setup_send(make_org, n=1, **contact_overrides):
    org = make_org()
    contacts = [make_contact(org, **contact_overrides) for _ in range(n)]
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    return org, contacts, send


def run(app, clock, gateway):
    worker = make_worker(app, clock, gateway)
    try:
        worker.run(once=True)
    finally:
        worker.close()


def test_sends_due_messages_once(app, make_org):
    org, contacts, _ = setup_send(make_org, n=3)
    clock = Clock(DUE - timedelta(minutes=1))
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    assert gateway.sent == []  # not due yet
    clock.now = DUE
    run(app, clock, gateway)
    run(app, clock, gateway)
    assert sorted(s.to for s in gateway.sent) == sorted(c.phone for c in contacts)
    rows = outbox()
    assert {r.status for r in rows} == {"sent"}
    assert all(r.twilio_sid and r.sent_at == DUE and r.attempts == 1 for r in rows)
    assert gateway.sent[0].status_callback == "https://alcance.example.org/webhooks/twilio/status"


def test_opt_out_notice_only_on_the_first_message(app, make_org):
    org, (contact,), _ = setup_send(make_org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    schedule_once(org, now=DUE, when=DUE.date())  # 2 Dec 17:00 Tijuana = DUE + 1 day
    clock.now = DUE + timedelta(days=1)
    run(app, clock, gateway)
    first, second = [s.body for s in gateway.sent]
    assert first.endswith("Responde BAJA para dejar de recibir mensajes.")
    assert "BAJA" not in second


def test_opted_out_between_scheduling_and_sending_gets_nothing(app, make_org):
    _, (contact,), _ = setup_send(make_org)
    contact.opted_out_at = DUE - timedelta(seconds=1)
    db.session.commit()
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    assert gateway.sent == []
    assert outbox()[0].status in ("skipped", "canceled")


def test_paused_campaign_sends_nothing(app, make_org):
    _, _, send = setup_send(make_org)
    send.campaign.status = "paused"
    db.session.commit()
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    assert gateway.sent == [] and outbox()[0].status == "held"


def test_quiet_hours_rechecked_at_send_time(app, make_org):
    _, (contact,), _ = setup_send(make_org)
    row = outbox()[0]
    row.due_at = utc(2026, 12, 2, 6, 0)  # 22:00 in Tijuana (e.g. after a long outage)
    db.session.commit()
    clock = Clock(utc(2026, 12, 2, 6, 0))
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    assert gateway.sent == []
    row = outbox()[0]
    assert row.status == "scheduled" and row.due_at == utc(2026, 12, 2, 17, 0)  # 09:00 PST (Mexico)


def test_frequency_cap_defers_the_fourth_message(app, make_org):
    org, (contact,), _ = setup_send(make_org)
    for _ in range(3):
        schedule_once(org, now=SCHEDULED_AT)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    assert len(gateway.sent) == 3
    deferred = [r for r in outbox() if r.status == "scheduled"]
    assert len(deferred) == 1 and deferred[0].due_at == DUE + timedelta(days=7)


def test_retryable_error_backs_off_then_fails(app, make_org):
    setup_send(make_org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(*[RetryableSmsError("429", code=20429, status=429) for _ in range(5)])
    delays = []
    for _ in range(5):
        run(app, clock, gateway)
        row = outbox()[0]
        if row.status == "scheduled":
            delays.append(row.due_at - clock.now)
            clock.now = row.due_at
    assert row.status == "failed" and row.error_code == "20429" and row.attempts == 5
    assert gateway.sent == []
    assert [d.total_seconds() for d in delays] == sorted(d.total_seconds() for d in delays)
    assert 1 <= delays[0].total_seconds() <= 2 and 8 <= delays[3].total_seconds() <= 16


def test_retry_then_success_sends_once(app, make_org):
    setup_send(make_org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(RetryableSmsError("no connection"))
    run(app, clock, gateway)
    clock.now = outbox()[0].due_at
    run(app, clock, gateway)
    assert len(gateway.sent) == 1 and outbox()[0].status == "sent"


def test_unknown_outcome_is_reconciled_not_resent(app, make_org):
    setup_send(make_org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(OutcomeUnknownSmsError("read timeout"), sent=True)
    run(app, clock, gateway)
    assert outbox()[0].status == "unknown" and len(gateway.sent) == 1
    clock.now = DUE + timedelta(minutes=1)
    run(app, clock, gateway)  # maintenance reconciles
    row = outbox()[0]
    assert row.status == "sent" and row.twilio_sid == gateway.sent[0].sid
    assert len(gateway.sent) == 1


def test_unknown_outcome_never_accepted_is_requeued_after_grace(app, make_org):
    setup_send(make_org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=False)
    run(app, clock, gateway)
    clock.now = DUE + timedelta(minutes=5)
    run(app, clock, gateway)
    assert outbox()[0].status == "unknown" and gateway.sent == []  # still within grace
    clock.now = DUE + timedelta(minutes=11)
    run(app, clock, gateway)
    assert outbox()[0].status == "sent" and len(gateway.sent) == 1


def test_21610_opts_the_contact_out_and_cancels_the_rest(app, make_org):
    org, (contact,), _ = setup_send(make_org)
    schedule_once(org, now=SCHEDULED_AT, when=DUE.date() + timedelta(days=3))
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(PermanentSmsError("unsubscribed", code=21610, status=400))
    run(app, clock, gateway)
    db.session.refresh(contact)
    assert contact.opted_out_at == DUE and contact.opt_out_channel == "carrier"
    assert [r.status for r in outbox()] == ["failed", "canceled"]
    kinds = set(db.session.scalars(select(ParticipationEvent.kind)))
    assert kinds == {"sms_failed", "opt_out"}


def test_21211_marks_undeliverable(app, make_org):
    _, (contact,), _ = setup_send(make_org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(PermanentSmsError("invalid To", code=21211, status=400))
    run(app, clock, gateway)
    db.session.refresh(contact)
    assert contact.undeliverable and outbox()[0].error_code == "21211"


def test_expired_lease_of_a_dead_worker(app, make_org):
    from app.outbox.dispatch import claim_due, recover_expired_leases

    setup_send(make_org, n=2)
    ids = claim_due("dead-worker", now=DUE, limit=10, lease=timedelta(minutes=2))
    assert len(ids) == 2
    # The dead worker had started calling the provider for one of them.
    started = db.session.get(OutboxMessage, ids[0])
    started.send_started_at = DUE
    db.session.commit()
    assert recover_expired_leases(now=DUE + timedelta(minutes=1)) == (0, 0)
    assert recover_expired_leases(now=DUE + timedelta(minutes=3)) == (1, 1)
    statuses = {r.id: r.status for r in outbox()}
    assert statuses == {ids[0]: "unknown", ids[1]: "scheduled"}


def test_system_reply_ignores_campaign_rules_but_not_erasure(app, make_org):
    org = make_org()
    contact = make_contact(org, opted_out_at=DUE)
    db.session.add(
        OutboxMessage(
            organization_id=org.id,
            contact_id=contact.id,
            purpose="system",
            language="es",
            body="Confirmación",
            due_at=DUE,
        )
    )
    db.session.commit()
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    assert [s.body for s in gateway.sent] == ["Confirmación"]


def test_a_claim_takes_exactly_its_batch(app, make_org):
    from app.outbox.dispatch import claim_due

    setup_send(make_org, n=10)
    first = claim_due("w1", now=DUE, limit=3, lease=timedelta(minutes=2))
    second = claim_due("w2", now=DUE, limit=3, lease=timedelta(minutes=2))
    assert len(first) == 3 and len(second) == 3 and not set(first) & set(second)
    statuses = [r.status for r in outbox()]
    assert statuses.count("claimed") == 6 and statuses.count("scheduled") == 4


def test_in_memory_sqlite_sends_one_at_a_time(app):
    """An in-memory SQLite database is a single connection shared by all threads: parallel
    sends would roll back each other's work (seen as messages stuck in 'sent')."""
    clock = Clock(utc(2026, 12, 2, 1, 0))
    worker = make_worker(app, clock, concurrency=4)
    try:
        shared = app.config["SQLALCHEMY_DATABASE_URI"] in ("sqlite://", "sqlite:///:memory:")
        assert worker.settings.concurrency == (1 if shared else 4)
    finally:
        worker.close()


class SlowBudget:
    """A send-rate budget that makes each send wait `step` (on the test clock) while an
    eager rival worker recovers every lease it sees expired."""

    def __init__(self, clock, step):
        self.clock, self.step, self.recovered = clock, step, []

    def acquire(self):
        from app.outbox.dispatch import recover_expired_leases

        self.clock.now += self.step
        self.recovered.append(recover_expired_leases(now=self.clock.now))


def test_a_batch_longer_than_its_lease_keeps_it_and_sends_each_row_once(app, make_org):
    # Lease 2 min; each send waits 50 s for the budget: 6 rows take 300 s. One sending
    # thread, so the test clock moves as real time would (the pool re-leases the same way,
    # on real time).
    org, contacts, _ = setup_send(make_org, n=6)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    budget = SlowBudget(clock, timedelta(seconds=50))
    worker = make_worker(
        app, clock, gateway, budget=budget, concurrency=1, lease=timedelta(minutes=2)
    )
    try:
        worker.run(once=True)
    finally:
        worker.close()
    assert budget.recovered == [(0, 0)] * 6  # no row ever looked abandoned
    assert sorted(s.to for s in gateway.sent) == sorted(c.phone for c in contacts)
    assert {r.status for r in outbox()} == {"sent"}


def test_a_row_recovered_by_another_worker_is_not_sent_by_the_late_one(app, make_org):
    from app.outbox.dispatch import claim_due, recover_expired_leases, settings_from_config
    from app.outbox.preparing import prepare_batch
    from app.outbox.sending import send_prepared
    from tests.outreach.helpers import NoBudget

    org, (contact,), _ = setup_send(make_org)
    settings = settings_from_config(app.config)
    ids = claim_due("slow", now=DUE, limit=10, lease=settings.lease)
    (item,) = prepare_batch(ids, worker_id="slow", now=DUE)
    later = DUE + settings.lease + timedelta(seconds=1)
    # The worker looked dead; it had not started this row's provider call: given back.
    assert recover_expired_leases(now=later) == (1, 0)
    gateway = FakeSmsGateway(clock=Clock(later))
    outcome = send_prepared(
        item,
        gateway=gateway,
        clock=Clock(later),
        budget=NoBudget(),
        settings=settings,
        status_callback=None,
    )
    assert outcome == "lease_lost" and gateway.sent == []
    assert [r.status for r in outbox()] == ["scheduled"]  # the next claim sends it, once


def test_renew_leases_only_extends_rows_this_worker_still_holds(app, make_org):
    from app.outbox.dispatch import claim_due, settings_from_config
    from app.outbox.sending import renew_leases

    setup_send(make_org, n=2)
    settings = settings_from_config(app.config)
    first, second = claim_due("w1", now=DUE, limit=10, lease=settings.lease)
    db.session.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == second)
        .values(status="scheduled", claimed_by=None)
    )
    db.session.commit()
    later = DUE + timedelta(minutes=5)  # past the expiry, not yet recovered: still ours
    assert renew_leases([first, second], worker_id="w1", now=later, settings=settings) == {first}
    assert renew_leases([first], worker_id="w2", now=later, settings=settings) == set()
    row = db.session.get(OutboxMessage, first)
    assert row.lease_expires_at == later + settings.lease


class CallsBackFirst(FakeSmsGateway):
    """Twilio answering the status callback before the API call has even returned."""

    def send(self, to, body, *, status_callback=None, sender=None):
        from app.outbox.status import apply_status_callback

        result = super().send(to, body, status_callback=status_callback, sender=sender)
        apply_status_callback(result.sid, "delivered", None, now=self.clock())
        return result


def test_a_delivery_callback_that_beats_the_worker_is_not_lost(app, make_org):
    org, contacts, _ = setup_send(make_org, n=2)
    clock = Clock(DUE)
    gateway = CallsBackFirst(clock=clock)
    run(app, clock, gateway)
    assert {r.status for r in outbox()} == {"sent"}  # the callbacks were early
    clock.now += timedelta(seconds=30)
    run(app, clock, gateway)  # maintenance applies them
    rows = outbox()
    assert {r.status for r in rows} == {"delivered"} and {r.final_at for r in rows} == {DUE}
    delivered = db.session.scalars(
        select(ParticipationEvent.contact_id).where(ParticipationEvent.kind == "sms_delivered")
    ).all()
    assert sorted(delivered) == sorted(c.id for c in contacts)
