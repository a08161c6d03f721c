from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import format_number, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.contacts import import_services as services
from app.contacts.csv_import import DOCUMENTED_HEADERS, FIELD_LABELS, MAX_ROWS
from app.contacts.import_forms import CONSENT_SOURCE_CHOICES, DUPLICATE_CHOICES, ImportUploadForm
from app.contacts.models import ContactImport
from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.jobs.models import Job
from app.permissions import permission_required
from app.tenancy import get_owned_or_404, scoped
from app.timeutil import utcnow

bp = Blueprint("contact_imports", __name__, url_prefix="/contacts/imports")

RECENT_IMPORTS = 30


@bp.get("/")
@permission_required("coordinate")
def index():
    imports = db.session.scalars(
        scoped(ContactImport).order_by(ContactImport.id.desc()).limit(RECENT_IMPORTS)
    ).all()
    return render_template("contacts/imports/index.html", imports=imports)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new():
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            imp = services.create_import(
                current_user.organization,
                user_id=current_user.id,
                filename=upload.filename,
                data=services.read_limited(upload.stream),
                duplicate_rule=form.duplicate_rule.data,
                consent_source=form.consent_source.data,
                consent_basis=form.consent_basis.data,
            )
        except DomainError as error:
            attach_to_form(form, error)
        else:
            return redirect(url_for(".preview", import_id=imp.id))
    return render_template(
        "contacts/imports/new.html",
        form=form,
        field_labels=FIELD_LABELS,
        documented_headers=DOCUMENTED_HEADERS,
        max_mb=services.max_file_bytes() // (1024 * 1024),
        max_rows=format_number(MAX_ROWS),
    ), form_status(form)


@bp.get("/<int:import_id>/preview")
@permission_required("coordinate")
def preview(import_id):
    imp = get_owned_or_404(ContactImport, import_id)
    if imp.status not in services.APPLICABLE:
        return redirect(url_for(".result", import_id=imp.id))
    summary = services.preview_import(imp, now=utcnow())
    return render_template(
        "contacts/imports/preview.html",
        imp=imp,
        preview=summary,
        duplicate_labels=dict(DUPLICATE_CHOICES),
        consent_labels=dict(CONSENT_SOURCE_CHOICES),
    )


@bp.post("/<int:import_id>/confirm")
@permission_required("coordinate")
def confirm(import_id):
    imp = get_owned_or_404(ContactImport, import_id)
    try:
        services.queue_import(
            imp, user_id=current_user.id, now=utcnow(), locale=str(get_locale() or "es")
        )
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for(".preview", import_id=import_id))
    flash(_("Import started. You can leave this page and come back."), "info")
    return redirect(url_for(".result", import_id=import_id))


@bp.post("/<int:import_id>/discard")
@permission_required("coordinate")
def discard(import_id):
    imp = get_owned_or_404(ContactImport, import_id)
    try:
        services.discard_import(imp)
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for(".result", import_id=import_id))
    flash(_("The upload was discarded. Nothing was imported."), "info")
    return redirect(url_for(".index"))


@bp.get("/<int:import_id>")
@permission_required("coordinate")
def result(import_id):
    imp = get_owned_or_404(ContactImport, import_id)
    if imp.status in services.APPLICABLE:
        return redirect(url_for(".preview", import_id=imp.id))
    job = db.session.get(Job, imp.job_id) if imp.job_id else None
    return render_template(
        "contacts/imports/result.html", imp=imp, job=job, summary=services.report_summary(imp)
    )


@bp.get("/<int:import_id>/rejected.csv")
@permission_required("coordinate")
def report(import_id):
    imp = get_owned_or_404(ContactImport, import_id)
    text = services.rejected_report(imp)
    if text is None:
        abort(404)
    # The BOM makes Excel read the accents as UTF-8.
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="rejected-rows-{imp.id}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
