"""The campaign message editor's preview of a campaign's workshops (registered with
app.campaigns.previews when the app is built): their placeholder values and RSVP line."""

from sqlalchemy import and_, or_, select

from app.campaigns.previews import PreviewEvent, register_preview_events
from app.extensions import db
from app.i18n import current_language
from app.outreach.models import OutreachSend
from app.timeutil import utcnow
from app.workshops.models import Workshop
from app.workshops.texts import rsvp_line, workshop_values

LANGUAGES = ("es", "en")


def _invited_by(message) -> set[int]:
    """Workshops this message already invites to (a scheduled invitation send)."""
    if message is None or message.id is None:
        return set()
    return set(
        db.session.scalars(
            select(OutreachSend.workshop_id).where(
                OutreachSend.message_id == message.id,
                OutreachSend.workshop_id.is_not(None),
                OutreachSend.status == "scheduled",
            )
        )
    )


def workshop_events(campaign, message) -> list[PreviewEvent]:
    """The campaign's upcoming workshops, and any this message invites to, soonest first."""
    invited = _invited_by(message)
    workshops = db.session.scalars(
        select(Workshop)
        .where(
            Workshop.organization_id == campaign.organization_id,
            Workshop.campaign_id == campaign.id,
            or_(
                Workshop.id.in_(invited),
                and_(Workshop.status == "scheduled", Workshop.starts_at >= utcnow()),
            ),
        )
        .order_by(Workshop.starts_at)
    ).all()
    ui = current_language()
    events = []
    for workshop in workshops:
        values = {lang: workshop_values(workshop, lang) for lang in LANGUAGES}
        events.append(
            PreviewEvent(
                key=f"workshop-{workshop.id}",
                label=" · ".join(
                    (workshop.title_for(ui), values[ui]["workshop_date"], workshop.code)
                ),
                values=values,
                footers={lang: rsvp_line(workshop, lang) for lang in LANGUAGES},
                invited=workshop.id in invited,
            )
        )
    return events


register_preview_events(workshop_events)
