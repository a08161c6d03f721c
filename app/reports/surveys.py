"""Survey results (issue 17): exact figures from SQL GROUP BYs, then one suppressed set of
cells for everything a results page and its files show.

Figures (`survey_figures`), all grouped in SQL (never a loop over answers):

- the response funnel of every run: sent (the first question went out: every response
  not canceled before it went) → started (at least one answer) → completed, and the
  minutes from the first answer to completion (median);
- per question and run, the answers by value ("skipped" for SALTAR/SKIP or a reply still
  not understood after the re-ask; free-text questions count "answered", never the text);
- the same answers by age band (in the year of the answer), gender, language, state and
  municipality of the contact;
- baseline vs follow-up: for every campaign, each (baseline run, follow-up run) pair;
  questions match when they are the same question, or across surveys the same bank
  question (same bank code, type and scale). Paired: the joint distribution of
  (baseline answer, follow-up answer) of the contacts who answered both (skips left out).

Suppression (`survey_cells`): every count is a cell of one `suppression.Linked` group,
with the identities a reader knows: a run's answers add up over values, runs add up to
the question's total, breakdown rows add up to the total and their municipalities to
their state, the first question's answers are the run's started responses, a scale's
mean is Σ value × count over the answers, the paired 2×2 table adds up to the pairs and
its margins are part of the runs' answers (the rest: the unpaired, a non-negative count
between min × n and max × n). A results page (and its CSV files) shows the cells of one
survey; baseline and follow-up runs of different surveys link those surveys, so the group
covers every linked survey (`survey_component`) and each page shows its part of it.
Estimates (means, shares of a comparison, changes, intervals, tests) are hidden for
every viewer when their n is below the organization's threshold, and for evaluators also
when a count they are computed from is hidden.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from app.campaigns.models import Campaign
from app.contacts.models import Contact
from app.contacts.validation import fold
from app.extensions import db
from app.reports.metrics import UNKNOWN
from app.reports.numbers import median
from app.reports.sql import count_if, epoch_seconds, or_unknown, report_age_band, utc_year
from app.reports.suppression import SECONDARY, SMALL, TOTAL, Hidden, Linked, derived
from app.surveys.models import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse, SurveyRun

SKIPPED = "skipped"  # the value of a skipped question
ANSWERED = "answered"  # the value of an answered free-text question (never its text)
FUNNEL_STEPS = ("sent", "started", "completed")
DIMENSIONS = ("age_band", "gender", "language", "state", "municipality")
MEAN_TYPES = ("scale", "number")  # means, mean changes and intervals
BINARY_TYPES = ("yesno", "scale")  # shares of yes / of the top box, McNemar
COMPARED_KINDS = ("baseline", "follow_up")


# --- exact figures -----------------------------------------------------------------------


@dataclass
class QuestionInfo:
    id: int
    survey_id: int
    position: int
    qtype: str
    bank_code: str | None
    construct: str | None
    text_es: str
    text_en: str
    options: list
    scale_min: int | None
    scale_max: int | None
    low: tuple = ("", "")
    high: tuple = ("", "")
    values: list = field(default_factory=list)  # value codes in order (without SKIPPED)

    @property
    def code(self) -> str:
        return f"q{self.position}"

    @property
    def top(self) -> int | None:
        """The value whose share a comparison follows: yes, or the top of a scale."""
        if self.qtype == "yesno":
            return 1
        if self.qtype == "scale":
            return self.scale_max
        return None

    @property
    def bounds(self) -> tuple[int, int] | None:
        """(lowest, highest) possible value, for the mean's identities."""
        if self.qtype == "scale" and self.scale_min is not None:
            return self.scale_min, self.scale_max
        numbers = [v for v in self.values if isinstance(v, int)]
        if self.qtype == "number" and numbers:
            return min(numbers), max(numbers)
        return None

    def text(self, language: str) -> str:
        return self.text_en if language == "en" else self.text_es

    def label(self, value, language: str) -> str:
        """The option's or scale point's label ("" for a bare number)."""
        en = language == "en"
        if self.qtype in ("choice", "scale") and isinstance(value, int):
            index = value - (self.scale_min if self.qtype == "scale" else 1)
            if self.options and 0 <= index < len(self.options):
                option = self.options[index] or {}
                return option.get("en" if en else "es") or option.get("es") or ""
            if self.qtype == "scale" and value == self.scale_min:
                return self.low[1 if en else 0] or ""
            if self.qtype == "scale" and value == self.scale_max:
                return self.high[1 if en else 0] or ""
        return ""

    def comparable(self, other: "QuestionInfo") -> bool:
        if self.id == other.id:
            return True
        return (
            self.bank_code is not None
            and self.bank_code == other.bank_code
            and self.qtype == other.qtype
            and (self.scale_min, self.scale_max) == (other.scale_min, other.scale_max)
            and len(self.options or []) == len(other.options or [])
        )


