"""The experiment report (issue 18): exact figures from one SQL GROUP BY per experiment,
then one suppressed set of cells for everything its page and files show.

Definitions (the page and the codebook state them for readers):

- Time zero of a contact: the later of the experiment's start and the contact's
  assignment (a contact who joined the audience later is counted from then on). An
  outcome's window runs from time zero for `window_days` days. A contact whose window has
  not ended yet is "not yet measurable" and left out of that outcome's n.
- Analysis by assigned arm (intention to treat): every assigned contact whose window has
  ended is in n, whether or not a message reached them.
- Outcomes:
  - rsvp_yes: a "yes" to any workshop invitation of the organization in the window. The
    holdout receives no invitation of this campaign, so counting any workshop of the
    organization measures the campaign's effect on RSVPs, fairly across arms (an RSVP
    caused by another campaign counts the same in every arm).
  - attended: an "attended" or "walk_in" event at any workshop of the organization in
    the window (the same reasoning).
  - clicked: a first click on a tracked link of this campaign in the window (the holdout
    has none: its rate is 0 by design, the comparison between arms is the figure to read).
  - survey_item: the contact's first answer (not skipped) to the pre-registered question
    (by bank code: any question of the organization with that code), in a survey run
    started at or after time zero, answered within the window. n: those who answered;
    event: an answer among the pre-registered values (the "top box"); for scale
    questions also the mean per arm.
- Participant flow (CONSORT): assigned → eligible at send (at least one outbox row of the
  campaign's own messages that was not canceled or skipped; for the holdout, which is
  sent nothing, whether the contact could be messaged today: `eligible_sql`) → delivered
  (at least one "sms_delivered" of the campaign, surveys left out) → outcome measured.
  Beside it, "clicked so far": contacts with a first click on one of the campaign's
  tracked links since time zero (click-through per arm while the experiment runs).

Suppression (`experiment_cells`): the counts per arm are breakdown cells of one
`suppression.Linked` group, with the identities a reader knows: arms add up to the
totals; eligible is part of assigned and delivered part of eligible; an outcome's
measurable contacts plus the not yet measurable ones are the assigned ones; for survey
items n is part of the measurable contacts; events are part of n, and n − events (without
the outcome) is protected like a count too; a longer window's measurable contacts are part
of a shorter one's. An estimate whose counts are hidden is hidden (`suppression.derived`).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import Float, Integer, String, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from app.campaigns.models import CampaignMessage
from app.contacts.eligibility import eligible_sql
from app.contacts.models import Contact
from app.experiments.models import (
    Experiment,
    ExperimentArm,
    ExperimentAssignment,
    PreregistrationChange,
)
from app.experiments.services import NOT_CAMPAIGN_CONTENT
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.participation.models import ParticipationEvent
from app.reports.sql import epoch_seconds, union_branch, without_nested_loops
from app.reports.suppression import TOTAL, Linked
from app.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse, SurveyRun
from app.timeutil import UTCDateTime

E = ParticipationEvent
DAY = 86400
EVENT_KINDS = {
    "rsvp_yes": ("rsvp_yes",),
    "attended": ("attended", "walk_in"),
    "clicked": ("clicked",),
}
# "clicked": a first click on a tracked link of the campaign since time zero, so far (no
# window): descriptive click-through per arm; a pre-registered "clicked" outcome is the
# estimate to defend.
FLOW_STEPS = ("assigned", "eligible", "delivered", "clicked")
ALL = "all"  # the arm key of totals


@dataclass
class ArmInfo:
    id: int
    key: str
    label: str
    is_holdout: bool
    position: int

    @property
    def code(self) -> str:
        return self.key


@dataclass
class OutcomeInfo:
    id: int
    position: int
    kind: str
    window_days: int
    is_primary: bool
    bank_code: str | None
    question_id: int | None
    top_box: list
    scale: tuple[int, int] | None = None  # (min, max) when every matched question is a scale

    @property
    def code(self) -> str:
        return f"o{self.position + 1}"

    def spec(self):
        """What experiments.labels.outcome_text reads."""
        return SimpleNamespace(
            kind=self.kind,
            window_days=self.window_days,
            survey_bank_code=self.bank_code,
            survey_question_id=self.question_id,
            top_box=self.top_box,
        )


@dataclass
class Result:
    """One outcome in one arm: exact counts and, for survey items, Σ value and Σ value²."""

    measurable: int = 0
    n: int = 0
    events: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        if self.n < 2:
            return None
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))


@dataclass
class Change:
    changed_at: datetime
    after_start: bool
    reason: str | None
    before: list
    after: list


@dataclass
class ExperimentFigures:
    experiment_id: int
    organization_id: int
    campaign_id: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    now: datetime
    arms: list[ArmInfo]
    outcomes: list[OutcomeInfo]
    flow: dict = field(default_factory=dict)  # (step, arm id) -> n
    measurable: dict = field(default_factory=dict)  # (window days, arm id) -> n
    results: dict = field(default_factory=dict)  # (outcome id, arm id) -> Result
    changes: list[Change] = field(default_factory=list)
    has_links: bool = False  # a message of the campaign tracks its links

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def control(self) -> ArmInfo | None:
        """The holdout, or arm A when there is none."""
        holdout = next((arm for arm in self.arms if arm.is_holdout), None)
        return holdout or next((arm for arm in self.arms if not arm.is_holdout), None)

    @property
    def compared(self) -> list[ArmInfo]:
        """The arms compared with the control, in order."""
        control = self.control
        return [arm for arm in self.arms if control is None or arm.id != control.id]

    @property
    def primary(self) -> OutcomeInfo | None:
        return next((o for o in self.outcomes if o.is_primary), None)

    @property
    def windows(self) -> list[int]:
        return sorted({o.window_days for o in self.outcomes})

    def result(self, outcome: OutcomeInfo, arm: ArmInfo) -> Result:
        return self.results.get((outcome.id, arm.id), Result())

    def comparisons(self) -> int:
        """Comparisons the report makes: each compared arm, for each outcome."""
        return len(self.compared) * len(self.outcomes)


# --- the per-contact columns (figures and the assignments file) -----------------------------


def _t0_epoch(a, started: datetime):
    """Time zero of assignment `a` in epoch seconds: the later of the start and the
    assignment."""
    start = int(started.timestamp())
    return case((a.assigned_at > started, epoch_seconds(a.assigned_at)), else_=literal(start))


def _after_t0(column, a, started: datetime):
    return and_(column >= a.assigned_at, column >= started)


def _within(column, a, started: datetime, window_days: int):
    """`column` (a timestamp) lies in [time zero, time zero + window) of assignment `a`."""
    return and_(
        _after_t0(column, a, started),
        epoch_seconds(column) < _t0_epoch(a, started) + window_days * DAY,
    )


def _measurable(assigned_at, started: datetime, window_days: int, now: datetime):
    """Whether the window of a contact assigned at `assigned_at` has ended by `now`."""
    bound = now - timedelta(days=window_days)
    if started > bound:
        return literal(False)
    return assigned_at <= bound


def _flag(condition):
    return case((condition, 1), else_=0)


# Every branch of the per-contact union: which contact (and arm) a row is about, and what.
LAYOUT = {
    "contact_id": Integer,
    "arm_id": Integer,
    "stratum": String,
    "assigned_at": UTCDateTime,
    "value": Float,
}


def _branch(section: str, a, **columns):
    return union_branch(LAYOUT, section, contact_id=a.contact_id, arm_id=a.arm_id, **columns)


def _assignments(experiment: Experiment):
    """An alias of the experiment's assignments, and the conditions selecting them."""
    a = aliased(ExperimentAssignment)
    return a, (a.organization_id == experiment.organization_id, a.experiment_id == experiment.id)


