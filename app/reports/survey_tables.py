"""Survey results as tables (page, CSV, CLI), the de-identified answers file and the
survey's codebook. Every count comes from one `surveys.survey_cells` result, so a figure
hidden in one table is hidden in every table, chart and file that shows it.

Answers file: one row per answer, keyed by the same pseudonym as the participation
export (exports.pseudonym), so an evaluator can join the two. Never a name, a phone, the
raw reply or, for evaluators, a free-text answer (free-text questions have no value
column for them: only whether it was answered); evaluators get the UTC week of an answer,
coordinators its time.
"""

from collections.abc import Iterator

from flask_babel import format_date, format_decimal, format_number, format_percent, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.reports.exports import pseudonym, pseudonym_key
from app.reports.labels import age_label, gender_label, language_label, state_label
from app.reports.numbers import ratio
from app.reports.specs import Column, TableSpec
from app.reports.sql import week_monday
from app.reports.suppression import Hidden, derived
from app.reports.survey_stats import (
    CHI2,
    EXACT,
    T_TEST,
    WELCH,
    Moments,
    mcnemar,
    mean_change,
    welch,
)
from app.reports.surveys import (
    ANSWERED,
    BINARY_TYPES,
    DIMENSIONS,
    MEAN_TYPES,
    SKIPPED,
    Comparison,
    QuestionInfo,
    SurveyCells,
    SurveyFigures,
    TooFew,
    estimate,
    run_minutes,
    total_minutes,
)
from app.reports.tables import Table
from app.surveys.bank import CONSTRUCT_LABELS
from app.surveys.labels import QTYPE_LABELS
from app.surveys.labels import RUN_KIND_SHORT as RUN_KIND_LABELS
from app.surveys.models import SurveyAnswer, SurveyResponse, SurveyRun

C = Column
METHOD_LABELS = {
    T_TEST: _l("Paired t (95% CI)"),
    EXACT: _l("McNemar, exact binomial"),
    CHI2: _l("McNemar, chi-square with continuity correction"),
    WELCH: _l("Welch t (95% CI)"),
}
DIMENSION_LABELS = {
    "age_band": _l("Age band"),
    "gender": _l("Gender"),
    "language": _l("Language"),
    "state": _l("State"),
    "municipality": _l("Municipality"),
}


def construct_label(code: str | None) -> str:
    return str(CONSTRUCT_LABELS.get(code, code or ""))


class SurveyTable(Table):
    """A table of survey results: adds p-values and estimates left out for a small n."""

    def display_row(self, row: list, *, total: bool = False) -> list[str]:
        return [
            _display(cell, column.kind) for column, cell in zip(self.spec.columns, row, strict=True)
        ]

    def csv_row(self, row: list) -> list[str]:
        return [
            _csv(cell, column.kind) for column, cell in zip(self.spec.columns, row, strict=True)
        ]


def _display(value, kind: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, (Hidden, TooFew)):
        return str(value)
    if isinstance(value, str):
        return value
    if kind == "rate":
        return format_percent(value, "#,##0.0%")
    if kind == "decimal":
        return format_decimal(value, "#,##0.00")
    if kind == "pvalue":
        return (
            "< " + format_decimal(0.001, "0.000")
            if value < 0.001
            else format_decimal(value, "0.000")
        )
    if kind in ("people", "count"):
        return format_number(value)
    if kind == "date":
        return format_date(value, "medium")
    return str(value)


def _csv(value, kind: str) -> str:
    if value is None or isinstance(value, TooFew):
        return ""
    if isinstance(value, Hidden):
        return str(value)
    if kind in ("rate", "decimal", "pvalue") and not isinstance(value, str):
        return f"{value:.4f}"
    if kind == "date":
        return value.isoformat()
    return str(value)


def _share(count, total):
    if isinstance(count, Hidden) or isinstance(total, Hidden):
        return derived(None, count, total)
    return ratio(count, total)


