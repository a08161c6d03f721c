"""Designing, starting and finishing a campaign's experiment (units of work for the pages).

Rules:
- one experiment per campaign; its design (arms, ratios, stratification, audience) changes
  only in draft; variants (an arm's own text of a message) until it is finished;
- the pre-registered outcomes change freely in draft; once started only through an
  explicit "change after start" with a reason; every change is kept
  (PreregistrationChange) and the report shows those made after the start;
- starting assigns everyone in the audience and locks the outcomes. It is refused once any
  campaign message was scheduled (start the experiment first, so that every message of
  the campaign is sent by arm and none reaches the holdout). Surveys do not count.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from app.campaigns.models import Campaign, CampaignMessage
from app.campaigns.services import body_problem
from app.contacts.audiences import audience_contacts_query
from app.contacts.models import Audience, Contact
from app.db_dialect import lock_rows
from app.errors import DomainError
from app.experiments import allocation
from app.experiments.models import (
    ARM_KEYS,
    HOLDOUT_KEY,
    MAX_ARMS,
    MAX_LABEL,
    MAX_SECONDARY_OUTCOMES,
    MAX_WEIGHT,
    MAX_WINDOW_DAYS,
    MIN_ARMS,
    OUTCOME_KINDS,
    Experiment,
    ExperimentArm,
    ExperimentAssignment,
    ExperimentOutcome,
    ExperimentVariant,
    PreregistrationChange,
)
from app.experiments.outcomes import survey_items
from app.extensions import db
from app.jobs.models import Job
from app.jobs.services import enqueue
from app.outbox.models import ANSWERS, OutboxMessage
from app.stats.power import sample_size

# Outbox purposes that never block a start: surveys (the holdout stays eligible) and
# answers to someone who wrote.
NOT_CAMPAIGN_CONTENT = ("survey", "survey_reply", *ANSWERS)
MAX_REASON = 1000


class ExperimentError(DomainError):
    pass


# --- creating and designing ----------------------------------------------------------------


def experiment_of(campaign: Campaign) -> Experiment | None:
    return db.session.scalar(select(Experiment).where(Experiment.campaign_id == campaign.id))


def create_experiment(campaign: Campaign, *, user_id: int | None, now: datetime) -> Experiment:
    """A draft experiment for `campaign` with two equal arms, A and B, and no holdout."""
    if campaign.status in ("completed", "archived"):
        raise ExperimentError(_l("A completed or archived campaign cannot run an experiment."))
    if experiment_of(campaign) is not None:
        raise ExperimentError(_l("This campaign already has an experiment."))
    experiment = Experiment(
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        status="draft",
        stratify=False,
        created_by=user_id,
        created_at=now,
    )
    experiment.arms = [
        ExperimentArm(
            organization_id=campaign.organization_id, key=key, position=i, label="", weight=1
        )
        for i, key in enumerate(("A", "B"))
    ]
    db.session.add(experiment)
    db.session.commit()
    return experiment


@dataclass(frozen=True)
class ArmSpec:
    label: str
    weight: int


def _check_draft(experiment: Experiment) -> None:
    if experiment.status != "draft":
        raise ExperimentError(
            _l("The experiment has started: its arms, ratios and audience can no longer change.")
        )


def _clean_weight(weight, field: str) -> int:
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight <= MAX_WEIGHT:
        raise ExperimentError(
            _l("Each ratio must be a whole number from 1 to %(max)d.", max=MAX_WEIGHT),
            field=field,
        )
    return weight


def _clean_label(label) -> str:
    label = " ".join((label or "").split())
    if len(label) > MAX_LABEL:
        raise ExperimentError(_l("Use at most %(n)d characters.", n=MAX_LABEL))
    return label


def _check_audience(experiment: Experiment, audience_id: int | None) -> Audience | None:
    if audience_id is None:
        return None
    audience = db.session.get(Audience, audience_id)
    if audience is None or audience.organization_id != experiment.organization_id:
        raise ExperimentError(_l("Choose one of your audiences."), field="audience")
    return audience


def save_design(
    experiment: Experiment,
    *,
    arms: list[ArmSpec],
    holdout_weight: int | None,
    stratify: bool,
    audience_id: int | None,
) -> Experiment:
    """Set the arms (2 to 4, keyed A, B, C, D in order), the holdout's ratio (None: no
    holdout), stratification and the audience, in draft. An arm that disappears takes its
    variants with it. Raises ExperimentError (nothing changes)."""
    _check_draft(experiment)
    if not MIN_ARMS <= len(arms) <= MAX_ARMS:
        raise ExperimentError(
            _l("An experiment has from %(min)d to %(max)d arms.", min=MIN_ARMS, max=MAX_ARMS)
        )
    wanted = [
        (key, _clean_label(spec.label), _clean_weight(spec.weight, f"weight_{key.lower()}"), False)
        for key, spec in zip(ARM_KEYS, arms, strict=False)
    ]
    if holdout_weight is not None:
        wanted.append((HOLDOUT_KEY, "", _clean_weight(holdout_weight, "holdout_weight"), True))
    _check_audience(experiment, audience_id)
    by_key = {arm.key: arm for arm in experiment.arms}
    kept = []
    for position, (key, label, weight, is_holdout) in enumerate(wanted):
        arm = by_key.pop(key, None) or ExperimentArm(
            organization_id=experiment.organization_id, key=key
        )
        arm.position, arm.label, arm.weight, arm.is_holdout = position, label, weight, is_holdout
        kept.append(arm)
    experiment.arms = kept  # arms left in by_key are orphans: deleted, with their variants
    experiment.stratify = bool(stratify)
    experiment.audience_id = audience_id
    db.session.commit()
    return experiment


def _normalized(body) -> str:
    return (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def save_variant(
    experiment: Experiment,
    arm: ExperimentArm,
    message: CampaignMessage,
    *,
    body_es: str,
    body_en: str,
    now: datetime,
) -> ExperimentVariant | None:
    """Give `arm` its own text of `message` (both languages), or remove it when both are
    empty (the arm then sends the message's text). Allowed until the experiment finishes;
    messages already scheduled keep their text. Returns the variant (None once removed)."""
    if experiment.status == "finished":
        raise ExperimentError(_l("A finished experiment cannot be changed."))
    if arm.experiment_id != experiment.id or message.campaign_id != experiment.campaign_id:
        raise ExperimentError(_l("The arm or message does not belong to this experiment."))
    if arm.is_holdout:
        raise ExperimentError(_l("The holdout receives none of the campaign's messages."))
    variant = db.session.scalar(
        select(ExperimentVariant).where(
            ExperimentVariant.arm_id == arm.id, ExperimentVariant.message_id == message.id
        )
    )
    bodies = {"es": _normalized(body_es), "en": _normalized(body_en)}
    if not any(bodies.values()):
        if variant is not None:
            db.session.delete(variant)
        db.session.commit()
        return None
    for language, body in bodies.items():
        # Checked as the message it replaces: its links lead to the organization's hosts.
        problem = body_problem(
            body,
            language,
            organization_id=experiment.organization_id,
            track_links=message.track_links,
        )
        if problem:
            raise ExperimentError(problem, field=f"body_{language}")
    if variant is None:
        variant = ExperimentVariant(
            organization_id=experiment.organization_id, arm_id=arm.id, message_id=message.id
        )
        db.session.add(variant)
    variant.body_es, variant.body_en, variant.updated_at = bodies["es"], bodies["en"], now
    db.session.commit()
    return variant


# --- pre-registration ---------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    kind: str
    window_days: int
    primary: bool = False
    survey_item: str | None = None  # "bank:<code>" or "question:<id>" (survey_item only)
    top_box: tuple[float, ...] = ()


def _clean_outcome(org_id: int, spec: OutcomeSpec, index: int) -> dict:
    if spec.kind not in OUTCOME_KINDS:
        raise ExperimentError(_l("Choose what the outcome measures."), field=f"outcomes-{index}")
    window = spec.window_days
    if isinstance(window, bool) or not isinstance(window, int) or not 0 < window <= MAX_WINDOW_DAYS:
        raise ExperimentError(
            _l("The window must be from 1 to %(max)d days.", max=MAX_WINDOW_DAYS),
            field=f"outcomes-{index}",
        )
    values = dict(
        kind=spec.kind,
        window_days=window,
        is_primary=bool(spec.primary),
        survey_bank_code=None,
        survey_question_id=None,
        top_box=None,
    )
    if spec.kind == "survey_item":
        items = {item.value: item for item in survey_items(org_id)}
        item = items.get(spec.survey_item or "")
        if item is None:
            raise ExperimentError(_l("Choose a survey question."), field=f"outcomes-{index}")
        allowed = {value for value, _label in item.values} if item.values else None
        top_box = sorted(set(spec.top_box or item.top_box))
        if not top_box or (allowed is not None and not set(top_box) <= allowed):
            raise ExperimentError(
                _l("Choose the answers that count as the outcome."), field=f"outcomes-{index}"
            )
        kind, _, rest = item.value.partition(":")
        values["survey_bank_code"] = rest if kind == "bank" else None
        values["survey_question_id"] = int(rest) if kind == "question" else None
        values["top_box"] = top_box
    return values


def _specs(experiment: Experiment) -> list[dict]:
    return [outcome.spec() for outcome in experiment.outcomes]


def save_outcomes(
    experiment: Experiment,
    outcomes: list[OutcomeSpec],
    *,
    user_id: int | None,
    now: datetime,
    after_start: bool = False,
    reason: str = "",
) -> bool:
    """Replace the pre-registered outcomes: exactly one primary, up to five secondary.

    In draft: freely. Once started: only with `after_start` (the page's explicit "change
    after start") and a reason; the change is recorded as made after the start. A finished
    experiment's outcomes never change. Every change is recorded (who, when, before,
    after). Returns whether anything changed."""
    if experiment.status == "finished":
        raise ExperimentError(_l("A finished experiment cannot be changed."))
    reason = (reason or "").strip()
    if experiment.started:
        if not after_start:
            raise ExperimentError(
                _l(
                    "The outcomes locked when the experiment started. Change them only as a "
                    "change after start, with its reason: the report will show it."
                )
            )
        if not reason:
            raise ExperimentError(
                _l("Say why the outcomes change after the start."), field="reason"
            )
        if len(reason) > MAX_REASON:
            raise ExperimentError(_l("Use at most %(n)d characters.", n=MAX_REASON), field="reason")
    cleaned = [_clean_outcome(experiment.organization_id, s, i) for i, s in enumerate(outcomes)]
    primaries = sum(1 for values in cleaned if values["is_primary"])
    if primaries != 1:
        raise ExperimentError(_l("Choose exactly one primary outcome."))
    if len(cleaned) - 1 > MAX_SECONDARY_OUTCOMES:
        raise ExperimentError(
            _l("Choose at most %(n)d secondary outcomes.", n=MAX_SECONDARY_OUTCOMES)
        )
    # The primary first, then the secondaries in the order given.
    cleaned.sort(key=lambda values: not values["is_primary"])
    before = _specs(experiment)
    after = [ExperimentOutcome(**values).spec() for values in cleaned]
    if before == after:
        return False
    experiment.outcomes = [
        ExperimentOutcome(organization_id=experiment.organization_id, position=i, **values)
        for i, values in enumerate(cleaned)
    ]
    db.session.add(
        PreregistrationChange(
            organization_id=experiment.organization_id,
            experiment_id=experiment.id,
            changed_by=user_id,
            changed_at=now,
            before=before,
            after=after,
            after_start=experiment.started,
            reason=reason or None,
        )
    )
    db.session.commit()
    return True


def preregistration_changes(experiment: Experiment) -> list[PreregistrationChange]:
    return list(
        db.session.scalars(
            select(PreregistrationChange)
            .where(PreregistrationChange.experiment_id == experiment.id)
            .order_by(PreregistrationChange.changed_at, PreregistrationChange.id)
        )
    )


# --- starting and finishing ----------------------------------------------------------------


def campaign_content_scheduled(campaign_id: int) -> bool:
    """Whether any message of the campaign's own (not a survey's, not an answer) was
    scheduled or sent: then an experiment can no longer start cleanly."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    OutboxMessage.campaign_id == campaign_id,
                    OutboxMessage.purpose.not_in(NOT_CAMPAIGN_CONTENT),
                    OutboxMessage.status.not_in(("canceled", "skipped")),
                )
            )
        )
    )


