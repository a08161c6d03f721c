"""Report figures, computed in SQL with GROUP BY (never by loading events one by one).

Each function names the `metrics.METRICS` keys it implements. Results are plain
dataclasses of exact numbers: suppression for evaluators is applied later, when the
numbers become tables (`tables.py`), so the CLI, the pages and the exports share them.

The campaign report runs about a dozen aggregate queries. The per-contact summary
(`_reach_per_contact`) is a subquery the reach, dose and time-series queries group in
different ways; Python only adds up their (small) grouped results, e.g. the
municipalities whose names differ only by accents or case, or the UTC hours of the
time series into local days, which keeps it correct across DST changes on every backend.
"""
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, distinct, extract, func, literal, or_, select
from sqlalchemy.orm import aliased

from ..campaigns.models import Campaign, CampaignMessage
from ..contacts.audiences import AudienceInvalid, audience_match_query
from ..contacts.models import Audience, Contact
from ..contacts.validation import fold
from ..extensions import db
from ..outreach.models import CampaignEnrollment, OutreachSend
from ..participation.models import ParticipationEvent
from ..workshops.models import Workshop, WorkshopRegistration
from .forms import Period, auto_granularity
from .metrics import (AGE_BANDS, DELIVERY_KINDS, FAILURE_KINDS, FUNNEL_KINDS, OTHER_AGE,
                      REACH_KINDS, SMS_REACH_KINDS, UNKNOWN, WORKSHOP_REACH_KINDS)

E = ParticipationEvent


# --- building blocks -------------------------------------------------------------------


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def in_period(column, period: Period) -> list:
    low, high = period.bounds_utc()
    conditions = []
    if low is not None:
        conditions.append(column >= low)
    if high is not None:
        conditions.append(column < high)
    return conditions


def _hour_bucket(column):
    """'YYYY-MM-DD HH' of a UTC timestamp, the same text on both backends."""
    if _dialect() == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def age_band_sql(reference_year):
    """The report age band as of `reference_year` (an int or a SQL integer expression).

    Age is reference year minus birth year; without a birth year, the stored band (kept
    when a contact is erased); without either, "unknown".
    """
    age = reference_year - Contact.birth_year
    whens = [(age.between(*(int(x) for x in band.split("-"))), band) for band in AGE_BANDS]
    return case(
        (Contact.birth_year.is_(None),
         case((Contact.age_band.in_(AGE_BANDS), Contact.age_band), else_=UNKNOWN)),
        *whens, else_=OTHER_AGE)


def _code(value) -> str:
    return value if value not in (None, "") else UNKNOWN


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


def _group_rows(inner, with_channel: bool) -> list[Group]:
    cols = [inner.c.age_band, inner.c.gender, inner.c.language, inner.c.country,
            inner.c.state_code, inner.c.municipality]
    if with_channel:
        cols.append(inner.c.channel)
    rows = db.session.execute(select(*cols, func.count()).group_by(*cols)).all()
    return [Group(row[0], _code(row[1]), _code(row[2]), _code(row[3]), _code(row[4]),
                  row[5] if row[5] not in (None, "") else None,
                  row[6] if with_channel else None, int(row[-1])) for row in rows]


def _attribute_columns(age_band):
    return (age_band.label("age_band"), Contact.gender.label("gender"),
            Contact.language.label("language"), Contact.country.label("country"),
            Contact.state_code.label("state_code"), Contact.municipality.label("municipality"))


# --- per-contact reach (metrics: reached, channel, dose_*, time_series) ---------------


def _reach_per_contact(org_id: int, campaign_id: int, period: Period):
    """One row per reached contact: channel flags, doses and first reaching instant."""
    sms = case((E.kind.in_(SMS_REACH_KINDS), 1), else_=0)
    workshop_kind = E.kind.in_(WORKSHOP_REACH_KINDS)
    return (
        select(
            E.contact_id.label("contact_id"),
            func.max(sms).label("sms"),
            func.max(case((workshop_kind, 1), else_=0)).label("ws"),
            func.sum(sms).label("delivered"),
            func.count(distinct(case((workshop_kind, func.coalesce(E.workshop_id, 0)))))
            .label("workshops"),
            func.min(E.occurred_at).label("first_at"),
        )
        .where(E.organization_id == org_id, E.campaign_id == campaign_id,
               E.kind.in_(REACH_KINDS), *in_period(E.occurred_at, period))
        .group_by(E.contact_id)
        .subquery("per_contact")
    )


