"""What a campaign says to the outbox: its messages go out only while it is active (held
while paused, canceled once completed, archived or back in draft). Registered as an outbox
guard, as the program name the HELP reply gives, and as the options of its messages' texts
(which track their plain web addresses), when the app is built."""

from sqlalchemy import exists, or_, select

from app.campaigns.models import Campaign, CampaignMessage
from app.extensions import db
from app.outbox.finalizers import TRACK_LINKS, register_message_options
from app.outbox.guards import Guard, Verdict, register_guard
from app.outbox.inbound import register_program_name
from app.outbox.models import ANSWERS, OutboxMessage

HELD = Verdict("held")


def _verdicts(rows) -> dict:
    ids = {r.campaign_id for r in rows if r.campaign_id}
    query = select(Campaign.id, Campaign.status).where(Campaign.id.in_(ids))
    statuses = dict(db.session.execute(query).all()) if ids else {}
    found = {}
    for row in rows:
        if not row.campaign_id:
            continue  # not a campaign's message (a survey's question, a staff alert...)
        status = statuses.get(row.campaign_id)
        # A campaign message without its campaign waits (as when paused).
        if status is None or status == "paused":
            found[row.id] = HELD
        elif status != "active":
            found[row.id] = Verdict("canceled", "campaign_" + status)
    return found


def _still_allowed():
    return or_(
        OutboxMessage.purpose.in_(ANSWERS),
        OutboxMessage.campaign_id.is_(None),
        exists().where(Campaign.id == OutboxMessage.campaign_id, Campaign.status == "active"),
    )


def _program_name(campaign_id: int) -> str | None:
    return db.session.scalar(select(Campaign.name).where(Campaign.id == campaign_id))


def _message_options(message_ids: set[int]) -> dict:
    """The messages whose plain web addresses become tracked links (app/links)."""
    query = select(CampaignMessage.id).where(
        CampaignMessage.id.in_(message_ids), CampaignMessage.track_links.is_(True)
    )
    return {message_id: frozenset((TRACK_LINKS,)) for message_id in db.session.scalars(query)}


register_guard(Guard("campaign", verdicts=_verdicts, still_allowed=_still_allowed))
register_program_name(_program_name)
register_message_options(_message_options)
