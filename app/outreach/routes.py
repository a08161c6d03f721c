import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.campaigns.costs import send_cost_view
from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.forms import LANGUAGE_LABELS
from app.contacts.models import Audience, Contact
from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.jobs.models import Job
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage
from app.outreach import queries, services
from app.outreach.display import money, recipient_time
from app.outreach.forms import ActionForm, EditSendForm, ScheduleForm, SimulatorReplyForm
from app.outreach.models import OutreachSend
from app.permissions import permission_required
from app.tenancy import MAX_ID, get_owned_or_404, scoped
from app.timeutil import utcnow

bp = Blueprint("outreach", __name__)


def _campaign_messages(campaign):
    return db.session.scalars(
        scoped(CampaignMessage)
        .where(CampaignMessage.campaign_id == campaign.id)
        .order_by(CampaignMessage.id)
    ).all()


def _schedule_choices(form, campaign):
    audiences = db.session.scalars(scoped(Audience).order_by(Audience.name)).all()
    form.message.choices = [(m.id, m.label) for m in _campaign_messages(campaign)]
    form.audience.choices = [(a.id, a.name) for a in audiences]


def _org_moment(local_date, local_time):
    """A date and time of the form as an instant in the organization's time zone."""
    zone = ZoneInfo(current_user.organization.timezone)
    return datetime.combine(local_date, local_time, tzinfo=zone)


def _fixed_time(send) -> str:
    """A send's fixed moment in the organization's zone, with the zone's abbreviation."""
    if send.fixed_at is None:
        return ""
    return recipient_time(send.fixed_at, send.campaign.organization.timezone)


def _cost_texts(estimate) -> dict:
    """The estimated cost and the prices it uses, in the UI locale's currency format;
    per channel (SMS, WhatsApp) as `channel_cost_view`."""
    currency = estimate.currency
    view = send_cost_view(estimate, current_user.organization_id)
    return {
        "cost_text": "" if estimate.cost is None else money(estimate.cost, currency),
        "price_text": view["sms_prices"],
        "channel_cost_view": view,
    }


def _schedule_args(form, now) -> tuple[bool, dict]:
    """(send now?, the keyword arguments of services.schedule_send) from the form."""
    send_now = bool(form.now.data) or form.send_now.data == "1"
    args = dict(
        message=get_owned_or_404(CampaignMessage, form.message.data),
        audience=get_owned_or_404(Audience, form.audience.data),
        user_id=current_user.id,
        now=now,
    )
    if send_now:
        return True, dict(args, kind="once", fixed_at=now)
    fixed_at = None
    if (
        form.timing.data == "fixed"
        and form.kind.data == "once"
        and form.local_date.data
        and form.local_time.data
    ):
        fixed_at = _org_moment(form.local_date.data, form.local_time.data)
    return False, dict(
        args,
        kind=form.kind.data,
        local_date=form.local_date.data,
        local_time=form.local_time.data,
        fixed_at=fixed_at,
        weekdays=[int(d) for d in form.weekdays.data or []],
        weeks=form.weeks.data,
        day_offset=form.day_offset.data,
    )


# Form values carried from the review step to the confirmation (not the buttons).
_NOT_CARRIED = {"csrf_token", "submit", "now", "confirm", "change", "send_now"}


def _scheduled_flash(send, created):
    if send.job_id:
        flash(
            _(
                "Scheduled. The recipients' messages are being prepared in the "
                "background; this page shows the progress."
            ),
            "success",
        )
    else:
        flash(
            ngettext("Scheduled: %(num)d message.", "Scheduled: %(num)d messages.", created),
            "success",
        )