def _reached_groups(org_id: int, per_contact) -> list[Group]:
    """Metrics reached, channel, representativeness (reached side)."""
    channel = case((and_(per_contact.c.sms == 1, per_contact.c.ws == 1), "both"),
                   (per_contact.c.sms == 1, "sms_only"), else_="workshop_only")
    inner = (
        select(*_attribute_columns(age_band_sql(extract("year", per_contact.c.first_at))),
               channel.label("channel"))
        .join(Contact, Contact.id == per_contact.c.contact_id)
        .where(Contact.organization_id == org_id)
        .subquery("reached")
    )
    return _group_rows(inner, with_channel=True)


def _dose_counts(per_contact) -> list[tuple[int, int, int]]:
    """Metrics dose_messages, dose_workshops: (messages, workshops, contacts)."""
    rows = db.session.execute(
        select(per_contact.c.delivered, per_contact.c.workshops, func.count())
        .group_by(per_contact.c.delivered, per_contact.c.workshops)).all()
    return [(int(d or 0), int(w or 0), int(n)) for d, w, n in rows]


def _first_reach_hours(per_contact) -> list[tuple[str, int]]:
    """Metric time_series: newly reached contacts per UTC hour of their first reach."""
    hour = _hour_bucket(per_contact.c.first_at).label("hour")
    inner = select(hour).subquery("first_hours")
    return [(h, int(n)) for h, n in db.session.execute(
        select(inner.c.hour, func.count()).group_by(inner.c.hour)).all()]


# --- targeted audience (metric: targeted) ----------------------------------------------


def targeted_condition(org_id: int, campaign_id: int, *, today: date):
    """Contacts matched by the campaign's send audiences, enrolled, or registered."""
    filters = db.session.scalars(
        select(Audience.filters).join(OutreachSend, OutreachSend.audience_id == Audience.id)
        .where(OutreachSend.organization_id == org_id, OutreachSend.campaign_id == campaign_id)
    ).all()
    unique = {json.dumps(f or {}, sort_keys=True): f or {} for f in filters}
    conditions = []
    for key in sorted(unique):
        try:
            conditions.append(audience_match_query(org_id, unique[key], today=today).whereclause)
        except AudienceInvalid:  # a stored audience that no longer validates matches nobody
            continue
    conditions.append(Contact.id.in_(
        select(CampaignEnrollment.contact_id).where(
            CampaignEnrollment.organization_id == org_id,
            CampaignEnrollment.campaign_id == campaign_id)))
    conditions.append(Contact.id.in_(
        select(WorkshopRegistration.contact_id)
        .join(Workshop, Workshop.id == WorkshopRegistration.workshop_id)
        .where(Workshop.organization_id == org_id, Workshop.campaign_id == campaign_id)))
    return and_(Contact.organization_id == org_id, or_(*conditions))


def _targeted_groups(org_id: int, campaign_id: int, *, today: date, reference_year: int):
    inner = (select(*_attribute_columns(age_band_sql(literal(reference_year))))
             .where(targeted_condition(org_id, campaign_id, today=today))
             .subquery("targeted"))
    return _group_rows(inner, with_channel=False)


# --- messages (metrics: delivery_rate, failure_reasons, opt_out_rate, reply_rate) -------


def _kind_counts(org_id: int, campaign_id: int, period: Period) -> dict[str, tuple[int, int]]:
    """{kind: (events, distinct contacts)} for deliveries and replies."""
    rows = db.session.execute(
        select(E.kind, func.count(), func.count(distinct(E.contact_id)))
        .where(E.organization_id == org_id, E.campaign_id == campaign_id,
               E.kind.in_(DELIVERY_KINDS + ("reply",)), *in_period(E.occurred_at, period))
        .group_by(E.kind)).all()
    return {kind: (int(n), int(people)) for kind, n, people in rows}


def _failure_codes(org_id: int, campaign_id: int, period: Period) -> dict[str | None, int]:
    rows = db.session.execute(
        select(E.detail, func.count())
        .where(E.organization_id == org_id, E.campaign_id == campaign_id,
               E.kind.in_(FAILURE_KINDS), *in_period(E.occurred_at, period))
        .group_by(E.detail)).all()
    return {(code or None): int(n) for code, n in rows}


