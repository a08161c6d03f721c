"""The organization report: every campaign's headline figures, the organization's (people
counted once) and the campaigns grouped by CSAP strategy and IOM level."""

from dataclasses import dataclass, fields

from sqlalchemy import Integer, String, cast, distinct, func, or_, select, union_all

from app.campaigns.models import Campaign
from app.extensions import db
from app.organizations.models import Organization
from app.participation.models import ParticipationEvent as E
from app.participation.rollups import ReachHourRollup, ReachRollup
from app.reports.cache import Computed, cached
from app.reports.conversations import ConversationFigures, conversation_figures
from app.reports.messages import attributed_opt_outs
from app.reports.metrics import FAILURE_KINDS, REACH_KINDS, WORKSHOP_REACH_KINDS
from app.reports.numbers import ratio
from app.reports.period import Period, period_hours
from app.reports.sql import allow_large_hash_aggregates, count_if, in_period, union_branch


@dataclass
class Counts:
    """Reached people and final message reports of a campaign or a group of campaigns."""

    reached: int = 0
    sms_reached: int = 0
    workshop_reached: int = 0
    delivered: int = 0
    failed: int = 0
    undelivered: int = 0


COUNT_FIELDS = tuple(f.name for f in fields(Counts))


@dataclass
class CampaignSummary:
    campaign_id: int
    name: str
    status: str
    strategy: str
    level: str
    target_population: int | None
    reached: int = 0
    sms_reached: int = 0
    workshop_reached: int = 0
    delivered: int = 0
    failed: int = 0
    undelivered: int = 0
    opt_outs: int = 0

    @property
    def delivery_rate(self) -> float | None:
        return ratio(self.delivered, self.delivered + self.failed + self.undelivered)

    @property
    def reach_proportion(self) -> float | None:
        return ratio(self.reached, self.target_population)

    @property
    def opt_out_rate(self) -> float | None:
        return ratio(self.opt_outs, self.sms_reached)


@dataclass
class Rollup:
    """Campaigns grouped by strategy or level: people counted once per group."""

    code: str
    campaigns: int = 0
    reached: int = 0
    sms_reached: int = 0
    workshop_reached: int = 0
    delivered: int = 0


@dataclass
class OrganizationFigures:
    period: Period
    campaigns: list[CampaignSummary]
    reached: int
    sms_reached: int
    workshop_reached: int
    delivered: int
    failed: int
    undelivered: int
    opt_outs: int
    by_strategy: list[Rollup]
    by_level: list[Rollup]
    conversations: ConversationFigures | None = None

    @property
    def delivery_rate(self) -> float | None:
        return ratio(self.delivered, self.delivered + self.failed + self.undelivered)

    @property
    def opt_out_rate(self) -> float | None:
        return ratio(self.opt_outs, self.sms_reached)


def _campaign_summaries(org_id: int) -> dict[int, CampaignSummary]:
    """Every campaign of the organization, newest first, with no figures yet."""
    campaigns = db.session.execute(
        select(
            Campaign.id,
            Campaign.name,
            Campaign.status,
            Campaign.strategy,
            Campaign.level,
            Campaign.target_population,
        )
        .where(Campaign.organization_id == org_id)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    ).all()
    return {row[0]: CampaignSummary(*row) for row in campaigns}


# Rows of the counts statement (`section`), each with a `key` and the COUNT_FIELDS.
PER_CAMPAIGN, ORGANIZATION = "campaign", "organization"
PER_STRATEGY, PER_LEVEL = "strategy", "level"
COUNTS_LAYOUT = {"key": String, **dict.fromkeys(COUNT_FIELDS, Integer)}


def _pairs_from_events(org_id: int, period: Period):
    """The reference (tests, bench): the organization's events grouped by (campaign,
    contact) once, in the order of `ix_participation_campaign_contact`."""
    return (
        select(
            E.campaign_id.label("campaign_id"),
            E.contact_id.label("contact_id"),
            count_if(E.kind == "sms_delivered").label("delivered"),
            count_if(E.kind.in_(WORKSHOP_REACH_KINDS)).label("attended"),
            count_if(E.kind == "sms_failed").label("failed"),
            count_if(E.kind == "sms_undelivered").label("undelivered"),
        )
        .where(
            E.organization_id == org_id,
            E.campaign_id.is_not(None),
            E.kind.in_(REACH_KINDS + FAILURE_KINDS),
            *in_period(E.occurred_at, period),
        )
        .group_by(E.campaign_id, E.contact_id)
        .order_by(E.campaign_id, E.contact_id)  # streamed from the campaign/contact index
    )


def _pairs_from_rollups(org_id: int, period: Period):
    """The same (campaign, contact) rows from the rollups: `participation_reach` for all
    time, the contact hours inside the period otherwise; None when the period's bounds
    are not whole UTC hours (only the events are exact then)."""
    hours = period_hours(period)
    if hours is None:
        return None
    if hours == (None, None):
        R = ReachRollup
        return select(
            R.campaign_id.label("campaign_id"),
            R.contact_id.label("contact_id"),
            R.delivered.label("delivered"),
            R.attended.label("attended"),
            R.failed.label("failed"),
            R.undelivered.label("undelivered"),
        ).where(R.organization_id == org_id)
    H, (low, high) = ReachHourRollup, hours
    return (
        select(
            H.campaign_id.label("campaign_id"),
            H.contact_id.label("contact_id"),
            *(func.sum(H.__table__.c[name]).label(name) for name in PAIR_COUNTS),
        )
        .where(
            H.organization_id == org_id,
            *([H.hour >= low] if low is not None else []),
            *([H.hour < high] if high is not None else []),
        )
        .group_by(H.campaign_id, H.contact_id)
    )


