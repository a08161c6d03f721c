"""Attendance pages: the door roster, walk-ins, sign-in sheets and completing a workshop.

Check-in and undo answer JSON to the roster's script (`Accept: application/json`) and
redirect back to the roster otherwise, so the page also works without JavaScript.
"""

from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from app.contacts.csv_import import DOCUMENTED_HEADERS, FIELD_LABELS
from app.contacts.import_services import max_file_bytes, read_limited
from app.errors import DomainError, attach_errors, attach_to_form
from app.forms import form_status
from app.i18n import current_language
from app.permissions import permission_required
from app.tenancy import get_owned_or_404
from app.timeutil import utcnow
from app.workshops import attendance, completion, funnel, sign_in_sheet, walk_ins
from app.workshops.attendance_forms import (
    AttendanceActionForm,
    CompleteWorkshopForm,
    RosterSearchForm,
    SignInSheetForm,
    WalkInForm,
)
from app.workshops.labels import ATTENDANCE_LABELS, REGISTRATION_STATUS_LABELS
from app.workshops.models import Workshop, WorkshopRegistration

bp = Blueprint("attendance", __name__, url_prefix="/workshops")

SHEET_FIELDS = ("phone", "first_name")


def _workshop(workshop_id) -> Workshop:
    return get_owned_or_404(Workshop, workshop_id)


def _registration(workshop: Workshop, registration_id) -> WorkshopRegistration:
    registration = get_owned_or_404(WorkshopRegistration, registration_id)
    if registration.workshop_id != workshop.id:
        abort(404)
    return registration


def _locale() -> str:
    return str(get_locale() or "es")


def _page_context(workshop: Workshop) -> dict:
    """What every attendance page shows about its workshop (times at the venue)."""
    zone = ZoneInfo(workshop.timezone)
    locale = _locale()

    def venue_time(moment):
        return format_time(moment, "short", tzinfo=zone, locale=locale) if moment else ""

    return {
        "workshop": workshop,
        "title": workshop.title_for(current_language()),
        "day": format_date(workshop.starts_at.astimezone(zone).date(), "full", locale=locale),
        "venue_time": venue_time,
        "status_label": lambda code: REGISTRATION_STATUS_LABELS.get(code, code),
        "attendance_label": lambda code: ATTENDANCE_LABELS.get(code, code),
        "back_link": _back_link(workshop),
    }


def _back_link(workshop: Workshop) -> tuple[str, str] | None:
    """(url, label) of the workshop's own page, or of the list: they belong to the
    workshops blueprint, so link to whichever exists."""
    for endpoint, values, label in (
        ("workshops.detail", {"workshop_id": workshop.id}, _("Back to the workshop")),
        ("workshops.index", {}, _("Back to workshops")),
    ):
        try:
            return url_for(endpoint, **values), label
        except BuildError:
            continue
    return None


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _display_name(registration: WorkshopRegistration) -> str:
    return registration.contact.first_name or _("The participant")


def _roster_url(workshop: Workshop, registration_id: int | None = None) -> str:
    q = (request.form.get("q") or "").strip()[:80] or None
    anchor = f"reg-{registration_id}" if registration_id else None
    return url_for(".roster", workshop_id=workshop.id, q=q, _anchor=anchor)


def _action_response(workshop: Workshop, registration: WorkshopRegistration, message: str):
    if not _wants_json():
        flash(message, "success")
        return redirect(_roster_url(workshop, registration.id))
    html = render_template(
        "workshops/attendance/_row.html",
        entry=attendance.roster_entry(registration),
        q=request.form.get("q", ""),
        **_page_context(workshop),
    )
    return jsonify(html=html, message=message, counts=funnel.workshop_funnel(workshop))


def _action_error(workshop: Workshop, registration: WorkshopRegistration, error: DomainError):
    if _wants_json():
        return jsonify(error=str(error)), 409
    flash(str(error), "error")
    return redirect(_roster_url(workshop, registration.id))