def _delivered_per_message(org_id: int, campaign_id: int, period: Period):
    """{message_id: (delivered messages, distinct contacts)}."""
    rows = db.session.execute(
        select(E.message_id, func.count(), func.count(distinct(E.contact_id)))
        .where(E.organization_id == org_id, E.campaign_id == campaign_id,
               E.kind == "sms_delivered", *in_period(E.occurred_at, period))
        .group_by(E.message_id)).all()
    return {message_id: (int(n), int(people)) for message_id, n, people in rows}


def _attributed_opt_outs(org_id: int, period: Period):
    """Metric opt_out_rate: each opt-out in the period with the last delivery before it.

    The lookup follows `ix_participation_contact` (contact_id, occurred_at) per opt-out;
    opt-outs are rare, so this stays cheap however many deliveries there are.
    """
    o = aliased(E, name="o")
    d = aliased(E, name="d")
    last_delivered = (
        select(d.id)
        .where(d.contact_id == o.contact_id, d.organization_id == org_id,
               d.kind == "sms_delivered", d.occurred_at <= o.occurred_at)
        .order_by(d.occurred_at.desc(), d.id.desc())
        .limit(1)
        .correlate(o)
        .scalar_subquery()
    )
    return (select(o.contact_id.label("contact_id"), last_delivered.label("delivered_id"))
            .where(o.organization_id == org_id, o.kind == "opt_out",
                   *in_period(o.occurred_at, period))
            .subquery("opt_outs"))


def _opt_outs_for_campaign(org_id: int, campaign_id: int, period: Period):
    """(contacts whose opt-out is attributed to the campaign, {message_id: contacts})."""
    attributed = _attributed_opt_outs(org_id, period)
    d = aliased(E, name="delivered")
    base = (select().select_from(attributed)
            .join(d, d.id == attributed.c.delivered_id)
            .where(d.campaign_id == campaign_id))
    total = db.session.scalar(base.add_columns(func.count(distinct(attributed.c.contact_id))))
    per_message = db.session.execute(
        base.add_columns(d.message_id, func.count(distinct(attributed.c.contact_id)))
        .group_by(d.message_id)).all()
    return int(total or 0), {message_id: int(n) for message_id, n in per_message}


# --- workshops (metric: funnel) ----------------------------------------------------------


