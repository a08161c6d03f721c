"""Management pages of conversations (coordinators and admins): saved replies, the on-call
rotation, local services to refer young people to, and staff phones for urgent alerts.

Every row is reached through app.tenancy (another organization's row is a 404); evaluators
get 403 on every page."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_time, get_locale, get_timezone
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.models import User
from app.contacts.geography import MX_STATES, state_name
from app.contacts.services import format_phone
from app.conversations import oncall
from app.conversations.models import LocalService, OnCallShift, SavedReply
from app.conversations.replies import MAX_LENGTH
from app.conversations.settings_forms import (
    LANGUAGE_CHOICES,
    LocalServiceForm,
    SavedReplyForm,
    ShiftForm,
    StaffPhoneForm,
)
from app.extensions import db
from app.forms import BaseForm, form_status
from app.outbox.encoding import counter_label_attrs
from app.outbox.timing import local_to_utc
from app.permissions import permission_required
from app.tenancy import current_org_id, get_owned_or_404, scoped
from app.timeutil import utcnow

bp = Blueprint("conversation_settings", __name__, url_prefix="/conversations")

SHIFT_ERRORS = {
    "ends_before_start": ("end_time", lambda: _("The shift must end after it starts.")),
    "in_the_past": ("end_time", lambda: _("This shift is already over. Choose an end to come.")),
}


def _checked_post():
    """A bare POST (delete, deactivate) needs a valid CSRF token."""
    if not BaseForm().validate_on_submit():
        abort(400)


def _moment(value: datetime) -> str:
    """A weekday, date and time in the organization's zone, as the UI language writes it."""
    day = format_skeleton("MMMEd", value, tzinfo=get_timezone(), locale=get_locale())
    # TRANSLATORS: a weekday and date, then a time ("vie 27 de nov, 10:00 a.m.").
    return _("%(date)s, %(time)s", date=day, time=format_time(value, "short"))


# --- saved replies ---------------------------------------------------------------------


@bp.get("/saved-replies")
@permission_required("coordinate")
def saved_replies():
    items = db.session.scalars(scoped(SavedReply).order_by(SavedReply.title)).all()
    return render_template(
        "conversation_settings/saved_replies.html", replies=items, delete_form=BaseForm()
    )


def _saved_reply_page(form, saved):
    if form.validate_on_submit():
        now = utcnow()
        if saved is None:
            saved = SavedReply(organization_id=current_org_id(), created_at=now)
            db.session.add(saved)
        for key, value in form.clean().items():
            setattr(saved, key, value)
        saved.updated_at = now
        db.session.commit()
        flash(_("Saved reply saved."), "success")
        return redirect(url_for("conversation_settings.saved_replies"))
    return render_template(
        "conversation_settings/saved_reply_form.html",
        form=form,
        saved=saved,
        counter_attrs=counter_label_attrs(),
        max_length=MAX_LENGTH,
    ), form_status(form)