@bp.get("/<int:workshop_id>/attendance")
@permission_required("coordinate")
def roster(workshop_id):
    workshop = _workshop(workshop_id)
    search = RosterSearchForm(request.args)
    q = search.q.data.strip() if search.validate() and search.q.data else ""
    complete_form = CompleteWorkshopForm(send_thank_you=current_user.organization.thank_you_sms)
    now = utcnow()
    deadline = completion.undo_deadline(workshop)
    return render_template(
        "workshops/attendance/roster.html",
        search=search,
        q=q,
        entries=attendance.roster(workshop, q=q),
        counts=funnel.workshop_funnel(workshop),
        complete_form=complete_form,
        started=now >= workshop.starts_at,
        ends_early=completion.ends_early(workshop, now),
        undo_until=(
            format_datetime(deadline, "short", tzinfo=ZoneInfo(workshop.timezone), locale=_locale())
            if deadline is not None and now <= deadline
            else None
        ),
        **_page_context(workshop),
    )


@bp.post("/<int:workshop_id>/attendance/<int:registration_id>/check-in")
@permission_required("coordinate")
def check_in(workshop_id, registration_id):
    workshop = _workshop(workshop_id)
    registration = _registration(workshop, registration_id)
    if not AttendanceActionForm().validate_on_submit():
        abort(400)
    try:
        changed = attendance.check_in(registration, user_id=current_user.id, now=utcnow())
    except DomainError as error:
        return _action_error(workshop, registration, error)
    name = _display_name(registration)
    message = (
        _("%(name)s is checked in.", name=name)
        if changed
        else _("%(name)s was already checked in.", name=name)
    )
    return _action_response(workshop, registration, message)


@bp.post("/<int:workshop_id>/attendance/<int:registration_id>/undo")
@permission_required("coordinate")
def undo(workshop_id, registration_id):
    workshop = _workshop(workshop_id)
    registration = _registration(workshop, registration_id)
    if not AttendanceActionForm().validate_on_submit():
        abort(400)
    changed = attendance.undo_check_in(registration, now=utcnow())
    name = _display_name(registration)
    message = (
        _("Check-in of %(name)s undone.", name=name)
        if changed
        else _("%(name)s was not checked in.", name=name)
    )
    return _action_response(workshop, registration, message)


@bp.route("/<int:workshop_id>/attendance/walk-in", methods=["GET", "POST"])
@permission_required("coordinate")
def walk_in(workshop_id):
    workshop = _workshop(workshop_id)
    org = current_user.organization
    form = WalkInForm(org_country=workshop.country, org_name=org.name)
    if request.method == "GET":
        form.language.data = (
            workshop.language if workshop.language in ("es", "en") else org.default_language
        )
        form.state.data = workshop.state_code or ""
        form.municipality.data = workshop.municipality
    if form.validate_on_submit():
        try:
            result = walk_ins.register_walk_in(
                workshop, form.raw(), user_id=current_user.id, now=utcnow()
            )
        except DomainError as error:
            attach_errors(form, error)
        else:
            name = result.contact.first_name
            messages = {
                "walk_in": _("%(name)s is registered as a walk-in and checked in.", name=name),
                "checked_in": _(
                    "%(name)s was already registered and is now checked in.", name=name
                ),
                "already": _("%(name)s was already checked in.", name=name),
            }
            flash(messages[result.outcome], "success")
            if not result.contact_created:
                flash(
                    _(
                        "The phone number matched an existing contact; their data was "
                        "completed, not replaced."
                    ),
                    "info",
                )
            return redirect(
                url_for(".roster", workshop_id=workshop.id, _anchor=f"reg-{result.registration.id}")
            )
    return render_template(
        "workshops/attendance/walk_in.html", form=form, org=org, **_page_context(workshop)
    ), form_status(form)


