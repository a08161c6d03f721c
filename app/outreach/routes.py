import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.models import Audience, Contact
from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.jobs.models import Job
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage
from app.outreach import queries, services
from app.outreach.forms import ActionForm, ScheduleForm, SimulatorReplyForm
from app.outreach.models import OutreachSend
from app.permissions import permission_required
from app.tenancy import MAX_ID, get_owned_or_404, scoped
from app.timeutil import utcnow

bp = Blueprint("outreach", __name__)


def _schedule_choices(form, campaign):
    messages = db.session.scalars(
        scoped(CampaignMessage)
        .where(CampaignMessage.campaign_id == campaign.id)
        .order_by(CampaignMessage.id)
    ).all()
    audiences = db.session.scalars(scoped(Audience).order_by(Audience.name)).all()
    form.message.choices = [(m.id, m.label) for m in messages]
    form.audience.choices = [(a.id, a.name) for a in audiences]


@bp.route("/campaigns/<int:campaign_id>/sends/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_send(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    form = ScheduleForm()
    _schedule_choices(form, campaign)
    if form.validate_on_submit():
        fixed_at = None
        if (
            form.timing.data == "fixed"
            and form.kind.data == "once"
            and form.local_date.data
            and (form.local_time.data)
        ):
            zone = ZoneInfo(current_user.organization.timezone)
            fixed_at = datetime.combine(form.local_date.data, form.local_time.data, tzinfo=zone)
        try:
            send, created = services.schedule_send(
                campaign,
                message=get_owned_or_404(CampaignMessage, form.message.data),
                audience=get_owned_or_404(Audience, form.audience.data),
                kind=form.kind.data,
                user_id=current_user.id,
                now=utcnow(),
                local_date=form.local_date.data,
                local_time=form.local_time.data,
                fixed_at=fixed_at,
                weekdays=[int(d) for d in form.weekdays.data or []],
                weeks=form.weeks.data,
                day_offset=form.day_offset.data,
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
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
                    ngettext(
                        "Scheduled: %(num)d message.", "Scheduled: %(num)d messages.", created
                    ),
                    "success",
                )
            return redirect(url_for("outreach.send_detail", send_id=send.id))
    return render_template("outreach/new_send.html", form=form, campaign=campaign), form_status(
        form
    )


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
        rows=rows,
        counts=counts,
        status=status,
        next_after=next_after,
        action=ActionForm(),
        job=job,
        cancelable=send.status != "canceled" and services.cancelable(counts),
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
    return render_template("outreach/_conversation.html", messages=queries.conversation(contact))
