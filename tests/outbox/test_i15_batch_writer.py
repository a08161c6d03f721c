"""Issue 15: the sending threads' batch writer (PostgreSQL) runs the starts and the outcomes
that arrive together as one statement each, with the same conditions as one row at a time."""

from datetime import timedelta

from sqlalchemy import event

from app.contacts.models import Contact
from app.extensions import db
from app.messaging.gateway import SendResult
from app.outbox.dispatch import recover_expired_leases
from app.outbox.models import OutboxMessage
from app.outbox.sending import _Pending, _sent_params, start_row
from tests.outbox.test_i15_dispatch import DUE, claimed_and_started, rows, seed_outbox
from tests.outreach.helpers import make_worker
from tests.support import Clock

LEASE = timedelta(minutes=2)


def start_params(item, now=DUE) -> dict:
    return dict(p_id=item.id, p_worker=item.worker_id, p_now=now, p_lease_until=now + LEASE)


def sent(item, n: int) -> SendResult:
    return SendResult(sid=f"SM{n:032x}", status="queued", num_segments=1)


class Statements:
    """The statements run on the sending engine meanwhile."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self.seen

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, *args):
        self.seen.append(statement)


def run_batch(writer, kind: str, params: list[dict]) -> list:
    """One batch as a lane runs it (what arrived together), answers in order."""
    batch = [_Pending(kind, p, report=lambda answer: None) for p in params]
    writer._run(writer._start_many if kind == "start" else writer._sent_many, batch)
    return [p.answer for p in batch]


def test_one_statement_starts_the_rows_still_allowed(app, make_org, postgres_only):
    seed_outbox(make_org(), 4)
    worker = make_worker(app, Clock(DUE))
    ok, opted_out, taken, also_ok = claimed_and_started(app)
    db.session.get(Contact, opted_out.contact_id).opted_out_at = DUE
    db.session.get(OutboxMessage, taken.id).claimed_by = "w2"
    db.session.commit()
    writer = worker.open_writer()
    try:
        with Statements(writer.engine) as statements:
            answers = run_batch(
                writer, "start", [start_params(i) for i in (ok, opted_out, taken, also_ok)]
            )
    finally:
        worker.close()
    assert answers == [True, False, False, True]
    assert len(statements) == 1 and "unnest" in statements[0]
    by_id = {r.id: r for r in rows()}
    for item in (ok, also_ok):
        assert by_id[item.id].send_started_at == DUE and by_id[item.id].attempts == 1
        assert by_id[item.id].lease_expires_at == DUE + LEASE
    for item in (opted_out, taken):
        assert by_id[item.id].send_started_at is None and by_id[item.id].attempts == 0


def test_one_statement_records_outcomes_and_leaves_rows_no_longer_ours(
    app, make_org, postgres_only
):
    seed_outbox(make_org(), 3)
    worker = make_worker(app, Clock(DUE))
    mine, taken, recovered = items = claimed_and_started(app)
    writer = worker.open_writer()
    try:
        assert all(
            start_row(i, now=DUE, settings=worker.settings, writer=writer) is None for i in items
        )
        row = db.session.get(OutboxMessage, taken.id)
        row.claimed_by, row.lease_expires_at = "w2", DUE + timedelta(hours=1)
        db.session.get(OutboxMessage, mine.id).lease_expires_at = DUE + timedelta(hours=1)
        db.session.commit()
        assert recover_expired_leases(now=DUE + timedelta(minutes=3)) == (0, 1)  # `recovered`
        later = DUE + timedelta(seconds=2)
        params = [_sent_params(item, sent(item, n), later) for n, item in enumerate(items)]
        with Statements(writer.engine) as statements:
            answers = run_batch(writer, "sent", params)
    finally:
        worker.close()
    # The late answer resolves the unknown row as reconciliation would; the row another
    # worker holds is never overwritten.
    assert answers == ["sent", "lease_lost", "sent"]
    assert "unnest" in statements[0] and len(statements) == 1 + 2  # the batch; one each late
    by_id = {r.id: r for r in rows()}
    assert (by_id[mine.id].status, by_id[mine.id].twilio_sid) == ("sent", f"SM{0:032x}")
    assert by_id[mine.id].sent_at == later and by_id[mine.id].claimed_by is None
    assert (by_id[taken.id].status, by_id[taken.id].claimed_by) == ("claimed", "w2")
    assert by_id[taken.id].twilio_sid is None
    assert (by_id[recovered.id].status, by_id[recovered.id].twilio_sid) == ("sent", f"SM{2:032x}")


def test_a_failed_batch_is_written_one_row_at_a_time(app, make_org, postgres_only):
    seed_outbox(make_org(), 3)
    worker = make_worker(app, Clock(DUE))
    items = claimed_and_started(app)
    writer = worker.open_writer()

    def deadlocked(batch):
        raise RuntimeError("deadlock detected")

    writer._start_many = writer._sent_many = deadlocked
    try:
        assert run_batch(writer, "start", [start_params(i) for i in items]) == [True] * 3
        params = [_sent_params(i, sent(i, n), DUE) for n, i in enumerate(items)]
        assert run_batch(writer, "sent", params) == ["sent"] * 3
    finally:
        worker.close()
    assert {r.status for r in rows()} == {"sent"}


def test_closing_records_the_queued_outcomes(app, make_org, postgres_only):
    seed_outbox(make_org(), 5)
    worker = make_worker(app, Clock(DUE))
    items = claimed_and_started(app)
    writer = worker.open_writer()
    reported = []
    for n, item in enumerate(items):
        assert start_row(item, now=DUE, settings=worker.settings, writer=writer) is None
        params = _sent_params(item, sent(item, n), DUE)
        assert writer.sent(params, reported.append) is None  # not waited for
    worker.close()  # the worker's writer: its lanes finish what is queued
    assert not writer.alive and reported == ["sent"] * 5
    assert {r.status for r in rows()} == {"sent"}


def test_a_start_without_its_outcome_is_reconciled_not_resent(app, make_org, postgres_only):
    """The crash window of a deferred outcome is the existing one: a started row whose
    outcome never got written becomes `unknown` at lease expiry (then reconciled)."""
    seed_outbox(make_org(), 2)
    worker = make_worker(app, Clock(DUE))
    items = claimed_and_started(app)
    writer = worker.open_writer()
    try:
        assert run_batch(writer, "start", [start_params(i) for i in items]) == [True, True]
    finally:
        worker.close()  # "crash": no outcome recorded
    assert recover_expired_leases(now=DUE + timedelta(minutes=3)) == (0, 2)
    assert {r.status for r in rows()} == {"unknown"}
