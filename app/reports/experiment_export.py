"""The de-identified file of an experiment's arm assignments, one row per assigned contact,
and its codebook in the reader's language.

Keyed by the participation export's pseudonym (exports.pseudonym), so it joins that file.
Never a name, a phone or a message. Evaluators get it under the participation export's
policy (anonymity.py), applied to this file's quasi-identifiers, the stratum (place and
age band) and the dates:

1. Dates are the UTC week (its Monday), never the day.
2. A stratum shared by fewer than k contacts (k: the organization's threshold) is
   generalized, one step at a time, for all its contacts: age band widened (12-17,
   18-29), state suppressed, age band suppressed, everything suppressed; an
   all-suppressed group still too small takes in the next smallest group.
3. Contacts of one shown stratum assigned in a week that fewer than k of them share lose
   their weeks; when those are still fewer than k, the smallest week kept loses its week
   too, until they are not.
4. Rows are left out only when the whole file has fewer than k contacts.

Planning reads grouped counts (stratum × assignment week); the rows are then streamed.
Counts per arm can be added up from any per-person file, like from the participation
export: the report page's suppression protects its tables, this file follows the export
policy (the same pseudonyms are already in evaluators' hands).
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.experiments.labels import arm_name, outcome_text
from app.experiments.models import Experiment
from app.experiments.models import ExperimentAssignment as A
from app.extensions import db
from app.reports.anonymity import SUPPRESSED, WIDE_BANDS
from app.reports.experiment_tables import ARM_VALUES
from app.reports.experiments import ExperimentFigures, OutcomeInfo, contact_columns
from app.reports.exports import pseudonym, pseudonym_key
from app.reports.specs import KIND_TYPES, Column
from app.reports.sql import epoch_week, week_monday, without_nested_loops

C = Column
# Generalization steps of a stratum "CC-SS|band", in order (see the module docstring).
STEPS = ("age_band", "state", "age_band_all", "all")


def _split(stratum: str | None) -> tuple[str, str, str]:
    place, _sep, band = (stratum or "").partition("|")
    country, _sep, state = place.partition("-")
    return country or "?", state or "?", band or "unknown"


def _join(country: str, state: str, band: str) -> str:
    if (country, state, band) == (SUPPRESSED,) * 3:
        return SUPPRESSED
    return f"{country}-{state}|{band}"


def _step(stratum: str, step: str) -> str:
    country, state, band = _split(stratum)
    if stratum == SUPPRESSED:
        return stratum
    if step == "age_band":
        band = WIDE_BANDS.get(band, band)
    elif step == "state":
        state = SUPPRESSED
    elif step == "age_band_all":
        band = SUPPRESSED
    else:
        country = state = band = SUPPRESSED
    return _join(country, state, band)


def _next(stratum: str) -> str | None:
    for step in STEPS:
        generalized = _step(stratum, step)
        if generalized != stratum:
            return generalized
    return None


@dataclass
class Plan:
    """How the evaluator's copy writes each row (None: exact, the coordinators' copy)."""

    k: int
    shown: dict = field(default_factory=dict)  # stratum -> shown stratum (None: left out)
    weekless: set = field(default_factory=set)  # (shown stratum, week) without weeks
    stats: Counter = field(default_factory=Counter)

    def row(self, stratum: str, week: int) -> tuple[str, bool] | None:
        shown = self.shown.get(stratum or "")
        if shown is None:
            return None
        return shown, (shown, week) not in self.weekless


def _generalize(sizes: Counter, k: int) -> dict:
    shown = {stratum: stratum for stratum in sizes}

    def counts():
        totals = Counter()
        for stratum, value in shown.items():
            totals[value] += sizes[stratum]
        return totals

    while True:
        small = {value for value, n in counts().items() if n < k and _next(value)}
        if not small:
            break
        shown = {s: _next(v) if v in small else v for s, v in shown.items()}
    totals = counts()
    while totals.get(SUPPRESSED, k) < k and len(totals) > 1:
        smallest = min((v for v in totals if v != SUPPRESSED), key=lambda v: (totals[v], v))
        shown = {s: SUPPRESSED if v == smallest else v for s, v in shown.items()}
        totals = counts()
    if totals.get(SUPPRESSED, k) < k:
        shown = {s: None if v == SUPPRESSED else v for s, v in shown.items()}
    return shown


def plan_file(experiment: Experiment, k: int) -> Plan:
    """The generalization of the evaluator's copy (see the module docstring)."""
    inner = (
        select(
            func.coalesce(A.stratum, "").label("stratum"),
            epoch_week(A.assigned_at).label("week"),
        )
        .where(A.organization_id == experiment.organization_id, A.experiment_id == experiment.id)
        .subquery()
    )
    groups = Counter()
    for stratum, week, n in db.session.execute(
        select(inner.c.stratum, inner.c.week, func.count()).group_by(inner.c.stratum, inner.c.week)
    ):
        groups[(stratum, int(week))] += n
    sizes = Counter()
    for (stratum, _week), n in groups.items():
        sizes[stratum] += n
    plan = Plan(k, shown=_generalize(sizes, k))
    by_shown = {}
    for (stratum, week), n in groups.items():
        shown = plan.shown.get(stratum)
        if shown is not None:
            weeks = by_shown.setdefault(shown, Counter())
            weeks[week] += n
    for shown, weeks in by_shown.items():
        weekless = {week for week, n in weeks.items() if n < k}
        while weekless and sum(weeks[w] for w in weekless) < k:
            kept = [w for w in weeks if w not in weekless]
            weekless.add(min(kept, key=lambda w: (weeks[w], w)))
        plan.weekless.update((shown, week) for week in weekless)
    total = sum(sizes.values())
    plan.stats["rows"] = total
    for (stratum, week), n in groups.items():
        shown = plan.shown.get(stratum)
        if shown is None:
            plan.stats["dropped"] += n
            continue
        if shown != stratum:
            plan.stats["stratum"] += n
        if (shown, week) in plan.weekless:
            plan.stats["weeks"] += n
    return plan