def run_label(run, language: str) -> str:
    kind = str(RUN_KIND_LABELS.get(run.kind, run.kind))
    day = format_date(run.starts_at, "d MMM yyyy")
    if run.campaign_name:
        return f"{kind} · {run.campaign_name} · {day}"
    return f"{kind} · {day}"


# --- the funnel ----------------------------------------------------------------------------

FUNNEL_COLUMNS = (
    C("run_id", _l("Run ID"), _l("Internal number of the survey run."), "code", page=False),
    C("run", _l("Run"), _l("Who was asked (kind of run, campaign) and when it started."), "text"),
    C(
        "kind",
        _l("Kind of run"),
        _l("Who was asked."),
        "code",
        _l("audience, baseline, follow_up, workshop."),
        page=False,
    ),
    C(
        "campaign_id",
        _l("Campaign ID"),
        _l("Internal number of the campaign, if any."),
        "code",
        page=False,
    ),
    C("sent", _l("Sent"), _l("Contacts whose first question went out."), "people"),
    C("started", _l("Started"), _l("Contacts who answered at least one question."), "people"),
    C("completed", _l("Completed"), _l("Contacts who reached the end of the survey."), "people"),
    C("completion_rate", _l("Completion rate"), _l("Completed divided by sent."), "rate"),
    C(
        "median_minutes",
        _l("Median minutes to complete"),
        _l("Median minutes from the first answer to the last, of completed surveys."),
        "decimal",
    ),
)


def funnel_table(f: SurveyFigures, c: SurveyCells, survey_id: int) -> SurveyTable:
    spec = TableSpec(
        "funnel",
        "survey",
        _l("Response funnel"),
        _l("Per run: sent, started and completed surveys."),
        FUNNEL_COLUMNS,
    )
    table = SurveyTable(spec)
    for run in f.runs_of(survey_id):
        sent, started, completed = (
            c[("funnel", run.id, s)] for s in ("sent", "started", "completed")
        )
        table.rows.append(
            [
                run.id,
                run_label(run, ""),
                run.kind,
                run.campaign_id,
                sent,
                started,
                completed,
                _share(completed, sent),
                run_minutes(f, c, run.id),
            ]
        )
    sent, started, completed = (
        c[("funnel_total", survey_id, s)] for s in ("sent", "started", "completed")
    )
    table.total = [
        _("Total"),
        "",
        "",
        "",
        sent,
        started,
        completed,
        _share(completed, sent),
        total_minutes(f, c, survey_id),
    ]
    return table


# --- distributions -------------------------------------------------------------------------


def value_code(value) -> str:
    return str(value)


def value_label(q: QuestionInfo, value, language: str) -> str:
    if value == SKIPPED:
        return _("Skipped")
    if value == ANSWERED:
        return _("Answered")
    if q.qtype == "yesno":
        return _("Yes") if value == 1 else _("No")
    label = q.label(value, language)
    return f"{value} · {label}" if label else str(value)


def _values(q: QuestionInfo) -> list:
    return [*q.values, SKIPPED]


def distribution_table(
    f: SurveyFigures, c: SurveyCells, q: QuestionInfo, language: str
) -> SurveyTable:
    runs = f.runs_of(q.survey_id)
    columns = [
        C("value", _l("Value"), _l("The answer's code."), "code", page=False),
        C("answer", _l("Answer"), _l("The answer."), "text"),
    ]
    for run in runs:
        label = run_label(run, language)
        columns += [
            C(f"run{run.id}_n", label, _("Answers in run %(id)d.", id=run.id), "people"),
            C(
                f"run{run.id}_share",
                _("%(run)s (%%)", run=label),
                _("Share of the run's answers that were not skipped."),
                "rate",
            ),
        ]
    columns += [
        C("total_n", _l("All runs"), _l("Answers in every run."), "people"),
        C("total_share", _l("All runs (%)"), _l("Share of the answers not skipped."), "rate"),
    ]
    spec = TableSpec(
        q.code,
        "survey",
        _("%(code)s. %(text)s", code=q.code.upper(), text=q.text(language)),
        _("Answers by value, per run (one answer per young person and run)."),
        tuple(columns),
    )
    table = SurveyTable(spec)
    valid_total = c[("answers_total", q.id)]
    skipped_total = c[("dist_total", q.id, SKIPPED)]
    valid_all = (
        derived(None, valid_total, skipped_total)
        if isinstance(valid_total, Hidden) or isinstance(skipped_total, Hidden)
        else valid_total - skipped_total
    )
    for v in _values(q):
        row = [value_code(v), value_label(q, v, language)]
        for run in runs:
            count = c[("dist", q.id, run.id, v)]
            share = None if v == SKIPPED else _share(count, c[("valid", q.id, run.id)])
            row += [count, share]
        total = c[("dist_total", q.id, v)]
        row += [total, None if v == SKIPPED else _share(total, valid_all)]
        table.rows.append(row)
    table.total = [_("Total"), ""]
    for run in runs:
        table.total += [c[("answers", q.id, run.id)], None]
    table.total += [valid_total, None]
    return table


