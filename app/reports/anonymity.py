"""The evaluator's event export made k-anonymous (k = the organization's threshold).

Quasi-identifiers are the columns an outsider could know about a young person: age band,
gender, language, country, state, municipality, and of an event its workshop and its time.
In the evaluator's copy every combination of those columns that appears in the file is
shared by the rows of at least k different contacts (k distinct pseudonyms, so at least k
rows). To get there, in this order:

1. Time is the UTC week (its Monday), never the minute.
2. Demographics are generalized per contact, the same way on every row of the contact (the
   pseudonym links them: a row left more precise would undo the others). The age band is
   the one of the year of the contact's first event in the file. Groups of fewer than k
   contacts sharing age band, gender, language and place take, one step at a time, the
   next of: municipality suppressed, age band widened (12-17, 18-29), state suppressed,
   gender suppressed, language suppressed, age band suppressed, country suppressed. A group
   still too small when everything is suppressed absorbs the next smallest group.
3. Events: the rows of one kind at one workshop (or outside workshops) of a group keep
   their week when every week has k contacts; otherwise the week is suppressed. When
   those rows are still too few, another kind's rows of the same workshop lose their week
   too, or the workshop is suppressed as well.
4. Rows are dropped only when the whole file has fewer than k contacts.

Planning reads grouped counts (never the rows one by one) plus the contact IDs of groups
smaller than k; then `exports.event_rows` streams the rows and applies the plan.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.contacts.models import Contact
from app.contacts.validation import fold
from app.extensions import db
from app.participation.models import ParticipationEvent as E
from app.reports.metrics import UNKNOWN
from app.reports.period import Period
from app.reports.sql import epoch_week, in_period, report_age_band, utc_year, week_monday

SUPPRESSED = "suppressed"
WIDE_BANDS = {"12-14": "12-17", "15-17": "12-17", "18-24": "18-29", "25-29": "18-29"}
# Generalization steps of a contact's demographics, in order (see the module docstring).
STEPS = ("municipality", "age_band", "state", "gender", "language", "age_band_all", "country")
KEEP, NO_WEEK, NO_WORKSHOP = 0, 1, 2  # what a group of events keeps
# The counts reported in the codebook: rows whose value was generalized, and dropped rows.
STAT_KEYS = (
    "age_band_widened",
    "age_band",
    "gender",
    "language",
    "country",
    "state_code",
    "municipality",
    "workshop_id",
    "week_utc",
    "dropped",
)


def export_scope(org_id: int, campaign_id: int | None, period: Period) -> list:
    """The events of an export: the organization's, in the period, of one campaign or all."""
    conditions = [
        E.organization_id == org_id,
        Contact.organization_id == org_id,
        *in_period(E.occurred_at, period),
    ]
    if campaign_id is not None:
        conditions.append(E.campaign_id == campaign_id)
    return conditions


def first_events(org_id: int, campaign_id: int | None, period: Period):
    """Each contact's first event in the export: its age band is the one of that year."""
    return (
        select(E.contact_id.label("contact_id"), func.min(E.occurred_at).label("first_at"))
        .join(Contact, Contact.id == E.contact_id)
        .where(*export_scope(org_id, campaign_id, period))
        .group_by(E.contact_id)
        .subquery("firsts")
    )


def demographic_columns(firsts) -> tuple:
    return (
        report_age_band(utc_year(firsts.c.first_at)),
        Contact.gender,
        Contact.language,
        Contact.country,
        Contact.state_code,
        Contact.municipality,
    )


def demographic_key(band, gender, language, country, state, municipality) -> tuple:
    """A contact's exact demographics (municipality spellings folded together)."""
    return (
        band or UNKNOWN,
        gender or UNKNOWN,
        language or UNKNOWN,
        country or UNKNOWN,
        state or UNKNOWN,
        fold(municipality) if municipality else "",
    )


def _step(values: tuple, step: str) -> tuple:
    band, gender, language, country, state, municipality = values
    if step == "municipality":
        municipality = SUPPRESSED
    elif step == "age_band":
        band = WIDE_BANDS.get(band, band)
    elif step == "state":
        state = municipality = SUPPRESSED
    elif step == "gender":
        gender = SUPPRESSED
    elif step == "language":
        language = SUPPRESSED
    elif step == "age_band_all":
        band = SUPPRESSED
    else:
        country = state = municipality = SUPPRESSED
    return (band, gender, language, country, state, municipality)


def _next(values: tuple) -> tuple | None:
    for step in STEPS:
        generalized = _step(values, step)
        if generalized != values:
            return generalized
    return None


