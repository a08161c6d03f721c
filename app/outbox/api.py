"""The outbox's public API: the only code that writes OutboxMessage rows.

Features describe messages (who, what text, when, for what purpose, on which channel);
the outbox stores them and, from then on, owns their status: the worker prepares, sends,
retries and reconciles them, and features can only hold, release, cancel or reword the
ones not yet handed to the provider. Every function joins the caller's unit of work (no
commit), so a feature's change and its effect on the outbox commit together.

Filters are keyword arguments naming OutboxMessage columns: a value matches with `==`, a
list, tuple or set with `IN`; `where=` adds SQL conditions for the rest.
"""

from datetime import datetime

from sqlalchemy import (
    delete,
    exists,
    func,
    literal,
    literal_column,
    select,
    union_all,
    update,
)

from app.db_dialect import insert_ignoring_duplicates, is_postgres
from app.extensions import db
from app.outbox.archive import archive_table, hold_archive_shared
from app.outbox.counters import fold_if_many
from app.outbox.models import (
    CHANNELS,
    PURPOSES,
    InboundMessage,
    OutboxMessage,
    OutboxStatusCount,
    OutboxStatusDelta,
)
from app.timeutil import UTCDateTime

# Not yet claimed by a worker: a cancel, a pause or a new text still applies as is.
PENDING = ("scheduled", "held")
# Handed (or being handed) to the provider: kept as history, never rewritten.
HANDED_OVER = ("claimed", "unknown", "sent", "delivered", "undelivered", "failed")
# Columns a feature may set when it enqueues; the outbox sets the rest.
ENQUEUE_COLUMNS = (
    "organization_id",
    "contact_id",
    "purpose",
    "language",
    "body",
    "due_at",
    "campaign_id",
    "send_id",
    "message_id",
    "workshop_id",
    "occurrence",
    "expires_at",
    "channel",
)


def _conditions(where=(), **filters) -> list:
    conditions = list(where)
    for name, value in filters.items():
        column = getattr(OutboxMessage, name)
        is_many = isinstance(value, list | tuple | set | frozenset)
        conditions.append(column.in_(value) if is_many else column == value)
    return conditions


def _only_pending(statuses) -> None:
    if not set(statuses) <= set(PENDING):
        raise ValueError("only messages not yet claimed by a worker can be changed")


def _check(purpose: str, channel: str) -> None:
    if purpose not in PURPOSES or channel not in CHANNELS:
        raise ValueError(f"unknown purpose or channel: {purpose!r}, {channel!r}")


def enqueue(
    *,
    organization_id: int,
    contact_id: int,
    purpose: str,
    language: str,
    body: str,
    due_at: datetime,
    now: datetime,
    channel: str = "sms",
    skipped: str | None = None,
    **links,
) -> OutboxMessage:
    """One message. `links`: campaign_id, send_id, message_id, workshop_id, occurrence,
    expires_at (the message is skipped if it cannot go before). With `skipped` (a skip
    reason) the message is recorded as never sendable, so coordinators can count it."""
    _check(purpose, channel)
    unknown = set(links) - set(ENQUEUE_COLUMNS)
    if unknown:
        raise TypeError(f"not an enqueue column: {sorted(unknown)}")
    row = OutboxMessage(
        organization_id=organization_id,
        contact_id=contact_id,
        purpose=purpose,
        language=language,
        body=body,
        due_at=due_at,
        channel=channel,
        status="skipped" if skipped else "scheduled",
        skip_reason=skipped,
        final_at=now if skipped else None,
        attempts=0,
        with_opt_out_notice=False,
        created_at=now,
        **links,
    )
    db.session.add(row)
    return row


def enqueue_staff_alert(
    *, organization_id: int, user_id: int, language: str, body: str, now: datetime
) -> OutboxMessage:
    """An alert to a staff member's own phone (an urgent case nobody acknowledged): no
    contact, at once, at any hour, never capped."""
    row = OutboxMessage(
        organization_id=organization_id,
        contact_id=None,
        user_id=user_id,
        purpose="staff_alert",
        language=language,
        body=body,
        due_at=now,
        channel="sms",
        status="scheduled",
        attempts=0,
        with_opt_out_notice=False,
        created_at=now,
    )
    db.session.add(row)
    return row


