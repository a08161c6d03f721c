"""SMS outcomes of a campaign: failures, replies and attributed opt-outs (metrics
delivery_rate, failure_reasons, opt_out_rate and reply_rate; see metrics.py)."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Integer, String, distinct, func, select, union_all
from sqlalchemy.orm import aliased

from app.extensions import db
from app.participation.attribution import OptOutAttribution
from app.participation.models import ParticipationEvent as E
from app.reports.metrics import CLICK_KINDS, ENGAGED_KINDS, FAILURE_KINDS
from app.reports.period import Period
from app.reports.sql import in_period, union_branch


class FailureKey(NamedTuple):
    kind: str  # "sms_failed" or "sms_undelivered"
    code: str | None  # the Twilio error code, None when the provider gave none
    message_id: int | None


class Failures(NamedTuple):
    failed: int
    undelivered: int


@dataclass
class SmsOutcomes:
    failures: dict[FailureKey, int]  # failed/undelivered messages
    replies: int  # distinct contacts with a free-text reply
    engaged: int = 0  # distinct contacts with an ENGAGED_KINDS event (metric engaged)
    clicks: dict = field(default_factory=dict)  # message id -> distinct contacts who clicked

    def _of_kind(self, kind: str) -> int:
        return sum(n for key, n in self.failures.items() if key.kind == kind)

    @property
    def failed(self) -> int:
        return self._of_kind("sms_failed")

    @property
    def undelivered(self) -> int:
        return self._of_kind("sms_undelivered")

    def code_counts(self) -> dict[str | None, int]:
        """Failed and undelivered messages per error code."""
        counts = Counter()
        for key, n in self.failures.items():
            counts[key.code] += n
        return dict(counts)

    def by_message(self, known: set) -> dict[int | None, Failures]:
        """Failures per message (None: without a known one)."""
        counts = {}
        for key, n in self.failures.items():
            message_id = key.message_id if key.message_id in known else None
            failed, undelivered = counts.get(message_id, Failures(0, 0))
            counts[message_id] = (
                Failures(failed + n, undelivered)
                if key.kind == "sms_failed"
                else Failures(failed, undelivered + n)
            )
        return counts


# Rows of the outcomes statement: failures by (kind, code, message), the repliers, the
# engaged contacts and the clickers per message.
FAILURES, REPLIES, ENGAGED, CLICKS = "failures", "replies", "engaged", "clicks"
OUTCOME_COLUMNS = {"kind": String, "code": String, "message_id": Integer, "n": Integer}


def sms_outcomes(org_id: int, campaign_id: int, period: Period) -> SmsOutcomes:
    """Metrics failure_reasons, delivery_rate (failures, per message too), reply_rate
    (repliers), engaged and click_through (clickers per message), from the rare kinds only,
    in one statement."""
    scope = (
        E.organization_id == org_id,
        E.campaign_id == campaign_id,
        *in_period(E.occurred_at, period),
    )
    statement = union_all(
        union_branch(
            OUTCOME_COLUMNS,
            FAILURES,
            kind=E.kind,
            code=E.detail,
            message_id=E.message_id,
            n=func.count(),
        )
        .where(*scope, E.kind.in_(FAILURE_KINDS))
        .group_by(E.kind, E.detail, E.message_id),
        union_branch(OUTCOME_COLUMNS, REPLIES, n=func.count(distinct(E.contact_id))).where(
            *scope, E.kind == "reply"
        ),
        union_branch(OUTCOME_COLUMNS, ENGAGED, n=func.count(distinct(E.contact_id))).where(
            *scope, E.kind.in_(ENGAGED_KINDS)
        ),
        union_branch(
            OUTCOME_COLUMNS, CLICKS, message_id=E.message_id, n=func.count(distinct(E.contact_id))
        )
        .where(*scope, E.kind.in_(CLICK_KINDS))
        .group_by(E.message_id),
    )
    outcomes = SmsOutcomes({}, 0)
    for row in db.session.execute(statement):
        if row.section == REPLIES:
            outcomes.replies = int(row.n)
        elif row.section == ENGAGED:
            outcomes.engaged = int(row.n)
        elif row.section == CLICKS:
            outcomes.clicks[row.message_id] = int(row.n)
        else:
            key = FailureKey(row.kind, row.code or None, row.message_id)
            outcomes.failures[key] = int(row.n)
    return outcomes


# --- opt-outs ---------------------------------------------------------------------------


@dataclass
class AttributedOptOuts:
    """Contacts whose opt-out is attributed to a delivery, in total and per value of one
    column of the delivery (its campaign or its message)."""

    total: int = 0
    by: dict = field(default_factory=dict)


def _attributed(org_id: int, period: Period, *, from_rollups: bool = True):
    """Metric opt_out_rate: each opt-out in the period with the campaign and message of
    the last delivery to that contact at or before it (NULL when there is none), as the
    rollup the triggers keep (participation.attribution) or, with `from_rollups=False`,
    looked up in the raw events (the reference the tests and the bench compare with)."""
    if not from_rollups:
        return _attributed_from_events(org_id, period)
    a = OptOutAttribution
    return (
        select(a.contact_id, a.campaign_id, a.message_id)
        .where(a.organization_id == org_id, *in_period(a.opted_out_at, period))
        .cte("attributed")
    )


def _attributed_from_events(org_id: int, period: Period):
    """`_attributed` from the raw events: the lookup follows `ix_participation_contact`
    (contact_id, occurred_at) once per opt-out (in every monthly partition), then reads
    the delivery by primary key."""
    o = aliased(E, name="o")
    d = aliased(E, name="d")
    last_delivered = (
        select(d.id)
        .where(
            d.contact_id == o.contact_id,
            d.organization_id == org_id,
            d.kind == "sms_delivered",
            d.occurred_at <= o.occurred_at,
        )
        .order_by(d.occurred_at.desc(), d.id.desc())
        .limit(1)
        .correlate(o)
        .scalar_subquery()
    )
    opt_outs = (
        select(o.contact_id.label("contact_id"), last_delivered.label("delivered_id"))
        .where(o.organization_id == org_id, o.kind == "opt_out", *in_period(o.occurred_at, period))
        .cte("opt_outs")
        .prefix_with("MATERIALIZED")
    )

    def of_delivery(column):
        delivery = aliased(E)
        return (
            select(getattr(delivery, column))
            .where(delivery.id == opt_outs.c.delivered_id)
            .scalar_subquery()
        )

    return (
        select(
            opt_outs.c.contact_id,
            of_delivery("campaign_id").label("campaign_id"),
            of_delivery("message_id").label("message_id"),
        )
        .cte("attributed")
        .prefix_with("MATERIALIZED")
    )


# Rows of the attribution statement: contacts per value of the column, and in total.
PER_VALUE, TOTAL = "per_value", "total"


def attributed_opt_outs(
    org_id: int, period: Period, group: str, where: Callable, *, from_rollups: bool = True
) -> AttributedOptOuts:
    """Contacts whose opt-out is attributed to each value of the delivery's `group`
    column ("campaign_id" or "message_id"), and in total, among the attributions
    matching `where` (a condition on the attribution's columns)."""
    a = _attributed(org_id, period, from_rollups=from_rollups).c
    layout = {"value": Integer, "contacts": Integer}
    people = func.count(distinct(a.contact_id))
    statement = union_all(
        union_branch(layout, PER_VALUE, value=a[group], contacts=people)
        .where(where(a))
        .group_by(a[group]),
        union_branch(layout, TOTAL, contacts=people).where(where(a)),
    )
    result = AttributedOptOuts()
    for row in db.session.execute(statement):
        if row.section == TOTAL:
            result.total = int(row.contacts)
        else:
            result.by[row.value] = int(row.contacts)
    return result


def campaign_opt_outs(
    org_id: int, campaign_id: int, period: Period, *, from_rollups: bool = True
) -> AttributedOptOuts:
    """Contacts whose opt-out is attributed to the campaign, in total and per message."""
    return attributed_opt_outs(
        org_id,
        period,
        "message_id",
        lambda a: a.campaign_id == campaign_id,
        from_rollups=from_rollups,
    )
