"""Sending prepared outbox rows, and reconciling rows whose outcome is unknown.

The common path of one message costs two database round trips (issue 15): `start_row`, one
`UPDATE ... RETURNING` that re-checks the row is still this worker's and still allowed
(guards, opt-out) and sets `send_started_at`; then, after the provider call, one
`UPDATE ... WHERE id AND status='claimed' AND claimed_by=<worker>` that records `sent` with
its SID, segments and `sent_at` and clears the lease. Both run through an `OutcomeWriter`:
in the worker's sending threads a `ConnectionWriter`, a Connection in AUTOCOMMIT from the
worker's sending engine (no pre-ping, BEGIN or COMMIT per message, no app context per
message; see the class for why a connection is borrowed per statement rather than held per
thread). One statement per message rather than batched outcome writes: nothing waits
to be flushed, so the crash window stays one message wide and inside the existing path (a
row with `send_started_at` and no outcome becomes `unknown` on lease expiry and is
reconciled), and the statements are the ones a session would run. Where every session
shares one connection (in-memory SQLite) or for direct callers, `SessionWriter` runs the
same statements through the session. The rare paths (a row no longer allowed, retry with
backoff, permanent failure, unknown outcome, the simulator's immediate final status through
`set_final_status`) keep the ORM session.
"""

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, exists, func, or_, select, update

from app.contacts.models import Contact
from app.extensions import db
from app.messaging.gateway import PermanentSmsError, RetryableSmsError, SmsError
from app.organizations.models import Organization
from app.outbox import guards
from app.outbox.dispatch import DispatchSettings, backoff_delay, known_sids
from app.outbox.models import OutboxMessage
from app.outbox.preparing import Prepared
from app.outbox.status import TWILIO_TO_OUTBOX, set_final_status

logger = logging.getLogger("alcance.outreach")


def _finish_error(outbox_id: int, status: str, *, error_code, error_message, now) -> None:
    row = db.session.get(OutboxMessage, outbox_id)
    set_final_status(row, status, now=now, error_code=error_code, error_message=error_message)
    row.claimed_by = row.lease_expires_at = None
    db.session.commit()


def renew_leases(
    ids: list[int], *, worker_id: str, now: datetime, settings: DispatchSettings
) -> set[int]:
    """Extend this worker's lease on rows it still holds; returns the ids it holds.

    A row is held while it is "claimed" by this worker, even past its expiry: recovery
    moves it out of "claimed" (under the row lock), so either recovery or this renewal
    wins, never both."""
    if not ids:
        return set()
    held = db.session.scalars(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == "claimed",
            OutboxMessage.claimed_by == worker_id,
        )
        .values(lease_expires_at=now + settings.lease)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return set(held)


def _may_still_go():
    """SQL: the row's contact, and every feature's guard (a canceled send, a paused
    campaign...), still allow it to go out (re-checked right before the provider call: a
    change since the batch was prepared stops it). Replies need only a reachable contact."""
    contact_ok = exists().where(
        Contact.id == OutboxMessage.contact_id,
        Contact.erased_at.is_(None),
        or_(OutboxMessage.purpose == "system", Contact.opted_out_at.is_(None)),
    )
    return and_(contact_ok, guards.still_allowed())


_OUTBOX = OutboxMessage.__table__
_MOMENT = OutboxMessage.__table__.c.sent_at.type


class SessionWriter:
    """Runs a statement through the current session and commits (two round trips)."""

    def scalar(self, statement, params: dict):
        value = db.session.execute(statement, params).scalar()
        db.session.commit()
        return value

    def rowcount(self, statement, params: dict) -> int:
        count = db.session.execute(statement, params).rowcount
        db.session.commit()
        return count

    def close(self) -> None:
        pass


class ConnectionWriter:
    """Runs each statement in one round trip on a Connection in AUTOCOMMIT isolation,
    borrowed from `engine` (the worker's sending engine: AUTOCOMMIT, no pre-ping, no reset
    on return) only for that statement: a pool checkout is a few microseconds and no round
    trip, and the worker needs as many connections as statements run at once (a few), not
    one per thread waiting on the provider (4 workers × 38 threads exhausted PostgreSQL's
    default 100 connections in the benchmark)."""

    def __init__(self, engine):
        self.engine = engine

    def scalar(self, statement, params: dict):
        with self.engine.connect() as connection:
            return connection.execute(statement, params).scalar()

    def rowcount(self, statement, params: dict) -> int:
        with self.engine.connect() as connection:
            return connection.execute(statement, params).rowcount

    def close(self) -> None:
        pass


