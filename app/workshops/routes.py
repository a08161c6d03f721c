"""Workshop pages: week calendar, create/edit, detail, invitations, reschedule and cancel,
and the organization's iCalendar feed (secret URL, no sign-in: calendar apps cannot)."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.geography import state_name
from app.contacts.models import Audience
from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import choices, form_status
from app.permissions import permission_required
from app.tenancy import get_owned_or_404, scoped
from app.timeutil import utcnow
from app.workshops import attendance, calendar, invitation_messages, labels, services
from app.workshops.forms import (
    ActionForm,
    InvitationMessageForm,
    InviteForm,
    NewWorkshopForm,
    RescheduleForm,
    WorkshopForm,
)
from app.workshops.models import Workshop

bp = Blueprint("workshops", __name__, url_prefix="/workshops")

STATUS_BADGES = {"scheduled": "badge--ok", "canceled": "badge--muted", "completed": ""}
ATTENDANCE_ENDPOINT = "attendance.roster"  # built by the attendance pages


def _locale() -> str:
    return str(get_locale() or "es")


def venue_date(workshop, fmt: str = "full") -> str:
    return format_date(
        workshop.starts_at.astimezone(ZoneInfo(workshop.timezone)).date(), fmt, locale=_locale()
    )


def venue_time(moment, workshop) -> str:
    return format_time(moment, "short", tzinfo=ZoneInfo(workshop.timezone), locale=_locale())


def zone_city(zone: str) -> str:
    return zone.rsplit("/", 1)[-1].replace("_", " ")


@bp.context_processor
def label_helpers() -> dict:
    return {
        "kind_label": lambda code: labels.KIND_LABELS.get(code, code),
        "workshop_status_label": lambda code: labels.STATUS_LABELS.get(code, code),
        "workshop_status_badge": lambda code: STATUS_BADGES.get(code, ""),
        "registration_status_label": lambda code: labels.REGISTRATION_STATUS_LABELS.get(code, code),
        "delivery_language_label": lambda code: labels.DELIVERY_LANGUAGE_LABELS.get(code, code),
        "attendance_of": lambda r: attendance.attendance_status(r.attended_at, r.no_show),
        "attendance_label": lambda code: labels.ATTENDANCE_LABELS.get(code, code),
        "venue_date": venue_date,
        "venue_time": venue_time,
        "zone_city": zone_city,
        "state_label": state_name,
    }


def _open(workshop) -> bool:
    return workshop.status == "scheduled" and workshop.starts_at > utcnow()


# --- Calendar by week -----------------------------------------------------------------------


FIRST_WEEK_YEAR = 2000
WEEK_YEARS_AHEAD = 10


def _week_range(today: date) -> tuple[date, date]:
    """Mondays of the first and last weeks the calendar shows (ISO weeks)."""
    last_week = date(today.year + WEEK_YEARS_AHEAD, 12, 28).isocalendar().week
    return (
        date.fromisocalendar(FIRST_WEEK_YEAR, 1, 1),
        date.fromisocalendar(today.year + WEEK_YEARS_AHEAD, last_week, 1),
    )


@bp.get("/")
@permission_required("coordinate")
def index():
    org = current_user.organization
    today = utcnow().astimezone(ZoneInfo(org.timezone)).date()
    monday = services.parse_week(request.args.get("week"), today=today)
    first, last = _week_range(today)
    if not first <= monday <= last:
        # Far weeks are typos, and near date.min/date.max the page's neighbours overflow.
        message = _(
            "Choose a week between %(first)s and %(last)s.",
            first=format_date(first, "medium", locale=_locale()),
            last=format_date(last + timedelta(days=6), "medium", locale=_locale()),
        )
        return render_template("errors/error.html", code=400, message=message), 400
    start, end = services.week_bounds(monday, org.timezone)
    days: dict = {}
    for row in services.workshops_between(org.id, start, end):
        workshop = row[0]
        day = workshop.starts_at.astimezone(ZoneInfo(workshop.timezone)).date()
        days.setdefault(day, []).append(row)
    feed_url = url_for("workshops.calendar_feed", token=org.calendar_token, _external=True)
    return render_template(
        "workshops/index.html",
        days=sorted(days.items()),
        monday=monday,
        sunday=monday + timedelta(days=6),
        this_week=services.week_label(today),
        week=services.week_label(monday),
        previous_week=services.week_label(monday - timedelta(days=7)),
        next_week=services.week_label(monday + timedelta(days=7)),
        feed_url=feed_url,
        webcal_url="webcal://" + feed_url.split("://", 1)[1],
        action=ActionForm(),
    )


# --- Create, edit, detail -------------------------------------------------------------------


def _campaign_choices(form) -> None:
    campaigns = db.session.scalars(
        scoped(Campaign)
        .where(Campaign.status.in_(services.OPEN_CAMPAIGN_STATUSES))
        .order_by(Campaign.name)
    ).all()
    form.campaign_id.choices = choices([(c.id, c.name) for c in campaigns])


@bp.route("/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new():
    form = NewWorkshopForm()
    _campaign_choices(form)
    if not form.is_submitted():
        form.campaign_id.data = request.args.get("campaign_id", type=int)
        form.language.data = current_user.organization.default_language
    if form.validate_on_submit():
        campaign = get_owned_or_404(Campaign, form.campaign_id.data)
        try:
            workshop = services.create_workshop(
                campaign, now=utcnow(), **form.service_kwargs(), **form.time_kwargs()
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            flash(_("Workshop created. Its RSVP code is %(code)s.", code=workshop.code), "success")
            return redirect(url_for("workshops.detail", workshop_id=workshop.id))
    return render_template("workshops/form.html", form=form, workshop=None), form_status(form)


@bp.get("/<int:workshop_id>")
@permission_required("coordinate")
def detail(workshop_id):
    workshop = get_owned_or_404(Workshop, workshop_id)
    attendance_url = None
    if ATTENDANCE_ENDPOINT in current_app.view_functions:
        attendance_url = url_for(ATTENDANCE_ENDPOINT, workshop_id=workshop.id)
    now = utcnow()
    return render_template(
        "workshops/detail.html",
        workshop=workshop,
        registrations=services.registrations_by_status(workshop),
        funnel=services.funnel(workshop),
        messages=services.message_counts(workshop),
        can_invite=_open(workshop) and workshop.campaign.status in ("active", "paused"),
        is_open=_open(workshop),
        started=workshop.starts_at <= now,
        week=services.week_label(workshop.starts_at.astimezone(ZoneInfo(workshop.timezone)).date()),
        attendance_url=attendance_url,
        action=ActionForm(),
    )


@bp.route("/<int:workshop_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit(workshop_id):
    workshop = get_owned_or_404(Workshop, workshop_id)
    if workshop.status == "canceled":
        abort(404)
    form = WorkshopForm(data=None if request.method == "POST" else WorkshopForm.data_from(workshop))
    if form.validate_on_submit():
        try:
            promoted = services.update_workshop(workshop, now=utcnow(), **form.service_kwargs())
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            flash(_("Workshop saved."), "success")
            if promoted:
                flash(
                    ngettext(
                        "%(num)d person moved from the waitlist to a seat and was notified.",
                        "%(num)d people moved from the waitlist to a seat and were notified.",
                        promoted,
                    ),
                    "success",
                )
            return redirect(url_for("workshops.detail", workshop_id=workshop.id))
    return render_template("workshops/form.html", form=form, workshop=workshop), form_status(form)


# --- Reschedule, cancel, complete -------------------------------------------------------------


def _affected(workshop) -> int:
    return sum(
        services.rsvp.count_by_status(workshop.id, status) for status in ("confirmed", "waitlisted")
    )


@bp.route("/<int:workshop_id>/reschedule", methods=["GET", "POST"])
@permission_required("coordinate")
def reschedule(workshop_id):
    workshop = get_owned_or_404(Workshop, workshop_id)
    if not _open(workshop):
        flash(_("Only scheduled, upcoming workshops can be rescheduled."), "error")
        return redirect(url_for("workshops.detail", workshop_id=workshop.id))
    form = RescheduleForm(
        data=None if request.method == "POST" else RescheduleForm.data_from(workshop)
    )
    if form.validate_on_submit():
        try:
            result = services.reschedule_workshop(
                workshop,
                now=utcnow(),
                **{
                    "local_date": form.local_date.data,
                    "start_time": form.start_time.data,
                    "end_time": form.end_time.data,
                },
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            flash(
                ngettext(
                    "Workshop rescheduled. %(num)d person will be notified by SMS.",
                    "Workshop rescheduled. %(num)d people will be notified by SMS.",
                    result.notified,
                ),
                "success",
            )
            if result.reminders.skipped:
                flash(
                    ngettext(
                        "%(num)d reminder could not be scheduled outside quiet hours.",
                        "%(num)d reminders could not be scheduled outside quiet hours.",
                        result.reminders.skipped,
                    ),
                    "warning",
                )
            return redirect(url_for("workshops.detail", workshop_id=workshop.id))
    return render_template(
        "workshops/reschedule.html", form=form, workshop=workshop, affected=_affected(workshop)
    ), form_status(form)


@bp.route("/<int:workshop_id>/cancel", methods=["GET", "POST"])
@permission_required("coordinate")
def cancel(workshop_id):
    workshop = get_owned_or_404(Workshop, workshop_id)
    form = ActionForm()
    if workshop.status != "scheduled":
        flash(_("Only scheduled workshops can be canceled."), "error")
        return redirect(url_for("workshops.detail", workshop_id=workshop.id))
    if form.validate_on_submit():
        try:
            result = services.cancel_workshop(workshop, now=utcnow())
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(
                ngettext(
                    "Workshop canceled. %(num)d person will be notified by SMS.",
                    "Workshop canceled. %(num)d people will be notified by SMS.",
                    result.notified,
                ),
                "success",
            )
        return redirect(url_for("workshops.detail", workshop_id=workshop.id))
    return render_template(
        "workshops/cancel.html",
        form=form,
        workshop=workshop,
        affected=_affected(workshop),
        notifies=workshop.starts_at > utcnow(),
    ), form_status(form)


# --- Invitations --------------------------------------------------------------------------------


def _invite_page(workshop, form: InviteForm, message_form: InvitationMessageForm | None = None):
    """The invite page. Only the campaign's invitation messages are offered; without any,
    the page offers to write one (`message_form`, prefilled with the default texts)."""
    messages = invitation_messages.invitation_messages(workshop)
    audiences = db.session.scalars(scoped(Audience).order_by(Audience.name)).all()
    form.message.choices = choices([(m.id, m.label) for m in messages])
    form.audience.choices = choices([(a.id, a.name) for a in audiences])
    if not messages and message_form is None:
        message_form = InvitationMessageForm(
            formdata=None, data=invitation_messages.default_invitation(workshop)
        )
    return messages, message_form


@bp.route("/<int:workshop_id>/invite", methods=["GET", "POST"])
@permission_required("coordinate")
def invite(workshop_id):
    workshop = get_owned_or_404(Workshop, workshop_id)
    form = InviteForm()
    messages, message_form = _invite_page(workshop, form)
    if not form.is_submitted():
        chosen = request.args.get("message", type=int)
        if chosen in {m.id for m in messages}:
            form.message.data = chosen
    if form.validate_on_submit():
        try:
            send, created = services.invite_audience(
                workshop,
                message=get_owned_or_404(CampaignMessage, form.message.data),
                audience=get_owned_or_404(Audience, form.audience.data),
                local_date=form.local_date.data,
                local_time=form.local_time.data,
                user_id=current_user.id,
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            if send.job_id:  # a large audience: a worker prepares the invitations
                flash(
                    _(
                        "Scheduled. The invitations are being prepared in the background; "
                        "this page shows the progress."
                    ),
                    "success",
                )
                return redirect(url_for("outreach.send_detail", send_id=send.id))
            flash(
                ngettext(
                    "%(num)d invitation scheduled.", "%(num)d invitations scheduled.", created
                ),
                "success",
            )
            return redirect(url_for("workshops.detail", workshop_id=workshop.id))
    return render_template(
        "workshops/invite.html",
        form=form,
        message_form=message_form,
        workshop=workshop,
        is_open=_open(workshop),
    ), form_status(form)


@bp.post("/<int:workshop_id>/invitation-message")
@permission_required("coordinate")
def new_invitation_message(workshop_id):
    """Write the campaign's invitation message from the invite page, then go back to it."""
    workshop = get_owned_or_404(Workshop, workshop_id)
    message_form = InvitationMessageForm()
    if message_form.validate_on_submit():
        try:
            message = invitation_messages.write_invitation_message(
                workshop.campaign,
                label=message_form.label.data,
                body_es=message_form.body_es.data,
                body_en=message_form.body_en.data,
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(message_form, error)
        else:
            flash(_("Invitation message saved. Now choose who receives it and when."), "success")
            return redirect(
                url_for("workshops.invite", workshop_id=workshop.id, message=message.id)
            )
    form = InviteForm(formdata=None)
    _messages, message_form = _invite_page(workshop, form, message_form)
    return render_template(
        "workshops/invite.html",
        form=form,
        message_form=message_form,
        workshop=workshop,
        is_open=_open(workshop),
    ), form_status(message_form)


# --- iCalendar feed ---------------------------------------------------------------------------


@bp.get("/calendar/<token>.ics")
def calendar_feed(token):
    org = calendar.organization_for_token(token)
    if org is None:
        abort(404)
    body = calendar.build_feed(org, now=utcnow())
    response = current_app.response_class(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="workshops.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.post("/calendar/token")
@permission_required("manage_settings")
def regenerate_calendar_token():
    if ActionForm().validate_on_submit():
        services.regenerate_calendar_token(current_user.organization, actor_id=current_user.id)
        flash(
            _(
                "New calendar link created. The old link no longer works: subscribe again "
                "with the new one."
            ),
            "success",
        )
    return redirect(url_for("workshops.index"))
