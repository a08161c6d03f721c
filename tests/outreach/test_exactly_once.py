"""Exactly once under faults: the holes an adversarial run found in the send path.

Each test fails on the code before the fix (issue 12, items 1, 2, 3, 8 and 9)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.messaging.gateway import OutcomeUnknownSmsError, RetryableSmsError, SmsError
from app.outbox.dispatch import claim_due, recover_expired_leases
from app.outbox.models import OutboxMessage
from app.outbox.preparing import prepare_batch
from app.outbox.sending import reconcile_unknown
from app.outbox.text import sms_text
from app.outreach import services
from app.outreach.models import OutreachSend
from tests.factories import make_campaign, make_contact, make_message
from tests.outreach.helpers import make_worker, schedule_once
from tests.support import Clock, utc

SCHEDULED_AT = utc(2026, 11, 27, 18, 0)
DUE = utc(2026, 12, 2, 1, 0)  # 17:00 in Tijuana on 1 December


def outbox():
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def run(app, clock, gateway, **settings):
    worker = make_worker(app, clock, gateway, **{"concurrency": 1, **settings})
    try:
        worker.run(once=True)
    finally:
        worker.close()


def two_sends_in_the_same_minute(make_org):
    """Two different messages of one campaign to the same contact, due at the same moment."""
    org = make_org()
    contact = make_contact(org)
    campaign = make_campaign(org)
    pair_a = make_message(campaign, body_es="pairA: el fentanilo mata.", body_en="pairA")
    pair_b = make_message(campaign, body_es="pairB: pide ayuda.", body_en="pairB")
    schedule_once(org, now=SCHEDULED_AT, campaign=campaign, message=pair_a)
    schedule_once(org, now=SCHEDULED_AT, campaign=campaign, message=pair_b)
    return org, contact


class LookupFails(FakeSmsGateway):
    """A provider whose list endpoint is down (the lookup itself fails)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lookups_fail = True
        self.lookups = 0

    def find_sent(self, to, *, since):
        self.lookups += 1
        if self.lookups_fail:
            raise SmsError("list request failed")
        return super().find_sent(to, since=since)


# -- 1. reconciliation matches by the exact text ------------------------------------------
def test_reconciliation_never_attaches_another_messages_sid(app, make_org):
    """The provider accepted only pairB and answered 500 for both: pairA must not take
    pairB's SID, pairA is sent once after the grace period and pairB is never sent twice."""
    _, contact = two_sends_in_the_same_minute(make_org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=False)  # pairA: not accepted
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=True)  # pairB: accepted, then 500
    run(app, clock, gateway)
    assert [r.status for r in outbox()] == ["unknown", "unknown"]
    assert [s.body.split(":")[0] for s in gateway.sent] == ["pairB"]

    clock.now = DUE + timedelta(minutes=1)
    run(app, clock, gateway)  # reconcile within the grace period
    row_a, row_b = outbox()
    assert row_b.status == "sent" and row_b.twilio_sid == gateway.sent[0].sid
    assert row_a.status == "unknown" and row_a.twilio_sid is None

    clock.now = DUE + timedelta(minutes=11)
    run(app, clock, gateway)  # grace over: pairA was never accepted -> sent now, once
    clock.now = DUE + timedelta(minutes=12)
    run(app, clock, gateway)
    bodies = [s.body.split(":")[0] for s in gateway.sent]
    assert sorted(bodies) == ["pairA", "pairB"]
    by_sid = {s.sid: s.body for s in gateway.sent}
    for row in outbox():
        assert row.status == "sent" and by_sid[row.twilio_sid] == row.body


def test_reconciliation_leaves_ambiguous_rows_unknown(app, make_org):
    """Two unknown rows with the same text to the same number and one provider message:
    neither row can tell which it is, so both stay unknown (visible), neither is re-sent."""
    org = make_org()
    make_contact(org)
    campaign = make_campaign(org)
    message = make_message(campaign, body_es="Mismo texto.", body_en="Same text.")
    schedule_once(org, now=SCHEDULED_AT, campaign=campaign, message=message)
    schedule_once(org, now=SCHEDULED_AT, campaign=campaign, message=message)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=True)
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=False)
    run(app, clock, gateway, reconcile_grace=timedelta(minutes=10))
    rows = outbox()
    rows[0].with_opt_out_notice = rows[1].with_opt_out_notice = False
    rows[1].body = rows[0].body  # the same text (the notice only went on the first)
    db.session.commit()
    clock.now = DUE + timedelta(minutes=30)
    reconcile_unknown(
        gateway=gateway, clock=clock, settings=make_worker(app, clock, gateway).settings
    )
    assert [r.status for r in outbox()] == ["unknown", "unknown"]
    assert len(gateway.sent) == 1