def _group_label(name: str, key, c: SurveyCells) -> list:
    if name == "age_band":
        return [key, age_label(key)]
    if name == "gender":
        return [key, gender_label(key)]
    if name == "language":
        return [key, language_label(key)]
    if name == "state":
        return [key[0], key[1], state_label(key[0], key[1])]
    return [key[0], key[1], state_label(key[0], key[1]), c.municipality_names.get(key, "")]


def _group_columns(name: str) -> list:
    if name in ("age_band", "gender", "language"):
        return [
            C(name, DIMENSION_LABELS[name], _l("Code of the group."), "code", page=False),
            C(f"{name}_label", DIMENSION_LABELS[name], _l("The group."), "text"),
        ]
    columns = [
        C("country", _l("Country"), _l("Country code."), "code", page=False),
        C("state_code", _l("State code"), _l("State code."), "code", page=False),
        C("state", _l("State"), _l("State name."), "text"),
    ]
    if name == "municipality":
        columns.append(
            C(
                "municipality",
                _l("Municipality"),
                _l("Municipality (most common spelling)."),
                "text",
            )
        )
    return columns


def breakdown_table(
    f: SurveyFigures, c: SurveyCells, q: QuestionInfo, name: str, language: str
) -> SurveyTable:
    lead = _group_columns(name)
    columns = [*lead, C("n", _l("Answers"), _l("Answers of this group."), "people")]
    for v in _values(q):
        label = value_label(q, v, language)
        columns.append(C(f"v_{v}", label, _("Answers %(value)s.", value=label), "people"))
        if v != SKIPPED:
            columns.append(
                C(
                    f"v_{v}_share",
                    _("%(value)s (%%)", value=label),
                    _("Share of the group's answers that were not skipped."),
                    "rate",
                )
            )
    spec = TableSpec(
        f"{q.code}_{name}",
        "survey",
        _(
            "%(code)s by %(dimension)s",
            code=q.code.upper(),
            dimension=str(DIMENSION_LABELS[name]).lower(),
        ),
        _("Every run together; age in the year of the answer."),
        tuple(columns),
    )
    table = SurveyTable(spec)
    for g in c.dimensions.get((q.id, name), []):
        row = _group_label(name, g, c) + [c[("by_n", q.id, name, g)]]
        valid = c[("by_valid", q.id, name, g)]
        for v in _values(q):
            count = c[("by", q.id, name, g, v)]
            row.append(count)
            if v != SKIPPED:
                row.append(_share(count, valid))
        table.rows.append(row)
    total = [_("Total")] + [""] * (len(lead) - 1) + [c[("answers_total", q.id)]]
    for v in _values(q):
        total.append(c[("dist_total", q.id, v)])
        if v != SKIPPED:
            total.append(None)
    table.total = total
    return table


# --- baseline vs follow-up -----------------------------------------------------------------