@dataclass
class RunInfo:
    id: int
    survey_id: int
    kind: str
    campaign_id: int | None
    campaign_name: str | None
    starts_at: datetime
    status: str


@dataclass
class Matched:
    """One question asked in both runs of a comparison, and its paired answers."""

    before: QuestionInfo
    after: QuestionInfo
    joint: Counter = field(default_factory=Counter)  # (before, after) -> pairs

    @property
    def key(self) -> tuple:
        return (self.before.id, self.after.id)


@dataclass
class Comparison:
    baseline: RunInfo
    follow_up: RunInfo
    items: list[Matched] = field(default_factory=list)

    @property
    def key(self) -> tuple:
        return (self.baseline.id, self.follow_up.id)


@dataclass
class SurveyFigures:
    survey_ids: list[int]  # the linked surveys (see the module docstring)
    questions: dict[int, QuestionInfo]  # by id, every linked survey's
    runs: list[RunInfo]
    funnel: dict = field(default_factory=dict)  # run -> {step: n}
    minutes: dict = field(default_factory=dict)  # run -> Counter(minutes to complete)
    answers: Counter = field(default_factory=Counter)  # (question, run, value) -> n
    groups: list = field(default_factory=list)  # (question, value, band, ..., n)
    comparisons: list[Comparison] = field(default_factory=list)

    def questions_of(self, survey_id: int) -> list[QuestionInfo]:
        return sorted(
            (q for q in self.questions.values() if q.survey_id == survey_id),
            key=lambda q: q.position,
        )

    def runs_of(self, survey_id: int) -> list[RunInfo]:
        return [r for r in self.runs if r.survey_id == survey_id]

    def run(self, run_id: int) -> RunInfo:
        return next(r for r in self.runs if r.id == run_id)

    def comparisons_of(self, survey_id: int) -> list[Comparison]:
        return [
            c
            for c in self.comparisons
            if survey_id in (c.baseline.survey_id, c.follow_up.survey_id)
        ]


def survey_component(org_id: int, survey_id: int) -> list[int]:
    """The survey and every survey linked to it by a campaign's baseline and follow-up
    runs (transitively): their figures are protected as one group."""
    rows = db.session.execute(
        select(SurveyRun.campaign_id, SurveyRun.survey_id)
        .where(
            SurveyRun.organization_id == org_id,
            SurveyRun.kind.in_(COMPARED_KINDS),
            SurveyRun.campaign_id.is_not(None),
            SurveyRun.status != "canceled",
        )
        .distinct()
    ).all()
    by_campaign, by_survey = defaultdict(set), defaultdict(set)
    for campaign_id, sid in rows:
        by_campaign[campaign_id].add(sid)
        by_survey[sid].add(campaign_id)
    found, queue = {survey_id}, [survey_id]
    while queue:
        for campaign_id in by_survey[queue.pop()]:
            for other in by_campaign[campaign_id] - found:
                found.add(other)
                queue.append(other)
    return sorted(found)


def _questions(org_id: int, survey_ids: list[int]) -> dict[int, QuestionInfo]:
    rows = db.session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.organization_id == org_id, SurveyQuestion.survey_id.in_(survey_ids))
        .order_by(SurveyQuestion.survey_id, SurveyQuestion.position)
    ).all()
    questions = {}
    for q in rows:
        info = QuestionInfo(
            id=q.id,
            survey_id=q.survey_id,
            position=q.position,
            qtype=q.qtype,
            bank_code=q.bank_code,
            construct=q.construct,
            text_es=q.text_es,
            text_en=q.text_en,
            options=list(q.options or []),
            scale_min=q.scale_min,
            scale_max=q.scale_max,
            low=(q.low_es or "", q.low_en or ""),
            high=(q.high_es or "", q.high_en or ""),
        )
        if q.qtype == "choice":
            info.values = list(range(1, len(info.options) + 1))
        elif q.qtype == "scale" and q.scale_min is not None:
            info.values = list(range(q.scale_min, q.scale_max + 1))
        elif q.qtype == "yesno":
            info.values = [1, 0]
        elif q.qtype == "text":
            info.values = [ANSWERED]
        questions[q.id] = info
    return questions


