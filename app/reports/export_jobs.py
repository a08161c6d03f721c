"""Large de-identified event exports: written by a worker, then downloaded.

An export of more than EXPORT_INLINE_MAX_EVENTS events does not stream inside the request:
the request queues an "event_export" job and shows its progress; the worker writes the CSV,
gzip-compressed, into `export_files` (in the database, so any web process on any machine can
serve it, and it appears only once complete); the page then links to the download. The job
keeps the viewer's suppression threshold: an export made for a coordinator (exact places)
is never served to an evaluator. Files are deleted after EXPORT_KEEP (worker maintenance).
"""

import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import delete, func, select

from app.contacts.models import Contact
from app.extensions import db
from app.i18n import regional_locale
from app.jobs.services import enqueue, job_handler
from app.participation.models import ParticipationEvent as E
from app.reports.anonymity import export_scope
from app.reports.exports import event_rows, stream_csv
from app.reports.models import ExportFile
from app.reports.period import Period

KIND = "event_export"
EXPORT_KEEP = timedelta(hours=24)
GZIP = 16 + zlib.MAX_WBITS  # zlib's window bits for the gzip format


def count_events(org_id: int, *, campaign_id: int | None, period: Period) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(E)
        .join(Contact, Contact.id == E.contact_id)
        .where(*export_scope(org_id, campaign_id, period))
    )


def queue_event_export(
    org_id: int,
    *,
    user_id: int,
    campaign_id: int | None,
    period: Period,
    threshold: int | None,
    locale: str,
    filename: str,
    total: int,
    now: datetime,
):
    payload = {
        "campaign_id": campaign_id,
        "tz": period.tz,
        "threshold": threshold,
        "start": period.start.isoformat() if period.start else None,
        "end": period.end.isoformat() if period.end else None,
        "locale": locale,
        "filename": filename,
    }
    return enqueue(
        KIND, organization_id=org_id, payload=payload, user_id=user_id, total=total, now=now
    )


@job_handler(KIND, result_page=("reports.export_job", "job_id"))
def run_event_export(job, progress) -> dict:
    p = job.payload
    period = Period(
        date.fromisoformat(p["start"]) if p["start"] else None,
        date.fromisoformat(p["end"]) if p["end"] else None,
        p["tz"],
    )
    compressor = zlib.compressobj(6, zlib.DEFLATED, GZIP)
    parts, size, written = [], 0, 0

    def counted(rows):
        nonlocal written
        for n, row in enumerate(rows):
            if n:  # the header is not an event
                written = n
                progress(done=n)
            yield row

    with force_locale(regional_locale(p.get("locale"))):
        rows = event_rows(
            job.organization_id,
            campaign_id=p["campaign_id"],
            period=period,
            secret_key=current_app.config["SECRET_KEY"],
            threshold=p["threshold"],
        )
        for chunk in stream_csv(counted(rows)):
            data = chunk.encode("utf-8")
            size += len(data)
            parts.append(compressor.compress(data))
    parts.append(compressor.flush())
    db.session.rollback()  # end the long read before writing
    db.session.execute(delete(ExportFile).where(ExportFile.job_id == job.id))  # a retry
    db.session.add(
        ExportFile(
            organization_id=job.organization_id,
            job_id=job.id,
            filename=p["filename"][:200],
            content=b"".join(parts),
            size=size,
        )
    )
    db.session.commit()
    progress(done=written, force=True)
    return {"job_id": job.id, "rows": written, "bytes": size}


def may_download(job, user) -> bool:
    """The requester's organization, an event export, and never a less suppressed copy than
    the viewer's own would be."""
    return job.kind == KIND and (
        job.payload.get("threshold") is not None or user.can("view_contacts")
    )


def export_file(job) -> ExportFile | None:
    if job.status != "succeeded":
        return None
    return db.session.scalar(
        select(ExportFile).where(
            ExportFile.organization_id == job.organization_id, ExportFile.job_id == job.id
        )
    )


def csv_chunks(export: ExportFile, size: int = 256 * 1024) -> Iterator[bytes]:
    """The CSV, decompressed a piece at a time."""
    decompressor = zlib.decompressobj(GZIP)
    content = export.content
    for start in range(0, len(content), size):
        yield decompressor.decompress(content[start : start + size])
    yield decompressor.flush()


def purge_old_exports(*, now: datetime) -> int:
    """Delete exports older than EXPORT_KEEP."""
    removed = (
        db.session.execute(
            delete(ExportFile).where(ExportFile.created_at < now - EXPORT_KEEP)
        ).rowcount
        or 0
    )
    db.session.commit()
    return removed
