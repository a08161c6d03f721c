"""The experiment report as tables (page, CSV, CLI): the participant flow, each outcome by
arm, and each arm against the control. Every count comes from one
`experiments.experiment_cells` result; every estimate is computed from the exact counts
and hidden when a count it uses is hidden (`suppression.derived`).

Estimates: a proportion with its 95% Wilson interval; the difference from the control
with Newcombe's hybrid score interval (95%) and the relative risk with Katz's log
interval; for scale survey items the mean and the difference of means with Welch's
interval. Several arms against one control: the primary outcome's difference also gets a
Bonferroni-adjusted interval (each at 1 − 0.05/m, m = the arms compared, so that all of
them hold together at 95%); secondary outcomes are exploratory and unadjusted, and the
page says how many comparisons the report makes.
"""

from types import SimpleNamespace

from flask_babel import format_percent, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.experiments.labels import arm_name, outcome_text
from app.experiments.outcomes import survey_items
from app.reports import charts
from app.reports.experiments import (
    ALL,
    ArmInfo,
    ExperimentCells,
    ExperimentFigures,
    OutcomeInfo,
    Result,
)
from app.reports.specs import Column, TableSpec
from app.reports.suppression import Hidden, derived
from app.reports.survey_tables import SurveyTable
from app.stats.means import welch
from app.stats.multiplicity import bonferroni_level
from app.stats.proportions import LEVEL, difference, relative_risk, wilson

C = Column
ARM_VALUES = _l("A, B, C, D (arms that receive the campaign), holdout (receives none of it).")


class ExperimentTable(SurveyTable):
    """A table of the experiment report (rates as percentages, decimals with two places)."""


def _arm_columns() -> list[Column]:
    return [
        C("arm", _l("Arm code"), _l("The arm's code."), "code", ARM_VALUES, page=False),
        C("arm_label", _l("Arm"), _l("The arm, with the staff's label if any."), "text"),
    ]


def outcome_title(o: OutcomeInfo, items: dict) -> str:
    text = outcome_text(o.spec(), items)
    if o.is_primary:
        return _("Primary outcome: %(outcome)s", outcome=text)
    return _("Secondary outcome: %(outcome)s", outcome=text)


def item_labels(org_id: int) -> dict:
    return {item.value: item.label for item in survey_items(org_id)}


def _hidden(*values) -> bool:
    return any(isinstance(v, Hidden) for v in values)


def _estimate(value, *inputs):
    """`value`, or hidden when a count it is computed from is hidden."""
    if _hidden(*inputs):
        return derived(None, *inputs)
    return value


# --- the participant flow -------------------------------------------------------------------


def flow_table(f: ExperimentFigures, c: ExperimentCells) -> ExperimentTable:
    primary = f.primary
    columns = [
        *_arm_columns(),
        C("assigned", _l("Assigned"), _l("Contacts assigned to the arm."), "people"),
        C(
            "eligible",
            _l("Eligible at send"),
            _l(
                "Contacts with at least one message of the campaign scheduled or sent (not "
                "canceled or skipped). Holdout: contacts who could be messaged today (it is "
                "sent nothing)."
            ),
            "people",
        ),
        C(
            "delivered",
            _l("Delivered"),
            _l("Contacts with at least one message of the campaign delivered (surveys aside)."),
            "people",
        ),
        C(
            "measured",
            _l("Outcome measured"),
            _l(
                "Contacts counted in the primary outcome: their window has ended (survey "
                "items: and they answered)."
            ),
            "people",
        ),
        C(
            "pending",
            _l("Not yet measurable"),
            _l("Contacts whose primary outcome window has not ended yet (left out of n)."),
            "people",
        ),
    ]
    spec = TableSpec(
        "flow",
        "experiment",
        _l("Participant flow"),
        _l("Per arm: assigned, eligible at send, delivered, outcome measured (CONSORT)."),
        tuple(columns),
    )
    table = ExperimentTable(spec)

    def cells(arm_id):
        row = [c[(step, arm_id)] for step in ("assigned", "eligible", "delivered")]
        if primary is None:
            return row + [None, None]
        return row + [c[("n", primary.id, arm_id)], c[("pending", primary.window_days, arm_id)]]

    for arm in f.arms:
        table.rows.append([arm.key, arm_name(arm), *cells(arm.id)])
    table.total = [_("Total"), "", *cells(ALL)]
    return table