def _runs(org_id: int, survey_ids: list[int]) -> list[RunInfo]:
    rows = db.session.execute(
        select(
            SurveyRun.id,
            SurveyRun.survey_id,
            SurveyRun.kind,
            SurveyRun.campaign_id,
            Campaign.name,
            SurveyRun.starts_at,
            SurveyRun.status,
        )
        .outerjoin(Campaign, Campaign.id == SurveyRun.campaign_id)
        .where(
            SurveyRun.organization_id == org_id,
            SurveyRun.survey_id.in_(survey_ids),
            SurveyRun.status != "scheduled",
        )
        .order_by(SurveyRun.starts_at, SurveyRun.id)
    ).all()
    return [RunInfo(*row) for row in rows]


def _value(qtype: str, value_num, skipped: bool):
    if skipped:
        return SKIPPED
    if qtype == "text" or value_num is None:
        return ANSWERED
    return int(round(value_num))


def _funnel(run_ids: list[int]) -> tuple[dict, dict]:
    R = SurveyResponse
    funnel = {run_id: dict.fromkeys(FUNNEL_STEPS, 0) for run_id in run_ids}
    if not run_ids:
        return funnel, {}
    for run_id, sent, started, completed in db.session.execute(
        select(
            R.run_id,
            count_if(or_(R.status != "canceled", R.started_at.is_not(None))),
            count_if(R.started_at.is_not(None)),
            count_if(R.status == "completed"),
        )
        .where(R.run_id.in_(run_ids))
        .group_by(R.run_id)
    ):
        funnel[run_id] = {"sent": sent, "started": started, "completed": completed}
    inner = (
        select(
            R.run_id.label("run_id"),
            ((epoch_seconds(R.completed_at) - epoch_seconds(R.started_at)) / 60).label("minutes"),
        )
        .where(
            R.run_id.in_(run_ids),
            R.status == "completed",
            R.started_at.is_not(None),
            R.completed_at.is_not(None),
        )
        .subquery()
    )
    minutes = defaultdict(Counter)
    for run_id, value, n in db.session.execute(
        select(inner.c.run_id, inner.c.minutes, func.count()).group_by(
            inner.c.run_id, inner.c.minutes
        )
    ):
        minutes[run_id][max(int(value), 0)] += n
    return funnel, dict(minutes)


def _answers(org_id: int, run_ids: list[int], questions: dict) -> Counter:
    A, R = SurveyAnswer, SurveyResponse
    counts = Counter()
    if not run_ids:
        return counts
    for question_id, run_id, value_num, skipped, n in db.session.execute(
        select(A.question_id, R.run_id, A.value_num, A.skipped, func.count())
        .join(R, R.id == A.response_id)
        .where(A.organization_id == org_id, R.run_id.in_(run_ids))
        .group_by(A.question_id, R.run_id, A.value_num, A.skipped)
    ):
        q = questions.get(question_id)
        if q is not None:
            counts[(question_id, run_id, _value(q.qtype, value_num, skipped))] += n
    return counts


def _groups(org_id: int, run_ids: list[int], questions: dict) -> list:
    """Answers by question, value and the contact's demographics (the finest grouping;
    every breakdown rolls it up)."""
    A, R = SurveyAnswer, SurveyResponse
    if not run_ids:
        return []
    # Grouped through a subquery: PostgreSQL does not match a GROUP BY expression that
    # has bound parameters (the age bands) with the same SELECT expression.
    inner = (
        select(
            A.question_id.label("question_id"),
            A.value_num.label("value_num"),
            A.skipped.label("skipped"),
            report_age_band(utc_year(A.answered_at)).label("band"),
            Contact.gender.label("gender"),
            Contact.language.label("language"),
            Contact.country.label("country"),
            Contact.state_code.label("state"),
            Contact.municipality.label("municipality"),
        )
        .join(R, R.id == A.response_id)
        .join(Contact, Contact.id == A.contact_id)
        .where(A.organization_id == org_id, R.run_id.in_(run_ids))
        .subquery()
    )
    c = inner.c
    columns = (
        c.question_id,
        c.value_num,
        c.skipped,
        c.band,
        c.gender,
        c.language,
        c.country,
        c.state,
        c.municipality,
    )
    groups = []
    for question_id, value_num, skipped, *demo, n in db.session.execute(
        select(*columns, func.count()).group_by(*columns)
    ):
        q = questions.get(question_id)
        if q is None:
            continue
        band, gender, language, country, state, municipality = demo
        groups.append(
            (
                question_id,
                _value(q.qtype, value_num, skipped),
                or_unknown(band),
                or_unknown(gender),
                or_unknown(language),
                or_unknown(country),
                or_unknown(state),
                municipality or "",
                n,
            )
        )
    return groups