@dataclass
class WorkshopFunnel:
    workshop_id: int
    code: str
    title_es: str
    title_en: str
    starts_at: datetime | None
    invited: int = 0
    rsvp_yes: int = 0
    attended: int = 0
    walk_ins: int = 0
    attended_after_rsvp: int = 0
    no_shows: int = 0

    def title_for(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_es


FUNNEL_FIELDS = ("invited", "rsvp_yes", "attended", "walk_ins", "attended_after_rsvp",
                 "no_shows")


def _funnel(org_id: int, campaign_id: int, period: Period) -> list[WorkshopFunnel]:
    def flag(*kinds):
        return func.max(case((E.kind.in_(kinds), 1), else_=0))

    steps = (
        select(E.workshop_id.label("workshop_id"), flag("invited").label("invited"),
               flag("rsvp_yes").label("rsvp"), flag("attended", "walk_in").label("attended"),
               flag("walk_in").label("walk_in"), flag("no_show").label("no_show"))
        .where(E.organization_id == org_id, E.campaign_id == campaign_id,
               E.workshop_id.is_not(None), E.kind.in_(FUNNEL_KINDS),
               *in_period(E.occurred_at, period))
        .group_by(E.workshop_id, E.contact_id)
        .subquery("steps")
    )
    both = case((and_(steps.c.rsvp == 1, steps.c.attended == 1), 1), else_=0)
    missed = case((and_(steps.c.no_show == 1, steps.c.attended == 0), 1), else_=0)
    counts = {row[0]: [int(v or 0) for v in row[1:]] for row in db.session.execute(
        select(steps.c.workshop_id, func.sum(steps.c.invited), func.sum(steps.c.rsvp),
               func.sum(steps.c.attended), func.sum(steps.c.walk_in), func.sum(both),
               func.sum(missed))
        .group_by(steps.c.workshop_id)).all()}
    low, high = period.bounds_utc()
    workshops = db.session.execute(
        select(Workshop.id, Workshop.code, Workshop.title_es, Workshop.title_en,
               Workshop.starts_at)
        .where(Workshop.organization_id == org_id, Workshop.campaign_id == campaign_id)
        .order_by(Workshop.starts_at, Workshop.id)).all()
    result = []
    for workshop_id, code, title_es, title_en, starts_at in workshops:
        starts_inside = (low is None or starts_at >= low) and (high is None or starts_at < high)
        if workshop_id not in counts and not starts_inside:
            continue
        result.append(WorkshopFunnel(workshop_id, code, title_es, title_en, starts_at,
                                     *counts.get(workshop_id, [0] * len(FUNNEL_FIELDS))))
    return result


# --- the campaign report ---------------------------------------------------------------


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
    doses: list[tuple[int, int, int]]
    delivered: int
    failed: int
    undelivered: int
    sms_reached_check: int  # distinct contacts with a delivery (equals the SMS channels)
    replies: int
    failure_codes: dict[str | None, int]
    opt_outs: int
    messages: list[MessageFigures]
    workshops: list[WorkshopFunnel]
    series: list[SeriesPoint]
    granularity: str
    target_population: int | None
    places: list[PlaceFigures] = field(default_factory=list)

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
    def reach_proportion(self) -> float | None:
        return ratio(self.reached, self.target_population)

    @property
    def message_dose(self) -> Counter:
        counts = Counter()
        for messages, _workshops, n in self.doses:
            counts[messages] += n
        return counts

    @property
    def workshop_dose(self) -> Counter:
        counts = Counter()
        for _messages, workshops, n in self.doses:
            counts[workshops] += n
        return counts

    @property
    def attendances(self) -> int:
        return sum(w * n for _m, w, n in self.doses)

    def funnel_totals(self) -> dict[str, int]:
        return {name: sum(getattr(w, name) for w in self.workshops) for name in FUNNEL_FIELDS}


def ratio(numerator, denominator) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def median(distribution: Counter) -> float | None:
    """Median of a {value: frequency} table."""
    total = sum(distribution.values())
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for value in sorted(distribution):
        count = distribution[value]
        for index in middle:
            if seen <= index < seen + count:
                found.append(value)
        seen += count
    return sum(found) / len(found)


def _series(hours: list[tuple[str, int]], period: Period, today: date,
            chosen: str | None) -> tuple[list[SeriesPoint], str]:
    zone = ZoneInfo(period.tz)
    per_day = Counter()
    for hour, n in hours:
        instant = datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=timezone.utc)
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
    if step == "week":
        def key(d):
            return d - timedelta(days=d.weekday())
    else:
        def key(d):
            return d
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


def campaign_figures(campaign: Campaign, period: Period, *, today: date,
                     granularity: str | None = None) -> CampaignFigures:
    """Every figure of the campaign dashboard for `period` (exact; see metrics.py)."""
    org_id, campaign_id = campaign.organization_id, campaign.id
    per_contact = _reach_per_contact(org_id, campaign_id, period)
    reference_year = min(period.end or today, today).year
    kinds = _kind_counts(org_id, campaign_id, period)
    delivered_by_message = _delivered_per_message(org_id, campaign_id, period)
    opt_outs, opt_outs_by_message = _opt_outs_for_campaign(org_id, campaign_id, period)
    labels = dict(db.session.execute(
        select(CampaignMessage.id, CampaignMessage.label)
        .where(CampaignMessage.organization_id == org_id,
               CampaignMessage.campaign_id == campaign_id)).all())
    message_ids = sorted(set(delivered_by_message) | set(opt_outs_by_message),
                         key=lambda m: (m is None, m or 0))
    messages = [MessageFigures(m, labels.get(m), *delivered_by_message.get(m, (0, 0)),
                               opt_outs_by_message.get(m, 0)) for m in message_ids]
    series, step = _series(_first_reach_hours(per_contact), period, today, granularity)
    return CampaignFigures(
        campaign_id=campaign_id,
        period=period,
        reference_year=reference_year,
        reached_groups=_reached_groups(org_id, per_contact),
        targeted_groups=_targeted_groups(org_id, campaign_id, today=today,
                                         reference_year=reference_year),
        doses=_dose_counts(per_contact),
        delivered=kinds.get("sms_delivered", (0, 0))[0],
        failed=kinds.get("sms_failed", (0, 0))[0],
        undelivered=kinds.get("sms_undelivered", (0, 0))[0],
        sms_reached_check=kinds.get("sms_delivered", (0, 0))[1],
        replies=kinds.get("reply", (0, 0))[1],
        failure_codes=_failure_codes(org_id, campaign_id, period),
        opt_outs=opt_outs,
        messages=messages,
        workshops=_funnel(org_id, campaign_id, period),
        series=series,
        granularity=step,
        target_population=campaign.target_population,
        places=[PlaceFigures(p.country, p.state_code, p.municipality, p.target_population)
                for p in campaign.places if p.target_population],
    )