def clicks_table(f: ExperimentFigures, c: ExperimentCells) -> ExperimentTable:
    """Click-through per arm so far: descriptive, while the experiment runs."""
    columns = [
        *_arm_columns(),
        C(
            "delivered",
            _l("Delivered"),
            _l("Contacts with at least one message of the campaign delivered (surveys aside)."),
            "people",
        ),
        C(
            "clicked",
            _l("Clicked"),
            _l("Contacts who clicked a tracked link of the campaign since their time zero."),
            "people",
        ),
        C(
            "click_through",
            _l("Click-through"),
            _l("Clicked divided by delivered."),
            "rate",
        ),
    ]
    spec = TableSpec(
        "clicks",
        "experiment",
        _l("Link clicks so far"),
        _l(
            "Per arm, up to now and without a window: a description while the experiment "
            "runs. The effect to defend is a pre-registered “clicked” outcome, below when "
            "there is one."
        ),
        tuple(columns),
    )
    table = ExperimentTable(spec)

    def cells(arm_id):
        delivered, clicked = c[("delivered", arm_id)], c[("clicked", arm_id)]
        rate = None
        if not _hidden(delivered, clicked) and delivered:
            rate = clicked / delivered
        return [delivered, clicked, _estimate(rate, delivered, clicked)]

    for arm in f.arms:
        table.rows.append([arm.key, arm_name(arm), *cells(arm.id)])
    table.total = [_("Total"), "", *cells(ALL)]
    return table


# --- one outcome by arm ---------------------------------------------------------------------


def outcome_table(
    f: ExperimentFigures, c: ExperimentCells, o: OutcomeInfo, items: dict
) -> ExperimentTable:
    columns = [
        *_arm_columns(),
        C("n", _l("n"), _l("Contacts counted: window ended (survey items: answered)."), "people"),
        C("events", _l("With the outcome"), _l("Contacts with the outcome."), "people"),
        C("proportion", _l("Proportion"), _l("With the outcome divided by n."), "rate"),
        C("ci_low", _l("95% CI low"), _l("Lower end of the Wilson interval (95%)."), "rate"),
        C("ci_high", _l("95% CI high"), _l("Upper end of the Wilson interval (95%)."), "rate"),
    ]
    if o.scale:
        columns.append(C("mean", _l("Mean"), _l("Mean answer on the scale."), "decimal"))
    columns.append(
        C(
            "pending",
            _l("Not yet measurable"),
            _l("Contacts whose window has not ended yet (left out of n)."),
            "people",
        )
    )
    spec = TableSpec(
        o.code,
        "experiment",
        outcome_title(o, items),
        _("Per arm: n, contacts with the outcome and the proportion with its interval (95%)."),
        tuple(columns),
    )
    table = ExperimentTable(spec)
    for arm in f.arms:
        r = f.result(o, arm)
        n, events = c[("n", o.id, arm.id)], c[("events", o.id, arm.id)]
        p = wilson(r.events, r.n) if r.n else None
        row = [
            arm.key,
            arm_name(arm),
            n,
            events,
            _estimate(p and p.estimate, n, events),
            _estimate(p and p.lower, n, events),
            _estimate(p and p.upper, n, events),
        ]
        if o.scale:
            row.append(_estimate(r.mean, n, events))
        row.append(c[("pending", o.window_days, arm.id)])
        table.rows.append(row)
    total = [_("Total"), "", c[("n", o.id, ALL)], c[("events", o.id, ALL)], None, None, None]
    if o.scale:
        total.append(None)
    table.total = [*total, c[("pending", o.window_days, ALL)]]
    return table


# --- each arm against the control -----------------------------------------------------------


def adjusted_level(f: ExperimentFigures, o: OutcomeInfo) -> float | None:
    """The Bonferroni level of the primary outcome's intervals (None: not adjusted)."""
    m = len(f.compared)
    if not o.is_primary or m < 2:
        return None
    return bonferroni_level(LEVEL, m)


