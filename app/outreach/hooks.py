"""How sends take part in what other packages do (wired when the app is built):

- an outbox guard: a canceled send stops every message it has not handed to the provider;
- campaign signals: a completed or archived campaign cancels its sends; a campaign message
  can be deleted only when none of its sends is pending, and takes its canceled sends (and
  their never-sent messages) with it.
"""

from sqlalchemy import delete, exists, or_, select

from app.campaigns.services import SCHEDULED_MESSAGE
from app.campaigns.signals import campaign_closed, message_deleting
from app.errors import DomainError
from app.extensions import db
from app.outbox import api as outbox
from app.outbox.guards import Guard, Verdict, register_guard
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend
from app.outreach.services import mark_sends_canceled

CANCELED = Verdict("canceled", "send_canceled")


def _verdicts(rows) -> dict:
    send_ids = {r.send_id for r in rows if r.send_id}
    if not send_ids:
        return {}
    canceled = set(
        db.session.scalars(
            select(OutreachSend.id).where(
                OutreachSend.id.in_(send_ids), OutreachSend.status == "canceled"
            )
        )
    )
    return {r.id: CANCELED for r in rows if r.send_id in canceled}


def _still_allowed():
    return or_(
        OutboxMessage.send_id.is_(None),
        exists().where(OutreachSend.id == OutboxMessage.send_id, OutreachSend.status != "canceled"),
    )


def _withdrawn(row) -> str | None:
    if row.send_id is None:
        return None
    status = db.session.scalar(select(OutreachSend.status).where(OutreachSend.id == row.send_id))
    return "send_canceled" if status == "canceled" else None


register_guard(
    Guard(
        "send", verdicts=_verdicts, still_allowed=_still_allowed, withdrawn=_withdrawn, first=True
    )
)


@campaign_closed.connect
def _cancel_sends(campaign, *, status, now):
    mark_sends_canceled(campaign_id=campaign.id, now=now)


@message_deleting.connect
def _delete_canceled_sends(message):
    sends = select(OutreachSend.id).where(OutreachSend.message_id == message.id)
    if db.session.scalar(select(exists(sends.where(OutreachSend.status != "canceled")))):
        raise DomainError(SCHEDULED_MESSAGE)
    # Explicit, so SQLite (no enforced foreign keys) and PostgreSQL end up the same.
    outbox.delete_never_sent(where=(OutboxMessage.send_id.in_(sends),))
    db.session.execute(
        delete(OutreachSend)
        .where(OutreachSend.message_id == message.id)
        .execution_options(synchronize_session=False)
    )