ALL_SUPPRESSED = (SUPPRESSED,) * 6
DEMOGRAPHICS = ("age_band", "gender", "language", "country", "state_code", "municipality")


@dataclass
class Plan:
    """How each row of the evaluator's export is written."""

    k: int
    shown: dict = field(default_factory=dict)  # demographic key -> shown demographics
    level: dict = field(default_factory=dict)  # (shown, workshop, kind, week) -> KEEP...
    stats: Counter = field(default_factory=Counter)  # STAT_KEYS -> rows; "rows": all rows

    def row(self, key: tuple, workshop_id, kind: str, week: int):
        """(shown demographics, workshop, week) of a row, or None to leave it out."""
        demographics = self.shown.get(key)
        level = self.level.get((demographics, workshop_id, kind, week)) if demographics else None
        if level is None:
            return None
        return (
            demographics,
            workshop_id if level < NO_WORKSHOP else SUPPRESSED,
            week_monday(week).isoformat() if level == KEEP else SUPPRESSED,
        )


def plan_export(org_id: int, campaign_id: int | None, period: Period, k: int) -> Plan:
    """The generalization of every group of rows (see the module docstring)."""
    firsts = first_events(org_id, campaign_id, period)
    # Grouped through a subquery: PostgreSQL does not match a GROUP BY expression that has
    # bound parameters (the age bands, the epoch arithmetic) with the same SELECT one.
    inner = (
        select(
            E.contact_id.label("contact_id"),
            *(c.label(n) for c, n in zip(demographic_columns(firsts), DEMOGRAPHICS, strict=True)),
            E.workshop_id.label("workshop_id"),
            E.kind.label("kind"),
            epoch_week(E.occurred_at).label("week"),
        )
        .join(Contact, Contact.id == E.contact_id)
        .join(firsts, firsts.c.contact_id == E.contact_id)
        .where(*export_scope(org_id, campaign_id, period))
        .subquery("export_rows")
    )
    demo = [inner.c[n] for n in DEMOGRAPHICS]
    base = select().select_from(inner)
    e = inner.c
    plan = Plan(k)

    # Contacts per exact demographics, and the most common spelling of each municipality.
    sizes, spellings = Counter(), defaultdict(Counter)
    for *values, n in db.session.execute(
        base.add_columns(*demo, func.count(func.distinct(e.contact_id))).group_by(*demo)
    ):
        key = demographic_key(*values)
        sizes[key] += n
        if key[5]:
            spellings[key[3:]][values[5]] += n
    exact = {
        key: key[:5] + (spellings[key[3:]].most_common(1)[0][0] if key[5] else "",) for key in sizes
    }
    plan.shown = _generalize(exact, sizes, k)

    # Events: contacts and rows per (demographics, workshop, kind, week).
    groups = defaultdict(lambda: {"contacts": 0, "rows": 0})
    rows_of = Counter()
    statement = base.add_columns(
        *demo, e.workshop_id, e.kind, e.week, func.count(func.distinct(e.contact_id)), func.count()
    )
    for *values, workshop_id, kind, week, n, rows in db.session.execute(
        statement.group_by(*demo, e.workshop_id, e.kind, e.week)
    ):
        key = demographic_key(*values)
        rows_of[key] += rows
        if plan.shown.get(key) is not None:
            group = groups[(plan.shown[key], workshop_id, kind, week)]
            group["contacts"] += n  # a contact has one demographic key: the counts add up
            group["rows"] += rows
    ids = _small_group_contacts(base, e, demo, groups, plan.shown, k)
    plan.level = _event_levels(groups, ids, k)
    plan.stats = _changes(plan, exact, rows_of, groups)
    return plan


def _changes(plan: Plan, exact: dict, rows_of: Counter, groups: dict) -> Counter:
    """The rows of the file with each column generalized, and the rows left out."""
    stats = Counter(rows=sum(rows_of.values()))
    for key, rows in rows_of.items():
        generalized = plan.shown.get(key)
        if generalized is None:
            stats["dropped"] += rows
            continue
        for name, before, after in zip(DEMOGRAPHICS, exact[key], generalized, strict=True):
            if before != after:
                widened = name == "age_band" and after != SUPPRESSED
                stats["age_band_widened" if widened else name] += rows
    for group_key, group in groups.items():
        level = plan.level[group_key]
        if level is None:
            stats["dropped"] += group["rows"]
            continue
        if level >= NO_WEEK:
            stats["week_utc"] += group["rows"]
        if level == NO_WORKSHOP:
            stats["workshop_id"] += group["rows"]
    return stats