PAIR_COUNTS = ("delivered", "attended", "failed", "undelivered")


def _counts_statement(pairs):
    """One statement: the (campaign, contact) rows of `pairs` (columns campaign_id,
    contact_id and PAIR_COUNTS), kept as a MATERIALIZED CTE, counted per campaign, per
    strategy, per level and overall."""
    pairs = pairs.cte("pairs").prefix_with("MATERIALIZED")
    q = pairs.c
    sms, workshop = q.delivered > 0, q.attended > 0
    reached = or_(sms, workshop)
    messages = {
        "delivered": func.sum(q.delivered),
        "failed": func.sum(q.failed),
        "undelivered": func.sum(q.undelivered),
    }
    per_campaign = {  # a (campaign, contact) pair is one person of the campaign
        "reached": func.count().filter(reached),
        "sms_reached": func.count().filter(sms),
        "workshop_reached": func.count().filter(workshop),
        **messages,
    }

    def people(condition):
        return func.count(distinct(q.contact_id)).filter(condition)

    distinct_people = {  # across campaigns, a contact counts once
        "reached": people(reached),
        "sms_reached": people(sms),
        "workshop_reached": people(workshop),
        **messages,
    }

    def rollup(section, column):
        return (
            union_branch(COUNTS_LAYOUT, section, key=column, **distinct_people)
            .select_from(pairs)
            .join(Campaign, Campaign.id == q.campaign_id)
            .group_by(column)
        )

    return union_all(
        union_branch(
            COUNTS_LAYOUT, PER_CAMPAIGN, key=cast(q.campaign_id, String), **per_campaign
        ).group_by(q.campaign_id),
        union_branch(COUNTS_LAYOUT, ORGANIZATION, **distinct_people).select_from(pairs),
        rollup(PER_STRATEGY, Campaign.strategy),
        rollup(PER_LEVEL, Campaign.level),
    )


def _with_campaign_counts(
    found: dict[str, Rollup], summaries: list[CampaignSummary], attribute: str
) -> list[Rollup]:
    """The rollups, and one for every strategy (or level) of a campaign without events."""
    for s in summaries:
        code = getattr(s, attribute)
        found.setdefault(code, Rollup(code)).campaigns += 1
    return list(found.values())


def organization_figures(
    org_id: int, period: Period, *, from_rollups: bool = True
) -> OrganizationFigures:
    """Metrics reached, delivery_rate, opt_out_rate, reach_proportion for every campaign,
    the organization (people counted once) and by CSAP strategy and IOM level.

    The people and the opt-outs' attribution come from the rollups (participation.rollups,
    participation.attribution); `from_rollups=False` reads the raw events instead, the
    reference the tests and the bench compare with."""
    allow_large_hash_aggregates()
    pairs = _pairs_from_rollups(org_id, period) if from_rollups else None
    if pairs is None:
        pairs = _pairs_from_events(org_id, period)
    summaries = _campaign_summaries(org_id)
    totals = Counts()
    rollups = {PER_STRATEGY: {}, PER_LEVEL: {}}
    for row in db.session.execute(_counts_statement(pairs)):
        counts = Counts(**{name: int(row._mapping[name] or 0) for name in COUNT_FIELDS})
        if row.section == PER_CAMPAIGN:
            summary = summaries.get(int(row.key))
            if summary is not None:
                for name in COUNT_FIELDS:
                    setattr(summary, name, getattr(counts, name))
        elif row.section == ORGANIZATION:
            totals = counts
        else:
            rollups[row.section][row.key] = Rollup(
                row.key,
                reached=counts.reached,
                sms_reached=counts.sms_reached,
                workshop_reached=counts.workshop_reached,
                delivered=counts.delivered,
            )

    opt_outs = attributed_opt_outs(
        org_id,
        period,
        "campaign_id",
        lambda a: a.campaign_id.is_not(None),
        from_rollups=from_rollups,
    )
    for campaign_id, n in opt_outs.by.items():
        if campaign_id in summaries:
            summaries[campaign_id].opt_outs = n

    campaigns = list(summaries.values())
    return OrganizationFigures(
        period=period,
        campaigns=campaigns,
        reached=totals.reached,
        sms_reached=totals.sms_reached,
        workshop_reached=totals.workshop_reached,
        delivered=totals.delivered,
        failed=totals.failed,
        undelivered=totals.undelivered,
        opt_outs=opt_outs.total,
        by_strategy=_with_campaign_counts(rollups[PER_STRATEGY], campaigns, "strategy"),
        by_level=_with_campaign_counts(rollups[PER_LEVEL], campaigns, "level"),
        conversations=conversation_figures(org_id, period, _ack_minutes(org_id)),
    )


def _ack_minutes(org_id: int) -> int:
    """The organization's target for acknowledging a case (minutes)."""
    return db.session.get(Organization, org_id).case_ack_minutes or 15


def cached_organization_figures(org, period: Period) -> Computed:
    """`organization_figures` through the report cache: the reports page and the dashboard
    share one entry per organization and period."""
    return cached(organization_key(org, period), lambda: organization_figures(org.id, period))


def organization_key(org, period: Period) -> tuple:
    """The cache key of the organization's figures for `period` (their HTML's too)."""
    return ("organization", org.id, period)