def accepted_then_500(app, org, gateway):
    """One contact, one message the provider accepted and then answered 500 for: an unknown
    row. Returns the contact and the worker settings; the gateway's clock stands at DUE."""
    contact = make_contact(org)
    schedule_once(org, now=SCHEDULED_AT)
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=True)
    run(app, gateway.clock, gateway)
    assert outbox()[0].status == "unknown"
    return contact, make_worker(app, gateway.clock).settings


@pytest.mark.parametrize(
    "own_sender, default_sender, ours",
    [
        (None, "MG" + "1" * 32, "MG" + "1" * 32),  # the shared Messaging Service
        ("+526645550100", None, "+526645550100"),  # the organization's own number
    ],
)
def test_reconciliation_checks_the_sender(app, make_org, own_sender, default_sender, ours):
    """A provider message with the row's text to the same number is the row's only when it
    came from the row's sender."""
    from dataclasses import replace

    org = make_org()
    org.sms_sender = own_sender
    gateway = FakeSmsGateway(clock=Clock(DUE))
    gateway.sender = default_sender
    _, settings = accepted_then_500(app, org, gateway)
    assert gateway.sent[0].sender == own_sender
    gateway._records[0] = replace(gateway._records[0], sender="+526645550199")
    gateway.clock.now = DUE + timedelta(minutes=1)
    reconcile_unknown(gateway=gateway, clock=gateway.clock, settings=settings)
    assert outbox()[0].status == "unknown"
    gateway._records[0] = replace(gateway._records[0], sender=ours)
    reconcile_unknown(gateway=gateway, clock=gateway.clock, settings=settings)
    assert outbox()[0].status == "sent"


# -- 2. the opt-out line is added once ------------------------------------------------------
def test_opt_out_notice_is_added_once_across_retries(app, make_org):
    org = make_org()
    make_contact(org)
    schedule_once(org, now=SCHEDULED_AT)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(RetryableSmsError("no connection"), RetryableSmsError("no connection"))
    for _ in range(3):
        run(app, clock, gateway)
        clock.now = outbox()[0].due_at
    notice = sms_text("opt_out_notice", "es")
    [sent] = gateway.sent
    assert sent.body.count(notice) == 1
    assert outbox()[0].body == sent.body  # the stored text is the text sent


def test_opt_out_notice_is_added_once_after_a_crash(app, make_org):
    """A worker prepared the row and died before sending: recovery and the next worker
    send the text stored the first time, not a longer one."""
    org = make_org()
    make_contact(org)
    schedule_once(org, now=SCHEDULED_AT)
    ids = claim_due("dead", now=DUE, limit=10, lease=timedelta(minutes=2))
    prepare_batch(ids, worker_id="dead", now=DUE)
    stored = outbox()[0].body
    recover_expired_leases(now=DUE + timedelta(minutes=3))
    clock = Clock(DUE + timedelta(minutes=4))
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    clock.now += timedelta(minutes=11)
    run(app, clock, gateway)
    [sent] = gateway.sent
    assert sent.body == stored == outbox()[0].body
    assert sent.body.count(sms_text("opt_out_notice", "es")) == 1


# -- 3. cancel stops everything not yet with the provider ---------------------------------
class CancelsMidBatch(FakeSmsGateway):
    """The coordinator cancels the send while the worker is sending its batch."""

    def __init__(self, send_id, **kwargs):
        super().__init__(**kwargs)
        self.send_id = send_id

    def send(self, to, body, *, status_callback=None, sender=None):
        result = super().send(to, body, status_callback=status_callback, sender=sender)
        if len(self.sent) == 2:
            services.cancel_send(db.session.get(OutreachSend, self.send_id), now=self.clock())
        return result


def test_cancel_stops_claimed_rows_mid_batch(app, make_org):
    org = make_org()
    for _ in range(6):
        make_contact(org)
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    clock = Clock(DUE)
    gateway = CancelsMidBatch(send.id, clock=clock)
    run(app, clock, gateway)
    assert len(gateway.sent) == 2
    statuses = sorted(r.status for r in outbox())
    assert statuses == ["canceled"] * 4 + ["sent"] * 2


def test_cancel_counts_what_was_already_with_the_provider(app, make_org):
    org = make_org()
    for _ in range(3):
        make_contact(org)
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    ids = claim_due("w9", now=DUE, limit=1, lease=timedelta(minutes=2))
    prepare_batch(ids, worker_id="w9", now=DUE)
    db.session.get(OutboxMessage, ids[0]).send_started_at = DUE  # in flight
    db.session.commit()
    result = services.cancel_send(send, now=DUE)
    assert (result.canceled, result.with_provider) == (2, 1)