def _comparisons(org_id: int, runs: list[RunInfo], questions: dict) -> list[Comparison]:
    by_campaign = defaultdict(lambda: {"baseline": [], "follow_up": []})
    for run in runs:
        if run.kind in COMPARED_KINDS and run.campaign_id is not None:
            by_campaign[run.campaign_id][run.kind].append(run)
    comparisons = []
    for campaign_id in sorted(by_campaign):
        for baseline in by_campaign[campaign_id]["baseline"]:
            for follow_up in by_campaign[campaign_id]["follow_up"]:
                comparison = Comparison(baseline, follow_up)
                after_questions = [
                    q for q in questions.values() if q.survey_id == follow_up.survey_id
                ]
                for before in sorted(
                    (q for q in questions.values() if q.survey_id == baseline.survey_id),
                    key=lambda q: q.position,
                ):
                    if before.qtype not in MEAN_TYPES + BINARY_TYPES:
                        continue
                    after = next((q for q in after_questions if before.comparable(q)), None)
                    if after is not None:
                        comparison.items.append(Matched(before, after))
                _joint(org_id, comparison)
                comparisons.append(comparison)
    return comparisons


def _joint(org_id: int, comparison: Comparison) -> None:
    """The paired answers of every matched question, in one GROUP BY."""
    if not comparison.items:
        return
    A1, A2 = aliased(SurveyAnswer), aliased(SurveyAnswer)
    R1, R2 = aliased(SurveyResponse), aliased(SurveyResponse)
    items = {item.key: item for item in comparison.items}
    # From the two runs' responses (one per contact each) to their answers through the
    # (response, question) unique index, one matched question at a time (plain equalities
    # keep the plan simple): never a join of every answer on the contact.
    for before_id, after_id in items:
        stmt = (
            select(A1.value_num, A2.value_num, func.count())
            .select_from(R1)
            .join(R2, R2.contact_id == R1.contact_id)
            .join(A1, (A1.response_id == R1.id) & (A1.question_id == before_id))
            .join(A2, (A2.response_id == R2.id) & (A2.question_id == after_id))
            .where(
                R1.run_id == comparison.baseline.id,
                R2.run_id == comparison.follow_up.id,
                R1.organization_id == org_id,
                R2.organization_id == org_id,
                A1.skipped.is_(False),
                A2.skipped.is_(False),
                A1.value_num.is_not(None),
                A2.value_num.is_not(None),
            )
            .group_by(A1.value_num, A2.value_num)
        )
        for before, after, n in db.session.execute(stmt):
            items[(before_id, after_id)].joint[(int(round(before)), int(round(after)))] += n


def survey_figures(org_id: int, survey_id: int) -> SurveyFigures:
    """Every exact figure of the survey's results page (and of its linked surveys)."""
    survey_ids = survey_component(org_id, survey_id)
    questions = _questions(org_id, survey_ids)
    runs = _runs(org_id, survey_ids)
    run_ids = [r.id for r in runs]
    funnel, minutes = _funnel(run_ids)
    answers = _answers(org_id, run_ids, questions)
    for (question_id, _run, value), _n in answers.items():
        q = questions[question_id]
        if value not in (SKIPPED, ANSWERED) and value not in q.values:
            q.values.append(value)  # numbers, and any value outside the options
    for q in questions.values():
        if q.qtype in ("choice", "scale", "number"):
            q.values.sort()
    return SurveyFigures(
        survey_ids=survey_ids,
        questions=questions,
        runs=runs,
        funnel=funnel,
        minutes=minutes,
        answers=answers,
        groups=_groups(org_id, run_ids, questions),
        comparisons=_comparisons(org_id, runs, questions),
    )