def _flow_branches(experiment: Experiment, today: date) -> list:
    """Everyone assigned (with stratum and time), the eligible at send (for the holdout:
    eligible today) and the delivered."""
    org_id, campaign_id = experiment.organization_id, experiment.campaign_id
    Out, Survey = OutboxMessage, aliased(OutboxMessage)
    a, scope = _assignments(experiment)
    assigned = _branch("assigned", a, stratum=a.stratum, assigned_at=a.assigned_at).where(*scope)
    a, scope = _assignments(experiment)
    sent = (
        _branch("eligible", a)
        .join(ExperimentArm, ExperimentArm.id == a.arm_id)
        .join(Out, Out.contact_id == a.contact_id)
        .where(
            *scope,
            ExperimentArm.is_holdout.is_(False),
            Out.organization_id == org_id,
            Out.campaign_id == campaign_id,
            Out.purpose.not_in(NOT_CAMPAIGN_CONTENT),
            Out.status.not_in(("canceled", "skipped")),
        )
    )
    a, scope = _assignments(experiment)
    eligible_today = (
        _branch("eligible", a)
        .join(ExperimentArm, ExperimentArm.id == a.arm_id)
        .join(Contact, Contact.id == a.contact_id)
        .where(*scope, ExperimentArm.is_holdout.is_(True), eligible_sql(today))
    )
    a, scope = _assignments(experiment)
    delivered = (
        _branch("delivered", a)
        .join(E, E.contact_id == a.contact_id)
        .outerjoin(Survey, Survey.id == E.outbox_id)
        .where(
            *scope,
            E.organization_id == org_id,
            E.campaign_id == campaign_id,
            E.kind == "sms_delivered",
            or_(Survey.id.is_(None), Survey.purpose.not_in(NOT_CAMPAIGN_CONTENT)),
        )
    )
    a, scope = _assignments(experiment)
    clicked = (
        _branch("clicked", a)
        .join(E, E.contact_id == a.contact_id)
        .where(
            *scope,
            E.organization_id == org_id,
            E.campaign_id == campaign_id,
            E.kind.in_(EVENT_KINDS["clicked"]),
            _after_t0(E.occurred_at, a, experiment.started_at),
        )
    )
    return [assigned, sent, eligible_today, delivered, clicked]


