"""The worker side of a contact import: apply it with progress reports."""
from flask_babel import force_locale

from ..extensions import db
from ..jobs.services import job_handler
from ..timeutil import utcnow
from .import_services import apply_import
from .models import ContactImport


@job_handler("contact_import")
def run_contact_import(job, progress) -> dict:
    imp = db.session.get(ContactImport, job.payload["import_id"])
    if imp is None or imp.organization_id != job.organization_id:
        raise LookupError("import not found")
    # Rejected-row reasons are stored as text: write them in the coordinator's language.
    with force_locale(job.payload.get("locale") or "es"):
        result = apply_import(imp, now=utcnow(), progress=progress)
    progress(done=result.total, rejected=result.rejected, force=True)
    return {"import_id": imp.id, "created": result.created, "updated": result.updated,
            "skipped": result.skipped, "rejected": result.rejected}