MEASURE_LABELS = {"mean": _l("Mean"), "top": _l("Share: yes / top of the scale")}
PAIRED_COLUMNS = (
    C("question", _l("Question"), _l("Question code in the baseline survey."), "code", page=False),
    C(
        "bank_code",
        _l("Bank code"),
        _l("Question bank code (empty: written by hand)."),
        "code",
        page=False,
    ),
    C(
        "measure",
        _l("Measure"),
        _l("mean, or top (share of yes / top of the scale)."),
        "code",
        page=False,
    ),
    C("label", _l("Figure"), _l("Question and measure."), "text"),
    C("n", _l("Pairs (n)"), _l("Young people who answered the question in both runs."), "people"),
    C(
        "before",
        lazy_pgettext("survey run", "Baseline"),
        _l("Mean, or share, at baseline."),
        "decimal",
    ),
    C(
        "after",
        lazy_pgettext("survey run", "Follow-up"),
        _l("Mean, or share, at follow-up."),
        "decimal",
    ),
    C("change", _l("Change"), _l("Follow-up minus baseline."), "decimal"),
    C(
        "ci_low",
        _l("95% CI low"),
        _l("Lower end of the confidence interval (95%) of the mean change."),
        "decimal",
    ),
    C(
        "ci_high",
        _l("95% CI high"),
        _l("Upper end of the confidence interval (95%) of the mean change."),
        "decimal",
    ),
    C("yes_yes", _l("Yes → yes"), _l("Pairs with the top answer both times."), "people"),
    C("yes_no", _l("Yes → no"), _l("Pairs with the top answer at baseline only."), "people"),
    C("no_yes", _l("No → yes"), _l("Pairs with the top answer at follow-up only."), "people"),
    C("no_no", _l("No → no"), _l("Pairs without the top answer either time."), "people"),
    C("p_value", _l("p"), _l("Two-sided p-value of McNemar's test."), "pvalue"),
    C(
        "test",
        _l("Method"),
        _l("How the interval or test was computed."),
        "code",
        _l("paired_t, mcnemar_exact (fewer than 25 discordant pairs), mcnemar_chi2_cc."),
        page=False,
    ),
    C("test_label", _l("Method"), _l("How the interval or test was computed."), "text"),
)
UNPAIRED_COLUMNS = (
    C("question", _l("Question"), _l("Question code in the baseline survey."), "code", page=False),
    C(
        "bank_code",
        _l("Bank code"),
        _l("Question bank code (empty: written by hand)."),
        "code",
        page=False,
    ),
    C(
        "measure",
        _l("Measure"),
        _l("mean, or top (share of yes / top of the scale)."),
        "code",
        page=False,
    ),
    C("label", _l("Figure"), _l("Question and measure."), "text"),
    C("n_before", _l("Baseline n"), _l("Answers at baseline (not skipped)."), "people"),
    C(
        "before",
        lazy_pgettext("survey run", "Baseline"),
        _l("Mean, or share, of every baseline answer."),
        "decimal",
    ),
    C("n_after", _l("Follow-up n"), _l("Answers at follow-up (not skipped)."), "people"),
    C(
        "after",
        lazy_pgettext("survey run", "Follow-up"),
        _l("Mean, or share, of every follow-up answer."),
        "decimal",
    ),
    C("difference", _l("Difference"), _l("Follow-up minus baseline."), "decimal"),
    C(
        "ci_low",
        _l("95% CI low"),
        _l("Lower end of Welch's interval (95%) of the difference of means."),
        "decimal",
    ),
    C(
        "ci_high",
        _l("95% CI high"),
        _l("Upper end of Welch's interval (95%) of the difference of means."),
        "decimal",
    ),
    C(
        "test",
        _l("Method"),
        _l("How the interval was computed."),
        "code",
        _l("welch_t."),
        page=False,
    ),
)


def _item_label(q: QuestionInfo, measure: str, language: str) -> str:
    return f"{q.code.upper()} · {q.text(language)} · {MEASURE_LABELS[measure]}"


def _hidden_any(*values) -> bool:
    return any(isinstance(v, Hidden) for v in values)