def _effect_columns(o: OutcomeInfo, adjusted: float | None) -> list[Column]:
    columns = [
        *_arm_columns(),
        C(
            "control",
            _l("Control arm code"),
            _l("The arm compared with."),
            "code",
            ARM_VALUES,
            page=False,
        ),
        C(
            "difference",
            _l("Difference"),
            _l("The arm's proportion minus the control's (percentage points)."),
            "rate",
        ),
        C(
            "ci_low",
            _l("95% CI low"),
            _l("Lower end of Newcombe's hybrid score interval (95%) of the difference."),
            "rate",
        ),
        C(
            "ci_high",
            _l("95% CI high"),
            _l("Upper end of Newcombe's hybrid score interval (95%) of the difference."),
            "rate",
        ),
    ]
    if adjusted is not None:
        columns += [
            C(
                "adj_ci_low",
                _l("Adjusted CI low"),
                _l(
                    "Lower end of the Bonferroni-adjusted interval: all the arms' intervals "
                    "hold together at 95%."
                ),
                "rate",
            ),
            C(
                "adj_ci_high",
                _l("Adjusted CI high"),
                _l(
                    "Upper end of the Bonferroni-adjusted interval: all the arms' intervals "
                    "hold together at 95%."
                ),
                "rate",
            ),
        ]
    columns += [
        C(
            "relative_risk",
            _l("Relative risk"),
            _l("The arm's proportion divided by the control's (empty when the control's is 0)."),
            "decimal",
        ),
        C(
            "rr_ci_low",
            _l("RR 95% CI low"),
            _l("Lower end of Katz's log interval (95%) of the relative risk."),
            "decimal",
        ),
        C(
            "rr_ci_high",
            _l("RR 95% CI high"),
            _l("Upper end of Katz's log interval (95%) of the relative risk."),
            "decimal",
        ),
    ]
    if o.scale:
        columns += [
            C(
                "mean_difference",
                _l("Difference of means"),
                _l("The arm's mean answer minus the control's."),
                "decimal",
            ),
            C(
                "mean_ci_low",
                _l("Means 95% CI low"),
                _l("Lower end of Welch's interval (95%) of the difference of means."),
                "decimal",
            ),
            C(
                "mean_ci_high",
                _l("Means 95% CI high"),
                _l("Upper end of Welch's interval (95%) of the difference of means."),
                "decimal",
            ),
        ]
    return columns


def _effect_row(
    o: OutcomeInfo, arm: ArmInfo, control: ArmInfo, a: Result, b: Result, cells, adjusted
) -> list:
    inputs = cells
    both = a.n > 0 and b.n > 0
    diff = difference(a.events, a.n, b.events, b.n) if both else None
    rr = relative_risk(a.events, a.n, b.events, b.n) if both else None
    row = [
        arm.key,
        arm_name(arm),
        control.key,
        _estimate(diff and diff.estimate, *inputs),
        _estimate(diff and diff.lower, *inputs),
        _estimate(diff and diff.upper, *inputs),
    ]
    if adjusted is not None:
        wide = difference(a.events, a.n, b.events, b.n, level=adjusted) if both else None
        row += [_estimate(wide and wide.lower, *inputs), _estimate(wide and wide.upper, *inputs)]
    row += [
        _estimate(rr and rr.estimate, *inputs),
        _estimate(rr and rr.lower, *inputs),
        _estimate(rr and rr.upper, *inputs),
    ]
    if o.scale:
        means = welch(a.mean, a.variance, a.n, b.mean, b.variance, b.n) if both else None
        row += [
            _estimate(means and means.estimate, *inputs),
            _estimate(means and means.lower, *inputs),
            _estimate(means and means.upper, *inputs),
        ]
    return row


def effects_table(
    f: ExperimentFigures, c: ExperimentCells, o: OutcomeInfo, items: dict
) -> ExperimentTable:
    control = f.control
    adjusted = adjusted_level(f, o)
    spec = TableSpec(
        f"{o.code}_effects",
        "experiment",
        _("%(outcome)s: each arm against the control", outcome=outcome_title(o, items)),
        _(
            "Control: %(arm)s. Difference of proportions with Newcombe's interval, relative "
            "risk with Katz's interval.",
            arm=arm_name(control) if control else "—",
        ),
        tuple(_effect_columns(o, adjusted)),
    )
    table = ExperimentTable(spec)
    if control is None:
        return table
    b = f.result(o, control)
    control_cells = [c[("n", o.id, control.id)], c[("events", o.id, control.id)]]
    for arm in f.compared:
        cells = [c[("n", o.id, arm.id)], c[("events", o.id, arm.id)], *control_cells]
        table.rows.append(_effect_row(o, arm, control, f.result(o, arm), b, cells, adjusted))
    return table


