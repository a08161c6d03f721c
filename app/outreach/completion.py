"""send.completed (outbound webhooks, issue 20): a one-off send whose every message has
gone to the provider (or was canceled or skipped) is marked completed, once, and the
organization event is emitted in that same transaction. Recurring and sequence sends
never end this way (late joiners keep them going)."""

from datetime import datetime

from sqlalchemy import exists, func, select, update

from app.extensions import db
from app.organizations.events import emit
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend

NOT_YET_GONE = ("scheduled", "held", "claimed")


def note_completed_sends(*, now: datetime, limit: int = 200) -> int:
    """Mark the one-off sends that finished going out; returns how many."""
    unfinished = exists().where(
        OutboxMessage.send_id == OutreachSend.id, OutboxMessage.status.in_(NOT_YET_GONE)
    )
    candidates = db.session.scalars(
        select(OutreachSend)
        .where(
            OutreachSend.kind == "once",
            OutreachSend.status == "scheduled",
            OutreachSend.fanned_out_at.is_not(None),
            OutreachSend.completed_at.is_(None),
            ~unfinished,
        )
        .order_by(OutreachSend.id)
        .limit(limit)
    ).all()
    done = 0
    for send in candidates:
        # Conditional: of two workers, one marks it (and emits).
        if not db.session.execute(
            update(OutreachSend)
            .where(OutreachSend.id == send.id, OutreachSend.completed_at.is_(None))
            .values(completed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount:
            continue
        counts = dict(
            db.session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.send_id == send.id)
                .group_by(OutboxMessage.status)
            ).all()
        )
        emit(
            "send.completed",
            organization_id=send.organization_id,
            key=str(send.id),
            occurred_at=now,
            data={
                "send_id": send.id,
                "campaign_id": send.campaign_id,
                "message_id": send.message_id,
                "workshop_id": send.workshop_id,
                "messages": sum(counts.values()),
                "statuses": {status: counts[status] for status in sorted(counts)},
            },
        )
        done += 1
    db.session.commit()
    return done