def paired_table(comparison: Comparison, c: SurveyCells, language: str) -> SurveyTable:
    b, f = comparison.baseline, comparison.follow_up
    spec = TableSpec(
        f"paired_{b.id}_{f.id}",
        "survey",
        _l("Paired: the same young people at baseline and follow-up"),
        _l("Contacts who answered the question in both runs (skips left out)."),
        PAIRED_COLUMNS,
    )
    table = SurveyTable(spec)
    for item in comparison.items:
        key = ("pair", *comparison.key, *item.key)
        n = c[(*key, "n")]
        q = item.before
        exact_n = sum(item.joint.values())
        if q.qtype in MEAN_TYPES and (*key, "sum_before") in c.shown:
            result = mean_change(item.joint)
            inputs = (n, c[(*key, "sum_before")], c[(*key, "sum_after")])

            size = n if isinstance(n, Hidden) else exact_n

            def shown(value, size=size, inputs=inputs):
                return estimate(value, size, c, *inputs)

            table.rows.append(
                [
                    q.code,
                    q.bank_code or "",
                    "mean",
                    _item_label(q, "mean", language),
                    n,
                    shown(result and result.mean_before),
                    shown(result and result.mean_after),
                    shown(result and result.change),
                    shown(result and result.ci_low),
                    shown(result and result.ci_high),
                    None,
                    None,
                    None,
                    None,
                    None,
                    T_TEST,
                    str(METHOD_LABELS[T_TEST]),
                ]
            )
        if q.qtype in BINARY_TYPES and (*key, "yy") in c.shown:
            quadrants = [c[(*key, name)] for name in ("yy", "yn", "ny", "nn")]
            counts = [0, 0, 0, 0]
            top = q.top
            for (x, y), k in item.joint.items():
                counts[(0 if x == top else 2) + (0 if y == top else 1)] += k
            a, bb, cc, d = counts
            test = mcnemar(a, bb, cc, d)
            before_top, after_top = c[(*key, "before_top")], c[(*key, "after_top")]
            size = n if isinstance(n, Hidden) else exact_n
            table.rows.append(
                [
                    q.code,
                    q.bank_code or "",
                    "top",
                    _item_label(q, "top", language),
                    n,
                    estimate(test and test.share_before, size, c, n, before_top),
                    estimate(test and test.share_after, size, c, n, after_top),
                    estimate(test and test.change, size, c, n, before_top, after_top),
                    None,
                    None,
                    *quadrants,
                    estimate(test and test.p_value, size, c, quadrants[1], quadrants[2]),
                    test.method if test else "",
                    str(METHOD_LABELS[test.method]) if test else "",
                ]
            )
    return table


def unpaired_table(comparison: Comparison, c: SurveyCells, f: SurveyFigures, language: str):
    b, fu = comparison.baseline, comparison.follow_up
    spec = TableSpec(
        f"unpaired_{b.id}_{fu.id}",
        "survey",
        _l("Unpaired: everyone who answered each run"),
        _l(
            "Not the same young people: a difference may come from who answered, not from "
            "a change. Read the paired table first."
        ),
        UNPAIRED_COLUMNS,
    )
    table = SurveyTable(spec)
    for item in comparison.items:
        qb, qa = item.before, item.after
        nb, na = c[("valid", qb.id, b.id)], c[("valid", qa.id, fu.id)]
        exact = {}
        for side, q, run_id in (("b", qb, b.id), ("a", qa, fu.id)):
            exact[side] = {
                v: f.answers.get((q.id, run_id, v), 0) for v in q.values if isinstance(v, int)
            }
        mb, ma = Moments.of(exact["b"]), Moments.of(exact["a"])
        small = min(mb.n, ma.n)
        if _hidden_any(nb, na):
            small = nb if isinstance(nb, Hidden) else na
        if qb.qtype in MEAN_TYPES and ("sum", qb.id, b.id) in c.shown:
            diff = welch(mb, ma)
            inputs = [nb, na] + [
                c[(name, q.id, run_id)]
                for name in ("sum", "sumsq")
                for q, run_id in ((qb, b.id), (qa, fu.id))
            ]
            table.rows.append(
                [
                    qb.code,
                    qb.bank_code or "",
                    "mean",
                    _item_label(qb, "mean", language),
                    nb,
                    estimate(mb.mean, small, c, nb, inputs[2]),
                    na,
                    estimate(ma.mean, small, c, na, inputs[3]),
                    estimate(diff and diff.difference, small, c, *inputs[:4]),
                    estimate(diff and diff.ci_low, small, c, *inputs),
                    estimate(diff and diff.ci_high, small, c, *inputs),
                    WELCH,
                ]
            )
        if qb.qtype in BINARY_TYPES and qb.top is not None:
            tb, ta = c[("dist", qb.id, b.id, qb.top)], c[("dist", qa.id, fu.id, qa.top)]
            sb = ratio(exact["b"].get(qb.top, 0), mb.n)
            sa = ratio(exact["a"].get(qa.top, 0), ma.n)
            table.rows.append(
                [
                    qb.code,
                    qb.bank_code or "",
                    "top",
                    _item_label(qb, "top", language),
                    nb,
                    estimate(sb, small, c, nb, tb),
                    na,
                    estimate(sa, small, c, na, ta),
                    estimate(
                        None if sb is None or sa is None else sa - sb, small, c, nb, na, tb, ta
                    ),
                    None,
                    None,
                    "",
                ]
            )
    return table