def test_unknown_row_of_a_canceled_send_is_canceled_not_requeued(app, make_org):
    org = make_org()
    make_contact(org)
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(OutcomeUnknownSmsError("500"), sent=False)
    run(app, clock, gateway)
    services.cancel_send(db.session.get(OutreachSend, send.id), now=DUE)
    clock.now = DUE + timedelta(minutes=11)
    run(app, clock, gateway)
    clock.now += timedelta(minutes=1)
    run(app, clock, gateway)
    assert gateway.sent == []
    assert outbox()[0].status == "canceled"


def test_opt_out_after_prepare_stops_the_send(app, make_org):
    from app.contacts.services import opt_out_contact

    org = make_org()
    contact = make_contact(org)
    schedule_once(org, now=SCHEDULED_AT)
    ids = claim_due("w1", now=DUE, limit=10, lease=timedelta(minutes=2))
    ready = prepare_batch(ids, worker_id="w1", now=DUE)
    assert len(ready) == 1
    opt_out_contact(contact, channel="sms", now=DUE)
    from app.outbox.sending import send_prepared
    from tests.outreach.helpers import NoBudget

    gateway = FakeSmsGateway()
    worker = make_worker(app, Clock(DUE), gateway)
    outcome = send_prepared(
        ready[0],
        gateway=gateway,
        clock=Clock(DUE),
        budget=NoBudget(),
        settings=worker.settings,
        status_callback=None,
    )
    worker.close()
    assert outcome != "sent" and gateway.sent == []
    assert outbox()[0].send_started_at is None


def test_send_page_offers_cancel_while_rows_are_claimed(app, client, make_org, make_user, login):
    org = make_org()
    make_contact(org)
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    claim_due("w1", now=DUE, limit=10, lease=timedelta(minutes=2))
    login(make_user(org, role="coordinator"))
    page = client.get(f"/sends/{send.id}").get_data(as_text=True)
    assert f"/sends/{send.id}/cancel" in page


# -- 8. a crash leaves only the rows in flight unknown ------------------------------------
class CrashesAfter(FakeSmsGateway):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def send(self, to, body, *, status_callback=None, sender=None):
        if len(self.sent) == self.n:
            raise KeyboardInterrupt("worker killed")
        return super().send(to, body, status_callback=status_callback, sender=sender)


def test_a_crash_leaves_only_the_row_in_flight_unknown(app, make_org):
    org = make_org()
    for _ in range(5):
        make_contact(org)
    schedule_once(org, now=SCHEDULED_AT)
    clock = Clock(DUE)
    gateway = CrashesAfter(2, clock=clock)
    worker = make_worker(app, clock, gateway, concurrency=1)
    try:
        worker.run(once=True)
    except KeyboardInterrupt:
        pass
    finally:
        db.session.rollback()
    recover_expired_leases(now=DUE + timedelta(minutes=3))
    statuses = sorted(r.status for r in outbox())
    assert statuses == ["scheduled"] * 2 + ["sent"] * 2 + ["unknown"]


# -- 9. a failing lookup is retried, then escalated ---------------------------------------
def test_unknown_rows_escalate_when_the_lookup_keeps_failing(app, make_org, caplog):
    clock = Clock(DUE)
    gateway = LookupFails(clock=clock)
    contact, settings = accepted_then_500(app, make_org(), gateway)
    clock.now = DUE + timedelta(minutes=1)
    counts = reconcile_unknown(gateway=gateway, clock=clock, settings=settings)
    assert counts["lookup_failed"] == 1 and gateway.lookups == 1
    row = outbox()[0]
    assert row.status == "unknown" and row.reconcile_failures == 1
    assert any("lookup failed" in r.getMessage() for r in caplog.records)
    assert contact.phone not in caplog.text
    # Backs off: an immediate second pass does not hammer the provider.
    reconcile_unknown(gateway=gateway, clock=clock, settings=settings)
    assert gateway.lookups == 1
    # Past the escalation time the row is failed_unknown, never pending for days.
    clock.now = DUE + settings.unknown_escalation + timedelta(minutes=1)
    reconcile_unknown(gateway=gateway, clock=clock, settings=settings)
    row = outbox()[0]
    assert row.status == "failed_unknown" and row.final_at == clock.now
    assert len(gateway.sent) == 1


def test_a_lookup_that_recovers_resolves_the_row(app, make_org):
    clock = Clock(DUE)
    gateway = LookupFails(clock=clock)
    _, settings = accepted_then_500(app, make_org(), gateway)
    clock.now = DUE + timedelta(minutes=1)
    reconcile_unknown(gateway=gateway, clock=clock, settings=settings)
    gateway.lookups_fail = False
    clock.now = DUE + timedelta(hours=1)
    reconcile_unknown(gateway=gateway, clock=clock, settings=settings)
    row = outbox()[0]
    assert row.status == "sent" and row.twilio_sid == gateway.sent[0].sid