# --- columns and rows ---------------------------------------------------------------------------


def file_columns(f: ExperimentFigures, threshold: int | None, items: dict) -> list[Column]:
    if threshold:
        dates = [
            C(
                "assigned_week_utc",
                _l("Assignment week (UTC)"),
                _l("Monday of the week (UTC) the contact was assigned, never the day."),
                "date",
            ),
            C(
                "time_zero_week_utc",
                _l("Time zero week (UTC)"),
                _l("Monday of the week (UTC) of the contact's time zero, never the day."),
                "date",
            ),
        ]
    else:
        dates = [
            C(
                "assigned_date",
                _l("Assignment date (UTC)"),
                _l("Day the contact was assigned."),
                "date",
            ),
            C(
                "time_zero_date",
                _l("Time zero (UTC)"),
                _l(
                    "Day outcome windows count from: the later of the experiment's start and "
                    "the contact's assignment."
                ),
                "date",
            ),
        ]
    columns = [
        C(
            "contact",
            _l("Contact (pseudonym)"),
            _l(
                "Pseudonymous contact ID: the same as in the participation export, so the two "
                "files can be joined; it cannot be traced back without the server's secret."
            ),
            "code",
            _l("20 hexadecimal characters."),
        ),
        C("arm", _l("Arm code"), _l("The arm the contact was assigned to."), "code", ARM_VALUES),
        C(
            "holdout",
            _l("Holdout"),
            _l("1 when the arm is the holdout, else 0."),
            "code",
            _l("0, 1."),
        ),
        C(
            "stratum",
            _l("Stratum"),
            _l("Place and age band when assigned: country-state|age band."),
            "code",
            _l(
                'For example MX-02|15-17; "?" or "unknown": not recorded; "suppressed": '
                "generalized."
            ),
        ),
        *dates,
    ]
    for o in f.outcomes:
        text = outcome_text(o.spec(), items)
        columns.append(
            C(
                o.code,
                text,
                _(
                    "%(outcome)s. 1: yes, 0: no, empty: not measurable yet (or, for a survey "
                    "item, no answer in the window).",
                    outcome=text,
                ),
                "code",
                _l("0, 1, empty."),
            )
        )
        if o.kind == "survey_item":
            columns.append(
                C(
                    f"{o.code}_value",
                    _("%(code)s: answer", code=o.code),
                    _("The answer counted for %(code)s (first one in the window).", code=o.code),
                    "count",
                )
            )
    return columns


def _flag(o: OutcomeInfo, value) -> str:
    if value is None:
        return ""
    if o.kind == "survey_item":
        return "1" if float(value) in o.top_box else "0"
    return str(int(value))


def file_rows(
    experiment: Experiment,
    f: ExperimentFigures,
    *,
    secret_key: str,
    threshold: int | None,
    now: datetime,
    today,
    plan: Plan | None = None,
) -> Iterator[list]:
    """Header, then one row per assigned contact, in pseudonym order (never the order of
    assignment: it would tell when)."""
    yield [column.key for column in file_columns(f, threshold, {})]
    if not f.started:
        return
    if threshold and plan is None:
        plan = plan_file(experiment, threshold)
    key = pseudonym_key(secret_key)
    arms = {arm.id: arm for arm in f.arms}
    org_id, started = experiment.organization_id, experiment.started_at
    start_week = _week(started)
    rows = []
    with without_nested_loops():
        found = db.session.execute(
            contact_columns(experiment, f.outcomes, now=now, today=today)
        ).all()
    for row in found:
        m = row._mapping
        arm = arms[m["arm_id"]]
        assigned_at = m["assigned_at"]
        t0 = max(assigned_at, started)
        if plan is not None:
            shown = plan.row(m["stratum"] or "", _week(assigned_at))
            if shown is None:
                continue
            stratum, weeks = shown
            dates = (
                [
                    week_monday(_week(assigned_at)).isoformat(),
                    week_monday(max(_week(assigned_at), start_week)).isoformat(),
                ]
                if weeks
                else [SUPPRESSED, SUPPRESSED]
            )
        else:
            stratum = m["stratum"] or ""
            dates = [assigned_at.date().isoformat(), t0.date().isoformat()]
        line = [pseudonym(key, org_id, m["contact_id"]), arm.key, int(arm.is_holdout), stratum]
        line += dates
        for o in f.outcomes:
            if o.kind == "survey_item":
                value = m[f"val_{o.code}"]
                line += [_flag(o, value), "" if value is None else f"{float(value):g}"]
            else:
                measurable = m[f"m{o.window_days}"]
                line.append(_flag(o, m[f"ev_{o.code}"] if measurable else None))
        rows.append(line)
    rows.sort(key=lambda line: line[0])
    yield from rows