# --- every table of a page -----------------------------------------------------------------


def survey_tables(
    f: SurveyFigures, c: SurveyCells, survey_id: int, language: str
) -> dict[str, SurveyTable]:
    """Every table of one survey's results, by key (the CSV file names)."""
    tables = {"funnel": funnel_table(f, c, survey_id)}
    for q in f.questions_of(survey_id):
        tables[q.code] = distribution_table(f, c, q, language)
        for name in DIMENSIONS:
            table = breakdown_table(f, c, q, name, language)
            tables[table.key] = table
    for comparison in f.comparisons_of(survey_id):
        for table in (
            paired_table(comparison, c, language),
            unpaired_table(comparison, c, f, language),
        ):
            tables[table.key] = table
    return tables


def scale_shares(table: SurveyTable, q: QuestionInfo, runs) -> list[tuple[str, list]]:
    """(run label, shares of each scale point) of a distribution table, as shown."""
    rows = [r for r in table.rows if r[0] != SKIPPED]
    result = []
    for index, run in enumerate(runs):
        column = 3 + 2 * index
        result.append((run, [r[column] for r in rows]))
    return result


# --- the answers file and the codebook -----------------------------------------------------


def answer_columns(threshold: int | None) -> list[Column]:
    time = (
        C(
            "week_utc",
            _l("Week (UTC)"),
            _l("Monday of the week (UTC) of the answer, never the day or time."),
            "date",
        )
        if threshold
        else C(
            "answered_at_utc", _l("Time (UTC)"), _l("When the answer arrived, in UTC."), "datetime"
        )
    )
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
        C("survey_id", _l("Survey ID"), _l("Internal number of the survey."), "code"),
        C("run_id", _l("Run ID"), _l("Internal number of the survey run."), "code"),
        C(
            "run_kind",
            _l("Kind of run"),
            _l("Who was asked."),
            "code",
            _l("audience, baseline, follow_up, workshop."),
        ),
        C("campaign_id", _l("Campaign ID"), _l("Internal number of the campaign, if any."), "code"),
        C("question", _l("Question"), _l("Question code (q1 to q10: its position)."), "code"),
        C("bank_code", _l("Bank code"), _l("Question bank code (empty: written by hand)."), "code"),
        C(
            "value",
            _l("Value"),
            _l(
                "The parsed answer: option number, scale point, number, 1 = yes and 0 = no; "
                "empty when skipped and for free-text questions."
            ),
            "count",
        ),
        C(
            "skipped",
            _l("Skipped"),
            _l("1 when the question was skipped, else 0."),
            "code",
            _l("0, 1."),
        ),
    ]
    if not threshold:
        columns.append(
            C(
                "text",
                _l("Free-text answer"),
                _l("The answer to a free-text question (coordinators' copy only)."),
                "text",
            )
        )
    columns.append(time)
    return columns


