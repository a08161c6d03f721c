"""What an experiment says to the outbox (wired when the app is built): a contact in the
holdout of a campaign's experiment receives none of that campaign's messages.

Fan-out already leaves the holdout out; this guard is the second wall, at send time, for
anything else that carries the campaign (workshop invitations, reminders and notices, a
message enqueued by any other path): such a row is withdrawn ("experiment_holdout").
Surveys (purposes survey and survey_reply: the holdout's outcomes are measured with them)
and answers to someone who wrote (a keyword confirmation, a crisis reply) still go.
"""

from sqlalchemy import and_, exists, or_, select

from app.experiments.models import Experiment, ExperimentArm, ExperimentAssignment
from app.extensions import db
from app.outbox.guards import Guard, Verdict, register_guard
from app.outbox.models import ANSWERS, OutboxMessage

REASON = "experiment_holdout"
WITHDRAWN = Verdict("canceled", REASON)
# Outbox purposes the holdout still receives.
ALLOWED_PURPOSES = ("survey", "survey_reply", *ANSWERS)


def _concerned(row) -> bool:
    return bool(row.campaign_id and row.contact_id and row.purpose not in ALLOWED_PURPOSES)


def _holdout_pairs(campaign_ids, contact_ids):
    """SELECT (campaign id, contact id) of these contacts in a holdout of these campaigns."""
    return (
        select(Experiment.campaign_id, ExperimentAssignment.contact_id)
        .join(ExperimentAssignment, ExperimentAssignment.experiment_id == Experiment.id)
        .join(
            ExperimentArm,
            and_(ExperimentArm.id == ExperimentAssignment.arm_id, ExperimentArm.is_holdout),
        )
        .where(
            Experiment.campaign_id.in_(campaign_ids),
            ExperimentAssignment.contact_id.in_(contact_ids),
        )
    )


def _verdicts(rows) -> dict:
    concerned = [row for row in rows if _concerned(row)]
    if not concerned:
        return {}
    campaign_ids = {row.campaign_id for row in concerned}
    # Most campaigns have no experiment: one cheap query before the pairs.
    with_experiment = set(
        db.session.scalars(
            select(Experiment.campaign_id).where(
                Experiment.campaign_id.in_(campaign_ids), Experiment.started_at.is_not(None)
            )
        )
    )
    concerned = [row for row in concerned if row.campaign_id in with_experiment]
    if not concerned:
        return {}
    held_out = set(
        db.session.execute(
            _holdout_pairs(with_experiment, {row.contact_id for row in concerned})
        ).all()
    )
    return {row.id: WITHDRAWN for row in concerned if (row.campaign_id, row.contact_id) in held_out}


def _still_allowed():
    return or_(
        OutboxMessage.campaign_id.is_(None),
        OutboxMessage.contact_id.is_(None),
        OutboxMessage.purpose.in_(ALLOWED_PURPOSES),
        ~exists().where(
            Experiment.campaign_id == OutboxMessage.campaign_id,
            ExperimentAssignment.experiment_id == Experiment.id,
            ExperimentAssignment.contact_id == OutboxMessage.contact_id,
            ExperimentArm.id == ExperimentAssignment.arm_id,
            ExperimentArm.is_holdout,
        ),
    )


def _withdrawn(row) -> str | None:
    if not _concerned(row):
        return None
    pairs = _holdout_pairs({row.campaign_id}, {row.contact_id})
    return REASON if db.session.execute(pairs.limit(1)).first() else None


register_guard(
    Guard("experiment", verdicts=_verdicts, still_allowed=_still_allowed, withdrawn=_withdrawn)
)