def _event_branch(experiment: Experiment, outcome: OutcomeInfo):
    """The contacts with an event of the outcome in their window (a row per event)."""
    a, scope = _assignments(experiment)
    conditions = [
        *scope,
        E.organization_id == experiment.organization_id,
        E.kind.in_(EVENT_KINDS[outcome.kind]),
        _within(E.occurred_at, a, experiment.started_at, outcome.window_days),
    ]
    if outcome.kind == "clicked":
        conditions.append(E.campaign_id == experiment.campaign_id)
    return _branch(f"ev_{outcome.code}", a).join(E, E.contact_id == a.contact_id).where(*conditions)


def _question_ids(org_id: int, outcome: OutcomeInfo):
    if outcome.bank_code:
        return select(SurveyQuestion.id).where(
            SurveyQuestion.organization_id == org_id, SurveyQuestion.bank_code == outcome.bank_code
        )
    return select(SurveyQuestion.id).where(
        SurveyQuestion.organization_id == org_id, SurveyQuestion.id == (outcome.question_id or -1)
    )


def _answer_branch(experiment: Experiment, outcome: OutcomeInfo):
    """Each contact's first answer (value) to the outcome's question in the window, from a
    survey run started after time zero."""
    Ans, R, Run = SurveyAnswer, SurveyResponse, SurveyRun
    org_id, started = experiment.organization_id, experiment.started_at
    a, scope = _assignments(experiment)
    rank = func.row_number().over(partition_by=a.contact_id, order_by=(Ans.answered_at, Ans.id))
    ranked = (
        select(
            a.contact_id.label("contact_id"),
            a.arm_id.label("arm_id"),
            Ans.value_num.label("value"),
            rank.label("rank"),
        )
        .join(Ans, Ans.contact_id == a.contact_id)
        .join(R, R.id == Ans.response_id)
        .join(Run, Run.id == R.run_id)
        .where(
            *scope,
            Ans.organization_id == org_id,
            Ans.question_id.in_(_question_ids(org_id, outcome)),
            Ans.skipped.is_(False),
            Ans.value_num.is_not(None),
            _within(Ans.answered_at, a, started, outcome.window_days),
            _after_t0(Run.starts_at, a, started),
        )
        .subquery()
    )
    return union_branch(
        LAYOUT,
        f"val_{outcome.code}",
        contact_id=ranked.c.contact_id,
        arm_id=ranked.c.arm_id,
        value=ranked.c.value,
    ).where(ranked.c.rank == 1)


def contact_columns(experiment: Experiment, outcomes: list[OutcomeInfo], *, now, today: date):
    """SELECT, one row per assignment: arm, contact, stratum, assigned_at, the flow flags
    (eligible, delivered), per window whether it ended (m<days>) and per outcome its
    event flag (ev_<code>) or, for survey items, the answer's value (val_<code>).

    One UNION ALL of what is known about each contact (every branch an indexed join from
    the experiment's assignments), grouped by contact: no join between derived tables,
    whose plans go quadratic while a new experiment's tables have no statistics."""
    started = experiment.started_at
    branches = _flow_branches(experiment, today)
    for o in outcomes:
        if o.kind == "survey_item":
            branches.append(_answer_branch(experiment, o))
        else:
            branches.append(_event_branch(experiment, o))
    h = union_all(*branches).subquery("known").c

    def has(section: str):
        return func.max(case((h.section == section, 1), else_=0))

    columns = [
        func.max(h.stratum).label("stratum"),
        func.max(h.assigned_at).label("assigned_at"),
        has("eligible").label("eligible"),
        has("delivered").label("delivered"),
        has("clicked").label("clicked"),
    ]
    for o in outcomes:
        if o.kind == "survey_item":
            value = func.max(case((h.section == f"val_{o.code}", h.value)))
            columns.append(value.label(f"val_{o.code}"))
        else:
            columns.append(has(f"ev_{o.code}").label(f"ev_{o.code}"))
    c = (
        select(h.contact_id.label("contact_id"), h.arm_id.label("arm_id"), *columns)
        .group_by(h.contact_id, h.arm_id)
        .subquery("per_contact_known")
        .c
    )
    result = [c.arm_id, c.contact_id, c.stratum, c.assigned_at, c.eligible, c.delivered, c.clicked]
    for days in sorted({o.window_days for o in outcomes}):
        result.append(_flag(_measurable(c.assigned_at, started, days, now)).label(f"m{days}"))
    for o in outcomes:
        measurable = _measurable(c.assigned_at, started, o.window_days, now)
        if o.kind == "survey_item":
            result.append(case((measurable, c[f"val_{o.code}"])).label(f"val_{o.code}"))
        else:
            result.append(_flag(and_(measurable, c[f"ev_{o.code}"] == 1)).label(f"ev_{o.code}"))
    return select(*result)