OutcomeWriter = SessionWriter | ConnectionWriter


@lru_cache(maxsize=8)
def _start_statement(_guards: tuple):
    """Built once per set of registered guards (keyed by them); parameters bound per row."""
    return (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id == bindparam("p_id"),
            _OUTBOX.c.status == "claimed",
            _OUTBOX.c.claimed_by == bindparam("p_worker"),
            _may_still_go(),
        )
        .values(
            send_started_at=bindparam("p_now", type_=_MOMENT),
            attempts=_OUTBOX.c.attempts + 1,
            lease_expires_at=bindparam("p_lease_until", type_=_MOMENT),
        )
        .returning(_OUTBOX.c.id)
    )


def _sent_values() -> dict:
    return dict(
        status="sent",
        twilio_sid=bindparam("p_sid"),
        sent_at=bindparam("p_now", type_=_MOMENT),
        segments=bindparam("p_segments"),
        claimed_by=None,
        lease_expires_at=None,
    )


# The one statement that records a successful call: only on a row still claimed by us.
SENT_STATEMENT = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("p_id"),
        _OUTBOX.c.status == "claimed",
        _OUTBOX.c.claimed_by == bindparam("p_worker"),
    )
    .values(**_sent_values())
)
# The row stopped being ours during the call: lease expiry made it `unknown`. We hold the
# provider's answer, so record it as reconciliation would (unless it already did).
_LATE_SENT_STATEMENT = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("p_id"),
        _OUTBOX.c.status == "unknown",
        _OUTBOX.c.twilio_sid.is_(None),
    )
    .values(**_sent_values(), reconcile_after=None)
)


def _sent_params(item: Prepared, result, now: datetime) -> dict:
    return dict(
        p_id=item.id,
        p_worker=item.worker_id,
        p_sid=result.sid,
        p_now=now,
        p_segments=result.num_segments or None,
    )


def record_sent(item: Prepared, result, *, now: datetime, writer: OutcomeWriter) -> str:
    """Record a successful call in one statement. Returns "sent", or "lease_lost" when the
    row is no longer this worker's and was not waiting for this answer (left alone)."""
    params = _sent_params(item, result, now)
    if writer.rowcount(SENT_STATEMENT, params):
        return "sent"
    if writer.rowcount(_LATE_SENT_STATEMENT, params):
        logger.warning("outcome recorded after the lease expired outbox_id=%s", item.id)
        return "sent"
    logger.warning("outcome not recorded: outbox_id=%s is no longer this worker's", item.id)
    return "lease_lost"


def start_row(
    item: Prepared,
    *,
    now: datetime,
    settings: DispatchSettings,
    writer: OutcomeWriter | None = None,
) -> str | None:
    """Mark one prepared row as handed to the provider, right before its own call.

    One conditional UPDATE under the row lock: the row must still be claimed by this worker
    (not recovered by another, not canceled) and still allowed to go. Returns None when the
    call may proceed, else the outcome to report. A row whose rules changed since it was
    prepared (opt-out, pause) goes back to `scheduled`, where the next preparation applies
    them; one that is no longer ours is left alone."""
    started = (writer or SessionWriter()).scalar(
        _start_statement(tuple(guards.registered())),
        dict(p_id=item.id, p_worker=item.worker_id, p_now=now, p_lease_until=now + settings.lease),
    )
    if started is not None:
        return None
    given_back = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == item.id,
            OutboxMessage.status == "claimed",
            OutboxMessage.claimed_by == item.worker_id,
        )
        .values(status="scheduled", claimed_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if given_back:
        return "held_back"
    status = db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == item.id))
    db.session.commit()
    if status == "canceled":
        return "canceled"
    logger.warning("lease lost before sending outbox_id=%s; left to recovery", item.id)
    return "lease_lost"