def _audience_query(experiment: Experiment, now: datetime):
    audience = experiment.audience
    return audience_contacts_query(experiment.organization_id, audience.filters, today=now.date())


def start_problems(experiment: Experiment, *, job_id: int | None = None) -> list:
    """Why the experiment cannot start now (translatable messages); empty when it can.
    `job_id`: the background start asking (its own pending job is no obstacle)."""
    problems = []
    if experiment.status != "draft":
        problems.append(_l("The experiment has already started."))
        return problems
    pending = pending_start_job(experiment)
    if pending is not None and pending.id != job_id:
        problems.append(_l("The experiment is being started: a worker is assigning its contacts."))
        return problems
    if experiment.campaign.status in ("completed", "archived"):
        problems.append(_l("A completed or archived campaign cannot run an experiment."))
    if experiment.audience is None:
        problems.append(_l("Choose the audience to randomize."))
    if sum(1 for arm in experiment.arms if not arm.is_holdout) < MIN_ARMS:
        problems.append(_l("An experiment needs at least two arms."))
    if sum(1 for outcome in experiment.outcomes if outcome.is_primary) != 1:
        problems.append(_l("Pre-register the primary outcome before the start."))
    if campaign_content_scheduled(experiment.campaign_id):
        problems.append(
            _l(
                "Messages of this campaign are already scheduled or sent. Start the "
                "experiment before scheduling them (or cancel those sends first)."
            )
        )
    return problems