def answer_rows(
    org_id: int,
    survey_id: int,
    *,
    secret_key: str,
    threshold: int | None,
    questions: dict,
) -> Iterator[list]:
    """Header, then one row per answer of the survey (see the module docstring)."""
    yield [column.key for column in answer_columns(threshold)]
    A, R = SurveyAnswer, SurveyResponse
    key = pseudonym_key(secret_key)
    stmt = (
        select(
            A.contact_id,
            R.run_id,
            SurveyRun.kind,
            SurveyRun.campaign_id,
            A.question_id,
            A.value_num,
            A.value_text,
            A.skipped,
            A.answered_at,
        )
        .join(R, R.id == A.response_id)
        .join(SurveyRun, SurveyRun.id == R.run_id)
        .where(A.organization_id == org_id, R.survey_id == survey_id)
        .order_by(A.id)
        .execution_options(yield_per=5000)
    )
    for (
        contact_id,
        run_id,
        kind,
        campaign_id,
        question_id,
        value,
        text,
        skipped,
        at,
    ) in db.session.execute(stmt):
        q = questions.get(question_id)
        if q is None:
            continue
        shown = "" if skipped or value is None or q.qtype == "text" else int(round(value))
        row = [
            pseudonym(key, org_id, contact_id),
            survey_id,
            run_id,
            kind,
            campaign_id,
            q.code,
            q.bank_code or "",
            shown,
            int(bool(skipped)),
        ]
        if not threshold:
            row.append(text if q.qtype == "text" and not skipped else "")
        if threshold:
            week = (int(at.timestamp()) // 86400 + 3) // 7
            row.append(week_monday(week).isoformat())
        else:
            row.append(at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        yield row


def _question_values(q: QuestionInfo, language: str) -> str:
    if q.qtype == "text":
        return _("Free text: not in evaluators' files; only whether it was answered.")
    if q.qtype == "number":
        return _("A whole number.")
    parts = [f"{v} = {value_label(q, v, language).split(' · ', 1)[-1]}" for v in q.values]
    return "; ".join(parts) + "; " + _("empty = skipped")


def codebook_rows(
    f: SurveyFigures, survey_id: int, threshold: int | None, c_min_n: int, language: str
) -> list:
    """The survey's codebook: the answers file's columns, then every question, then the
    methods, in the reader's language."""
    rows = [[_("Code"), _("Construct"), _("Meaning"), _("Type"), _("Allowed values")]]
    for column in answer_columns(threshold):
        rows.append([column.key, "", str(column.meaning), column.kind, str(column.values or "")])
    for q in f.questions_of(survey_id):
        rows.append(
            [
                q.code,
                construct_label(q.construct),
                q.text(language),
                str(QTYPE_LABELS.get(q.qtype, q.qtype)),
                _question_values(q, language),
            ]
        )
    for code, meaning in method_notes(c_min_n):
        rows.append([code, "", meaning, "", ""])
    return rows


def method_notes(min_n: int) -> list[tuple[str, str]]:
    notes = [
        (
            T_TEST,
            _(
                "Paired mean change: mean of (follow-up − baseline) of the young people who "
                "answered both, with a confidence interval (95%) from Student's t with n − 1 "
                "degrees of freedom."
            ),
        ),
        (
            EXACT,
            _(
                "McNemar's test of the change in the share of yes (or of the top of a scale), "
                "exact two-sided binomial test on the discordant pairs, used when there are "
                "fewer than 25 of them."
            ),
        ),
        (
            CHI2,
            _(
                "McNemar's test, chi-square with continuity correction ((|b − c| − 1)² / "
                "(b + c), one degree of freedom), used from 25 discordant pairs on."
            ),
        ),
        (
            WELCH,
            _(
                "Unpaired difference of means with Welch's interval (95%). The two groups are "
                "not the same young people: read the paired figures first."
            ),
        ),
        (
            "estimates",
            _(
                "An estimate (mean, share, change, interval, p-value) is left empty when its n "
                "is below the organization's threshold of %(k)d.",
                k=min_n,
            ),
        ),
    ]
    return notes
