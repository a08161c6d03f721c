"""The worker side of a large experiment's start: assign the audience, lock the outcomes."""

from app.errors import DomainError
from app.experiments.models import Experiment
from app.experiments.services import START_JOB, start_experiment
from app.extensions import db
from app.jobs.services import job_handler
from app.timeutil import utcnow


@job_handler(START_JOB, result_page=("experiments.detail", "experiment_id"))
def run_experiment_start(job, progress) -> dict:
    experiment = db.session.get(Experiment, job.payload["experiment_id"])
    if experiment is None or experiment.organization_id != job.organization_id:
        raise LookupError("experiment not found")
    if experiment.status != "draft":  # an attempt that committed already started it
        return {"experiment_id": experiment.id, "assigned": 0}
    try:
        # Time zero is now, when the contacts are assigned, not when the start was asked.
        assigned = start_experiment(experiment, now=utcnow(), job_id=job.id)
    except DomainError as error:
        # A rule broken since the request (a campaign message scheduled meanwhile, the
        # campaign archived): retrying cannot help; the job page shows why.
        error.permanent = True
        raise
    progress(done=assigned, force=True)
    return {"experiment_id": experiment.id, "assigned": assigned}
