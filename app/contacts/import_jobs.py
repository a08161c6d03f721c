"""The worker side of a contact import: apply it with progress reports."""

from flask_babel import force_locale

from app.contacts.import_services import apply_import
from app.contacts.models import ContactImport
from app.contacts.statistics import ANALYZE_AFTER, refresh_planner_statistics
from app.extensions import db
from app.i18n import regional_locale
from app.jobs.services import job_handler
from app.timeutil import utcnow


@job_handler("contact_import", result_page=("contact_imports.result", "import_id"))
def run_contact_import(job, progress) -> dict:
    imp = db.session.get(ContactImport, job.payload["import_id"])
    if imp is None or imp.organization_id != job.organization_id:
        raise LookupError("import not found")
    # Rejected-row reasons are stored as text: write them in the coordinator's language.
    with force_locale(regional_locale(job.payload.get("locale"))):
        result = apply_import(imp, now=utcnow(), progress=progress)
    progress(done=result.total, rejected=result.rejected, force=True)
    if result.created >= ANALYZE_AFTER:
        refresh_planner_statistics()
    return {
        "import_id": imp.id,
        "created": result.created,
        "updated": result.updated,
        "skipped": result.skipped,
        "rejected": result.rejected,
        "warned": result.warned,
    }
