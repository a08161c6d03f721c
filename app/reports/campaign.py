"""The campaign report: every figure of the campaign dashboard, exact.

Each figure implements a `metrics.METRICS` key. Results are plain dataclasses of exact
numbers: suppression for evaluators is applied later, when the numbers become tables
(`tables.py`), so the CLI, the pages and the exports share them.

A campaign report is six statements: reach (`reach.campaign_reach`: the campaign's
reached contacts from the rollups, one row each, as a MATERIALIZED CTE that four GROUP
BYs read), the
rare SMS outcomes (failures, replies), the workshop funnel, the opt-out attribution, the
targeted audience and the message labels. Python only adds up their small grouped
results: municipality spellings that differ by accents or case, and the UTC hours of
the time series into local days (correct across DST changes, and the same on both
backends). `bench/reports.py` times them on 200,000 contacts and 1,000,000 events.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.campaigns.models import Campaign, CampaignMessage
from app.extensions import db
from app.reports.channels import ChannelFigures, channel_figures, message_channels
from app.reports.conversations import ConversationFigures, conversation_figures
from app.reports.funnel import FUNNEL_FIELDS, WorkshopFunnel, workshop_funnel
from app.reports.messages import Failures, campaign_opt_outs, sms_outcomes
from app.reports.numbers import ratio
from app.reports.period import Period, auto_granularity
from app.reports.reach import (
    Group,
    MessageReach,
    NewlyReached,
    campaign_reach,
    campaign_reach_from_events,
    targeted_groups,
)
from app.reports.sql import allow_large_hash_aggregates


@dataclass
class SeriesPoint:
    start: date  # the day, or the Monday of the week
    new: int
    cumulative: int


@dataclass
class MessageFigures:
    message_id: int | None
    label: str | None
    delivered: int
    delivered_contacts: int
    opt_outs: int
    failed: int = 0
    undelivered: int = 0
    clicked: int = 0  # distinct contacts who clicked one of its tracked links

    @property
    def click_through(self) -> float | None:
        return ratio(self.clicked, self.delivered_contacts)

    @property
    def delivery_rate(self) -> float | None:
        return ratio(self.delivered, self.delivered + self.failed + self.undelivered)


@dataclass
class PlaceFigures:
    country: str
    state: str
    municipality: str | None
    target: int


@dataclass
class CampaignFigures:
    campaign_id: int
    period: Period
    reference_year: int
    reached_groups: list[Group]
    targeted_groups: list[Group]
    message_doses: Counter  # delivered messages -> reached contacts (0 included)
    workshop_doses: Counter  # workshops attended (1 and more) -> contacts
    delivered: int
    failed: int
    undelivered: int
    replies: int
    failure_codes: dict[str | None, int]
    opt_outs: int
    messages: list[MessageFigures]
    workshops: list[WorkshopFunnel]
    series: list[SeriesPoint]
    granularity: str
    target_population: int | None
    places: list[PlaceFigures] = field(default_factory=list)
    # The whole organization's conversation funnel: this report shows the campaign's part
    # of the one suppressed table (conversations.py).
    conversations: ConversationFigures | None = None
    engaged: int = 0  # metric engaged: replied, RSVPed, answered a survey or clicked
    # Reach by channel, read rates per message and channel, spend (channels.py; issue 19).
    by_channel: ChannelFigures | None = None

    # -- derived figures (exact) --
    @property
    def channels(self) -> Counter:
        counts = Counter()
        for g in self.reached_groups:
            counts[g.channel] += g.n
        return counts

    @property
    def reached(self) -> int:
        return sum(g.n for g in self.reached_groups)

    @property
    def targeted(self) -> int:
        return sum(g.n for g in self.targeted_groups)

    @property
    def sms_reached(self) -> int:
        c = self.channels
        return c["sms_only"] + c["both"]

    @property
    def workshop_reached(self) -> int:
        c = self.channels
        return c["workshop_only"] + c["both"]

    @property
    def final_reports(self) -> int:
        return self.delivered + self.failed + self.undelivered

    @property
    def delivery_rate(self) -> float | None:
        return ratio(self.delivered, self.final_reports)

    @property
    def opt_out_rate(self) -> float | None:
        return ratio(self.opt_outs, self.sms_reached)

    @property
    def reply_rate(self) -> float | None:
        return ratio(self.replies, self.sms_reached)

    @property
    def engagement_rate(self) -> float | None:
        return ratio(self.engaged, self.sms_reached)

    @property
    def reach_proportion(self) -> float | None:
        return ratio(self.reached, self.target_population)

    @property
    def message_dose(self) -> Counter:
        return Counter(self.message_doses)

    @property
    def workshop_dose(self) -> Counter:
        """Workshops per reached contact, 0 for the contacts reached by SMS only."""
        counts = Counter(self.workshop_doses)
        nobody = self.reached - sum(counts.values())
        if nobody:
            counts[0] += nobody
        return counts

    @property
    def attendances(self) -> int:
        return sum(k * n for k, n in self.workshop_doses.items())

    def funnel_totals(self) -> dict[str, int]:
        return {name: sum(getattr(w, name) for w in self.workshops) for name in FUNNEL_FIELDS}


def _day_key(day: date) -> date:
    return day


def _week_key(day: date) -> date:
    return day - timedelta(days=day.weekday())


def time_series(
    hours: list[NewlyReached], period: Period, today: date, chosen: str | None
) -> tuple[list[SeriesPoint], str]:
    """Metric time_series: newly reached contacts per local day or week (and the step)."""
    zone = ZoneInfo(period.tz)
    per_day = Counter()
    for hour, n in hours:  # whole UTC hours: every zone we serve is a whole-hour offset
        instant = datetime.fromtimestamp(hour * 3600, UTC)
        per_day[instant.astimezone(zone).date()] += n
    first = period.start or (min(per_day) if per_day else None)
    last = period.end or (max(per_day) if per_day else None)
    if first is None or last is None:
        return [], chosen or "day"
    if last > today:  # never draw the future, but keep any (clock-skewed) data visible
        last = max(today, max(per_day) if per_day else today)
    if last < first:
        return [], chosen or "day"
    step = auto_granularity(first, last, chosen)
    key = _week_key if step == "week" else _day_key
    buckets = Counter()
    for day, n in per_day.items():
        buckets[key(day)] += n
    points, running = [], 0
    current, end = key(first), key(last)
    delta = timedelta(days=7 if step == "week" else 1)
    while current <= end:
        running += buckets[current]
        points.append(SeriesPoint(current, buckets[current], running))
        current += delta
    return points, step


def _message_labels(org_id: int, campaign_id: int) -> dict[int, str]:
    return dict(
        db.session.execute(
            select(CampaignMessage.id, CampaignMessage.label)
            .where(
                CampaignMessage.organization_id == org_id,
                CampaignMessage.campaign_id == campaign_id,
            )
            .order_by(CampaignMessage.id)
        ).all()
    )


def _message_figures(
    labels: dict[int, str],
    reach: dict[int | None, MessageReach],
    opt_outs: dict[int | None, int],
    failures: dict[int | None, Failures],
    clicks: dict[int | None, int] | None = None,
) -> list[MessageFigures]:
    """The campaign's messages with any delivery, opt-out or failure, then (None) the
    ones without a known message: workshop notices and other messages without a label."""

    def used(m) -> bool:
        delivered = reach.get(m, MessageReach(0, 0)).delivered
        return bool(delivered or opt_outs.get(m) or failures.get(m))

    message_ids = [m for m in labels if used(m)]
    if used(None):
        message_ids.append(None)
    figures = []
    for m in message_ids:
        delivered = reach.get(m, MessageReach(0, 0))
        failed = failures.get(m, Failures(0, 0))
        figures.append(
            MessageFigures(
                message_id=m,
                label=labels.get(m),
                delivered=delivered.delivered,
                delivered_contacts=delivered.contacts,
                opt_outs=opt_outs.get(m, 0),
                failed=failed.failed,
                undelivered=failed.undelivered,
                clicked=(clicks or {}).get(m, 0),
            )
        )
    return figures


def campaign_figures(
    campaign: Campaign,
    period: Period,
    *,
    today: date,
    granularity: str | None = None,
    from_rollups: bool = True,
) -> CampaignFigures:
    """Every figure of the campaign dashboard for `period` (exact; see metrics.py).

    Reach and opt-outs come from the rollups (participation.rollups, .attribution);
    `from_rollups=False` reads the raw events instead, the reference the tests and the
    bench compare with."""
    org_id, campaign_id = campaign.organization_id, campaign.id
    allow_large_hash_aggregates()
    reference_year = min(period.end or today, today).year
    labels = _message_labels(org_id, campaign_id)
    reach = (campaign_reach if from_rollups else campaign_reach_from_events)(
        org_id, campaign_id, period, list(labels)
    )
    outcomes = sms_outcomes(org_id, campaign_id, period)
    workshops, workshop_doses = workshop_funnel(org_id, campaign_id, period)
    opt_outs = campaign_opt_outs(org_id, campaign_id, period, from_rollups=from_rollups)
    series, step = time_series(reach.hours, period, today, granularity)
    workshop_only = sum(g.n for g in reach.groups if g.channel == "workshop_only")
    figures = CampaignFigures(
        campaign_id=campaign_id,
        period=period,
        reference_year=reference_year,
        reached_groups=reach.groups,
        targeted_groups=targeted_groups(
            org_id, campaign_id, today=today, reference_year=reference_year
        ),
        message_doses=reach.message_doses,
        workshop_doses=workshop_doses,
        delivered=reach.delivered,
        failed=outcomes.failed,
        undelivered=outcomes.undelivered,
        replies=outcomes.replies,
        failure_codes=outcomes.code_counts(),
        opt_outs=opt_outs.total,
        messages=_message_figures(
            labels,
            reach.per_message,
            opt_outs.by,
            outcomes.by_message(set(labels)),
            {m: n for m, n in outcomes.clicks.items() if m in labels},
        ),
        engaged=outcomes.engaged,
        workshops=workshops,
        series=series,
        granularity=step,
        target_population=campaign.target_population,
        places=[
            PlaceFigures(p.country, p.state_code, p.municipality, p.target_population)
            for p in campaign.places
            if p.target_population
        ],
        conversations=conversation_figures(
            org_id, period, campaign.organization.case_ack_minutes or 15
        ),
        by_channel=channel_figures(
            org_id, campaign_id, period, [*labels, None], workshop_only=workshop_only
        ),
    )
    figures.by_channel.messages = message_channels(figures.messages, figures.by_channel.whatsapp)
    return figures
