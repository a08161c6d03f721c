from flask import Blueprint, jsonify, render_template

from app.jobs.labels import job_status_label
from app.jobs.models import Job
from app.jobs.views import job_view
from app.permissions import permission_required
from app.tenancy import get_owned_or_404

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<int:job_id>")
@permission_required("coordinate")
def detail(job_id):
    job = get_owned_or_404(Job, job_id)
    return render_template(
        "jobs/detail.html", job=job, view=job_view(job), status_label=job_status_label(job.status)
    )


@bp.get("/<int:job_id>/status")
@permission_required("coordinate")
def status(job_id):
    return jsonify(job_view(get_owned_or_404(Job, job_id)))