def send_prepared(
    item: Prepared,
    *,
    gateway,
    clock,
    budget,
    settings: DispatchSettings,
    status_callback: str | None,
    writer: OutcomeWriter | None = None,
    latency=None,
) -> str:
    """Send one prepared row and record the outcome right after the call.

    `writer` runs the two common-path statements (default: through the session); `latency`
    (a LatencyMeter), if given, observes how long the provider call took."""
    writer = writer or SessionWriter()
    budget.acquire()
    outcome = start_row(item, now=clock(), settings=settings, writer=writer)
    if outcome is not None:
        return outcome
    try:
        result = _call(gateway, item, status_callback, latency)
    except RetryableSmsError as error:
        row = db.session.get(OutboxMessage, item.id)
        code = str(error.code or error.status or "retry")
        if row.attempts >= settings.max_attempts:
            _finish_error(item.id, "failed", error_code=code, error_message=str(error), now=clock())
            return "failed"
        row.status, row.send_started_at, row.claimed_by, row.lease_expires_at = (
            "scheduled",
            None,
            None,
            None,
        )
        row.error_code, row.error_message = code, str(error)[:200]
        row.due_at = clock() + backoff_delay(row.attempts, settings)
        db.session.commit()
        return "retry"
    except PermanentSmsError as error:
        _finish_error(
            item.id,
            "failed",
            error_code=str(error.code or error.status),
            error_message=str(error),
            now=clock(),
        )
        return "failed"
    except SmsError as error:  # OutcomeUnknownSmsError and anything unexpected from the gateway
        # Only a row still ours: another worker may have reconciled it meanwhile.
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item.id, OutboxMessage.status.in_(("claimed", "unknown")))
            .values(
                status="unknown",
                error_message=str(error)[:200],
                claimed_by=None,
                lease_expires_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        logger.warning("send outcome unknown outbox_id=%s; will reconcile", item.id)
        return "unknown"

    now = clock()
    final = result.status if result.status in ("delivered", "failed", "undelivered") else None
    if final is None and getattr(gateway, "name", "") == "simulator":
        final = "delivered"  # the simulated handset receives at once
    if final is None:
        return record_sent(item, result, now=now, writer=writer)
    # Rare: a final status at once (the simulator) goes through set_final_status and its
    # events, in one transaction with the sent row.
    if not db.session.execute(SENT_STATEMENT, _sent_params(item, result, now)).rowcount:
        db.session.commit()
        return record_sent(item, result, now=now, writer=SessionWriter())
    set_final_status(db.session.get(OutboxMessage, item.id), final, now=now)
    db.session.commit()
    return "sent"


def _call(gateway, item: Prepared, status_callback: str | None, latency):
    called = time.monotonic()
    try:
        return gateway.send(item.to, item.body, status_callback=status_callback, sender=item.sender)
    finally:
        if latency is not None:
            latency.observe(time.monotonic() - called)


def _pair_rows_with_messages(rows, messages, *, now, grace, counts) -> None:
    """Resolve the unknown rows of one recipient against what the provider has for it.

    A provider message belongs to a row only when it has the row's exact text (and sender,
    checked by the caller). Rows with the same text are resolved together: as many
    messages as rows -> paired in order; fewer (but some) -> nobody can tell which row went
    out, so all stay unknown and visible. A row with no message of its text is requeued
    after the grace period, unless the provider holds a message to that number that no row
    accounts for (its text could not be compared): then it waits, and escalates."""
    by_text: dict[str, list] = defaultdict(list)
    for row in rows:
        by_text[row.body].append(row)
    unexplained = [m for m in messages if m.body not in by_text]
    for text, same in by_text.items():
        found = sorted((m for m in messages if m.body == text), key=lambda m: m.date_created)
        same.sort(key=lambda r: (r.send_started_at or r.due_at, r.id))
        if found and len(found) >= len(same):
            for row, match in zip(same, found, strict=False):  # oldest with oldest
                row.twilio_sid, row.sent_at, row.status = match.sid, match.date_created, "sent"
                row.reconcile_after = None
                final = TWILIO_TO_OUTBOX.get(match.status, "sent")
                if final != "sent":
                    set_final_status(
                        row,
                        final,
                        now=now,
                        error_code=str(match.error_code) if match.error_code else None,
                    )
                counts["found"] += 1
            continue
        for row in same:
            started = row.send_started_at or row.due_at
            if found or unexplained or now - started <= grace:
                counts["ambiguous" if found else "pending"] += 1
            elif reason := guards.withdrawn(row):
                row.status, row.skip_reason, row.final_at = "canceled", reason, now
                counts["canceled"] += 1
            else:  # the provider never accepted it: the next preparation decides again
                row.status, row.send_started_at, row.due_at = "scheduled", None, now
                row.claimed_by = row.lease_expires_at = row.reconcile_after = None
                counts["requeued"] += 1


def _group(items, key) -> list[tuple]:
    groups: dict = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return list(groups.items())


def _escalate_stale_unknown(*, now: datetime, settings: DispatchSettings) -> int:
    """Unknown rows the provider could not resolve for `unknown_escalation` become
    `failed_unknown`: final, counted as not delivered, never re-sent, visible on the send."""
    stale = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "unknown",
                func.coalesce(OutboxMessage.send_started_at, OutboxMessage.due_at)
                < now - settings.unknown_escalation,
            )
            .with_for_update(skip_locked=True)
        )
    )
    for row in stale:
        row.status, row.final_at, row.claimed_by, row.lease_expires_at = (
            "failed_unknown",
            now,
            None,
            None,
        )
        row.error_message = "provider could not confirm whether it accepted the message"
    db.session.commit()
    if stale:
        logger.error("escalated %d unknown outbox rows to failed_unknown", len(stale))
    return len(stale)


