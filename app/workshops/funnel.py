"""The invited → confirmed → attended funnel of workshops (set-based counts)."""

from sqlalchemy import case, func, select

from app.extensions import db
from app.workshops.models import Workshop, WorkshopRegistration

FUNNEL_KEYS = ("invited", "confirmed", "waitlisted", "declined", "attended", "walk_ins", "no_shows")


def _funnel_columns():
    reg = WorkshopRegistration

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    attended = reg.attended_at.is_not(None)
    return (
        count(reg.invited_at.is_not(None)),
        count((reg.status == "confirmed") & reg.walk_in.is_(False)),
        count(reg.status == "waitlisted"),
        count(reg.status.in_(("declined", "canceled"))),
        count(attended),
        count(attended & reg.walk_in.is_(True)),
        count(reg.no_show.is_(True)),
    )


def workshop_funnels(organization_id: int, workshop_ids) -> dict[int, dict[str, int]]:
    """`workshop_funnel` for several workshops in one query (missing ids: all zeros)."""
    ids = list(workshop_ids)
    funnels = {wid: dict.fromkeys(FUNNEL_KEYS, 0) for wid in ids}
    if not ids:
        return funnels
    reg = WorkshopRegistration
    rows = db.session.execute(
        select(reg.workshop_id, *_funnel_columns())
        .where(reg.organization_id == organization_id, reg.workshop_id.in_(ids))
        .group_by(reg.workshop_id)
    )
    for workshop_id, *counts in rows:
        funnels[workshop_id] = dict(zip(FUNNEL_KEYS, map(int, counts), strict=True))
    return funnels


def workshop_funnel(workshop: Workshop) -> dict[str, int]:
    """Invited → RSVP → attendance counts of one workshop, computed in SQL.

    - invited: registrations created by an SMS invitation (whatever they answered);
    - confirmed: confirmed seats (walk-ins excluded); waitlisted: on the waitlist;
    - declined: said no, or canceled after saying yes;
    - attended: checked in (walk-ins included); walk_ins: attended without a seat;
    - no_shows: confirmed but not checked in when the workshop was completed.
    """
    return workshop_funnels(workshop.organization_id, [workshop.id])[workshop.id]