def _generalize(shown: dict, sizes: Counter, k: int) -> dict:
    """Each contact group's shown demographics, such that every shown combination is
    shared by at least k contacts (None: the whole file has fewer than k contacts)."""
    shown = dict(shown)

    def counts():
        totals = Counter()
        for key, values in shown.items():
            totals[values] += sizes[key]
        return totals

    while True:
        small = {values for values, n in counts().items() if n < k and _next(values)}
        if not small:
            break
        shown = {key: _next(values) if values in small else values for key, values in shown.items()}
    totals = counts()
    while totals.get(ALL_SUPPRESSED, k) < k and len(totals) > 1:
        # Everything is suppressed and still too few: take in the smallest other group.
        smallest = min((v for v in totals if v != ALL_SUPPRESSED), key=lambda v: (totals[v], v))
        shown = {
            key: ALL_SUPPRESSED if values == smallest else values for key, values in shown.items()
        }
        totals = counts()
    if totals.get(ALL_SUPPRESSED, k) < k:
        shown = {key: None if values == ALL_SUPPRESSED else values for key, values in shown.items()}
    return shown


def _small_group_contacts(base, e, demo, groups: dict, shown: dict, k: int) -> dict:
    """The contact IDs of every group of fewer than k contacts (at most k - 1 each)."""
    small = {key for key, group in groups.items() if group["contacts"] < k}
    ids = defaultdict(set)
    if not small:
        return ids
    statement = (
        base.add_columns(e.contact_id, *demo, e.workshop_id, e.kind, e.week)
        .where(e.kind.in_(sorted({key[2] for key in small})))
        .distinct()
        .execution_options(yield_per=5000)
    )
    for contact_id, *values, workshop_id, kind, week in db.session.execute(statement):
        group_key = (shown.get(demographic_key(*values)), workshop_id, kind, week)
        if group_key in small:
            ids[group_key].add(contact_id)
    return ids


def _event_levels(groups: dict, ids: dict, k: int) -> dict:
    """KEEP, NO_WEEK, NO_WORKSHOP (or None: left out) for each group of rows with the same
    (demographics, workshop, kind, week), such that every combination of demographics,
    workshop and week that the file shows is shared by at least k contacts."""
    level = {key: KEEP if g["contacts"] >= k else NO_WEEK for key, g in groups.items()}
    by_workshop, by_demographics = defaultdict(list), defaultdict(list)
    for key in groups:
        by_workshop[key[:2]].append(key)
        by_demographics[key[0]].append(key)
    shared = _Shared(groups, ids, k)
    for members in by_workshop.values():
        _without_week(members, level, shared)
    for members in by_demographics.values():
        _without_workshop(members, level, shared)
    return level


@dataclass
class _Shared:
    """How many contacts share a set of groups of rows."""

    groups: dict
    ids: dict
    k: int

    def enough(self, members) -> bool:
        if any(self.groups[m]["contacts"] >= self.k for m in members):
            return True
        return len(set().union(*(self.ids[m] for m in members))) >= self.k

    def smallest(self, keys):
        return min(keys, key=lambda m: (self.groups[m]["rows"], repr(m)))


def _without_week(members: list, level: dict, shared: _Shared) -> None:
    """The rows of one (demographics, workshop) that lost their week must be k contacts:
    else the smallest week kept gives its own up, or they lose their workshop too."""
    while True:
        no_week = [m for m in members if level[m] == NO_WEEK]
        if not no_week or shared.enough(no_week):
            return
        kept = [m for m in members if level[m] == KEEP]
        if not kept:
            for m in no_week:
                level[m] = NO_WORKSHOP
            return
        level[shared.smallest(kept)] = NO_WEEK


def _without_workshop(members: list, level: dict, shared: _Shared) -> None:
    """The rows of one group of demographics without workshop and week must be k contacts:
    else the smallest group kept, or the rows of one workshop without week, join them."""
    while True:
        no_workshop = [m for m in members if level[m] == NO_WORKSHOP]
        if not no_workshop or shared.enough(no_workshop):
            return
        kept = [m for m in members if level[m] == KEEP]
        pairs = {m[:2] for m in members if level[m] == NO_WEEK}
        if kept:
            level[shared.smallest(kept)] = NO_WORKSHOP
        elif pairs:
            first = min(pairs, key=repr)
            for m in members:
                if m[:2] == first:
                    level[m] = NO_WORKSHOP
        else:  # cannot happen: every group of demographics has k contacts
            for m in no_workshop:
                level[m] = None
            return
