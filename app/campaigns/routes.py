"""Campaign pages: list, create/edit, detail with status changes, and the message editor.

Coordinators (and admins) only: evaluators read reports, never campaign pages (403).
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.campaigns import previews, services
from app.campaigns.costs import message_cost_view
from app.campaigns.forms import EXTRA_PLACE_ROWS, CampaignForm, MessageForm
from app.campaigns.models import STATUSES, Campaign, CampaignMessage
from app.contacts.geography import state_name
from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.outbox import finalizers
from app.outbox.encoding import counter_label_attrs
from app.outbox.placeholders import (
    PLACEHOLDERS,
    WORKSHOP_FIELDS,
    fallback_values,
    sample_values,
    used_placeholders,
)
from app.outbox.text import opt_out_notice
from app.permissions import permission_required
from app.tenancy import current_org_id, get_owned_or_404
from app.timeutil import utcnow

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

STATUS_BADGES = {
    "draft": "badge--muted",
    "active": "badge--ok",
    "paused": "badge--warn",
    "completed": "",
    "archived": "badge--muted",
}
SCHEDULE_ENDPOINT = "outreach.new_send"  # built by the outreach pages; linked once it exists
# A campaign's sends list and inbox (app/outreach/routes.py), linked from its page.
OUTREACH_ENDPOINTS = ("outreach.sends", "outreach.inbox")


@bp.context_processor
def label_helpers() -> dict:
    return {
        "status_label": lambda code: services.STATUS_LABELS.get(code, code),
        "filter_label": lambda code: services.FILTER_LABELS.get(code, code),
        "status_badge": lambda code: STATUS_BADGES.get(code, ""),
        "topic_label": lambda code: services.TOPIC_LABELS.get(code, code),
        "strategy_label": lambda code: services.STRATEGY_LABELS.get(code, code),
        "level_label": lambda code: services.LEVEL_LABELS.get(code, code),
        "language_label": lambda code: services.LANGUAGE_LABELS.get(code, code),
        "state_label": state_name,
        "visible_chars": services.visible_chars,
    }


def _transition_message(result: services.TransitionResult) -> str:
    n = result.outbox_rows
    if result.status == "paused":
        return ngettext(
            "Campaign paused. %(num)d pending message is on hold.",
            "Campaign paused. %(num)d pending messages are on hold.",
            n,
        )
    if result.status == "active" and result.previous == "paused":
        return ngettext(
            "Campaign resumed. %(num)d held message is scheduled again.",
            "Campaign resumed. %(num)d held messages are scheduled again.",
            n,
        )
    if result.status == "active":
        return _("Campaign activated.")
    if result.status == "completed":
        return ngettext(
            "Campaign completed. %(num)d pending message was canceled.",
            "Campaign completed. %(num)d pending messages were canceled.",
            n,
        )
    return _("Campaign archived.")


def _samples(campaign) -> dict:
    org = current_user.organization
    today = utcnow().date()
    return {
        lang: sample_values(lang, campaign=campaign.name, org=org.name, today=today)
        for lang in services.LANGUAGES
    }


def _summaries(
    bodies: dict, samples: dict, footers: dict | None = None, *, track_links: bool = False
) -> dict:
    """{language: BodySummary} for the non-empty bodies."""
    footers = footers or {}
    return {
        lang: services.summarize_body(
            body,
            language=lang,
            values=samples[lang],
            footer=footers.get(lang, ""),
            track_links=track_links,
        )
        for lang, body in bodies.items()
        if (body or "").strip()
    }


def _preview_event(events: list, bodies: dict) -> previews.PreviewEvent | None:
    """The event the phone preview shows: the editor's choice ("" for none), else the one
    this message already invites to, else the next one when the text uses its fields."""
    by_key = {event.key: event for event in events}
    chosen = request.values.get("preview_event")
    if chosen is not None:
        return by_key.get(chosen)
    invited = next((event for event in events if event.invited), None)
    if invited is not None or not events:
        return invited
    uses = {name for body in bodies.values() for name in used_placeholders(body or "")}
    return events[0] if uses & set(WORKSHOP_FIELDS) else None


def _phone_preview(campaign, message, bodies: dict) -> dict:
    """What the editor's phone preview needs (rendered into the page for sms_counter.js,
    which composes the text as the worker does): sample values, or the chosen workshop's,
    the line its invitation adds, the placeholders' fallbacks and the exact opt-out line
    in each language, and whether that line goes on every message or only on the first."""
    org = current_user.organization
    events = previews.preview_events(campaign, message)
    event = _preview_event(events, bodies)
    samples = _samples(campaign)
    if events:
        # The campaign has workshops: a message sent to none of them gets the fallbacks
        # ("to be confirmed"); without any, sample values show a plausible length.
        samples = {
            lang: {k: v for k, v in values.items() if k not in WORKSHOP_FIELDS}
            for lang, values in samples.items()
        }
    values = {
        lang: {**samples[lang], **(event.values.get(lang, {}) if event else {})}
        for lang in services.LANGUAGES
    }
    footers = {lang: (event.footers.get(lang, "") if event else "") for lang in services.LANGUAGES}
    always = org.opt_out_notice == "always"
    first = always or request.method == "GET" or bool(request.form.get("preview_first"))
    data = {
        "noticeAlways": always,
        "first": first,
        "selected": event.key if event else "",
        "languages": {
            lang: {
                "values": samples[lang],
                "fallbacks": fallback_values(lang),
                "notice": opt_out_notice(lang),
            }
            for lang in services.LANGUAGES
        },
        "events": [
            {"key": e.key, "label": e.label, "values": e.values, "footers": e.footers}
            for e in events
        ],
        # Links become short links at send time (app/links): their length and patterns.
        **finalizers.preview_data(),
    }
    return {
        "events": events,
        "event": event,
        "values": values,
        "footers": footers,
        "first": first,
        "always": always,
        "data": data,
    }


# --- Campaigns --------------------------------------------------------------------------


@bp.get("/")
@permission_required("coordinate")
def index():
    status_filter = request.args.get("status")
    if status_filter is None and request.args.get("show") == "archived":
        status_filter = "all"  # the list's earlier "show archived" link
    # An unknown filter (an old bookmark, a typo) shows the default list with a notice.
    unknown_filter = status_filter is not None and status_filter not in services.LIST_FILTERS
    if status_filter is None or unknown_filter:
        status_filter = services.DEFAULT_FILTER
    listing = services.list_campaigns(current_org_id(), status_filter=status_filter)
    return render_template(
        "campaigns/index.html",
        rows=listing.rows,
        counts=listing.counts,
        status_filter=status_filter,
        filters=services.LIST_FILTERS,
        unknown_filter=unknown_filter,
    )


def _edit_page(form: CampaignForm, campaign: Campaign | None):
    """Create and edit. "Add more place rows" re-renders with blank rows and saves nothing."""
    if form.is_submitted():
        if form.more_places.data:
            form.add_place_rows(EXTRA_PLACE_ROWS)
        else:
            valid = form.validate()
            places = form.place_specs()
            if valid and places is not None:
                try:
                    if campaign is None:
                        campaign = services.create_campaign(
                            current_org_id(), **form.service_kwargs(places)
                        )
                        flash(_("Campaign created as a draft."), "success")
                    else:
                        services.update_campaign(campaign, **form.service_kwargs(places))
                        flash(_("Campaign saved."), "success")
                except DomainError as error:
                    db.session.rollback()
                    attach_to_form(form, error)
                else:
                    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    return render_template("campaigns/form.html", form=form, campaign=campaign), form_status(form)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new():
    form = CampaignForm(data={"default_language": current_user.organization.default_language})
    return _edit_page(form, None)


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    if campaign.status == "archived":
        flash(_("An archived campaign cannot be changed."), "error")
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    if request.method == "GET":
        form = CampaignForm(data=CampaignForm.data_from(campaign))
    else:
        form = CampaignForm()
    return _edit_page(form, campaign)


@bp.get("/<int:campaign_id>")
@permission_required("coordinate")
def detail(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    samples = _samples(campaign)
    summaries = {
        m.id: _summaries({"es": m.body_es, "en": m.body_en}, samples, track_links=m.track_links)
        for m in campaign.messages
    }
    places_total = sum(p.target_population or 0 for p in campaign.places)
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        summaries=summaries,
        transitions=services.allowed_transitions(campaign),
        outbox=services.outbox_counts(campaign),
        activity=services.campaign_activity(campaign),
        places_total=places_total,
        can_schedule=SCHEDULE_ENDPOINT in current_app.view_functions,
        schedule_endpoint=SCHEDULE_ENDPOINT,
        outreach_links=all(e in current_app.view_functions for e in OUTREACH_ENDPOINTS),
    )


@bp.post("/<int:campaign_id>/duplicate")
@permission_required("coordinate")
def duplicate(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    try:
        copy = services.duplicate_campaign(campaign, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    flash(
        _(
            "Campaign duplicated as the draft “%(name)s”: its messages and places, "
            "without sends or history.",
            name=copy.name,
        ),
        "success",
    )
    return redirect(url_for("campaigns.detail", campaign_id=copy.id))


@bp.post("/<int:campaign_id>/status")
@permission_required("coordinate")
def change_status(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    target = request.form.get("to", "")
    if target not in STATUSES:
        abort(400)
    try:
        result = services.transition_campaign(campaign, target, now=utcnow())
    except DomainError as error:
        flash(str(error), "error")
    else:
        flash(_transition_message(result), "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


# --- Messages ---------------------------------------------------------------------------


def _owned_message(campaign_id, message_id) -> tuple[Campaign, CampaignMessage]:
    campaign = get_owned_or_404(Campaign, campaign_id)
    message = get_owned_or_404(CampaignMessage, message_id)
    if message.campaign_id != campaign.id:
        abort(404)
    return campaign, message


def _message_page(form: MessageForm, campaign: Campaign, message: CampaignMessage | None):
    """New and edit. "Preview" renders the placeholders and the cost summary, saving nothing;
    "Save" saves when valid and otherwise shows the same summary beside the errors."""
    if campaign.status in ("completed", "archived"):
        flash(_("The messages of a completed or archived campaign cannot be changed."), "error")
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    previewing = False
    if not form.is_submitted() and message is not None:
        form.whatsapp_template.data = message.whatsapp_template_name or ""
    form.whatsapp_template.choices = services.whatsapp_template_choices(
        campaign.organization_id, form.whatsapp_template.data
    )
    if form.is_submitted():
        valid = form.validate()
        previewing = bool(form.preview.data)
        if previewing:
            form.label.errors = []  # a label is needed to save, not to preview
        if not previewing and valid:
            values = dict(
                label=form.label.data,
                body_es=form.body_es.data,
                body_en=form.body_en.data,
                track_links=bool(form.track_links.data),
                whatsapp_template=form.whatsapp_template.data,
            )
            try:
                if message is None:
                    services.add_message(campaign, **values)
                    flash(_("Message added."), "success")
                else:
                    pending = services.update_message(message, **values)
                    flash(_("Message saved."), "success")
                    if pending:
                        flash(
                            ngettext(
                                "%(num)d message already scheduled keeps the previous text. Cancel "
                                "and schedule that send again to use the new one.",
                                "%(num)d messages already scheduled keep the previous text. Cancel "
                                "and schedule that send again to use the new one.",
                                pending,
                            ),
                            "warning",
                        )
            except DomainError as error:
                db.session.rollback()
                attach_to_form(form, error)
            else:
                return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    bodies = {"es": form.body_es.data, "en": form.body_en.data}
    phone = _phone_preview(campaign, message, bodies)
    track_links = bool(form.track_links.data)
    summaries = _summaries(bodies, phone["values"], phone["footers"], track_links=track_links)
    return render_template(
        "campaigns/message_form.html",
        form=form,
        campaign=campaign,
        message=message,
        summaries=summaries,
        previewing=previewing,
        samples=phone["values"],
        phone=phone,
        placeholders=PLACEHOLDERS,
        counter_attrs=counter_label_attrs(),
        notices={lang: opt_out_notice(lang) for lang in services.LANGUAGES},
        notice_always=phone["always"],
        text_notes=services.text_notes([b or "" for b in bodies.values()], track_links=track_links),
        whatsapp_ways=services.whatsapp_forecast(
            campaign, form.whatsapp_template.data or None, now=utcnow()
        ),
        # Per recipient, the first message (with the opt-out line) as previewed.
        message_costs=message_cost_view(
            {lang: summary.first_text for lang, summary in summaries.items()},
            campaign.organization_id,
        ),
    ), form_status(form)


@bp.route("/<int:campaign_id>/messages/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_message(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    return _message_page(MessageForm(), campaign, None)


@bp.route("/<int:campaign_id>/messages/<int:message_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit_message(campaign_id, message_id):
    campaign, message = _owned_message(campaign_id, message_id)
    form = MessageForm(obj=message) if request.method == "GET" else MessageForm()
    return _message_page(form, campaign, message)


@bp.post("/<int:campaign_id>/messages/<int:message_id>/delete")
@permission_required("coordinate")
def delete_message(campaign_id, message_id):
    campaign, message = _owned_message(campaign_id, message_id)
    try:
        services.delete_message(message)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Message deleted."), "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