def start_experiment(experiment: Experiment, *, now: datetime, job_id: int | None = None) -> int:
    """Assign everyone in the experiment's audience and lock the pre-registration (status
    running, started_at now). Returns how many contacts were assigned."""
    lock_rows(select(Experiment.id).where(Experiment.id == experiment.id))
    db.session.refresh(experiment)
    problems = start_problems(experiment, job_id=job_id)
    if problems:
        db.session.rollback()
        raise ExperimentError(problems[0])
    experiment.status, experiment.started_at = "running", now
    assigned = allocation.assign(experiment, _audience_query(experiment, now), now=now)
    if not assigned:
        db.session.rollback()
        raise ExperimentError(_l("The audience has no contacts who can receive messages."))
    db.session.commit()
    return assigned


START_JOB = "experiment_start"


def pending_start_job(experiment: Experiment) -> Job | None:
    """The queued or running background start of this experiment, if any."""
    jobs = db.session.scalars(
        select(Job).where(
            Job.kind == START_JOB,
            Job.organization_id == experiment.organization_id,
            Job.status.in_(("queued", "running")),
        )
    )
    return next((job for job in jobs if job.payload.get("experiment_id") == experiment.id), None)


def request_start(
    experiment: Experiment, *, now: datetime, user_id: int | None, inline_max: int
) -> tuple[int, Job | None]:
    """Start now when the audience is small, else queue the start for a worker (a large
    audience takes seconds per 100,000 contacts: never inside a request). Returns
    (contacts assigned, None) or (0, the job). The job runs `start_experiment`, which checks
    every rule again and takes the same row lock, so a start queued twice runs once."""
    problems = start_problems(experiment)
    if problems:
        raise ExperimentError(problems[0])
    size = audience_size(experiment, now=now) or 0
    if size <= inline_max:
        return start_experiment(experiment, now=now), None
    # Serialize concurrent clicks on the experiment's row before looking for a queued start.
    lock_rows(select(Experiment.id).where(Experiment.id == experiment.id))
    if pending_start_job(experiment) is not None:
        db.session.rollback()
        raise ExperimentError(
            _l("The experiment is being started: a worker is assigning its contacts.")
        )
    job = enqueue(
        START_JOB,
        organization_id=experiment.organization_id,
        payload={"experiment_id": experiment.id},
        user_id=user_id,
        total=size,
        now=now,
    )
    return 0, job


