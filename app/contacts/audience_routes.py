from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.contacts import audiences as svc
from app.contacts.eligibility import REASONS
from app.contacts.forms import AudienceForm, label_helpers
from app.contacts.models import Audience
from app.contacts.services import contact_view, local_today
from app.errors import DomainError, attach_errors
from app.extensions import db
from app.forms import BaseForm, form_status
from app.permissions import permission_required
from app.tenancy import current_org_id, get_owned_or_404, scoped

bp = Blueprint("audiences", __name__, url_prefix="/audiences")
bp.context_processor(label_helpers)


def _summary_and_rows(filters: dict):
    org = current_user.organization
    today = local_today(org)
    summary = svc.audience_summary(current_org_id(), filters, today=today)
    rows = [contact_view(c, today=today, org_country=org.country) for c in summary.sample]
    return summary, rows


def _eligible_sentence(summary) -> str:
    return ngettext(
        "%(num)d contact can be messaged (of %(matched)d matching).",
        "%(num)d contacts can be messaged (of %(matched)d matching).",
        summary.eligible,
        matched=summary.matched,
    )


@bp.get("/")
@permission_required("view_contacts")
def index():
    items = db.session.scalars(scoped(Audience).order_by(Audience.name)).all()
    return render_template("audiences/index.html", audiences=items, describe=svc.describe_filters)


@bp.get("/<int:audience_id>")
@permission_required("view_contacts")
def detail(audience_id):
    audience = get_owned_or_404(Audience, audience_id)
    summary, rows = _summary_and_rows(audience.filters)
    return render_template(
        "audiences/detail.html",
        audience=audience,
        summary=summary,
        rows=rows,
        criteria=svc.describe_filters(audience.filters),
        sentence=_eligible_sentence(summary),
        delete_form=BaseForm(),
    )


def _edit_page(form, audience):
    """Create and edit: "Preview count" re-renders with counts (no JavaScript needed),
    "Save" saves. Neither changes anything when the input is invalid."""
    summary = rows = None
    if form.is_submitted():
        valid = form.validate()
        if form.preview.data:
            form.name.errors = []  # a name is needed to save, not to preview
            if not form.filter_errors():
                try:
                    filters = svc.validate_filters(form.raw_filters())
                except DomainError as error:
                    attach_errors(form, error)
                else:
                    summary, rows = _summary_and_rows(filters)
        elif valid:
            try:
                if audience is None:
                    audience = svc.create_audience(
                        current_org_id(),
                        name=form.name.data,
                        description=form.description.data,
                        filters=form.raw_filters(),
                    )
                    flash(_("Audience created."), "success")
                else:
                    svc.update_audience(
                        audience,
                        name=form.name.data,
                        description=form.description.data,
                        filters=form.raw_filters(),
                    )
                    flash(_("Audience saved."), "success")
            except DomainError as error:
                db.session.rollback()
                attach_errors(form, error)
            else:
                return redirect(url_for("audiences.detail", audience_id=audience.id))
    return render_template(
        "audiences/form.html",
        form=form,
        audience=audience,
        summary=summary,
        rows=rows,
        sentence=_eligible_sentence(summary) if summary else None,
    ), form_status(form)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new():
    form = AudienceForm(org_country=current_user.organization.country)
    return _edit_page(form, None)


@bp.route("/<int:audience_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit(audience_id):
    audience = get_owned_or_404(Audience, audience_id)
    form = AudienceForm(org_country=current_user.organization.country)
    if request.method == "GET":
        form.name.data = audience.name
        form.description.data = audience.description
        for key, value in (audience.filters or {}).items():
            if key in form.FILTER_FIELDS:
                field = form._fields[key]
                field.data = ", ".join(value) if key in ("municipalities", "tags") else value
    return _edit_page(form, audience)


@bp.post("/<int:audience_id>/delete")
@permission_required("coordinate")
def delete(audience_id):
    audience = get_owned_or_404(Audience, audience_id)
    if not BaseForm().validate_on_submit():
        abort(400)
    svc.delete_audience(audience)
    flash(_("Audience deleted."), "success")
    return redirect(url_for("audiences.index"))


@bp.get("/preview")
@permission_required("coordinate")
def preview():
    """JSON counts for the edit form's query string (the live count of audiences.js)."""
    form = AudienceForm(
        formdata=request.args, org_country=current_user.organization.country, meta={"csrf": False}
    )
    form.validate()
    errors = form.filter_errors()
    if not errors:
        try:
            filters = svc.validate_filters(form.raw_filters())
        except svc.AudienceInvalid as error:
            errors = error.field_errors
    if errors:
        return jsonify(
            valid=False, errors=errors, message=_("Correct the filters to see the count.")
        ), 400
    summary = svc.audience_summary(
        current_org_id(), filters, today=local_today(current_user.organization), sample_size=0
    )
    return jsonify(
        valid=True,
        eligible=summary.eligible,
        matched=summary.matched,
        excluded=[
            {"reason": code, "label": str(REASONS[code]), "count": n}
            for code, n in summary.excluded
        ],
        message=_eligible_sentence(summary),
    )
