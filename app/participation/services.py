"""Recording participation events (the reporting issue reads them)."""

from datetime import datetime

from app.extensions import db
from app.participation.models import CHANNELS, KINDS, ParticipationEvent


def record_event(
    *,
    organization_id: int,
    contact_id: int,
    kind: str,
    channel: str,
    occurred_at: datetime,
    campaign_id=None,
    message_id=None,
    outbox_id=None,
    workshop_id=None,
    detail=None,
) -> ParticipationEvent:
    """Add one event to the session (the caller's unit of work commits it)."""
    if kind not in KINDS or channel not in CHANNELS:
        raise ValueError(f"unknown participation kind/channel: {kind}/{channel}")
    event = ParticipationEvent(
        organization_id=organization_id,
        contact_id=contact_id,
        kind=kind,
        channel=channel,
        occurred_at=occurred_at,
        campaign_id=campaign_id,
        message_id=message_id,
        outbox_id=outbox_id,
        workshop_id=workshop_id,
        detail=detail,
    )
    db.session.add(event)
    return event