def enqueue_select(rows, columns: list[str], *, now: datetime) -> int:
    """Many messages in one INSERT ... SELECT: `rows` selects the values of `columns`
    (names from ENQUEUE_COLUMNS). A message already enqueued for the same send, contact and
    occurrence is not enqueued twice. Returns how many were."""
    unknown = set(columns) - set(ENQUEUE_COLUMNS)
    if unknown:
        raise TypeError(f"not an enqueue column: {sorted(unknown)}")
    defaults = {
        "status": literal("scheduled"),
        "attempts": literal(0),
        "with_opt_out_notice": literal(False),
        "created_at": literal(now, UTCDateTime()),
    }
    if is_postgres():
        rows = _not_archived(rows, columns)
    result = db.session.execute(
        insert_ignoring_duplicates(OutboxMessage)
        .from_select([*columns, *defaults], rows.add_columns(*defaults.values()))
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)  # psycopg reports -1 otherwise
    )
    return result.rowcount or 0


def _not_archived(rows, columns: list[str]):
    """PostgreSQL: the live table's unique (send, contact, occurrence) does not see the
    archive (app/outbox/archive.py), so the rows whose key was archived are left out here,
    under the archive lock (shared) so that no move runs between this check and the insert."""
    hold_archive_shared()
    if not {"send_id", "contact_id", "occurrence"} <= set(columns):
        return rows
    chosen = rows.subquery()
    values = dict(zip(columns, chosen.c, strict=True))
    archived = archive_table()
    return select(*chosen.c).where(
        ~exists().where(
            archived.c.send_id == values["send_id"],
            archived.c.contact_id == values["contact_id"],
            archived.c.occurrence == values["occurrence"],
        )
    )


def set_status(from_statuses, to_status: str, *, where=(), **filters) -> int:
    """Hold or release the matching pending rows ("scheduled" ↔ "held", e.g. a paused
    campaign's). Any other move belongs to the outbox (cancel with `cancel_pending`).
    Returns how many moved."""
    if not set(from_statuses) <= set(PENDING) or to_status not in PENDING:
        raise ValueError(f"features only hold and release messages, not {to_status!r}")
    return _move(from_statuses, to_status, where=where, **filters)


def release_held(reason: str, **filters) -> int:
    """Schedule again the held rows held for `reason` (e.g. "no_whatsapp_template" once a
    template is approved: their preparation decides again). Returns how many."""
    return _move(
        ("held",),
        "scheduled",
        where=(OutboxMessage.skip_reason == reason,),
        values={"skip_reason": None},
        **filters,
    )


def _move(from_statuses, to_status: str, *, where=(), values=None, **filters) -> int:
    return db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status.in_(from_statuses), *_conditions(where, **filters))
        .values(status=to_status, **(values or {}))
        .execution_options(synchronize_session=False)
    ).rowcount


def cancel_pending(
    *, reason: str, now: datetime, statuses=PENDING, claimed_too: bool = False, where=(), **filters
) -> int:
    """Cancel the matching rows not yet handed to the provider. With `claimed_too`, also
    rows a worker has claimed but not started (the worker re-checks before each call)."""
    _only_pending(statuses)
    count = _move(
        statuses,
        "canceled",
        where=where,
        values={"skip_reason": reason, "final_at": now},
        **filters,
    )
    if claimed_too:
        count += _move(
            ("claimed",),
            "canceled",
            where=(*where, OutboxMessage.send_started_at.is_(None)),
            values={
                "skip_reason": reason,
                "final_at": now,
                "claimed_by": None,
                "lease_expires_at": None,
            },
            **filters,
        )
    return count


REWORDABLE = ("body", "language", "expires_at", "due_at", "message_id")


def reword_pending(values: dict, *, statuses=PENDING, where=(), **filters) -> int:
    """Give the matching pending rows new content: `values` sets body, language, expires_at
    or due_at (each a value or a SQL expression, e.g. a workshop's invitation re-rendered
    after it moved). Returns how many rows changed."""
    if set(values) - set(REWORDABLE):
        raise TypeError(f"only {REWORDABLE} can be reworded")
    _only_pending(statuses)
    return (
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status.in_(statuses), *_conditions(where, **filters))
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )


def detach(*, column: str, where=(), **filters) -> int:
    """Set a link column (e.g. message_id of a deleted campaign message) to NULL."""
    return db.session.execute(
        update(OutboxMessage)
        .where(*_conditions(where, **filters))
        .values({column: None})
        .execution_options(synchronize_session=False)
    ).rowcount


def delete_never_sent(*, where=(), **filters) -> int:
    """Delete matching rows that never reached the provider (canceled or skipped, e.g. of a
    canceled send whose message is deleted). Anything handed over is refused: it is history."""
    conditions = _conditions(where, **filters)
    if db.session.scalar(
        select(func.count()).where(OutboxMessage.status.in_(HANDED_OVER), *conditions)
    ):
        raise ValueError("refusing to delete messages handed to the provider")
    return db.session.execute(
        delete(OutboxMessage).where(*conditions).execution_options(synchronize_session=False)
    ).rowcount


def erase_texts(contact_ids, *, now: datetime) -> None:
    """Erasure: cancel what is still pending for these contacts and blank the text of every
    message to or from them. Kept for the de-identified counts: statuses, times, segments,
    error codes, intents. The provider's error text goes too: it may quote the phone."""
    if not contact_ids:
        return
    cancel_pending(reason="erased", now=now, contact_id=list(contact_ids))
    for statement in (
        update(OutboxMessage)
        .where(OutboxMessage.contact_id.in_(contact_ids))
        .values(body="", error_message=None),
        update(InboundMessage).where(InboundMessage.contact_id.in_(contact_ids)).values(body=""),
    ):
        db.session.execute(statement.execution_options(synchronize_session=False))


def mark_reviewed(inbound: InboundMessage, *, now: datetime) -> None:
    """A coordinator has read a reply flagged for review."""
    inbound.reviewed_at = now


def unreviewed_replies(*, organization_id: int, campaign_id: int) -> int:
    """Replies of a campaign flagged for review and not reviewed yet (a read, for pages)."""
    return (
        db.session.scalar(
            select(func.count()).where(
                InboundMessage.organization_id == organization_id,
                InboundMessage.campaign_id == campaign_id,
                InboundMessage.needs_review.is_(True),
                InboundMessage.reviewed_at.is_(None),
            )
        )
        or 0
    )


def status_counts(
    organization_id: int | None = None, *, send_ids=None, campaign_id=None, by_send=False
):
    """How many messages have each status, exact at this moment, read from the status
    counters (app/outbox/counters.py) instead of the messages themselves: with `send_ids`
    (or `by_send`, every send of the campaign), {send_id: {status: count}}; else {status:
    count} of the campaign, of the organization, or (no organization, e.g. for metrics) of
    every organization. Statuses without messages are left out; so is "no send" (0)."""
    per_send = by_send or send_ids is not None
    if send_ids is not None:
        send_ids = [i for i in send_ids if i]  # 0 is the counters' "no send"
        if not send_ids:
            return {}
    filters = {"organization_id": organization_id, "campaign_id": campaign_id}
    parts = []
    for model, value, is_delta in (
        (OutboxStatusCount, OutboxStatusCount.count, 0),
        (OutboxStatusDelta, OutboxStatusDelta.delta, 1),
    ):
        conditions = [getattr(model, k) == v for k, v in filters.items() if v is not None]
        if send_ids is not None:
            conditions.append(model.send_id.in_(send_ids))
        parts.append(
            select(
                model.send_id,
                model.status,
                value.label("n"),
                literal_column(str(is_delta)).label("is_delta"),
            ).where(*conditions)
        )
    # One statement, so one snapshot: a fold committing meanwhile moves deltas into the
    # counts all at once, and the sum is the same before and after it.
    both = union_all(*parts).subquery()
    keys = [both.c.send_id, both.c.status] if per_send else [both.c.status]
    rows = db.session.execute(
        select(*keys, func.sum(both.c.n), func.sum(both.c.is_delta)).group_by(*keys)
    ).all()
    fold_if_many(sum(row[-1] for row in rows))
    if not per_send:
        return {status: int(n) for status, n, _ in rows if n}
    result: dict = {}
    for send_id, status, n, _ in rows:
        if n and send_id:
            result.setdefault(send_id, {})[status] = int(n)
    return result