def surveys_with_results(org_id: int) -> list[tuple[Survey, int, datetime | None]]:
    """The organization's surveys with at least one run under way or over: (survey, runs,
    last start), newest first. No counts: a list cannot show what the pages suppress."""
    rows = db.session.execute(
        select(Survey, func.count(SurveyRun.id), func.max(SurveyRun.starts_at))
        .join(SurveyRun, SurveyRun.survey_id == Survey.id)
        .where(
            Survey.organization_id == org_id,
            SurveyRun.status.in_(("running", "closed")),
        )
        .group_by(Survey.id)
        .order_by(func.max(SurveyRun.starts_at).desc(), Survey.id.desc())
    ).all()
    return [tuple(row) for row in rows]


# --- suppression -------------------------------------------------------------------------


def dimension_key(name: str, band, gender, language, country, state, municipality):
    if name == "age_band":
        return band
    if name == "gender":
        return gender
    if name == "language":
        return language
    if name == "state":
        return (country, state)
    return (country, state, fold(municipality) if municipality else "")


@dataclass
class SurveyCells:
    """Every count as the viewer sees it (exact, or `Hidden`), the rows of each breakdown,
    and the figures the estimates are computed from."""

    shown: dict
    threshold: int | None  # the viewer's (None: exact counts)
    min_n: int  # estimates need at least this n, for every viewer
    dimensions: dict = field(default_factory=dict)  # (question, name) -> [group keys]
    municipality_names: dict = field(default_factory=dict)  # (c, s, folded) -> spelling

    def __getitem__(self, key):
        return self.shown[key]

    def get(self, key, default=0):
        return self.shown.get(key, default)


class _Builder:
    def __init__(self, f: SurveyFigures, threshold: int | None):
        self.f = f
        self.linked = Linked(threshold)
        self.slacks = 0

    def slack(self, value: int):
        self.slacks += 1
        return self.linked.slack(("slack", self.slacks), value)

    def part_of(self, whole, part) -> None:
        """`part` counts some of the people `whole` counts: whole = part + the rest."""
        rest = self.linked.values[whole] - self.linked.values[part]
        if rest >= 0:
            self.linked.equation({whole: -1, part: 1, self.slack(rest): 1}, partition=not rest)

    def within(self, total, n, bounds) -> None:
        """A sum of n values between low and high: low·n <= total <= high·n."""
        low, high = bounds
        values = self.linked.values
        if low < 0:
            return
        self.linked.equation({total: 1, n: -low, self.slack(values[total] - low * values[n]): -1})
        self.linked.equation({n: high, total: -1, self.slack(high * values[n] - values[total]): -1})


def survey_cells(f: SurveyFigures, threshold: int | None, min_n: int) -> SurveyCells:
    """Every count of the linked surveys' results, suppressed once for the viewer."""
    b = _Builder(f, threshold)
    cells = SurveyCells(shown={}, threshold=threshold, min_n=min_n)
    _add_funnel(b)
    _add_answers(b)
    _add_breakdowns(b, cells)
    _add_comparisons(b)
    cells.shown = b.linked.shown(part_of=_breakdown_table)
    return cells


def _breakdown_table(key):
    """The breakdown table a figure belongs to (a question's groups by one dimension; states
    and their municipalities are one table), or None for the core figures."""
    if isinstance(key, tuple) and key[0] in ("by", "by_n", "by_valid"):
        return (key[1], "state" if key[2] == "municipality" else key[2])
    return None


def _add_funnel(b: _Builder) -> None:
    linked, f = b.linked, b.f
    for step in FUNNEL_STEPS:
        for run in f.runs:
            linked.add(("funnel", run.id, step), f.funnel.get(run.id, {}).get(step, 0))
        for survey_id in f.survey_ids:
            keys = [("funnel", r.id, step) for r in f.runs_of(survey_id)]
            total = linked.add(
                ("funnel_total", survey_id, step), sum(linked.values[k] for k in keys), TOTAL
            )
            linked.partition(total, keys)
    for run in f.runs:
        b.part_of(("funnel", run.id, "sent"), ("funnel", run.id, "started"))
        b.part_of(("funnel", run.id, "started"), ("funnel", run.id, "completed"))


def _values(q: QuestionInfo) -> list:
    return [*q.values, SKIPPED]