def _week(moment: datetime) -> int:
    return (int(moment.timestamp()) // 86400 + 3) // 7


# --- the codebook -------------------------------------------------------------------------------


def method_notes(f: ExperimentFigures) -> list[tuple[str, str]]:
    """Definitions every reader of the report and its files needs (the page shows them)."""
    return [
        (
            "time_zero",
            _(
                "Time zero: the later of the experiment's start and the contact's assignment. "
                "Each outcome's window counts from it; a contact whose window has not ended "
                "yet is not yet measurable and left out of n."
            ),
        ),
        (
            "intention_to_treat",
            _(
                "Contacts are counted in the arm they were assigned to, whether or not a "
                "message reached them (intention to treat)."
            ),
        ),
        (
            "rsvp_yes",
            _(
                "Said yes to a workshop invitation: a yes to an invitation to any workshop of "
                "the organization in the window. The holdout receives no invitation of this "
                "campaign; counting every workshop keeps the arms comparable."
            ),
        ),
        (
            "attended",
            _(
                "Attended a workshop: attended or walked in to any workshop of the "
                "organization in the window."
            ),
        ),
        (
            "clicked",
            _("Clicked a link: a first click on a tracked link of this campaign in the window."),
        ),
        (
            "survey_item",
            _(
                "Survey item: the contact's first answer (not skipped) to the question in a "
                "survey run that started after time zero, within the window. n counts those who "
                "answered; the outcome is an answer among the values counted."
            ),
        ),
        (
            "eligible",
            _(
                "Eligible at send: at least one message of the campaign scheduled or sent, not "
                "canceled or skipped. The holdout is sent nothing: for it, whether the contact "
                "could be messaged today."
            ),
        ),
        (
            "wilson",
            _("Proportion: with the outcome divided by n, with Wilson's score interval (95%)."),
        ),
        (
            "newcombe",
            _(
                "Difference: the arm's proportion minus the control's, with Newcombe's hybrid "
                "score interval (95%); relative risk with Katz's log interval (95%)."
            ),
        ),
        (
            "welch_t",
            _("Scale items: difference of mean answers with Welch's interval (95%)."),
        ),
        (
            "control",
            _("Control: the holdout, or arm A when there is none."),
        ),
    ]


def _stats_note(stats: Counter) -> str:
    return _(
        "In this file: %(rows)d contacts; stratum generalized for %(stratum)d; weeks "
        "suppressed for %(weeks)d; left out %(dropped)d.",
        rows=stats.get("rows", 0),
        stratum=stats.get("stratum", 0),
        weeks=stats.get("weeks", 0),
        dropped=stats.get("dropped", 0),
    )


def codebook_rows(
    f: ExperimentFigures, threshold: int | None, items: dict, plan: Plan | None
) -> list[list[str]]:
    """The file's columns, the arms and outcomes, the methods, in the reader's language."""
    rows = [[_("Code"), _("Meaning"), _("Type"), _("Allowed values")]]
    for column in file_columns(f, threshold, items):
        rows.append(
            [
                column.key,
                str(column.meaning),
                str(KIND_TYPES[column.kind]),
                str(column.values or ""),
            ]
        )
    for arm in f.arms:
        rows.append([arm.key, arm_name(arm), _("Arm"), ""])
    for o in f.outcomes:
        kind = _("Primary outcome") if o.is_primary else _("Secondary outcome")
        rows.append([o.code, outcome_text(o.spec(), items), kind, ""])
    for code, meaning in method_notes(f):
        rows.append([code, meaning, "", ""])
    if threshold and plan is not None:
        rows.append(
            [
                "k_anonymity",
                _(
                    "Your copy follows the participation export's policy: every combination of "
                    "stratum and weeks is shared by at least %(k)d contacts.",
                    k=threshold,
                )
                + " "
                + _stats_note(plan.stats),
                "",
                "",
            ]
        )
    return rows
