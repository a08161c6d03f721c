"""WhatsApp template pages: the list (statuses, rejection reasons), a template (preview,
submit, refresh status), and the form to create or edit one with a live preview.

Coordinators and administrators only; every row is reached through the organization's
scope (another organization's template is a 404). Views read the input, call one service
(app.whatsapp.services), flash and redirect."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.contacts.forms import LANGUAGE_LABELS
from app.errors import DomainError, attach_errors
from app.extensions import db
from app.forms import BaseForm, form_status
from app.messaging.templates import TemplateGatewayError
from app.permissions import permission_required
from app.tenancy import current_org_id, get_owned_or_404, scoped
from app.timeutil import utcnow
from app.whatsapp import services
from app.whatsapp.forms import TemplateForm
from app.whatsapp.labels import (
    CATEGORY_LABELS,
    INTENT_LABELS,
    PLACEHOLDER_LABELS,
    STATUS_BADGES,
    STATUS_LABELS,
)
from app.whatsapp.models import LANGUAGES, SUBMITTABLE_STATUSES, WhatsAppTemplate
from app.whatsapp.validation import BODY_MAX, BUTTON_TITLE_MAX, SURVEY_ANSWER

bp = Blueprint("whatsapp", __name__, url_prefix="/whatsapp")


@bp.context_processor
def _labels() -> dict:
    return {
        "template_status_label": lambda code: STATUS_LABELS.get(code, code),
        "template_status_badge": lambda code: STATUS_BADGES.get(code, ""),
        "category_label": lambda code: CATEGORY_LABELS.get(code, code),
        "language_label": lambda code: LANGUAGE_LABELS.get(code, code),
        "placeholder_label": lambda code: PLACEHOLDER_LABELS.get(code, code),
        "intent_label": lambda code: INTENT_LABELS.get(code, code),
        "survey_answer": SURVEY_ANSWER,
    }


def _checked_post() -> None:
    """A bare POST (submit, refresh, delete) needs a valid CSRF token."""
    if not BaseForm().validate_on_submit():
        abort(400)


def _samples() -> dict[str, dict[str, str]]:
    """Sample placeholder values per language (the preview's)."""
    now = utcnow()
    org_name = current_user.organization.name
    return {
        language: services.samples(WhatsAppTemplate(language=language), org_name=org_name, now=now)
        for language in LANGUAGES
    }


def _to_detail(template_id: int):
    return redirect(url_for("whatsapp.template", template_id=template_id))


# --- the list ------------------------------------------------------------------------------


@bp.get("/templates")
@permission_required("coordinate")
def templates():
    rows = list(
        db.session.scalars(
            scoped(WhatsAppTemplate).order_by(WhatsAppTemplate.name, WhatsAppTemplate.language)
        )
    )
    groups: dict[str, list[WhatsAppTemplate]] = {}
    for row in rows:
        groups.setdefault(row.name, []).append(row)
    return render_template("whatsapp/templates.html", groups=groups)


# --- one template --------------------------------------------------------------------------


@bp.get("/templates/<int:template_id>")
@permission_required("coordinate")
def template(template_id):
    item = get_owned_or_404(WhatsAppTemplate, template_id)
    siblings = db.session.scalars(
        scoped(WhatsAppTemplate).where(
            WhatsAppTemplate.name == item.name, WhatsAppTemplate.id != item.id
        )
    ).all()
    missing = [
        code for code in LANGUAGES if code not in {item.language, *(s.language for s in siblings)}
    ]
    return render_template(
        "whatsapp/template.html",
        item=item,
        siblings=siblings,
        missing_languages=missing,
        preview=services.preview(item, _samples()[item.language]),
        can_submit=item.status in SUBMITTABLE_STATUSES,
        can_refresh=bool(item.content_sid) and item.status != "draft",
        action_form=BaseForm(),
    )


def _form_page(form, item):
    samples = _samples()
    language = form.language.data if form.language.data in LANGUAGES else LANGUAGES[0]
    return render_template(
        "whatsapp/template_form.html",
        form=form,
        item=item,
        samples=samples,
        preview=services.preview(form.values(), samples[language]),
        body_max=BODY_MAX,
        title_max=BUTTON_TITLE_MAX,
    ), form_status(form)


def _fail(form, error: DomainError) -> None:
    """A service's error, shown on the form (and nothing saved)."""
    db.session.rollback()
    attach_errors(form, error)


@bp.route("/templates/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_template():
    form = TemplateForm()
    copy_of = request.args.get("copy")
    if request.method == "GET" and copy_of is not None:
        # The other language of a pair: same name, category, variables and button meanings.
        source = get_owned_or_404(WhatsAppTemplate, copy_of)
        other = next((code for code in LANGUAGES if code != source.language), source.language)
        form.fill_from(source, language=other)
    if form.validate_on_submit():
        try:
            item = services.create_template(
                organization_id=current_org_id(),
                user_id=current_user.id,
                values=form.values(),
                now=utcnow(),
            )
        except DomainError as error:
            _fail(form, error)
        else:
            flash(
                _("Template saved as a draft. Submit it to WhatsApp when it is ready."), "success"
            )
            return _to_detail(item.id)
    return _form_page(form, None)


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit_template(template_id):
    item = get_owned_or_404(WhatsAppTemplate, template_id)
    if not item.editable:
        flash(_("Only a draft or a rejected template can be edited."), "error")
        return _to_detail(item.id)
    form = TemplateForm()
    if request.method == "GET":
        form.fill_from(item)
    if form.validate_on_submit():
        try:
            services.update_template(item, values=form.values(), now=utcnow())
        except DomainError as error:
            _fail(form, error)
        else:
            flash(
                _("Template saved as a draft. Submit it to WhatsApp when it is ready."), "success"
            )
            return _to_detail(item.id)
    return _form_page(form, item)


@bp.post("/templates/<int:template_id>/submit")
@permission_required("coordinate")
def submit_template(template_id):
    item = get_owned_or_404(WhatsAppTemplate, template_id)
    _checked_post()
    try:
        item = services.submit_template(item.id, organization_id=item.organization_id, now=utcnow())
    except DomainError as error:  # TemplateGatewayError included
        db.session.rollback()
        flash(str(error), "error")
    else:
        if item.status == "pending":
            flash(
                _("Submitted to WhatsApp. The review usually takes from a few minutes to a day."),
                "success",
            )
        else:
            flash(
                _("Status: %(status)s.", status=STATUS_LABELS.get(item.status, item.status)),
                "success",
            )
    return _to_detail(template_id)


@bp.post("/templates/<int:template_id>/refresh")
@permission_required("coordinate")
def refresh_template(template_id):
    item = get_owned_or_404(WhatsAppTemplate, template_id)
    _checked_post()
    try:
        item = services.refresh_status(item, now=utcnow())
    except TemplateGatewayError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(
            _("Status: %(status)s.", status=STATUS_LABELS.get(item.status, item.status)), "success"
        )
    return _to_detail(template_id)


@bp.post("/templates/<int:template_id>/delete")
@permission_required("coordinate")
def delete_template(template_id):
    item = get_owned_or_404(WhatsAppTemplate, template_id)
    _checked_post()
    try:
        services.delete_template(item)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _to_detail(template_id)
    flash(_("Template deleted."), "success")
    return redirect(url_for("whatsapp.templates"))