# --- exact figures -------------------------------------------------------------------------


def _outcomes(experiment: Experiment) -> list[OutcomeInfo]:
    found = []
    for o in experiment.outcomes:
        info = OutcomeInfo(
            id=o.id,
            position=o.position,
            kind=o.kind,
            window_days=o.window_days,
            is_primary=o.is_primary,
            bank_code=o.survey_bank_code,
            question_id=o.survey_question_id,
            top_box=[float(v) for v in (o.top_box or [])],
        )
        if o.kind == "survey_item":
            info.scale = _scale(experiment.organization_id, info)
        found.append(info)
    return sorted(found, key=lambda o: (not o.is_primary, o.position))


def _scale(org_id: int, outcome: OutcomeInfo) -> tuple[int, int] | None:
    rows = db.session.execute(
        select(SurveyQuestion.qtype, SurveyQuestion.scale_min, SurveyQuestion.scale_max).where(
            SurveyQuestion.id.in_(_question_ids(org_id, outcome))
        )
    ).all()
    if rows and all(q == "scale" and low is not None for q, low, _high in rows):
        return min(low for _q, low, _h in rows), max(high for _q, _l, high in rows)
    return None


def _changes(experiment: Experiment) -> list[Change]:
    rows = db.session.scalars(
        select(PreregistrationChange)
        .where(
            PreregistrationChange.organization_id == experiment.organization_id,
            PreregistrationChange.experiment_id == experiment.id,
        )
        .order_by(PreregistrationChange.changed_at, PreregistrationChange.id)
    )
    return [
        Change(row.changed_at, bool(row.after_start), row.reason, row.before or [], row.after or [])
        for row in rows
    ]


def _has_links(experiment: Experiment) -> bool:
    return (
        db.session.scalar(
            select(CampaignMessage.id)
            .where(
                CampaignMessage.campaign_id == experiment.campaign_id,
                CampaignMessage.track_links.is_(True),
            )
            .limit(1)
        )
        is not None
    )


def experiment_figures(experiment: Experiment, *, now: datetime, today: date):
    """The experiment's exact figures as of `now` (`today`: the organization's date, for
    the holdout's eligibility)."""
    arms = [
        ArmInfo(arm.id, arm.key, arm.label or "", bool(arm.is_holdout), arm.position)
        for arm in experiment.arms
    ]
    f = ExperimentFigures(
        experiment_id=experiment.id,
        organization_id=experiment.organization_id,
        campaign_id=experiment.campaign_id,
        status=experiment.status,
        started_at=experiment.started_at,
        finished_at=experiment.finished_at,
        now=now,
        arms=sorted(arms, key=lambda arm: arm.position),
        outcomes=_outcomes(experiment),
        changes=_changes(experiment),
        has_links=_has_links(experiment),
    )
    if not f.started:
        return f
    rows = contact_columns(experiment, f.outcomes, now=now, today=today).subquery("per_contact")
    c = rows.c
    aggregates = [func.count(), func.sum(c.eligible), func.sum(c.delivered), func.sum(c.clicked)]
    aggregates += [func.sum(c[f"m{days}"]) for days in f.windows]
    for o in f.outcomes:
        if o.kind == "survey_item":
            value = c[f"val_{o.code}"]
            top = value.in_(o.top_box) if o.top_box else literal(False)
            aggregates += [
                func.count(value),
                func.sum(case((top, 1), else_=0)),
                func.sum(value),
                func.sum(value * value),
            ]
        else:
            aggregates.append(func.sum(c[f"ev_{o.code}"]))
    with without_nested_loops():
        grouped = db.session.execute(select(c.arm_id, *aggregates).group_by(c.arm_id)).all()
    for arm_id, *values in grouped:
        values = [v or 0 for v in values]
        for step, n in zip(FLOW_STEPS, values[:4], strict=True):
            f.flow[(step, arm_id)] = int(n)
        rest = values[4:]
        for days in f.windows:
            f.measurable[(days, arm_id)] = int(rest.pop(0))
        for o in f.outcomes:
            r = Result(measurable=f.measurable[(o.window_days, arm_id)])
            if o.kind == "survey_item":
                r.n, r.events = int(rest.pop(0)), int(rest.pop(0))
                r.total, r.total_sq = float(rest.pop(0)), float(rest.pop(0))
            else:
                r.n, r.events = r.measurable, int(rest.pop(0))
            f.results[(o.id, arm_id)] = r
    return f