# --- the organization report -------------------------------------------------------------


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

    @property
    def delivery_rate(self) -> float | None:
        return ratio(self.delivered, self.delivered + self.failed + self.undelivered)

    @property
    def opt_out_rate(self) -> float | None:
        return ratio(self.opt_outs, self.sms_reached)


def _people_columns():
    reach = E.kind.in_(REACH_KINDS)
    return (
        func.count(distinct(case((reach, E.contact_id)))),
        func.count(distinct(case((E.kind.in_(SMS_REACH_KINDS), E.contact_id)))),
        func.count(distinct(case((E.kind.in_(WORKSHOP_REACH_KINDS), E.contact_id)))),
        func.sum(case((E.kind == "sms_delivered", 1), else_=0)),
        func.sum(case((E.kind == "sms_failed", 1), else_=0)),
        func.sum(case((E.kind == "sms_undelivered", 1), else_=0)),
    )


def organization_figures(org_id: int, period: Period) -> OrganizationFigures:
    """Metrics reached, delivery_rate, opt_out_rate, reach_proportion for every campaign,
    the organization (people counted once) and by CSAP strategy and IOM level."""
    where = (E.organization_id == org_id, E.campaign_id.is_not(None),
             E.kind.in_(REACH_KINDS + DELIVERY_KINDS), *in_period(E.occurred_at, period))
    campaigns = db.session.execute(
        select(Campaign.id, Campaign.name, Campaign.status, Campaign.strategy, Campaign.level,
               Campaign.target_population)
        .where(Campaign.organization_id == org_id)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())).all()
    summaries = {row[0]: CampaignSummary(*row) for row in campaigns}
    for campaign_id, *values in db.session.execute(
            select(E.campaign_id, *_people_columns()).where(*where).group_by(E.campaign_id)):
        if campaign_id in summaries:
            s = summaries[campaign_id]
            (s.reached, s.sms_reached, s.workshop_reached, s.delivered, s.failed,
             s.undelivered) = (int(v or 0) for v in values)

    attributed = _attributed_opt_outs(org_id, period)
    d = aliased(E, name="delivered")
    opt_out_base = select().select_from(attributed).join(d, d.id == attributed.c.delivered_id)
    for campaign_id, n in db.session.execute(
            opt_out_base.add_columns(d.campaign_id, func.count(distinct(attributed.c.contact_id)))
            .group_by(d.campaign_id)):
        if campaign_id in summaries:
            summaries[campaign_id].opt_outs = int(n)
    opt_outs = db.session.scalar(opt_out_base.where(d.campaign_id.is_not(None)).add_columns(
        func.count(distinct(attributed.c.contact_id))))

    totals = db.session.execute(select(*_people_columns()).where(*where)).one()

    def rollups(column) -> list[Rollup]:
        result = {}
        for code, *values in db.session.execute(
                select(column, *_people_columns()[:4])
                .join(Campaign, Campaign.id == E.campaign_id).where(*where)
                .group_by(column)):
            result[code] = Rollup(code, 0, *(int(v or 0) for v in values))
        for s in summaries.values():
            code = getattr(s, column.key)
            result.setdefault(code, Rollup(code)).campaigns += 1
        return list(result.values())

    return OrganizationFigures(
        period=period, campaigns=list(summaries.values()),
        reached=int(totals[0] or 0), sms_reached=int(totals[1] or 0),
        workshop_reached=int(totals[2] or 0), delivered=int(totals[3] or 0),
        failed=int(totals[4] or 0), undelivered=int(totals[5] or 0),
        opt_outs=int(opt_outs or 0),
        by_strategy=rollups(Campaign.strategy), by_level=rollups(Campaign.level),
    )


def fold_municipality(name: str | None) -> str:
    return fold(name) if name else ""