@bp.route("/<int:workshop_id>/attendance/upload", methods=["GET", "POST"])
@permission_required("coordinate")
def upload(workshop_id):
    workshop = _workshop(workshop_id)
    form = SignInSheetForm()
    if form.validate_on_submit():
        sheet = form.file.data
        try:
            result = sign_in_sheet.import_sign_in_sheet(
                workshop,
                data=read_limited(sheet.stream),
                filename=sheet.filename,
                user_id=current_user.id,
                now=utcnow(),
            )
        except DomainError as error:
            attach_to_form(form, error)
        else:
            # Rendered, not redirected: the report travels with the page (see
            # sign_in_sheet.report_token); uploading the same sheet again changes nothing.
            return render_template(
                "workshops/attendance/upload_result.html",
                result=result,
                token=sign_in_sheet.report_token(workshop, result),
                **_page_context(workshop),
            )
    return render_template(
        "workshops/attendance/upload.html",
        form=form,
        fields=[(FIELD_LABELS[name], DOCUMENTED_HEADERS[name]) for name in SHEET_FIELDS],
        max_mb=max_file_bytes() // (1024 * 1024),
        max_rows=sign_in_sheet.MAX_SHEET_ROWS,
        **_page_context(workshop),
    ), form_status(form)


@bp.post("/<int:workshop_id>/attendance/rejected.csv")
@permission_required("coordinate")
def report(workshop_id):
    workshop = _workshop(workshop_id)
    if not AttendanceActionForm().validate_on_submit():
        abort(400)
    text = sign_in_sheet.report_from_token(workshop, request.form.get("report", ""))
    if text is None:
        abort(404)
    # The BOM makes Excel read the accents as UTF-8.
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="sign-in-sheet-rejected-rows-{workshop.id}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:workshop_id>/attendance/complete")
@permission_required("coordinate")
def complete(workshop_id):
    workshop = _workshop(workshop_id)
    form = CompleteWorkshopForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        result = completion.complete_workshop(
            workshop,
            send_thank_you=form.send_thank_you.data,
            early_confirmed=form.early.data,
            now=utcnow(),
        )
    except DomainError as error:
        flash(str(error), "error")
    else:
        _flash_completed(result, send_thank_you=form.send_thank_you.data)
    return redirect(url_for(".roster", workshop_id=workshop.id))


def _flash_completed(result: completion.CompletionResult, *, send_thank_you: bool) -> None:
    flash(_("The workshop is completed."), "success")
    flash(
        ngettext(
            "%(num)d confirmed participant who was not checked in is now a no-show.",
            "%(num)d confirmed participants who were not checked in are now no-shows.",
            result.no_shows,
        ),
        "info",
    )
    if result.messages_canceled:
        flash(
            ngettext(
                "%(num)d invitation, reminder or notice not yet sent was canceled.",
                "%(num)d invitations, reminders or notices not yet sent were canceled.",
                result.messages_canceled,
            ),
            "info",
        )
    if send_thank_you:
        flash(
            ngettext(
                "%(num)d thank-you SMS queued.",
                "%(num)d thank-you SMS queued.",
                result.thank_yous,
            ),
            "info",
        )
        if result.not_messageable:
            flash(
                ngettext(
                    "%(num)d attendee cannot be messaged (no consent, opted out or minor "
                    "without guardian consent).",
                    "%(num)d attendees cannot be messaged (no consent, opted out or minor "
                    "without guardian consent).",
                    result.not_messageable,
                ),
                "warning",
            )


@bp.post("/<int:workshop_id>/attendance/undo-completion")
@permission_required("coordinate")
def undo_completion(workshop_id):
    workshop = _workshop(workshop_id)
    if not AttendanceActionForm().validate_on_submit():
        abort(400)
    try:
        result = completion.undo_completion(workshop, now=utcnow())
    except DomainError as error:
        flash(str(error), "error")
    else:
        flash(_("The completion is undone: the workshop is open again."), "success")
        flash(
            ngettext(
                "%(num)d no-show is registered again.",
                "%(num)d no-shows are registered again.",
                result.no_shows_reverted,
            ),
            "info",
        )
        if result.thank_yous_canceled:
            flash(
                ngettext(
                    "%(num)d thank-you SMS not yet sent was canceled.",
                    "%(num)d thank-you SMS not yet sent were canceled.",
                    result.thank_yous_canceled,
                ),
                "info",
            )
    return redirect(url_for(".roster", workshop_id=workshop.id))
