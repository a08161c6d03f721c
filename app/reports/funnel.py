"""The workshop funnel of a campaign (metrics funnel and dose_workshops; see metrics.py)."""

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, case, func, select, union_all

from app.extensions import db
from app.participation.models import ParticipationEvent as E
from app.reports.metrics import FUNNEL_KINDS
from app.reports.period import Period
from app.reports.sql import in_period, union_branch
from app.workshops.models import Workshop


@dataclass
class WorkshopFunnel:
    workshop_id: int
    code: str
    title_es: str
    title_en: str
    starts_at: datetime | None
    timezone: str
    invited: int = 0
    rsvp_yes: int = 0
    attended: int = 0
    walk_ins: int = 0
    attended_after_rsvp: int = 0
    no_shows: int = 0

    def title_for(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_es

    @property
    def local_date(self) -> date | None:
        """The day the workshop starts, at the venue."""
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).date() if self.starts_at else None


FUNNEL_FIELDS = ("invited", "rsvp_yes", "attended", "walk_ins", "attended_after_rsvp", "no_shows")

# Rows of the funnel statement: the steps of each workshop, and the contacts per number
# of different workshops attended.
STEPS, ATTENDED = "steps", "attended"
FUNNEL_LAYOUT = dict.fromkeys(("workshop_id", "workshops", "contacts", *FUNNEL_FIELDS), BigInteger)


def _steps(org_id: int, campaign_id: int, period: Period):
    """Per (contact, workshop): 1 or 0 for each step of the funnel."""

    def flag(*kinds):
        return func.max(case((E.kind.in_(kinds), 1), else_=0))

    return (
        select(
            E.workshop_id.label("workshop_id"),
            E.contact_id.label("contact_id"),
            flag("invited").label("invited"),
            flag("rsvp_yes").label("rsvp"),
            flag("attended", "walk_in").label("attended"),
            flag("walk_in").label("walk_in"),
            flag("no_show").label("no_show"),
        )
        .where(
            E.organization_id == org_id,
            E.campaign_id == campaign_id,
            E.workshop_id.is_not(None),
            E.kind.in_(FUNNEL_KINDS),
            *in_period(E.occurred_at, period),
        )
        .group_by(E.contact_id, E.workshop_id)  # the order of the campaign/contact index
        .order_by(E.contact_id, E.workshop_id)
        .cte("steps")
        .prefix_with("MATERIALIZED")
    )


def _funnel_counts(org_id: int, campaign_id: int, period: Period) -> tuple[dict, Counter]:
    """({workshop_id: {step: contacts}}, {workshops attended: contacts}), one statement."""
    st = _steps(org_id, campaign_id, period).c
    both = case((and_(st.rsvp == 1, st.attended == 1), 1), else_=0)
    missed = case((and_(st.no_show == 1, st.attended == 0), 1), else_=0)
    attended = (
        select(func.sum(st.attended).label("workshops"))
        .group_by(st.contact_id)
        .having(func.sum(st.attended) > 0)
        .subquery("attended_workshops")
    )
    statement = union_all(
        union_branch(
            FUNNEL_LAYOUT,
            STEPS,
            workshop_id=st.workshop_id,
            invited=func.sum(st.invited),
            rsvp_yes=func.sum(st.rsvp),
            attended=func.sum(st.attended),
            walk_ins=func.sum(st.walk_in),
            attended_after_rsvp=func.sum(both),
            no_shows=func.sum(missed),
        ).group_by(st.workshop_id),
        union_branch(
            FUNNEL_LAYOUT, ATTENDED, workshops=attended.c.workshops, contacts=func.count()
        ).group_by(attended.c.workshops),
    )
    counts, doses = {}, Counter()
    for row in db.session.execute(statement):
        if row.section == STEPS:
            counts[row.workshop_id] = {name: int(row._mapping[name] or 0) for name in FUNNEL_FIELDS}
        else:
            doses[int(row.workshops)] += int(row.contacts)
    return counts, doses


def workshop_funnel(
    org_id: int, campaign_id: int, period: Period
) -> tuple[list[WorkshopFunnel], Counter]:
    """Metrics funnel and dose_workshops: the steps per workshop (workshops with events in
    the period, or starting in it), and how many reached contacts attended 1, 2, 3...
    different workshops."""
    counts, doses = _funnel_counts(org_id, campaign_id, period)
    low, high = period.bounds_utc()
    workshops = db.session.execute(
        select(
            Workshop.id,
            Workshop.code,
            Workshop.title_es,
            Workshop.title_en,
            Workshop.starts_at,
            Workshop.timezone,
        )
        .where(Workshop.organization_id == org_id, Workshop.campaign_id == campaign_id)
        .order_by(Workshop.starts_at, Workshop.id)
    ).all()
    result = []
    for workshop_id, code, title_es, title_en, starts_at, zone in workshops:
        starts_inside = (low is None or starts_at >= low) and (high is None or starts_at < high)
        if workshop_id not in counts and not starts_inside:
            continue
        result.append(
            WorkshopFunnel(
                workshop_id,
                code,
                title_es,
                title_en,
                starts_at,
                zone,
                **counts.get(workshop_id, {}),
            )
        )
    return result, doses
