"""Who was reached and who was targeted, as groups of contacts with the same attributes.

`campaign_reach` is one statement for the metrics reached, channel, representativeness
(reached side), dose_messages, time_series and the deliveries of each message, read from
the rollups that the insert triggers keep (app/participation/rollups.py): one row per
reached contact for all time, the contact hours of the period otherwise, so a request
never scans the campaign's raw events. `campaign_reach_from_events` computes the same
from the events: the reference of tests/reports/test_i15_rollups.py and bench/reports.py,
and the path for a period whose bounds are not whole UTC hours. `targeted_groups` is one
GROUP BY for the metric targeted (and the targeted side of representativeness). See
metrics.py for the definitions.
"""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    union_all,
)

from app.contacts.audiences import AudienceInvalid, audience_match_query
from app.contacts.models import Audience, Contact
from app.extensions import db
from app.outreach.models import CampaignEnrollment, OutreachSend
from app.participation.models import ParticipationEvent as E
from app.participation.rollups import (
    MessageContactRollup,
    MessageTotalRollup,
    ReachHourRollup,
    ReachRollup,
)
from app.reports.metrics import REACH_KINDS
from app.reports.period import Period, period_hours
from app.reports.sql import (
    count_if,
    epoch_hour,
    in_period,
    or_unknown,
    report_age_band,
    union_branch,
    utc_year,
    utc_year_of_hour,
)
from app.workshops.models import Workshop, WorkshopRegistration


@dataclass(frozen=True)
class Group:
    """One group of contacts with the same attributes (and channel, for reached contacts)."""

    age_band: str
    gender: str
    language: str
    country: str
    state: str
    municipality: str | None
    channel: str | None
    n: int


class NewlyReached(NamedTuple):
    hour: int  # whole UTC hours since the epoch
    contacts: int  # contacts whose first reaching event of the period is in that hour


class MessageReach(NamedTuple):
    delivered: int  # deliveries of the message in the period
    contacts: int  # distinct contacts it was delivered to


@dataclass
class ReachResult:
    groups: list[Group]
    message_doses: Counter  # delivered messages -> reached contacts
    hours: list[NewlyReached]
    delivered: int
    per_message: dict[int | None, MessageReach]  # message_id (None: without a known one)


# The attribute columns of a group, as labelled by `_attribute_columns`.
ATTRIBUTES = ("age_band", "gender", "language", "country", "state_code", "municipality")


def _attribute_columns(age_band) -> tuple:
    return (
        age_band.label("age_band"),
        Contact.gender.label("gender"),
        Contact.language.label("language"),
        Contact.country.label("country"),
        Contact.state_code.label("state_code"),
        Contact.municipality.label("municipality"),
    )


def _group(row, channel: str | None) -> Group:
    """A `Group` from a row with the ATTRIBUTES columns and a `contacts` count."""
    return Group(
        age_band=or_unknown(row.age_band),
        gender=or_unknown(row.gender),
        language=or_unknown(row.language),
        country=or_unknown(row.country),
        state=or_unknown(row.state_code),
        municipality=row.municipality or None,
        channel=channel,
        n=int(row.contacts),
    )


# --- reached (one statement) -----------------------------------------------------------

# The results read together by the reach statement (its `section` column).
GROUPS = "groups"  # reached contacts per attributes and channel
DOSES = "doses"  # reached contacts per number of delivered messages
HOURS = "hours"  # newly reached contacts per UTC hour
TOTALS = "totals"  # one row: reached, deliveries, and per message deliveries and contacts


def _message_column(i: int) -> str:
    """The per-contact deliveries of the i-th message (the last one: without a known one)."""
    return f"m{i}"


