from flask import Blueprint, jsonify, render_template, url_for

from app.permissions import permission_required
from app.jobs.models import Job
from app.jobs.progress import read_progress_file
from app.tenancy import get_owned_or_404

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
RESULT_ENDPOINTS = {
    "contact_import": ("contact_imports.result", "import_id"),
    "send_fanout": ("outreach.send_detail", "send_id"),
    "event_export": ("reports.export_job", "job_id"),
}


def job_view(job: Job) -> dict:
    done, rejected = job.done, job.rejected
    if job.status == "running":
        live = read_progress_file(job.id)  # SQLite: progress lives beside the database
        if live:
            done, rejected = live.get("done", done), live.get("rejected", rejected)
    percent = (
        int(min(100, done * 100 / job.total))
        if job.total
        else (100 if job.status == "succeeded" else 0)
    )
    endpoint = RESULT_ENDPOINTS.get(job.kind)
    result_url = None
    if endpoint and (job.result or {}).get(endpoint[1]) is not None:
        result_url = url_for(endpoint[0], **{endpoint[1]: job.result[endpoint[1]]})
    elif endpoint and job.payload.get(endpoint[1]) is not None:
        result_url = url_for(endpoint[0], **{endpoint[1]: job.payload[endpoint[1]]})
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "done": done,
        "total": job.total,
        "rejected": rejected,
        "percent": percent,
        "error": job.error,
        "attempts": job.attempts,
        "result_url": result_url,
    }


@bp.get("/<int:job_id>")
@permission_required("coordinate")
def detail(job_id):
    job = get_owned_or_404(Job, job_id)
    return render_template("jobs/detail.html", job=job, view=job_view(job))


@bp.get("/<int:job_id>/status")
@permission_required("coordinate")
def status(job_id):
    return jsonify(job_view(get_owned_or_404(Job, job_id)))
