from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.contacts import services
from app.contacts.forms import (
    ContactForm,
    ContactSearchForm,
    EraseForm,
    OptInForm,
    OptOutForm,
    label_helpers,
)
from app.contacts.geography import derive_timezone
from app.contacts.models import Contact
from app.errors import DomainError, attach_errors, attach_to_form
from app.forms import form_status
from app.permissions import permission_required
from app.tenancy import current_org_id, get_owned_or_404

bp = Blueprint("contacts", __name__, url_prefix="/contacts")
bp.context_processor(label_helpers)


def _org():
    return current_user.organization


def _cursor(name: str) -> int | None:
    value = request.args.get(name, "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        abort(400)
    return int(value)


@bp.get("/")
@permission_required("view_contacts")
def index():
    org = _org()
    today = services.local_today(org)
    form = ContactSearchForm(request.args, org_country=org.country)
    form.validate()
    filters = form.filters()
    page = services.list_contacts(
        current_org_id(), filters, today=today, after=_cursor("after"), before=_cursor("before")
    )
    rows = [services.contact_view(c, today=today, org_country=org.country) for c in page.contacts]
    return render_template(
        "contacts/index.html",
        form=form,
        page=page,
        rows=rows,
        filters=filters,
        filtered=bool(filters),
    )


@bp.get("/<int:contact_id>")
@permission_required("view_contacts")
def detail(contact_id):
    contact = get_owned_or_404(Contact, contact_id)
    org = _org()
    view = services.contact_view(contact, today=services.local_today(org), org_country=org.country)
    return render_template(
        "contacts/detail.html",
        c=contact,
        view=view,
        opt_out_form=OptOutForm(),
        opt_in_form=OptInForm(),
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new():
    org = _org()
    form = ContactForm(org_country=org.country)
    if request.method == "GET":
        form.country.data = org.country
        form.language.data = org.default_language
    if form.validate_on_submit():
        try:
            contact = services.create_contact(org, form.raw(), today=services.local_today(org))
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(_("Contact created."), "success")
            return redirect(url_for("contacts.detail", contact_id=contact.id))
    return render_template("contacts/form.html", form=form, contact=None), form_status(form)


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit(contact_id):
    contact = get_owned_or_404(Contact, contact_id)
    if contact.erased_at is not None:
        flash(_("This contact was erased on request and cannot be edited."), "error")
        return redirect(url_for("contacts.detail", contact_id=contact.id))
    org = _org()
    form = ContactForm(org_country=org.country)
    if request.method == "GET":
        _fill_form(form, contact)
    if form.validate_on_submit():
        try:
            services.update_contact(contact, form.raw(), org=org, today=services.local_today(org))
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(_("Contact updated."), "success")
            return redirect(url_for("contacts.detail", contact_id=contact.id))
    return render_template("contacts/form.html", form=form, contact=contact), form_status(form)


def _fill_form(form: ContactForm, contact: Contact) -> None:
    form.phone.data = contact.phone
    form.first_name.data = contact.first_name
    form.language.data = contact.language
    form.birth_year.data = str(contact.birth_year) if contact.birth_year else ""
    form.age_band.data = contact.age_band or ""
    form.gender.data = contact.gender or ""
    form.country.data = contact.country
    form.state.data = contact.state_code or ""
    form.municipality.data = contact.municipality
    # A derived zone is left blank, so it follows a change of state or municipality.
    derived = derive_timezone(contact.country, contact.state_code, contact.municipality)
    form.timezone.data = "" if contact.timezone == derived else contact.timezone
    form.tags.data = ", ".join(contact.tag_names)
    form.consent_source.data = contact.consent_source or ""
    form.consent_basis.data = contact.consent_basis
    form.consent_date.data = contact.consent_at.date().isoformat() if contact.consent_at else ""
    form.guardian_consent.data = contact.guardian_consent


@bp.post("/<int:contact_id>/opt-out")
@permission_required("coordinate")
def opt_out(contact_id):
    contact = get_owned_or_404(Contact, contact_id)
    form = OptOutForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.opt_out_contact(contact, channel="coordinator")
    except DomainError as error:
        flash(str(error), "error")
    else:
        flash(_("The contact was opted out: no more messages will be sent."), "success")
    return redirect(url_for("contacts.detail", contact_id=contact.id))


@bp.route("/<int:contact_id>/opt-in", methods=["GET", "POST"])
@permission_required("coordinate")
def opt_in(contact_id):
    contact = get_owned_or_404(Contact, contact_id)
    if contact.erased_at is not None or contact.opted_out_at is None:
        return redirect(url_for("contacts.detail", contact_id=contact.id))
    form = OptInForm()
    if form.validate_on_submit():
        try:
            services.opt_in_contact(contact, consent_confirmed=form.confirm.data)
        except DomainError as error:
            attach_to_form(form, error)
        else:
            flash(_("The contact was opted back in."), "success")
            return redirect(url_for("contacts.detail", contact_id=contact.id))
    return render_template("contacts/opt_in.html", c=contact, form=form), form_status(form)


@bp.route("/<int:contact_id>/erase", methods=["GET", "POST"])
@permission_required("coordinate")
def erase(contact_id):
    contact = get_owned_or_404(Contact, contact_id)
    if contact.erased_at is not None:
        return redirect(url_for("contacts.detail", contact_id=contact.id))
    form = EraseForm()
    if form.validate_on_submit():
        try:
            services.erase_contact(contact, today=services.local_today(_org()))
        except DomainError as error:
            attach_to_form(form, error)
        else:
            flash(
                _("The personal data was erased. A de-identified record remains for statistics."),
                "success",
            )
            return redirect(url_for("contacts.detail", contact_id=contact.id))
    view = services.contact_view(
        contact, today=services.local_today(_org()), org_country=_org().country
    )
    return render_template("contacts/erase.html", c=contact, view=view, form=form), form_status(
        form
    )