@bp.route("/campaigns/<int:campaign_id>/sends/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_send(campaign_id):
    """Fill in the form, review the figures (recipients, SMS, estimated cost), confirm."""
    campaign = get_owned_or_404(Campaign, campaign_id)
    form = ScheduleForm()
    _schedule_choices(form, campaign)
    review = None
    if form.validate_on_submit() and not form.change.data:
        now = utcnow()
        send_now, args = _schedule_args(form, now)
        try:
            if form.confirm.data:
                send, created = services.schedule_send(campaign, **args)
            else:
                review = services.review_send(campaign, **args)
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
            review = None
        else:
            if form.confirm.data:
                _scheduled_flash(send, created)
                return redirect(url_for("outreach.send_detail", send_id=send.id))
    if review is not None:
        carried = [(k, v) for k, v in request.form.items(multi=True) if k not in _NOT_CARRIED]
        return render_template(
            "outreach/new_send.html",
            form=form,
            campaign=campaign,
            review=review,
            send_now=send_now,
            carried=carried,
            organization_time=_fixed_time(review.send),
            language_label=lambda code: LANGUAGE_LABELS.get(code, code),
            **_cost_texts(review.estimate),
        )
    return render_template(
        "outreach/new_send.html", form=form, campaign=campaign, review=None
    ), form_status(form)


def _edit_defaults(send) -> dict:
    data = {"message": send.message_id, "timing": "fixed" if send.fixed_at else "local"}
    if send.fixed_at:
        local = send.fixed_at.astimezone(ZoneInfo(current_user.organization.timezone))
        data.update(local_date=local.date(), local_time=local.time().replace(second=0))
    else:
        data.update(local_date=send.local_date, local_time=send.local_time)
    return data


@bp.route("/sends/<int:send_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit_send(send_id):
    """Change a send's message or time until its first message goes out."""
    send = get_owned_or_404(OutreachSend, send_id)
    counts = services.status_counts(send_ids=[send.id]).get(send.id, {})
    if not services.editable(send, counts):
        flash(_("This send can no longer be changed; you can still cancel it."), "error")
        return redirect(url_for("outreach.send_detail", send_id=send.id))
    form = EditSendForm(data=_edit_defaults(send))
    form.message.choices = [(m.id, m.label) for m in _campaign_messages(send.campaign)]
    if form.validate_on_submit():
        now = utcnow()
        local_date, local_time, fixed_at = form.local_date.data, form.local_time.data, None
        if form.now.data and send.kind == "once":
            local_date = local_time = None
            fixed_at = now
        elif form.timing.data == "fixed" and send.kind == "once" and local_date and local_time:
            fixed_at = _org_moment(local_date, local_time)
        try:
            changed = services.edit_send(
                send,
                message=get_owned_or_404(CampaignMessage, form.message.data),
                now=now,
                local_date=local_date,
                local_time=local_time,
                fixed_at=fixed_at,
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            flash(
                ngettext(
                    "Changes saved; %(num)d pending message updated.",
                    "Changes saved; %(num)d pending messages updated.",
                    changed,
                )
                if send.fanned_out_at
                else _("Changes saved."),
                "success",
            )
            return redirect(url_for("outreach.send_detail", send_id=send.id))
    return render_template("outreach/edit_send.html", form=form, send=send), form_status(form)


@bp.get("/campaigns/<int:campaign_id>/sends")
@permission_required("coordinate")
def sends(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    items = queries.sends_of(campaign)
    counts = services.status_counts(send_ids=[s.id for s in items])
    totals = services.status_counts(campaign_id=campaign.id)
    return render_template(
        "outreach/sends.html",
        campaign=campaign,
        sends=items,
        counts=counts,
        totals=totals,
        unreviewed=queries.unreviewed_count(campaign),
        action=ActionForm(),
    )


@bp.get("/sends/<int:send_id>")
@permission_required("coordinate")
def send_detail(send_id):
    send = get_owned_or_404(OutreachSend, send_id)
    status = request.args.get("status") or None
    after = request.args.get("after", type=int)
    if after is not None and not 0 <= after <= MAX_ID:
        abort(400)
    rows, next_after = queries.outbox_page(send, after_id=after, status=status)
    counts = services.status_counts(send_ids=[send.id]).get(send.id, {})
    job = db.session.get(Job, send.job_id) if send.job_id and not send.fanned_out_at else None
    return render_template(
        "outreach/send_detail.html",
        send=send,
        rows=[
            (row, name, phone, recipient_time(row.due_at, tz), recipient_time(row.sent_at, tz))
            for row, name, phone, tz in rows
        ],
        counts=counts,
        status=status,
        next_after=next_after,
        action=ActionForm(),
        job=job,
        cancelable=send.status != "canceled" and services.cancelable(counts),
        editable=services.editable(send, counts),
        organization_time=_fixed_time(send),
    )


@bp.post("/sends/<int:send_id>/cancel")
@permission_required("coordinate")
def cancel_send(send_id):
    send = get_owned_or_404(OutreachSend, send_id)
    if ActionForm().validate_on_submit():
        try:
            result = services.cancel_send(send, now=utcnow())
        except DomainError as error:
            flash(str(error), "error")
        else:
            flash(
                ngettext(
                    "%(num)d pending message canceled.",
                    "%(num)d pending messages canceled.",
                    result.canceled,
                ),
                "success",
            )
            if result.with_provider:
                flash(
                    ngettext(
                        "%(num)d message was already with the provider and could not be stopped.",
                        "%(num)d messages were already with the provider and could not be stopped.",
                        result.with_provider,
                    ),
                    "info",
                )
    return redirect(url_for("outreach.send_detail", send_id=send.id))


@bp.get("/campaigns/<int:campaign_id>/inbox")
@permission_required("coordinate")
def inbox(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    flagged = request.args.get("flagged") == "1"
    return render_template(
        "outreach/inbox.html",
        campaign=campaign,
        flagged=flagged,
        items=queries.inbox_of(campaign, flagged_only=flagged),
        action=ActionForm(),
    )


@bp.post("/inbox/<int:inbound_id>/reviewed")
@permission_required("coordinate")
def mark_reviewed(inbound_id):
    inbound = get_owned_or_404(InboundMessage, inbound_id)
    if ActionForm().validate_on_submit():
        services.mark_reviewed(inbound, now=utcnow())
        flash(_("Marked as reviewed."), "success")
    return redirect(url_for("outreach.inbox", campaign_id=inbound.campaign_id or 0, flagged=1))


def _simulator_only():
    if getattr(current_app.extensions["sms_gateway"], "name", "") != "simulator":
        abort(404)


@bp.get("/simulator")
@permission_required("coordinate")
def simulator():
    _simulator_only()
    contacts = queries.simulator_contacts(current_user.organization_id)
    return render_template("outreach/simulator.html", contacts=contacts)


@bp.route("/simulator/<int:contact_id>", methods=["GET", "POST"])
@permission_required("coordinate")
def simulator_phone(contact_id):
    _simulator_only()
    contact = get_owned_or_404(Contact, contact_id)
    if contact.erased_at is not None:
        abort(404)
    form = SimulatorReplyForm()
    wants_sms = request.method != "GET" or request.args.get("view") == "sms"
    if not wants_sms and queries.is_whatsapp_contact(contact):  # WhatsApp view: app/main
        return redirect(url_for("main.simulator_whatsapp", contact_id=contact.id))
    if form.validate_on_submit():
        # The same inbound path as Twilio's webhook, with a simulator SID.
        receive_sms(
            sid="SIM" + secrets.token_hex(16),
            from_number=contact.phone,
            to_number=current_user.organization.sms_sender,  # the phone replies to it
            body=form.body.data,
            now=utcnow(),
        )
        flash(_("Reply sent. Answers appear here once the worker sends them."), "info")
        return redirect(url_for("outreach.simulator_phone", contact_id=contact.id))
    return render_template(
        "outreach/phone.html", contact=contact, form=form, messages=queries.conversation(contact)
    ), form_status(form)


@bp.get("/simulator/<int:contact_id>/messages")
@permission_required("coordinate")
def simulator_messages(contact_id):
    """The conversation as HTML fragment, polled by the page (no inline script)."""
    _simulator_only()
    contact = get_owned_or_404(Contact, contact_id)
    return render_template(
        "outreach/_conversation.html", contact=contact, messages=queries.conversation(contact)
    )