def finish_experiment(experiment: Experiment, *, now: datetime) -> None:
    """Stop assigning newcomers. The holdout keeps receiving none of the campaign's
    messages, and each arm keeps its texts."""
    if experiment.status != "running":
        raise ExperimentError(_l("Only a running experiment can be finished."))
    experiment.status, experiment.finished_at = "finished", now
    db.session.commit()


def delete_experiment(experiment: Experiment) -> None:
    """Delete a draft experiment (nothing was assigned or sent by it)."""
    _check_draft(experiment)
    db.session.delete(experiment)
    db.session.commit()


# --- what the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """Contacts per stratum and arm: planned (draft) or stored (started)."""

    arms: list  # ExperimentArm, in order
    rows: list[tuple[str, dict[int, int]]]  # (stratum, {arm id: count}), by stratum
    totals: dict[int, int]
    total: int
    planned: bool


def balance(experiment: Experiment, *, now: datetime) -> Balance | None:
    """The balance table. In draft, the assignment the start would make now (nothing is
    stored); once started, the stored assignments. None in draft without an audience."""
    counts: Counter = Counter()
    if experiment.started:
        rows = db.session.execute(
            select(ExperimentAssignment.stratum, ExperimentAssignment.arm_id, func.count())
            .where(ExperimentAssignment.experiment_id == experiment.id)
            .group_by(ExperimentAssignment.stratum, ExperimentAssignment.arm_id)
        )
        for stratum, arm_id, n in rows:
            counts[(stratum or "", arm_id)] += n
    else:
        if experiment.audience is None or not experiment.arms:
            return None
        people = allocation.candidates(experiment, _audience_query(experiment, now), now=now)
        for planned in allocation.plan(experiment, people, taken={}):
            counts[(planned.stratum, planned.arm_id)] += 1
    by_stratum: dict[str, dict[int, int]] = {}
    totals: Counter = Counter()
    for (stratum, arm_id), n in counts.items():
        by_stratum.setdefault(stratum, {})[arm_id] = n
        totals[arm_id] += n
    return Balance(
        arms=list(experiment.arms),
        rows=sorted(by_stratum.items()),
        totals=dict(totals),
        total=sum(totals.values()),
        planned=not experiment.started,
    )