# --- every table ------------------------------------------------------------------------------


def experiment_tables(
    f: ExperimentFigures, c: ExperimentCells, items: dict
) -> dict[str, ExperimentTable]:
    """Every table of the report, by key (the CSV file names)."""
    tables = {"flow": flow_table(f, c)}
    if f.has_links:
        tables["clicks"] = clicks_table(f, c)
    for o in f.outcomes:
        tables[o.code] = outcome_table(f, c, o, items)
        tables[f"{o.code}_effects"] = effects_table(f, c, o, items)
    return tables


def multiplicity_note(f: ExperimentFigures) -> str | None:
    """How many comparisons the report makes, and how the intervals treat them."""
    m = f.comparisons()
    if m < 2:
        return None
    arms = len(f.compared)
    text = ngettext(
        "This report makes %(num)d comparisons (each arm against the control, for each "
        "outcome). Their intervals (95%%) are not adjusted for one another: with several "
        "comparisons, one may exclude zero by chance.",
        "This report makes %(num)d comparisons (each arm against the control, for each "
        "outcome). Their intervals (95%%) are not adjusted for one another: with several "
        "comparisons, one may exclude zero by chance.",
        m,
    )
    if arms >= 2 and f.primary is not None:
        text += " " + _(
            "For the primary outcome, the adjusted intervals (Bonferroni, %(level)s each) "
            "hold together at 95%% for the %(arms)d arms compared: read those to say which "
            "arm differs.",
            level=format_percent(adjusted_level(f, f.primary), "#,##0.0%"),
            arms=arms,
        )
    if len(f.outcomes) > 1:
        text += " " + _("Secondary outcomes are exploratory: read them as leads, not as proof.")
    return text


def interval_rows(table: ExperimentTable, estimate: str, low: str, high: str) -> list[tuple]:
    """(arm label, estimate, low, high) of a table's rows, as shown (for the charts)."""
    keys = [column.key for column in table.spec.columns]
    i, lo, hi, label = (
        keys.index(estimate),
        keys.index(low),
        keys.index(high),
        keys.index("arm_label"),
    )
    return [(row[label], row[i], row[lo], row[hi]) for row in table.rows]


def spec_text(spec: dict, items: dict) -> str:
    """One outcome of a pre-registration change (before or after), as a sentence."""
    outcome = SimpleNamespace(
        kind=spec.get("kind"),
        window_days=spec.get("window_days") or 0,
        survey_bank_code=spec.get("survey_bank_code"),
        survey_question_id=spec.get("survey_question_id"),
        top_box=spec.get("top_box"),
    )
    text = outcome_text(outcome, items)
    return _("%(outcome)s (primary)", outcome=text) if spec.get("primary") else text


def experiment_charts(f: ExperimentFigures, tables: dict, fmt) -> dict:
    """Per outcome: each arm's proportion with its interval, and each arm's difference from
    the control with its interval (forest plots), drawn from the tables as shown."""
    same_data = _("The table next to the chart has the same data.")
    result = {}
    for o in f.outcomes:
        result[o.code] = charts.interval_chart(
            f"chart-{o.code}",
            _("%(code)s: proportion per arm", code=o.code.upper()),
            _("Dots show each arm's proportion, lines its interval (95%).") + " " + same_data,
            interval_rows(tables[o.code], "proportion", "ci_low", "ci_high"),
            fmt=fmt,
        )
        effects = tables[f"{o.code}_effects"]
        if effects.rows:
            result[f"{o.code}_effects"] = charts.interval_chart(
                f"chart-{o.code}-effects",
                _("%(code)s: difference from the control", code=o.code.upper()),
                _(
                    "Dots show each arm's difference from the control, lines its interval "
                    "(95%); the vertical line is no difference."
                )
                + " "
                + same_data,
                interval_rows(effects, "difference", "ci_low", "ci_high"),
                fmt=fmt,
                reference=0.0,
            )
    return result