def _per_contact(org_id: int, campaign_id: int, period: Period, known: list[int]):
    """From the raw events (the reference; see `campaign_reach_from_events`): the
    campaign's reaching events grouped by contact: deliveries, attendances, the year and
    UTC hour of the first one, and the deliveries of each message.

    The scan follows `ix_participation_campaign_contact`, already in contact order, so
    grouping needs no sort on SQLite and no hash table on PostgreSQL. Per-message delivery
    counts are pivoted into columns (a campaign has a handful of messages), which spares
    another scan of the events.
    """
    delivered = E.kind == "sms_delivered"
    # Only reach kinds are scanned, and of those only deliveries carry a message: a plain
    # integer test per message is enough (cheaper than testing the kind again each time).
    per_message = [
        count_if(E.message_id == m).label(_message_column(i)) for i, m in enumerate(known)
    ]
    per_message.append(
        count_if(
            and_(delivered, or_(E.message_id.is_(None), E.message_id.not_in(known or [-1])))
        ).label(_message_column(len(known)))
    )
    return (
        select(
            E.contact_id.label("contact_id"),
            count_if(delivered).label("delivered"),
            (func.count() - count_if(delivered)).label("attended"),
            # Computed once per contact here, not once per use in the CASE below.
            utc_year(func.min(E.occurred_at)).label("year"),
            epoch_hour(func.min(E.occurred_at)).label("hour"),
            *per_message,
        )
        .where(
            E.organization_id == org_id,
            E.campaign_id == campaign_id,
            E.kind.in_(REACH_KINDS),
            *in_period(E.occurred_at, period),
        )
        .group_by(E.contact_id)
        # Asking for the index's order steers PostgreSQL to a streaming GroupAggregate over
        # an index-only scan, which costs half the CPU of the hash aggregate it may
        # otherwise estimate as cheaper; SQLite reads that order anyway.
        .order_by(E.contact_id)
        .subquery("per_contact")
    )


def _per_contact_all_time(org_id: int, campaign_id: int):
    """From `participation_reach`: one row per reached contact of the campaign, all time
    (the per-message figures come from the message totals instead)."""
    R = ReachRollup
    return (
        select(
            R.contact_id.label("contact_id"),
            R.delivered.label("delivered"),
            R.attended.label("attended"),
            utc_year(R.first_reach_at).label("year"),
            epoch_hour(R.first_reach_at).label("hour"),
        )
        .where(
            R.organization_id == org_id,
            R.campaign_id == campaign_id,
            R.first_reach_at.is_not(None),
        )
        .subquery("per_contact")
    )


def _per_contact_in_hours(org_id: int, campaign_id: int, hours: tuple, known: list[int]):
    """From `participation_reach_hours`: the columns of `_per_contact`, for the events of
    the UTC hours [low, high) (None: open), exact because every event of an hour is in it.
    """
    H = ReachHourRollup
    low, high = hours
    reaching = H.delivered + H.attended
    per_message = [
        func.sum(case((H.message_key == m, H.delivered), else_=0)).label(_message_column(i))
        for i, m in enumerate(known)
    ]
    per_message.append(
        func.sum(
            case((H.message_key.in_(known), 0), else_=H.delivered) if known else H.delivered
        ).label(_message_column(len(known)))
    )
    first_hour = func.min(case((reaching > 0, H.hour)))
    return (
        select(
            H.contact_id.label("contact_id"),
            func.sum(H.delivered).label("delivered"),
            func.sum(H.attended).label("attended"),
            utc_year_of_hour(first_hour).label("year"),
            first_hour.label("hour"),
            *per_message,
        )
        .where(
            H.organization_id == org_id,
            H.campaign_id == campaign_id,
            *([H.hour >= low] if low is not None else []),
            *([H.hour < high] if high is not None else []),
        )
        .group_by(H.contact_id)
        .having(func.sum(reaching) > 0)
        .subquery("per_contact")
    )


