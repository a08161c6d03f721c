"""Report figures, computed in SQL with GROUP BY (never by loading events one by one).

Each function names the `metrics.METRICS` keys it implements. Results are plain
dataclasses of exact numbers: suppression for evaluators is applied later, when the
numbers become tables (`tables.py`), so the CLI, the pages and the exports share them.

A campaign report is six statements: reach (`_reach`: the campaign's events grouped by
contact once, as a MATERIALIZED CTE that four GROUP BYs read), the rare SMS outcomes
(failures, replies), the workshop funnel, the opt-out attribution, the targeted
audience and the message labels. Python only adds up their small grouped results:
municipality spellings that differ by accents or case, and the UTC hours of the time
series into local days (correct across DST changes, and the same on both backends).
`bench/reports.py` times them on 200,000 contacts and 1,000,000 events.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import aliased

from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.audiences import AudienceInvalid, audience_match_query
from app.contacts.models import Audience, Contact
from app.extensions import db
from app.outreach.models import CampaignEnrollment, OutreachSend
from app.participation.models import ParticipationEvent
from app.reports.forms import Period, auto_granularity
from app.reports.metrics import (
    AGE_BANDS,
    FAILURE_KINDS,
    FUNNEL_KINDS,
    OTHER_AGE,
    REACH_KINDS,
    UNKNOWN,
    WORKSHOP_REACH_KINDS,
)
from app.workshops.models import Workshop, WorkshopRegistration

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


def age_band_sql(reference_year):
    """The report age band as of `reference_year` (an int or a SQL integer expression).

    Age is reference year minus birth year; without a birth year, the stored band (kept
    when a contact is erased); without either, "unknown".
    """
    age = reference_year - Contact.birth_year
    whens = [(age.between(*(int(x) for x in band.split("-"))), band) for band in AGE_BANDS]
    return case(
        (
            Contact.birth_year.is_(None),
            case((Contact.age_band.in_(AGE_BANDS), Contact.age_band), else_=UNKNOWN),
        ),
        *whens,
        else_=OTHER_AGE,
    )


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


def _attribute_columns(age_band):
    return (
        age_band.label("age_band"),
        Contact.gender.label("gender"),
        Contact.language.label("language"),
        Contact.country.label("country"),
        Contact.state_code.label("state_code"),
        Contact.municipality.label("municipality"),
    )


# --- reach: one statement (metrics: reached, channel, representativeness, dose_messages,
# time_series, and the deliveries of each message) ------------------------------------------

KEYS = 7  # text columns of the reach statement's rows


@dataclass
class ReachResult:
    groups: list[Group]
    message_doses: Counter  # delivered messages -> reached contacts
    hours: list[tuple[int, int]]  # (UTC hour since the epoch, newly reached contacts)
    delivered: int
    per_message: dict  # message_id (None: without one) -> (deliveries, contacts)


def _is_message_column(column) -> bool:
    return column.name[0] == "m" and column.name[1:].isdigit()


def _count_if(condition):
    return func.count().filter(condition)


def _epoch_hour(column):
    """Whole hours since 1970-01-01 UTC of a timestamp (cheaper to group than text)."""
    if _dialect() == "postgresql":
        return cast(func.floor(func.date_part("epoch", column) / 3600), BigInteger)
    return cast(func.strftime("%s", column), Integer) // 3600


def epoch_week(column):
    """Whole weeks (Monday to Sunday, UTC) since the week of 1970-01-01, of a timestamp:
    1970-01-01 was a Thursday, so day 0 is the fourth day of week 0."""
    return (_epoch_hour(column) // 24 + 3) // 7


def week_monday(week: int) -> date:
    """The Monday that starts an `epoch_week`."""
    return date(1970, 1, 1) + timedelta(days=week * 7 - 3)


def utc_year(column):
    """The calendar year of a timestamp in UTC (not in the session time zone)."""
    if _dialect() == "postgresql":
        return cast(func.date_part("year", func.timezone("UTC", column)), Integer)
    return extract("year", column)


def _reach(org_id: int, campaign_id: int, period: Period, message_ids: list[int]) -> ReachResult:
    """Metrics reached, channel, representativeness (reached side), dose_messages,
    time_series and the deliveries per message, in one statement.

    The events of the campaign are grouped by contact once (the scan follows
    `ix_participation_campaign_contact`, already in contact order, so grouping needs no
    sort on SQLite and no hash table on PostgreSQL), joined to the contacts, and kept as
    a MATERIALIZED common table expression that every branch of the UNION ALL reads.
    Per-message delivery counts are pivoted into columns (a campaign has a handful of
    messages), which spares another scan of the events. (Folding the targeted audience
    into the same pass over the contacts measured slower on PostgreSQL.)
    """
    delivered = E.kind == "sms_delivered"
    known = [m for m in message_ids if m is not None]
    # Only reach kinds are scanned, and of those only deliveries carry a message: a plain
    # integer test per message is enough (cheaper than testing the kind again each time).
    per_message = [_count_if(E.message_id == m).label(f"m{i}") for i, m in enumerate(known)]
    per_message.append(
        _count_if(
            and_(delivered, or_(E.message_id.is_(None), E.message_id.not_in(known or [-1])))
        ).label(f"m{len(known)}")
    )
    per_contact = (
        select(
            E.contact_id.label("contact_id"),
            _count_if(delivered).label("delivered"),
            (func.count() - _count_if(delivered)).label("attended"),
            # Computed once per contact here, not once per use in the CASE below.
            utc_year(func.min(E.occurred_at)).label("year"),
            _epoch_hour(func.min(E.occurred_at)).label("hour"),
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
    c = per_contact.c
    messages = [column for column in c if _is_message_column(column)]
    people = (
        select(
            c.delivered,
            *messages,
            case(
                (and_(c.delivered > 0, c.attended > 0), "both"),
                (c.delivered > 0, "sms_only"),
                else_="workshop_only",
            ).label("channel"),
            c.hour,
            *_attribute_columns(age_band_sql(c.year)),
        )
        .join(Contact, Contact.id == c.contact_id)
        .where(Contact.organization_id == org_id)
        .cte("people")
        .prefix_with("MATERIALIZED")
    )
    p = people.c
    width = 2 + 2 * len(messages)

    def row(section, keys, numbers):
        keys = list(keys) + [null().cast(String)] * (KEYS - len(keys))
        numbers = list(numbers) + [null().cast(BigInteger)] * (width - len(numbers))
        return select(literal(section, String), *keys, *numbers).select_from(people)

    cube_keys = (
        p.age_band,
        p.gender,
        p.language,
        p.country,
        p.state_code,
        p.municipality,
        p.channel,
    )
    message_columns = [column for column in p if _is_message_column(column)]
    statement = union_all(
        row("g", cube_keys, [func.count()]).group_by(*cube_keys),
        row("d", [], [func.count(), p.delivered]).group_by(p.delivered),
        row("h", [], [func.count(), p.hour]).group_by(p.hour),
        row(
            "t",
            [],
            [
                func.count(),
                func.sum(p.delivered),
                *(func.sum(m) for m in message_columns),
                *(_count_if(m > 0) for m in message_columns),
            ],
        ),
    )
    groups, doses, hours, totals = [], Counter(), [], None
    for section, *values in db.session.execute(statement):
        keys, numbers = values[:KEYS], values[KEYS:]
        if section == "g":
            groups.append(
                Group(
                    _code(keys[0]),
                    _code(keys[1]),
                    _code(keys[2]),
                    _code(keys[3]),
                    _code(keys[4]),
                    keys[5] or None,
                    keys[6],
                    int(numbers[0]),
                )
            )
        elif section == "d":
            doses[int(numbers[1] or 0)] += int(numbers[0])
        elif section == "h":
            hours.append((int(numbers[1]), int(numbers[0])))
        else:
            totals = [int(n or 0) for n in numbers]
    totals = totals or [0] * width
    k = len(messages)
    keys = known + [None]
    return ReachResult(
        groups=groups,
        message_doses=doses,
        hours=hours,
        delivered=totals[1],
        per_message={keys[i]: (totals[2 + i], totals[2 + k + i]) for i in range(k)},
    )


# --- targeted audience (metric: targeted) ----------------------------------------------


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


def _targeted_groups(
    org_id: int, campaign_id: int, *, today: date, reference_year: int
) -> list[Group]:
    """Metrics targeted and representativeness (targeted side): one GROUP BY."""
    inner = (
        select(*_attribute_columns(age_band_sql(literal(reference_year))))
        .where(targeted_condition(org_id, campaign_id, today=today))
        .subquery("targeted")
    )
    keys = [
        inner.c.age_band,
        inner.c.gender,
        inner.c.language,
        inner.c.country,
        inner.c.state_code,
        inner.c.municipality,
    ]
    return [
        Group(
            _code(band),
            _code(gender),
            _code(language),
            _code(country),
            _code(state),
            municipality or None,
            None,
            int(n),
        )
        for band, gender, language, country, state, municipality, n in db.session.execute(
            select(*keys, func.count()).group_by(*keys)
        )
    ]


# --- messages (metrics: delivery_rate, failure_reasons, opt_out_rate, reply_rate) -------


@dataclass
class SmsOutcomes:
    failures: dict  # (kind, error code, message_id) -> failed/undelivered messages
    replies: int  # distinct contacts with a free-text reply


def _sms_outcomes(org_id: int, campaign_id: int, period: Period) -> SmsOutcomes:
    """Metrics failure_reasons, delivery_rate (failures, per message too) and reply_rate
    (repliers), from the rare kinds only, in one statement."""
    scope = (
        E.organization_id == org_id,
        E.campaign_id == campaign_id,
        *in_period(E.occurred_at, period),
    )
    statement = union_all(
        select(E.kind, E.detail, E.message_id, func.count())
        .where(*scope, E.kind.in_(FAILURE_KINDS))
        .group_by(E.kind, E.detail, E.message_id),
        select(
            literal("reply", String),
            null().cast(String),
            null().cast(Integer),
            func.count(distinct(E.contact_id)),
        ).where(*scope, E.kind == "reply"),
    )
    failures, replies = {}, 0
    for kind, detail, message_id, n in db.session.execute(statement):
        if kind == "reply":
            replies = int(n)
        else:
            failures[(kind, detail or None, message_id)] = int(n)
    return SmsOutcomes(failures, replies)


def _failure_code_counts(outcomes: SmsOutcomes) -> dict[str | None, int]:
    counts = Counter()
    for (_kind, code, _message), n in outcomes.failures.items():
        counts[code] += n
    return dict(counts)


def _failures_by_message(outcomes: SmsOutcomes, known: set) -> dict:
    """{message_id (None: without a known one): (failed, undelivered)}."""
    counts = {}
    for (kind, _code, message_id), n in outcomes.failures.items():
        key = message_id if message_id in known else None
        failed, undelivered = counts.get(key, (0, 0))
        counts[key] = (
            (failed + n, undelivered) if kind == "sms_failed" else (failed, undelivered + n)
        )
    return counts


def _attributed_opt_outs(org_id: int, period: Period):
    """Metric opt_out_rate: each opt-out in the period with the campaign and message of
    the last delivery to that contact before it (NULL when there is none).

    The lookup follows `ix_participation_contact` (contact_id, occurred_at) once per
    opt-out, then reads the delivery by primary key: opt-outs are rare, so this stays
    cheap however many deliveries there are (no join over the campaign's events).
    """
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


def _attributed_counts(org_id: int, period: Period, group: str, where) -> dict:
    """Contacts whose opt-out is attributed to each value of the delivery's `group`
    column, and in total (key "total"), among attributions matching `where`."""
    attributed = _attributed_opt_outs(org_id, period)
    a = attributed.c
    people = func.count(distinct(a.contact_id))

    def branch(section, *columns):
        return select(literal(section, String), *columns, people).where(where(a))

    statement = union_all(
        branch("g", a[group]).group_by(a[group]), branch("t", null().cast(Integer))
    )
    counts = {}
    for section, key, n in db.session.execute(statement):
        counts["total" if section == "t" else key] = int(n)
    return counts


def _opt_outs_for_campaign(org_id: int, campaign_id: int, period: Period):
    """(contacts whose opt-out is attributed to the campaign, {message_id: contacts})."""
    counts = _attributed_counts(
        org_id, period, "message_id", lambda a: a.campaign_id == campaign_id
    )
    return counts.pop("total", 0), counts


# --- workshops (metric: funnel) ----------------------------------------------------------


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


def _funnel(org_id: int, campaign_id: int, period: Period) -> tuple[list[WorkshopFunnel], Counter]:
    """Metrics funnel and dose_workshops: the steps per workshop, and how many reached
    contacts attended 1, 2, 3... different workshops (one statement)."""

    def flag(*kinds):
        return func.max(case((E.kind.in_(kinds), 1), else_=0))

    steps = (
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
    st = steps.c
    both = case((and_(st.rsvp == 1, st.attended == 1), 1), else_=0)
    missed = case((and_(st.no_show == 1, st.attended == 0), 1), else_=0)
    attended = (
        select(func.sum(st.attended).label("workshops"))
        .group_by(st.contact_id)
        .having(func.sum(st.attended) > 0)
        .subquery("attended_workshops")
    )
    statement = union_all(
        select(
            literal("w", String),
            st.workshop_id,
            func.sum(st.invited),
            func.sum(st.rsvp),
            func.sum(st.attended),
            func.sum(st.walk_in),
            func.sum(both),
            func.sum(missed),
        ).group_by(st.workshop_id),
        select(
            literal("a", String), attended.c.workshops, func.count(), *[null().cast(BigInteger)] * 5
        ).group_by(attended.c.workshops),
    )
    counts, doses = {}, Counter()
    for section, key, *values in db.session.execute(statement):
        if section == "w":
            counts[key] = [int(v or 0) for v in values]
        else:
            doses[int(key)] += int(values[0])
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
                *counts.get(workshop_id, [0] * len(FUNNEL_FIELDS)),
            )
        )
    return result, doses


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
    failed: int = 0
    undelivered: int = 0

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


def _series(
    hours: list[tuple[int, int]], period: Period, today: date, chosen: str | None
) -> tuple[list[SeriesPoint], str]:
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


def campaign_figures(
    campaign: Campaign, period: Period, *, today: date, granularity: str | None = None
) -> CampaignFigures:
    """Every figure of the campaign dashboard for `period` (exact; see metrics.py)."""
    org_id, campaign_id = campaign.organization_id, campaign.id
    if _dialect() == "postgresql":  # hash aggregates of a large campaign fit in memory
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    reference_year = min(period.end or today, today).year
    labels = dict(
        db.session.execute(
            select(CampaignMessage.id, CampaignMessage.label)
            .where(
                CampaignMessage.organization_id == org_id,
                CampaignMessage.campaign_id == campaign_id,
            )
            .order_by(CampaignMessage.id)
        ).all()
    )
    reach = _reach(org_id, campaign_id, period, list(labels))
    outcomes = _sms_outcomes(org_id, campaign_id, period)
    workshops, workshop_doses = _funnel(org_id, campaign_id, period)
    opt_outs, opt_outs_by_message = _opt_outs_for_campaign(org_id, campaign_id, period)
    failures = _failures_by_message(outcomes, set(labels))

    def used(m):
        return reach.per_message.get(m, (0, 0))[0] or opt_outs_by_message.get(m) or failures.get(m)

    message_ids = [m for m in labels if used(m)]
    if used(None):
        message_ids.append(None)  # workshop notices and other messages without a label
    messages = [
        MessageFigures(
            m,
            labels.get(m),
            *reach.per_message.get(m, (0, 0)),
            opt_outs_by_message.get(m, 0),
            *failures.get(m, (0, 0)),
        )
        for m in message_ids
    ]
    series, step = _series(reach.hours, period, today, granularity)
    return CampaignFigures(
        campaign_id=campaign_id,
        period=period,
        reference_year=reference_year,
        reached_groups=reach.groups,
        targeted_groups=_targeted_groups(
            org_id, campaign_id, today=today, reference_year=reference_year
        ),
        message_doses=reach.message_doses,
        workshop_doses=workshop_doses,
        delivered=reach.delivered,
        failed=sum(n for (kind, *_), n in outcomes.failures.items() if kind == "sms_failed"),
        undelivered=sum(
            n for (kind, *_), n in outcomes.failures.items() if kind == "sms_undelivered"
        ),
        replies=outcomes.replies,
        failure_codes=_failure_code_counts(outcomes),
        opt_outs=opt_outs,
        messages=messages,
        workshops=workshops,
        series=series,
        granularity=step,
        target_population=campaign.target_population,
        places=[
            PlaceFigures(p.country, p.state_code, p.municipality, p.target_population)
            for p in campaign.places
            if p.target_population
        ],
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


def organization_figures(org_id: int, period: Period) -> OrganizationFigures:
    """Metrics reached, delivery_rate, opt_out_rate, reach_proportion for every campaign,
    the organization (people counted once) and by CSAP strategy and IOM level.

    One statement: the organization's events grouped by (campaign, contact) once, in the
    order of `ix_participation_campaign_contact`, kept as a MATERIALIZED CTE, then
    counted per campaign, per strategy, per level and overall.
    """
    if _dialect() == "postgresql":
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
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
    summaries = {row[0]: CampaignSummary(*row) for row in campaigns}

    pairs = (
        select(
            E.campaign_id.label("campaign_id"),
            E.contact_id.label("contact_id"),
            _count_if(E.kind == "sms_delivered").label("delivered"),
            _count_if(E.kind.in_(WORKSHOP_REACH_KINDS)).label("attended"),
            _count_if(E.kind == "sms_failed").label("failed"),
            _count_if(E.kind == "sms_undelivered").label("undelivered"),
        )
        .where(
            E.organization_id == org_id,
            E.campaign_id.is_not(None),
            E.kind.in_(REACH_KINDS + FAILURE_KINDS),
            *in_period(E.occurred_at, period),
        )
        .group_by(E.campaign_id, E.contact_id)
        .order_by(E.campaign_id, E.contact_id)  # streamed from the campaign/contact index
        .cte("pairs")
        .prefix_with("MATERIALIZED")
    )
    q = pairs.c
    sms, workshop = q.delivered > 0, q.attended > 0
    reached = or_(sms, workshop)
    campaign_columns = [
        func.count().filter(reached),
        func.count().filter(sms),
        func.count().filter(workshop),
        func.sum(q.delivered),
        func.sum(q.failed),
        func.sum(q.undelivered),
    ]

    def people(condition):
        return func.count(distinct(q.contact_id)).filter(condition)

    rollup_columns = [
        people(reached),
        people(sms),
        people(workshop),
        func.sum(q.delivered),
        func.sum(q.failed),
        func.sum(q.undelivered),
    ]
    strategy = (
        select(literal("s", String), Campaign.strategy, *rollup_columns)
        .select_from(pairs)
        .join(Campaign, Campaign.id == q.campaign_id)
        .group_by(Campaign.strategy)
    )
    level = (
        select(literal("l", String), Campaign.level, *rollup_columns)
        .select_from(pairs)
        .join(Campaign, Campaign.id == q.campaign_id)
        .group_by(Campaign.level)
    )
    statement = union_all(
        select(literal("c", String), cast(q.campaign_id, String), *campaign_columns).group_by(
            q.campaign_id
        ),
        select(literal("o", String), null().cast(String), *rollup_columns),
        strategy,
        level,
    )
    totals = [0] * 6
    rollups = {"s": {}, "l": {}}
    for kind, key, *values in db.session.execute(statement):
        values = [int(v or 0) for v in values]
        if kind == "c":
            s = summaries.get(int(key))
            if s is not None:
                (
                    s.reached,
                    s.sms_reached,
                    s.workshop_reached,
                    s.delivered,
                    s.failed,
                    s.undelivered,
                ) = values
        elif kind == "o":
            totals = values
        else:
            rollups[kind][key] = Rollup(key, 0, *values[:4])

    opt_outs = _attributed_counts(
        org_id, period, "campaign_id", lambda a: a.campaign_id.is_not(None)
    )
    for campaign_id, n in opt_outs.items():
        if campaign_id in summaries:
            summaries[campaign_id].opt_outs = n

    def with_campaign_counts(found: dict, attribute: str) -> list[Rollup]:
        for s in summaries.values():
            code = getattr(s, attribute)
            found.setdefault(code, Rollup(code)).campaigns += 1
        return list(found.values())

    return OrganizationFigures(
        period=period,
        campaigns=list(summaries.values()),
        reached=totals[0],
        sms_reached=totals[1],
        workshop_reached=totals[2],
        delivered=totals[3],
        failed=totals[4],
        undelivered=totals[5],
        opt_outs=opt_outs.get("total", 0),
        by_strategy=with_campaign_counts(rollups["s"], "strategy"),
        by_level=with_campaign_counts(rollups["l"], "level"),
    )
