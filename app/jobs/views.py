"""A job as its progress page and status endpoints show it (the jobs pages, and the pages
of features that queue jobs, such as the reports' large exports)."""

from flask import url_for

from app.jobs.models import Job
from app.jobs.progress import read_progress_file
from app.jobs.services import RESULT_ENDPOINTS


def _result_url(job: Job) -> str | None:
    endpoint = RESULT_ENDPOINTS.get(job.kind)
    if endpoint is None:
        return None
    name, argument = endpoint
    if (job.result or {}).get(argument) is not None:
        return url_for(name, **{argument: job.result[argument]})
    if job.payload.get(argument) is not None:
        return url_for(name, **{argument: job.payload[argument]})
    return None


def job_view(job: Job) -> dict:
    """The job's progress (live on SQLite, where workers write it beside the database) and
    the link to its result, as JSON-ready values."""
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
        "result_url": _result_url(job),
    }