def reconcile_unknown(*, gateway, clock, settings: DispatchSettings, limit: int = 100) -> dict:
    """Resolve `unknown` rows by asking the provider; never re-send what it accepted.

    Rows are looked up per recipient (one provider request for all of a number's unknown
    rows) and matched by exact text and sender, never by number and time alone. A failed
    lookup is logged, counted on the row and retried with backoff; a row still unresolved
    after `unknown_escalation` becomes `failed_unknown`."""
    counts = {
        "found": 0,
        "requeued": 0,
        "canceled": 0,
        "pending": 0,
        "ambiguous": 0,
        "lookup_failed": 0,
        "escalated": 0,
    }
    counts["escalated"] = _escalate_stale_unknown(now=clock(), settings=settings)
    now = clock()
    # Several workers reconcile at once: each locks the rows it works on (skipping others').
    rows = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "unknown",
                or_(OutboxMessage.reconcile_after.is_(None), OutboxMessage.reconcile_after <= now),
            )
            .order_by(OutboxMessage.send_started_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        db.session.commit()
        return counts
    phones = dict(
        db.session.execute(
            select(Contact.id, Contact.phone).where(Contact.id.in_({r.contact_id for r in rows}))
        ).all()
    )
    by_phone: dict[str, list] = defaultdict(list)
    for row in rows:
        if phones.get(row.contact_id):
            by_phone[phones[row.contact_id]].append(row)
        else:  # erased meanwhile: nothing to look up; it escalates if never resolved
            counts["pending"] += 1
    default_sender = getattr(gateway, "sender", None)
    own_senders = dict(
        db.session.execute(
            select(Organization.id, Organization.sms_sender).where(
                Organization.id.in_({r.organization_id for r in rows})
            )
        ).all()
    )
    for phone, same_phone in by_phone.items():
        since = min(r.send_started_at or r.due_at for r in same_phone) - timedelta(minutes=2)
        try:
            found = gateway.find_sent(phone, since=since)
        except SmsError as error:
            for row in same_phone:
                row.reconcile_failures = (row.reconcile_failures or 0) + 1
                row.reconcile_after = now + backoff_delay(row.reconcile_failures, settings)
            counts["lookup_failed"] += len(same_phone)
            logger.warning(
                "provider lookup failed for %d unknown outbox rows (ids %s): %s; "
                "retrying with backoff",
                len(same_phone),
                ",".join(str(r.id) for r in same_phone),
                type(error).__name__,
            )
            continue
        found = [m for m in found if m.date_created >= since]
        taken = known_sids([m.sid for m in found])
        # One phone can hold rows of several organizations, each with its own sender.
        for sender, rows_ in _group(
            same_phone, lambda r: own_senders.get(r.organization_id) or default_sender
        ):
            free = [
                m
                for m in found
                if m.sid not in taken and (sender is None or m.sender is None or m.sender == sender)
            ]
            _pair_rows_with_messages(
                rows_, free, now=now, grace=settings.reconcile_grace, counts=counts
            )
            taken |= {r.twilio_sid for r in rows_ if r.twilio_sid}
    db.session.commit()
    return counts