def experiments_with_reports(org_id: int) -> list[Experiment]:
    """The organization's experiments, newest first (no counts: a list cannot show what
    the report pages suppress)."""
    return list(
        db.session.scalars(
            select(Experiment)
            .where(Experiment.organization_id == org_id)
            .order_by(Experiment.created_at.desc(), Experiment.id.desc())
        )
    )


# --- suppression ---------------------------------------------------------------------------


@dataclass
class ExperimentCells:
    shown: dict
    threshold: int | None

    def __getitem__(self, key):
        return self.shown[key]


def _part_of(linked: Linked, whole, part, slacks: list) -> None:
    """`part` counts some of the people `whole` counts: whole = part + the rest."""
    rest = linked.values[whole] - linked.values[part]
    if rest >= 0:
        slack = linked.slack(("slack", len(slacks)), rest)
        slacks.append(slack)
        linked.equation({whole: -1, part: 1, slack: 1}, partition=not rest)


def experiment_cells(f: ExperimentFigures, threshold: int | None) -> ExperimentCells:
    """Every count of the report as the viewer sees it (exact, or `Hidden`)."""
    linked, slacks = Linked(threshold), []
    arm_ids = [arm.id for arm in f.arms]

    def row(name, values: dict, *keys) -> None:
        """One figure per arm and their total."""
        for arm_id in arm_ids:
            linked.add((name, *keys, arm_id), values.get(arm_id, 0))
        total = sum(values.get(arm_id, 0) for arm_id in arm_ids)
        linked.add((name, *keys, ALL), total, TOTAL)
        linked.partition((name, *keys, ALL), [(name, *keys, arm_id) for arm_id in arm_ids])

    for step in FLOW_STEPS:
        row(step, {arm_id: f.flow.get((step, arm_id), 0) for arm_id in arm_ids})
    for arm_id in [*arm_ids, ALL]:
        _part_of(linked, ("assigned", arm_id), ("eligible", arm_id), slacks)
        _part_of(linked, ("eligible", arm_id), ("delivered", arm_id), slacks)
        _part_of(linked, ("assigned", arm_id), ("clicked", arm_id), slacks)
    windows = f.windows
    for days in windows:
        measurable = {arm_id: f.measurable.get((days, arm_id), 0) for arm_id in arm_ids}
        row("measurable", measurable, days)
        pending = {
            arm_id: f.flow.get(("assigned", arm_id), 0) - measurable[arm_id] for arm_id in arm_ids
        }
        row("pending", pending, days)
        for arm_id in [*arm_ids, ALL]:
            linked.partition(
                ("assigned", arm_id), [("measurable", days, arm_id), ("pending", days, arm_id)]
            )
    for shorter, longer in zip(windows, windows[1:], strict=False):
        for arm_id in [*arm_ids, ALL]:
            _part_of(
                linked, ("measurable", shorter, arm_id), ("measurable", longer, arm_id), slacks
            )
    for o in f.outcomes:
        results = {arm_id: f.results.get((o.id, arm_id), Result()) for arm_id in arm_ids}
        row("n", {a: r.n for a, r in results.items()}, o.id)
        row("events", {a: r.events for a, r in results.items()}, o.id)
        row("non_events", {a: r.n - r.events for a, r in results.items()}, o.id)
        for arm_id in [*arm_ids, ALL]:
            measurable = ("measurable", o.window_days, arm_id)
            if o.kind == "survey_item":
                _part_of(linked, measurable, ("n", o.id, arm_id), slacks)
            else:
                linked.equal(measurable, ("n", o.id, arm_id))
            linked.partition(
                ("n", o.id, arm_id), [("events", o.id, arm_id), ("non_events", o.id, arm_id)]
            )
    return ExperimentCells(shown=linked.shown(), threshold=threshold)