def _reach_layout(n_messages: int) -> dict:
    """The columns of every row of the reach statement, after `section`."""
    layout = dict.fromkeys((*ATTRIBUTES, "channel"), String)
    layout.update(dict.fromkeys(("contacts", "delivered", "hour"), BigInteger))
    for i in range(n_messages):
        layout[f"message_{i}_delivered"] = BigInteger
        layout[f"message_{i}_contacts"] = BigInteger
    return layout


def _reach_statement(org_id: int, per_contact, n_messages: int):
    """The reach statement over `per_contact` (a subquery with the columns of
    `_per_contact` and the first `n_messages` per-message columns).

    The per-contact rows are joined to the contacts and kept as a MATERIALIZED common
    table expression that every branch of the UNION ALL reads. (Folding the targeted
    audience into the same pass over the contacts measured slower on PostgreSQL.)
    """
    c = per_contact.c
    names = [_message_column(i) for i in range(n_messages)]
    people = (
        select(
            c.delivered,
            *(c[name] for name in names),
            case(
                (and_(c.delivered > 0, c.attended > 0), "both"),
                (c.delivered > 0, "sms_only"),
                else_="workshop_only",
            ).label("channel"),
            c.hour,
            *_attribute_columns(report_age_band(c.year)),
        )
        .join(Contact, Contact.id == c.contact_id)
        .where(Contact.organization_id == org_id)
        .cte("people")
        .prefix_with("MATERIALIZED")
    )
    p = people.c
    layout = _reach_layout(len(names))

    def branch(section, **columns):
        return union_branch(layout, section, **columns).select_from(people)

    group_keys = [p[name] for name in (*ATTRIBUTES, "channel")]
    per_message = {}
    for i, name in enumerate(names):
        per_message[f"message_{i}_delivered"] = func.sum(p[name])
        per_message[f"message_{i}_contacts"] = count_if(p[name] > 0)
    return union_all(
        branch(GROUPS, **{k.name: k for k in group_keys}, contacts=func.count()).group_by(
            *group_keys
        ),
        branch(DOSES, contacts=func.count(), delivered=p.delivered).group_by(p.delivered),
        branch(HOURS, contacts=func.count(), hour=p.hour).group_by(p.hour),
        branch(TOTALS, contacts=func.count(), delivered=func.sum(p.delivered), **per_message),
    )


def campaign_reach_from_events(
    org_id: int, campaign_id: int, period: Period, message_ids: list[int]
) -> ReachResult:
    """`campaign_reach` computed from the raw events: the reference the rollups are tested
    and benchmarked against, and the path for periods that are not whole UTC hours."""
    known = [m for m in message_ids if m is not None]
    per_contact = _per_contact(org_id, campaign_id, period, known)
    statement = _reach_statement(org_id, per_contact, len(known) + 1)
    return _reach_result(db.session.execute(statement), known + [None])


def _message_reach_all_time(org_id: int, campaign_id: int, known: list[int]) -> dict:
    """Deliveries and distinct contacts per known message, and (None) for the others,
    all time: sums of the sharded totals; the contacts without a known message are
    counted from their (few) pairs, since one contact may have several such keys."""
    T, P = MessageTotalRollup, MessageContactRollup
    scope_t = (T.organization_id == org_id, T.campaign_id == campaign_id)
    totals = {
        key: (int(delivered), int(contacts))
        for key, delivered, contacts in db.session.execute(
            select(T.message_key, func.sum(T.delivered), func.sum(T.contacts))
            .where(*scope_t)
            .group_by(T.message_key)
        )
    }
    result = {m: MessageReach(*totals.get(m, (0, 0))) for m in known}
    others = [key for key in totals if key not in known]
    contacts = 0
    if others:
        contacts = db.session.scalar(
            select(func.count(distinct(P.contact_id))).where(
                P.organization_id == org_id,
                P.campaign_id == campaign_id,
                P.message_key.in_(others),
            )
        )
    result[None] = MessageReach(sum(totals[key][0] for key in others), int(contacts or 0))
    return result


