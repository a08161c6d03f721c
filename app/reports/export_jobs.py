"""Large de-identified event exports: written by a worker to a file, then downloaded.

An export of more than EXPORT_INLINE_MAX_EVENTS events does not stream inside the request:
the request queues an "event_export" job and shows its progress; the worker writes the CSV
under `instance/exports/` (an unguessable name, written to a temporary file and renamed when
complete); the page then links to the download. The job keeps the viewer's suppression
threshold: an export made for a coordinator (exact places) is never served to an evaluator.
Files are deleted after EXPORT_KEEP (worker maintenance).
"""
import os
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select

from ..contacts.models import Contact
from ..extensions import db
from ..jobs.services import enqueue, job_handler
from ..participation.models import ParticipationEvent as E
from .exports import _scope, event_rows, stream_csv
from .forms import Period

KIND = "event_export"
EXPORT_KEEP = timedelta(hours=24)


def export_dir() -> Path:
    return Path(current_app.config.get("EXPORTS_DIR") or
                Path(current_app.instance_path) / "exports")


def count_events(org_id: int, *, campaign_id: int | None, period: Period) -> int:
    return db.session.scalar(select(func.count()).select_from(E)
                             .join(Contact, Contact.id == E.contact_id)
                             .where(*_scope(org_id, campaign_id, period)))


def queue_event_export(org_id: int, *, user_id: int, campaign_id: int | None, period: Period,
                       threshold: int | None, locale: str, filename: str, total: int,
                       now: datetime):
    payload = {"campaign_id": campaign_id, "tz": period.tz, "threshold": threshold,
               "start": period.start.isoformat() if period.start else None,
               "end": period.end.isoformat() if period.end else None,
               "locale": locale, "filename": filename}
    return enqueue(KIND, organization_id=org_id, payload=payload, user_id=user_id, total=total,
                   now=now)


@job_handler(KIND)
def run_event_export(job, progress) -> dict:
    p = job.payload
    period = Period(date.fromisoformat(p["start"]) if p["start"] else None,
                    date.fromisoformat(p["end"]) if p["end"] else None, p["tz"])
    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events-{job.id}-{secrets.token_hex(16)}.csv"
    partial = path.with_suffix(".part")
    written = 0

    def counted(rows):
        nonlocal written
        for n, row in enumerate(rows):
            if n:  # the header is not an event
                written = n
                progress(done=n)
            yield row

    with force_locale(p.get("locale") or "es"):
        rows = event_rows(job.organization_id, campaign_id=p["campaign_id"], period=period,
                          secret_key=current_app.config["SECRET_KEY"], threshold=p["threshold"])
        with open(partial, "w", encoding="utf-8", newline="") as out:
            for chunk in stream_csv(counted(rows)):
                out.write(chunk)
    os.replace(partial, path)  # a file under its final name is always complete
    progress(done=written, force=True)
    return {"job_id": job.id, "file": path.name, "rows": written}


def may_download(job, user) -> bool:
    """The requester's organization, an event export, and never a less suppressed copy than
    the viewer's own would be."""
    return job.kind == KIND and (job.payload.get("threshold") is not None
                                 or user.can("view_contacts"))


def export_file(job) -> Path | None:
    name = (job.result or {}).get("file") if job.status == "succeeded" else None
    if not name or "/" in name or "\\" in name:
        return None
    path = export_dir() / name
    return path if path.is_file() else None


def purge_old_exports(*, now: datetime) -> int:
    """Delete export files (and leftovers of interrupted ones) older than EXPORT_KEEP."""
    folder = export_dir()
    if not folder.is_dir():
        return 0
    cutoff = (now - EXPORT_KEEP).timestamp()
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