def _add_answers(b: _Builder) -> None:
    """Per question and run: answers by value, their total, the valid ones (not skipped)
    and, for means, Σ value and Σ value² (weighted identities over the counts)."""
    linked, f = b.linked, b.f
    for q in f.questions.values():
        runs = f.runs_of(q.survey_id)
        values = _values(q)
        for run in runs:
            keys = [
                linked.add(("dist", q.id, run.id, v), f.answers.get((q.id, run.id, v), 0))
                for v in values
            ]
            total = linked.add(
                ("answers", q.id, run.id), sum(linked.values[k] for k in keys), TOTAL
            )
            linked.partition(total, keys)
            valid = linked.add(
                ("valid", q.id, run.id), linked.values[total] - linked.values[keys[-1]], TOTAL
            )
            linked.partition(total, [valid, keys[-1]])
            if q.position == 1:
                linked.equal(("funnel", run.id, "started"), total)
            if q.qtype in MEAN_TYPES and q.bounds and q.bounds[0] >= 0:
                for name, power in (("sum", 1), ("sumsq", 2)):
                    terms = {("dist", q.id, run.id, v): v**power for v in q.values if v}
                    value = sum(c * linked.values[k] for k, c in terms.items())
                    linked.add((name, q.id, run.id), value, TOTAL)
                    linked.equation({**terms, (name, q.id, run.id): -1})
                b.within(("sum", q.id, run.id), valid, q.bounds)
        for v in values:
            keys = [("dist", q.id, run.id, v) for run in runs]
            total = linked.add(("dist_total", q.id, v), sum(linked.values[k] for k in keys), TOTAL)
            linked.partition(total, keys)
        keys = [("answers", q.id, run.id) for run in runs]
        total = linked.add(("answers_total", q.id), sum(linked.values[k] for k in keys), TOTAL)
        linked.partition(total, keys)
        linked.partition(total, [("dist_total", q.id, v) for v in values])


def _add_breakdowns(b: _Builder, cells: SurveyCells) -> None:
    """Per question and dimension: groups × values, rows adding up to the group's answers,
    columns to the question's totals, municipalities to their state."""
    linked, f = b.linked, b.f
    rolled = defaultdict(Counter)  # (question, dimension) -> Counter((group, value))
    spellings = defaultdict(Counter)
    for question_id, value, *demo, n in f.groups:
        for name in DIMENSIONS:
            rolled[(question_id, name)][(dimension_key(name, *demo), value)] += n
        muni = dimension_key("municipality", *demo)
        spellings[muni][demo[-1]] += n
    cells.municipality_names = {
        key: counts.most_common(1)[0][0] if key[2] else "" for key, counts in spellings.items()
    }
    for q in f.questions.values():
        values = _values(q)
        for name in DIMENSIONS:
            counts = rolled[(q.id, name)]
            groups = sorted({g for g, _v in counts}, key=_group_order)
            cells.dimensions[(q.id, name)] = groups
            for g in groups:
                keys = [linked.add(("by", q.id, name, g, v), counts[(g, v)]) for v in values]
                row = linked.add(("by_n", q.id, name, g), sum(linked.values[k] for k in keys))
                linked.partition(row, keys)
                valid = linked.add(
                    ("by_valid", q.id, name, g), linked.values[row] - linked.values[keys[-1]], TOTAL
                )
                linked.partition(row, [valid, keys[-1]])
            for v in values:
                linked.partition(
                    ("dist_total", q.id, v), [("by", q.id, name, g, v) for g in groups]
                )
            linked.partition(("answers_total", q.id), [("by_n", q.id, name, g) for g in groups])
        states = cells.dimensions[(q.id, "state")]
        munis = cells.dimensions[(q.id, "municipality")]
        for state in states:
            inside = [m for m in munis if m[:2] == state]
            for v in values:
                linked.partition(
                    ("by", q.id, "state", state, v),
                    [("by", q.id, "municipality", m, v) for m in inside],
                )
            linked.partition(
                ("by_n", q.id, "state", state), [("by_n", q.id, "municipality", m) for m in inside]
            )


def _group_order(key):
    if isinstance(key, tuple):
        return (key[0], key[1] == UNKNOWN, *key[1:])
    return (key == UNKNOWN, key)