def campaign_reach(
    org_id: int, campaign_id: int, period: Period, message_ids: list[int]
) -> ReachResult:
    """Metrics reached, channel, representativeness (reached side), dose_messages,
    time_series and the deliveries per message, from the rollups (participation.rollups),
    equal to `campaign_reach_from_events` contact for contact.

    All time reads one row per reached contact (`participation_reach`) and the message
    totals; a period with bounds reads the contact hours inside it.
    """
    known = [m for m in message_ids if m is not None]
    hours = period_hours(period)
    if hours is None:
        return campaign_reach_from_events(org_id, campaign_id, period, message_ids)
    if hours == (None, None):
        statement = _reach_statement(org_id, _per_contact_all_time(org_id, campaign_id), 0)
        result = _reach_result(db.session.execute(statement), [])
        result.per_message = _message_reach_all_time(org_id, campaign_id, known)
        return result
    per_contact = _per_contact_in_hours(org_id, campaign_id, hours, known)
    statement = _reach_statement(org_id, per_contact, len(known) + 1)
    return _reach_result(db.session.execute(statement), known + [None])


def _reach_result(rows, message_ids: list[int | None]) -> ReachResult:
    result = ReachResult(groups=[], message_doses=Counter(), hours=[], delivered=0, per_message={})
    totals = None
    for row in rows:
        if row.section == GROUPS:
            result.groups.append(_group(row, row.channel))
        elif row.section == DOSES:
            result.message_doses[int(row.delivered or 0)] += int(row.contacts)
        elif row.section == HOURS:
            result.hours.append(NewlyReached(int(row.hour), int(row.contacts)))
        else:
            totals = row._mapping

    def total(name: str) -> int:
        return int(totals[name] or 0) if totals is not None else 0

    result.delivered = total("delivered")
    result.per_message = {
        message_id: MessageReach(total(f"message_{i}_delivered"), total(f"message_{i}_contacts"))
        for i, message_id in enumerate(message_ids)
    }
    return result


# --- targeted (one GROUP BY) -----------------------------------------------------------


def targeted_condition(org_id: int, campaign_id: int, *, today: date):
    """Contacts matched by the campaign's send audiences, enrolled, or registered."""
    filters = db.session.scalars(
        select(Audience.filters)
        .join(OutreachSend, OutreachSend.audience_id == Audience.id)
        .where(OutreachSend.organization_id == org_id, OutreachSend.campaign_id == campaign_id)
    ).all()
    unique = {json.dumps(f or {}, sort_keys=True): f or {} for f in filters}
    conditions = []
    for key in sorted(unique):
        try:
            conditions.append(audience_match_query(org_id, unique[key], today=today).whereclause)
        except AudienceInvalid:  # a stored audience that no longer validates matches nobody
            continue
    conditions.append(
        Contact.id.in_(
            select(CampaignEnrollment.contact_id).where(
                CampaignEnrollment.organization_id == org_id,
                CampaignEnrollment.campaign_id == campaign_id,
            )
        )
    )
    conditions.append(
        Contact.id.in_(
            select(WorkshopRegistration.contact_id)
            .join(Workshop, Workshop.id == WorkshopRegistration.workshop_id)
            .where(Workshop.organization_id == org_id, Workshop.campaign_id == campaign_id)
        )
    )
    return and_(Contact.organization_id == org_id, or_(*conditions))


def targeted_groups(
    org_id: int, campaign_id: int, *, today: date, reference_year: int
) -> list[Group]:
    """Metrics targeted and representativeness (targeted side): one GROUP BY."""
    inner = (
        select(*_attribute_columns(report_age_band(literal(reference_year))))
        .where(targeted_condition(org_id, campaign_id, today=today))
        .subquery("targeted")
    )
    keys = [inner.c[name] for name in ATTRIBUTES]
    return [
        _group(row, None)
        for row in db.session.execute(select(*keys, func.count().label("contacts")).group_by(*keys))
    ]