def audience_size(experiment: Experiment, *, now: datetime) -> int | None:
    """How many contacts the audience can message today (None without an audience)."""
    if experiment.audience is None:
        return None
    query = _audience_query(experiment, now).with_only_columns(Contact.id)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


@dataclass(frozen=True)
class SampleSizeAdvice:
    """Contacts each arm needs to detect the change (power 80 %, two-sided 5 %), and the
    audience that gives the smallest arm that many at the experiment's ratios."""

    per_arm: int
    audience_needed: int
    audience: int | None
    smallest_arm: int | None  # the smallest arm's expected size with this audience

    @property
    def enough(self) -> bool | None:
        return None if self.audience is None else self.audience >= self.audience_needed


def sample_size_advice(
    experiment: Experiment, *, baseline: float, effect: float, audience: int | None
) -> SampleSizeAdvice:
    """`baseline` and `effect` as proportions (0.2 and 0.05 for 20 % and 5 points)."""
    try:
        size = sample_size(baseline, effect)
    except ValueError:
        raise ExperimentError(
            _l("The baseline rate plus the change must stay between 0 and 100."),
            field="effect",
        ) from None
    weights = [arm.weight for arm in experiment.arms] or [1, 1]
    smallest_share = min(weights) / sum(weights)
    return SampleSizeAdvice(
        per_arm=size.per_arm,
        audience_needed=math.ceil(size.per_arm / smallest_share - 1e-9),
        audience=audience,
        smallest_arm=None if audience is None else math.floor(audience * smallest_share),
    )