def _add_comparisons(b: _Builder) -> None:
    """The paired tables: n, the 2×2 table of the top answer (yes / top box) and its
    margins, Σ before and Σ after; each margin or sum is part of its run's answers."""
    linked = b.linked
    for comparison in b.f.comparisons:
        for item in comparison.items:
            key = ("pair", *comparison.key, *item.key)
            n = linked.add((*key, "n"), sum(item.joint.values()))
            sides = (
                (item.before, comparison.baseline.id, 0),
                (item.after, comparison.follow_up.id, 1),
            )
            for q, run_id, _side in sides:
                b.part_of(("valid", q.id, run_id), n)
            top = item.before.top
            if item.before.qtype in BINARY_TYPES and top is not None:
                quadrants = {
                    name: linked.add(
                        (*key, name),
                        sum(
                            k
                            for (x, y), k in item.joint.items()
                            if (x == top) == first and (y == top) == second
                        ),
                    )
                    for name, first, second in (
                        ("yy", True, True),
                        ("yn", True, False),
                        ("ny", False, True),
                        ("nn", False, False),
                    )
                }
                linked.partition(n, list(quadrants.values()))
                for name, parts, (q, run_id, _side) in (
                    ("before_top", ("yy", "yn"), sides[0]),
                    ("after_top", ("yy", "ny"), sides[1]),
                ):
                    margin = linked.add(
                        (*key, name), sum(linked.values[quadrants[p]] for p in parts), TOTAL
                    )
                    linked.partition(margin, [quadrants[p] for p in parts])
                    b.part_of(("dist", q.id, run_id, top), margin)
                    if q.qtype == "yesno":
                        rest = [quadrants[p] for p in ("yy", "yn", "ny", "nn") if p not in parts]
                        other = linked.add(
                            (*key, name, "other"), sum(linked.values[r] for r in rest), TOTAL
                        )
                        linked.partition(other, rest)
                        b.part_of(("dist", q.id, run_id, 0), other)
            if item.before.qtype in MEAN_TYPES and item.before.bounds:
                for name, index, (q, run_id, _side) in (
                    ("sum_before", 0, sides[0]),
                    ("sum_after", 1, sides[1]),
                ):
                    total = linked.add(
                        (*key, name), sum(pair[index] * k for pair, k in item.joint.items()), TOTAL
                    )
                    b.within(total, n, item.before.bounds)
                    run_sum = ("sum", q.id, run_id)
                    if run_sum in linked.values:
                        rest_n = linked.values[("valid", q.id, run_id)] - linked.values[n]
                        rest_sum = linked.values[run_sum] - linked.values[total]
                        slack_n, slack_sum = b.slack(rest_n), b.slack(rest_sum)
                        linked.equation({("valid", q.id, run_id): -1, n: 1, slack_n: 1})
                        linked.equation({run_sum: -1, total: 1, slack_sum: 1})
                        b.within(slack_sum, slack_n, q.bounds)


# --- estimates as the viewer sees them ----------------------------------------------------


class TooFew:
    """An estimate left out because its n is below the organization's threshold (for
    every viewer: with so few answers it says nothing)."""

    def __str__(self) -> str:
        return "—"


TOO_FEW = TooFew()


def estimate(value, n, cells: SurveyCells, *inputs):
    """`value` as shown: TOO_FEW under min_n, hidden when an input is hidden."""
    if value is None:
        return None
    if isinstance(n, Hidden):
        return derived(None, n)
    if n is None or n < cells.min_n:
        return TOO_FEW
    return derived(value, *inputs)


def run_minutes(f: SurveyFigures, cells: SurveyCells, run_id: int):
    """Median minutes from the first answer to completion, as the viewer sees it."""
    distribution = f.minutes.get(run_id, Counter())
    value = median(distribution)
    completed = sum(distribution.values())
    if value is None:
        return None
    if cells.threshold and completed < cells.threshold:
        return Hidden(SMALL, cells.threshold)
    return derived(value, cells[("funnel", run_id, "completed")])


def total_minutes(f: SurveyFigures, cells: SurveyCells, survey_id: int):
    distribution = Counter()
    for run in f.runs_of(survey_id):
        distribution.update(f.minutes.get(run.id, Counter()))
    value = median(distribution)
    if value is None:
        return None
    if cells.threshold and sum(distribution.values()) < cells.threshold:
        return Hidden(SECONDARY, cells.threshold)
    return derived(value, cells[("funnel_total", survey_id, "completed")])
