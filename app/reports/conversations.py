"""The conversation funnel (metric "conversation_funnel"; see metrics.py): replies → cases
(urgent / normal) → acknowledged within the organization's target → referred, with the time
to acknowledge (median and 90th percentile, in minutes), per campaign and per month (the
organization's time zone).

One table of the whole organization for the period, (campaign, month) cells plus their
campaign, month and overall totals, is suppressed once (`conversation_cells`): the
organization report shows the campaign and month rows, each campaign report its own
(campaign, month) rows and campaign row. Every page shows a part of one protected table,
so putting two pages side by side recovers nothing either.

Replies are contacts who sent a free-text reply, counted once per campaign and month (a
campaign's row counts each contact once, like the campaign report's "Contacts who
replied", which shows the same figure exactly: an anchor). Cases are counted when they
open in the period; percentiles are computed in Python from each case's duration (the
same on SQLite and PostgreSQL); a case never acknowledged has no duration and counts as
"not acknowledged within target".
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select

from app.campaigns.models import Campaign
from app.conversations.models import Case, Referral
from app.extensions import db
from app.participation.models import ParticipationEvent as E
from app.reports.period import Period
from app.reports.sql import in_period
from app.reports.suppression import ANCHOR, PART, SMALL, TOTAL, Hidden, Linked, derived

# The counts of a funnel row, in the order of the tables.
STEP_FIELDS = (
    "replies",
    "cases",
    "urgent",
    "normal",
    "within_target",
    "not_within_target",
    "referred",
)
CASE_FIELDS = STEP_FIELDS[1:]
NO_CAMPAIGN = None  # the row of replies and cases without a campaign


@dataclass
class CaseTiming:
    """What the funnel needs of one case (never its contact nor its messages)."""

    campaign_id: int | None
    priority: str
    opened_at: datetime
    urgent_since: datetime | None
    acknowledged_at: datetime | None
    referred: bool

    @property
    def minutes(self) -> float | None:
        """Minutes from the moment the case needed a person to its acknowledgement."""
        if self.acknowledged_at is None:
            return None
        start = self.opened_at
        if self.priority == "urgent" and self.urgent_since is not None:
            start = self.urgent_since
        return max(0.0, (self.acknowledged_at - start).total_seconds() / 60)


@dataclass
class ConversationFigures:
    """Exact figures of the funnel; `cells` per (campaign_id, "YYYY-MM")."""

    period: Period
    target_minutes: int
    campaigns: list[tuple[int | None, str]]  # rows, in order; NO_CAMPAIGN last when used
    months: list[str]
    cells: dict = field(default_factory=dict)  # (campaign, month) -> {field: n}
    campaign_replies: dict = field(default_factory=dict)  # campaign -> contacts
    total_replies: int = 0  # contacts, once per campaign
    durations: dict = field(default_factory=dict)  # (campaign, month) -> [minutes]

    def pairs(self, campaign_id=..., month=...) -> list[tuple]:
        return [
            key
            for key in self.cells
            if (campaign_id is ... or key[0] == campaign_id) and (month is ... or key[1] == month)
        ]

    def minutes(self, campaign_id=..., month=...) -> list[float]:
        return sorted(
            m for key in self.pairs(campaign_id, month) for m in self.durations.get(key, [])
        )


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 2)


def _month(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def _cases(org_id: int, period: Period) -> list[CaseTiming]:
    referred = exists().where(Referral.case_id == Case.id)
    rows = db.session.execute(
        select(
            Case.campaign_id,
            Case.priority,
            Case.opened_at,
            Case.urgent_since,
            Case.acknowledged_at,
            referred,
        )
        .where(Case.organization_id == org_id, *in_period(Case.opened_at, period))
        .order_by(Case.opened_at, Case.id)
    ).all()
    return [CaseTiming(*row) for row in rows]


def _replies(org_id: int, period: Period, zone: ZoneInfo) -> tuple[dict, dict]:
    """Contacts who replied per (campaign, month) and per campaign."""
    rows = db.session.execute(
        select(E.campaign_id, E.contact_id, E.occurred_at)
        .where(E.organization_id == org_id, E.kind == "reply", *in_period(E.occurred_at, period))
        .distinct()
    ).all()
    per_month, per_campaign = defaultdict(set), defaultdict(set)
    for campaign_id, contact_id, occurred_at in rows:
        per_month[(campaign_id, _month(occurred_at, zone))].add(contact_id)
        per_campaign[campaign_id].add(contact_id)
    return (
        {key: len(v) for key, v in per_month.items()},
        {key: len(v) for key, v in per_campaign.items()},
    )


def conversation_figures(org_id: int, period: Period, target_minutes: int) -> ConversationFigures:
    """Metric conversation_funnel for the organization and `period` (exact)."""
    zone = ZoneInfo(period.tz)
    replies, campaign_replies = _replies(org_id, period, zone)
    cells: dict = defaultdict(lambda: dict.fromkeys(STEP_FIELDS, 0))
    durations: dict = defaultdict(list)
    for key, n in replies.items():
        cells[key]["replies"] = n
    for case in _cases(org_id, period):
        key = (case.campaign_id, _month(case.opened_at, zone))
        row = cells[key]
        row["cases"] += 1
        row["urgent" if case.priority == "urgent" else "normal"] += 1
        minutes = case.minutes
        if minutes is not None:
            durations[key].append(minutes)
        row[
            "within_target"
            if minutes is not None and minutes <= target_minutes
            else "not_within_target"
        ] += 1
        row["referred"] += int(bool(case.referred))
    campaigns = [
        tuple(row)
        for row in db.session.execute(
            select(Campaign.id, Campaign.name)
            .where(Campaign.organization_id == org_id)
            .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        ).all()
    ]
    known = {c for c, _name in campaigns}
    cells = {key: row for key, row in cells.items() if key[0] in known or key[0] is None}
    if any(key[0] is None for key in cells):
        campaigns.append((NO_CAMPAIGN, ""))
    return ConversationFigures(
        period=period,
        target_minutes=target_minutes,
        campaigns=campaigns,
        months=sorted({key[1] for key in cells}),
        cells=dict(sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0] or 0))),
        campaign_replies={c: n for c, n in campaign_replies.items() if c in known or c is None},
        total_replies=sum(n for c, n in campaign_replies.items() if c in known or c is None),
        durations={key: sorted(v) for key, v in durations.items()},
    )


# --- suppression -------------------------------------------------------------------------

# Cell keys: (CELL, campaign, month, field), (CAMPAIGN, campaign, field),
# (MONTH, month, field), (OVERALL, field).
CELL, CAMPAIGN, MONTH, OVERALL = "conv", "conv_campaign", "conv_month", "conv_total"


@dataclass
class ConversationCells:
    """Every count of the funnel as the viewer sees it, and the time to acknowledge."""

    shown: dict
    threshold: int | None

    def row(self, *key) -> dict:
        """{field: shown value} of one row: (CELL, c, m), (CAMPAIGN, c), (MONTH, m), (OVERALL,)."""
        return {name: self.shown[(*key, name)] for name in STEP_FIELDS}


def _row_identities(linked: Linked, row: tuple) -> None:
    """Within a row: cases are urgent + normal, within + not within target, and at least
    the referred ones."""
    cases = (*row, "cases")
    linked.partition(cases, [(*row, "urgent"), (*row, "normal")])
    linked.partition(cases, [(*row, "within_target"), (*row, "not_within_target")])
    rest = linked.values[cases] - linked.values[(*row, "referred")]
    slack = linked.slack(("slack", *row, "referred"), rest)
    linked.equation({cases: -1, (*row, "referred"): 1, slack: 1})


def conversation_cells(f: ConversationFigures, threshold: int | None) -> ConversationCells:
    """The whole organization's funnel, suppressed once for the viewer (`threshold` None:
    exact). Campaign rows' replies are anchors (the campaign report shows them exactly)."""
    linked = Linked(threshold)
    campaign_ids = [c for c, _name in f.campaigns]
    for c in campaign_ids:
        for m in f.months:
            if (c, m) in f.cells:
                for name in STEP_FIELDS:
                    role = ANCHOR if name == "replies" and c is not None else PART
                    linked.add((CELL, c, m, name), f.cells[(c, m)][name], role)
    for name in STEP_FIELDS:
        overall = linked.add(
            (OVERALL, name),
            f.total_replies if name == "replies" else sum(r[name] for r in f.cells.values()),
            TOTAL,
        )
        for c in campaign_ids:
            keys = [(CELL, c, m, name) for m in f.months if (c, m) in f.cells]
            if name == "replies":
                value = f.campaign_replies.get(c, 0)
                linked.add((CAMPAIGN, c, name), value, ANCHOR if c is not None else PART)
                # A contact who replied in two months counts in both months, once here.
                extra = sum(linked.values[k] for k in keys) - value
                slack = linked.slack(("slack", CAMPAIGN, c), extra)
                linked.equation({**dict.fromkeys(keys, 1), (CAMPAIGN, c, name): -1, slack: -1})
            else:
                linked.add((CAMPAIGN, c, name), sum(linked.values[k] for k in keys), PART)
                linked.partition((CAMPAIGN, c, name), keys)
        for m in f.months:
            keys = [(CELL, c, m, name) for c in campaign_ids if (c, m) in f.cells]
            month_role = TOTAL if name == "replies" else PART
            linked.add((MONTH, m, name), sum(linked.values[k] for k in keys), month_role)
            linked.partition((MONTH, m, name), keys)
        linked.partition(overall, [(CAMPAIGN, c, name) for c in campaign_ids])
        if name != "replies":
            linked.partition(overall, [(MONTH, m, name) for m in f.months])
    rows = [(CELL, c, m) for c, m in f.cells] + [(CAMPAIGN, c) for c in campaign_ids]
    for row in rows + [(MONTH, m) for m in f.months] + [(OVERALL,)]:
        _row_identities(linked, row)
    return ConversationCells(linked.shown(), threshold)


def acknowledge_times(
    f: ConversationFigures, cells: ConversationCells, row: tuple
) -> tuple[object, object]:
    """(median, 90th percentile) minutes to acknowledge of one row, as the viewer sees
    them: hidden when fewer than the threshold cases were acknowledged, or when the row's
    cases are hidden."""
    kind = row[0]
    if kind == CELL:
        minutes = f.minutes(row[1], row[2])
    elif kind == CAMPAIGN:
        minutes = f.minutes(row[1])
    elif kind == MONTH:
        minutes = f.minutes(month=row[1])
    else:
        minutes = f.minutes()
    median, p90 = percentile(minutes, 0.5), percentile(minutes, 0.9)
    k = cells.threshold
    if k and minutes and len(minutes) < k:
        return Hidden(SMALL, k), Hidden(SMALL, k)
    cases = cells.shown[(*row, "cases")]
    return derived(median, cases), derived(p90, cases)