@bp.route("/saved-replies/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_saved_reply():
    return _saved_reply_page(SavedReplyForm(), None)


@bp.route("/saved-replies/<int:reply_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit_saved_reply(reply_id):
    saved = get_owned_or_404(SavedReply, reply_id)
    return _saved_reply_page(SavedReplyForm(obj=saved), saved)


@bp.post("/saved-replies/<int:reply_id>/delete")
@permission_required("coordinate")
def delete_saved_reply(reply_id):
    saved = get_owned_or_404(SavedReply, reply_id)
    _checked_post()
    db.session.delete(saved)
    db.session.commit()
    flash(_("Saved reply deleted."), "success")
    return redirect(url_for("conversation_settings.saved_replies"))


# --- on call ---------------------------------------------------------------------------


def _on_call_people() -> list[User]:
    """Whom the signed-in user may put on call: admins anyone active who can take urgent
    cases, coordinators themselves."""
    if not current_user.can("manage_users"):
        return [current_user._get_current_object()]
    return list(
        db.session.scalars(
            scoped(User)
            .where(User.active.is_(True), User.role.in_(oncall.ON_CALL_ROLES))
            .order_by(User.email)
        )
    )


def _default_shift(form, zone: str, now: datetime) -> None:
    """Prefill: from the next full hour, for twelve hours (local)."""
    local = (now.astimezone(ZoneInfo(zone)) + timedelta(hours=1)).replace(
        minute=0, second=0, microsecond=0
    )
    end = local + timedelta(hours=12)
    form.start_date.data, form.start_time.data = local.date(), local.time()
    form.end_date.data, form.end_time.data = end.date(), end.time()


def _shift_rows(now: datetime) -> list[dict]:
    country = current_user.organization.country
    return [
        {
            "shift": shift,
            "who": shift.user.email,
            "starts": _moment(shift.starts_at),
            "ends": _moment(shift.ends_at),
            "current": shift.starts_at <= now,
            "no_phone": not shift.user.staff_phone,
            "phone": format_phone(shift.user.staff_phone, country=country),
            "can_delete": current_user.can("manage_users") or shift.user_id == current_user.id,
        }
        for shift in oncall.upcoming_shifts(current_org_id(), now)
    ]


@bp.route("/on-call", methods=["GET", "POST"])
@permission_required("coordinate")
def on_call():
    org = current_user.organization
    now = utcnow()
    people = _on_call_people()
    form = ShiftForm(people=people, user_id=current_user.id)
    if request.method == "GET":
        _default_shift(form, org.timezone, now)
    elif form.validate_on_submit():
        user = next(p for p in people if p.id == form.user_id.data)
        starts = local_to_utc(form.start_date.data, form.start_time.data, org.timezone)
        ends = local_to_utc(form.end_date.data, form.end_time.data, org.timezone)
        try:
            oncall.add_shift(user, starts, ends, now=now)
        except ValueError as error:
            db.session.rollback()
            name, message = SHIFT_ERRORS[str(error)]
            form[name].errors = [*form[name].errors, message()]
        else:
            db.session.commit()
            flash(_("On-call shift added."), "success")
            return redirect(url_for("conversation_settings.on_call"))
    rows = _shift_rows(now)
    return render_template(
        "conversation_settings/on_call.html",
        form=form,
        rows=rows,
        on_call_now=[row for row in rows if row["current"]],
        me=current_user,
        my_phone=format_phone(current_user.staff_phone, country=org.country),
        zone=org.timezone,
        delete_form=BaseForm(),
    ), form_status(form)


@bp.post("/on-call/<int:shift_id>/delete")
@permission_required("coordinate")
def delete_shift(shift_id):
    shift = get_owned_or_404(OnCallShift, shift_id)
    if shift.user_id != current_user.id and not current_user.can("manage_users"):
        abort(403)
    _checked_post()
    db.session.delete(shift)
    db.session.commit()
    flash(_("On-call shift deleted."), "success")
    return redirect(url_for("conversation_settings.on_call"))


# --- staff phones ----------------------------------------------------------------------


@bp.route("/staff-phone/<int:user_id>", methods=["GET", "POST"])
@permission_required("coordinate")
def staff_phone(user_id):
    """A coordinator's own phone; admins set anyone's (never an evaluator's: 404)."""
    user = get_owned_or_404(User, user_id)
    if user.id != current_user.id and not current_user.can("manage_users"):
        abort(403)
    if user.role not in oncall.ON_CALL_ROLES:
        abort(404)
    org = current_user.organization
    form = StaffPhoneForm(default_region=org.country)
    if request.method == "GET":
        form.staff_phone.data = format_phone(user.staff_phone, country=org.country)
    elif form.validate_on_submit():
        user.staff_phone = form.staff_phone.data
        db.session.commit()
        flash(_("Phone for alerts saved."), "success")
        if user.id == current_user.id:
            return redirect(url_for("conversation_settings.on_call"))
        return redirect(url_for("auth.edit_user", user_id=user.id))
    return render_template(
        "conversation_settings/staff_phone.html", form=form, user=user
    ), form_status(form)


# --- local services --------------------------------------------------------------------


def _service_labels() -> dict:
    languages = dict(LANGUAGE_CHOICES)
    return {
        "service_language": lambda code: languages.get(code, code or ""),
        "service_state": lambda code: state_name("MX" if code in MX_STATES else "US", code),
    }


@bp.get("/services")
@permission_required("coordinate")
def services():
    items = db.session.scalars(
        scoped(LocalService).order_by(LocalService.active.desc(), LocalService.name)
    ).all()
    return render_template(
        "conversation_settings/services.html",
        services=items,
        action_form=BaseForm(),
        **_service_labels(),
    )


def _service_page(form, service):
    if form.validate_on_submit():
        if service is None:
            service = LocalService(
                organization_id=current_org_id(), active=True, created_at=utcnow()
            )
            db.session.add(service)
        for key, value in form.clean().items():
            setattr(service, key, value)
        db.session.commit()
        flash(_("Service saved."), "success")
        return redirect(url_for("conversation_settings.services"))
    return render_template(
        "conversation_settings/service_form.html", form=form, service=service
    ), form_status(form)


@bp.route("/services/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_service():
    return _service_page(LocalServiceForm(org_country=current_user.organization.country), None)


@bp.route("/services/<int:service_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit_service(service_id):
    service = get_owned_or_404(LocalService, service_id)
    form = LocalServiceForm(obj=service, org_country=current_user.organization.country)
    return _service_page(form, service)


@bp.post("/services/<int:service_id>/deactivate")
@permission_required("coordinate")
def deactivate_service(service_id):
    service = get_owned_or_404(LocalService, service_id)
    _checked_post()
    service.active = False
    db.session.commit()
    flash(_("Service deactivated: it is no longer offered for referrals."), "success")
    return redirect(url_for("conversation_settings.services"))


@bp.post("/services/<int:service_id>/reactivate")
@permission_required("coordinate")
def reactivate_service(service_id):
    service = get_owned_or_404(LocalService, service_id)
    _checked_post()
    service.active = True
    db.session.commit()
    flash(_("Service reactivated."), "success")
    return redirect(url_for("conversation_settings.services"))
