from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.contacts import bulk, services
from app.contacts.forms import (
    OPT_OUT_REASON_LABELS,
    BulkActionForm,
    ContactForm,
    ContactSearchForm,
    EraseForm,
    OptInForm,
    OptOutForm,
    label_helpers,
)
from app.contacts.geography import derive_timezone
from app.contacts.list_rows import list_rows
from app.contacts.models import Contact
from app.contacts.validation import MAX_TAGS
from app.errors import DomainError, attach_errors, attach_to_form
from app.forms import form_status
from app.permissions import permission_required
from app.tenancy import current_org_id, get_owned_or_404
from app.timeutil import utcnow

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
    rows = list_rows(page.contacts, today=today, org_country=org.country)
    bulk_form = None
    if current_user.can("coordinate"):
        bulk_form = BulkActionForm(
            formdata=None, after=request.args.get("after"), before=request.args.get("before")
        )
    return render_template(
        "contacts/index.html",
        form=form,
        page=page,
        rows=rows,
        filters=filters,
        filtered=bool(filters),
        bulk_form=bulk_form,
    )


# --- bulk actions --------------------------------------------------------------------------


@bp.post("/bulk")
@permission_required("coordinate")
def bulk_action():
    """The list's bulk form: tag actions and the export run at once; opting out and
    erasing first show a confirmation page (with the count) that posts back here."""
    org = _org()
    form = BulkActionForm()
    if not form.validate_on_submit():
        abort(400)  # only the CSRF token can fail (see BulkActionForm)
    search = ContactSearchForm(request.form, prefix="f", org_country=org.country)
    search_ok = search.validate()
    back = url_for("contacts.index", **(search.filters() if search_ok else {}), **form.cursors())
    action = form.action.data
    today = services.local_today(org)
    try:
        if action not in bulk.ACTIONS:
            raise DomainError(_("Choose an action."))
        selection = bulk.make_selection(
            org.id,
            scope=form.scope.data,
            ids=form.chosen_ids(),
            filters=search.filters() if search_ok else None,
            filters_valid=search_ok,
        )
        if action in ("add_tag", "remove_tag"):
            _tag(action, selection, form.tag.data, today=today)
        elif action == "export":
            return _export(selection, today=today)
        elif form.confirming:
            return _confirmed(action, selection, form, search, today=today, back=back)
        else:
            count = bulk.count_selected(selection, today=today)
            return _confirmation(action, form, search, count=count, back=back)
    except DomainError as error:
        flash(str(error), "error")
    return redirect(back)


def _tag(action, selection, tag, *, today) -> None:
    service = bulk.add_tag if action == "add_tag" else bulk.remove_tag
    result = service(selection, tag, today=today, now=utcnow(), user_id=current_user.id)
    tag = result.tag
    if action == "add_tag":
        if result.changed:
            flash(
                ngettext(
                    "Tag “%(tag)s” added to %(num)d contact.",
                    "Tag “%(tag)s” added to %(num)d contacts.",
                    result.changed,
                    tag=tag,
                ),
                "success",
            )
        if result.unchanged:
            flash(
                ngettext(
                    "%(num)d contact already had it.",
                    "%(num)d contacts already had it.",
                    result.unchanged,
                ),
                "success" if result.changed else "warning",
            )
        if result.full:
            flash(
                ngettext(
                    "%(num)d contact already has %(max)d tags and was left as it was.",
                    "%(num)d contacts already have %(max)d tags and were left as they were.",
                    result.full,
                    max=MAX_TAGS,
                ),
                "warning",
            )
    elif result.changed:
        flash(
            ngettext(
                "Tag “%(tag)s” removed from %(num)d contact.",
                "Tag “%(tag)s” removed from %(num)d contacts.",
                result.changed,
                tag=tag,
            ),
            "success",
        )
    else:
        flash(_("None of the selected contacts has the tag “%(tag)s”.", tag=tag), "warning")


def _export(selection, *, today) -> Response:
    bulk.start_export(selection, today=today, user_id=current_user.id)
    stamp = today.strftime("%Y%m%d")
    response = Response(
        stream_with_context(bulk.export_csv(selection, today=today)), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="alcance-{_org().slug}-contacts-{stamp}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _confirmation(action, form, search, *, count, back, status=200):
    return render_template(
        "contacts/bulk_confirm.html",
        form=form,
        search=search,
        action=action,
        count=count,
        back=back,
        reasons=OPT_OUT_REASON_LABELS,
    ), status


def _confirmed(action, selection, form, search, *, today, back):
    """The confirmation page was posted: act, or show it again with what is wrong."""
    now = utcnow()
    try:
        if action == "opt_out":
            if not form.confirm.data:
                raise DomainError(_("Confirm the opt-out to continue."), field="confirm")
            result = bulk.opt_out(
                selection, reason=form.reason.data, today=today, now=now, user_id=current_user.id
            )
            _flash_opt_out(result)
        else:
            erased = bulk.erase(
                selection,
                confirmed_count=form.confirm_count.data,
                today=today,
                now=now,
                user_id=current_user.id,
            )
            flash(
                ngettext(
                    "The personal data of %(num)d contact was erased. A de-identified record "
                    "remains for statistics.",
                    "The personal data of %(num)d contacts was erased. De-identified records "
                    "remain for statistics.",
                    erased,
                ),
                "success",
            )
    except DomainError as error:
        if error.field is None:
            raise  # the selection itself: back to the list with the message
        attach_to_form(form, error)
        count = bulk.count_selected(selection, today=today)
        return _confirmation(action, form, search, count=count, back=back, status=400)
    return redirect(back)


def _flash_opt_out(result) -> None:
    if result.opted_out:
        flash(
            ngettext(
                "%(num)d contact was opted out: no more messages will be sent to them.",
                "%(num)d contacts were opted out: no more messages will be sent to them.",
                result.opted_out,
            ),
            "success",
        )
    if result.already:
        flash(
            ngettext(
                "%(num)d contact had already opted out and was left as it was.",
                "%(num)d contacts had already opted out and were left as they were.",
                result.already,
            ),
            "success" if result.opted_out else "warning",
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
    form.last_name.data = contact.last_name
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
    form.preferred_channel.data = contact.preferred_channel or "sms"
    form.whatsapp_opt_in.data = contact.whatsapp_opt_in_at is not None


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
