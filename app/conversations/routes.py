"""The organization's inbox, one contact's thread, the reply composer and the case actions.

Coordinators and administrators only (evaluators never see a name, a phone or a message);
every row is reached through the organization's scope. Pages with message text or case
details are never cached (Cache-Control: no-store)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from sqlalchemy import select

from app.campaigns.models import Campaign
from app.contacts.forms import LANGUAGE_LABELS
from app.contacts.models import Contact
from app.conversations import queries, referrals, replies, services
from app.conversations.forms import (
    CLOSE_REASON_LABELS,
    FILTER_LABELS,
    ActionForm,
    AssignForm,
    CloseForm,
    NoteForm,
    ReferForm,
    ReplyForm,
    SearchForm,
)
from app.conversations.models import Case, Conversation, LocalService, SavedReply
from app.extensions import db
from app.forms import choices
from app.outbox import keywords
from app.outbox.encoding import counter_label_attrs
from app.outbox.labels import OUTBOX_STATUS_LABELS, SKIP_REASON_LABELS
from app.outbox.models import InboundMessage
from app.outreach.display import recipient_time
from app.permissions import permission_required
from app.tenancy import MAX_ID, get_owned_or_404, scoped
from app.timeutil import utcnow

bp = Blueprint("conversations", __name__)

STATE_LABELS = {
    "open": lazy_pgettext("case state", "Open"),
    "acknowledged": lazy_pgettext("case state", "Acknowledged"),
    "waiting": lazy_pgettext("case state", "Waiting on the young person"),
    "referred": lazy_pgettext("case state", "Referred"),
    "closed": lazy_pgettext("case state", "Closed"),
}
STATE_BADGES = {"open": "err", "acknowledged": "warn", "waiting": "muted", "referred": "ok"}
PRIORITY_LABELS = {
    "urgent": lazy_pgettext("case priority", "Urgent"),
    "normal": lazy_pgettext("case priority", "Normal"),
}
CASE_INTENT_LABELS = {
    "crisis": _l("Crisis"),
    "needs_help": _l("Asks for help"),
    "question": _l("Question"),
    "other": _l("Other"),
}
PURPOSE_LABELS = {
    "campaign": _l("Campaign message"),
    "invitation": _l("Workshop invitation"),
    "reminder": _l("Workshop reminder"),
    "workshop_notice": _l("Workshop notice"),
    "thank_you": _l("Workshop thank-you"),
    "system": _l("Automatic reply"),
    "reply": _l("Coordinator reply"),
    "staff_alert": _l("Staff alert"),
    "survey": _l("Survey question"),
    "survey_reply": _l("Survey message"),
}
ACTION_LABELS = {
    "opened": _l("Case opened"),
    "message": _l("New message from the young person"),
    "priority_raised": _l("Priority raised to urgent"),
    "auto_replied": _l("Automatic crisis reply sent"),
    "acknowledged": _l("Acknowledged"),
    "assigned": _l("Assigned"),
    "unassigned": lazy_pgettext("case history", "Unassigned"),
    "replied": _l("Replied"),
    "noted": _l("Note added"),
    "waiting": _l("Marked as waiting on the young person"),
    "referred": lazy_pgettext("case history", "Referred"),
    "closed": _l("Closed"),
    "reopened": _l("Reopened"),
    "alerted": _l("Staff alerted"),
    "opted_out": _l("Opted out from a message"),
}
CASE_ERRORS = {
    "closed": _l("This case is closed."),
    "not_closed": _l("This case is not closed."),
    "another_open": _l("This young person already has an open case."),
    "no_service": _l("Choose one of the services listed."),
}
REPLY_ERRORS = {
    "empty": _l("Write a reply or choose a saved reply."),
    "too_long": _l("Use at most %(max)d characters.", max=replies.MAX_LENGTH),
    "cannot_message": _l("This contact opted out or was erased: no reply can be sent."),
}
PENDING = ("scheduled", "held")


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _labels() -> dict:
    return {
        "filter_label": lambda code: FILTER_LABELS.get(code, code),
        "state_label": lambda code: STATE_LABELS.get(code, code),
        "state_badge": lambda code: STATE_BADGES.get(code, ""),
        "priority_label": lambda code: PRIORITY_LABELS.get(code, code),
        "case_intent_label": lambda code: CASE_INTENT_LABELS.get(code, code),
        "purpose_label": lambda code: PURPOSE_LABELS.get(code, code),
        "close_reason_label": lambda code: CLOSE_REASON_LABELS.get(code, code),
        "service_label": _service_label,
    }


def _service_label(code: str) -> str:
    line = referrals.HELPLINES.get(code)
    return str(line.name) if line else _("Local service")


# --- the inbox ------------------------------------------------------------------------------


def _inbox_args() -> tuple[dict, list[str]]:
    """The inbox's filters from the query string; a bad value falls back to the default
    with a notice."""
    args, notices = request.args, []
    show = args.get("show") or queries.DEFAULT_FILTER
    if show not in queries.FILTERS:
        show = queries.DEFAULT_FILTER
        notices.append(_("Unknown filter: showing the conversations that need attention."))
    campaign_id = None
    if args.get("campaign"):
        campaign_id = args.get("campaign", type=int)
        if (
            campaign_id is None
            or not 0 < campaign_id <= MAX_ID
            or not db.session.scalar(
                scoped(Campaign, Campaign.id).where(Campaign.id == campaign_id)
            )
        ):
            campaign_id = None
            notices.append(_("Unknown campaign: showing every campaign."))
    language = args.get("language") or None
    if language and language not in LANGUAGE_LABELS:
        language = None
        notices.append(_("Unknown language: showing every language."))
    page = args.get("page", 1, type=int)
    if not 0 < page <= 10_000:
        page = 1
        notices.append(_("Unknown page: showing the first page."))
    q = (args.get("q") or "").strip()[:80]
    return dict(show=show, campaign=campaign_id, language=language, q=q, page=page), notices


@bp.get("/inbox")
@permission_required("coordinate")
def inbox():
    org_id = current_user.organization_id
    values, notices = _inbox_args()
    campaigns = db.session.execute(
        scoped(Campaign, Campaign.id, Campaign.name).order_by(Campaign.name)
    ).all()
    form = SearchForm(
        formdata=None,
        show=values["show"],
        campaign=str(values["campaign"] or ""),
        language=values["language"] or "",
        q=values["q"],
    )
    form.show.choices = choices(FILTER_LABELS.items())
    form.campaign.choices = choices(
        [("", _("Every campaign"))] + [(str(i), n) for i, n in campaigns]
    )
    form.language.choices = choices([("", _("Every language")), *LANGUAGE_LABELS.items()])
    page = queries.inbox(
        org_id,
        user_id=current_user.id,
        filter_name=values["show"],
        campaign_id=values["campaign"],
        language=values["language"],
        q=values["q"],
        page=values["page"],
    )
    link_args = {k: v for k, v in values.items() if v and k != "page"}
    return render_template(
        "conversations/inbox.html",
        form=form,
        page=page,
        values=values,
        filter_codes=list(FILTER_LABELS),
        link_args=link_args,
        filtered=len(link_args) > 1 or values["show"] != queries.DEFAULT_FILTER,
        notices=notices,
        now=utcnow(),
    )


# --- the thread -----------------------------------------------------------------------------


def _contact_or_404(contact_id: int) -> Contact:
    contact = get_owned_or_404(Contact, contact_id)
    if contact.erased_at is not None:
        abort(404)
    return contact


def _conversation(contact: Contact) -> Conversation | None:
    return db.session.scalar(select(Conversation).where(Conversation.contact_id == contact.id))


def _outgoing_status(row, tz: str) -> str:
    if row.status in PENDING:
        return _("Scheduled for %(time)s", time=recipient_time(row.due_at, tz))
    label = str(OUTBOX_STATUS_LABELS.get(row.status, row.status))
    if row.skip_reason:
        label += " · " + str(SKIP_REASON_LABELS.get(row.skip_reason, row.skip_reason))
    if row.sent_at:
        label += " · " + recipient_time(row.sent_at, tz)
    return label


def _event_detail(event, emails: dict) -> str:
    detail = event.detail or ""
    if event.action == "opened" and ":" in detail:
        intent, _sep, priority = detail.partition(":")
        intent, priority = CASE_INTENT_LABELS.get(intent, intent), PRIORITY_LABELS.get(priority)
        return f"{intent} · {priority or ''}"
    if event.action in ("message", "priority_raised"):
        return str(CASE_INTENT_LABELS.get(detail, detail))
    if event.action == "assigned":
        return emails.get(int(detail), "") if detail.isdigit() else ""
    if event.action == "closed":
        return str(CLOSE_REASON_LABELS.get(detail, detail))
    if event.action == "referred":
        return _service_label(detail)
    if event.action == "opted_out":
        return _("Message #%(id)s", id=detail)
    return ""


def _case_view(case: Case | None) -> dict | None:
    if case is None:
        return None
    events = queries.case_events(case.id)
    ids = {e.user_id for e in events} | {case.assigned_user_id, case.acknowledged_by}
    ids |= {int(e.detail) for e in events if e.action == "assigned" and (e.detail or "").isdigit()}
    emails = queries.user_emails(case.organization_id, ids)
    return {
        "case": case,
        "matched": [t for t in (case.matched or "").split(" · ") if t],
        "assignee": emails.get(case.assigned_user_id),
        "events": [
            {
                "at": e.at,
                "who": emails.get(e.user_id, _("(deleted user)")) if e.user_id else "Alcance",
                "action": ACTION_LABELS.get(e.action, e.action),
                "detail": _event_detail(e, emails),
                "note": e.note,
            }
            for e in events
        ],
    }


def _service_choices(org_id: int) -> list:
    pairs = [(code, f"{line.name} · {line.phone}") for code, line in referrals.HELPLINES.items()]
    pairs += [(f"local:{s.id}", s.name) for s in referrals.local_services(org_id)]
    return choices(pairs)


def _saved_replies() -> list[SavedReply]:
    return list(db.session.scalars(scoped(SavedReply).order_by(SavedReply.title)))


def _reply_form(saved: list[SavedReply]) -> ReplyForm:
    form = ReplyForm()
    form.saved.choices = choices(
        [("", _("No saved reply"))] + [(str(s.id), s.title) for s in saved]
    )
    return form


def _assignee_choices(org_id: int) -> list:
    return choices([("", _("Unassigned"))] + [(str(u.id), u.email) for u in queries.staff(org_id)])


def _case_forms(org_id: int, case: Case | None) -> dict:
    assign = AssignForm(formdata=None, assignee=str(case.assigned_user_id or "") if case else "")
    assign.assignee.choices = _assignee_choices(org_id)
    refer = ReferForm(formdata=None)
    refer.service.choices = _service_choices(org_id)
    return dict(
        action=ActionForm(formdata=None),
        assign=assign,
        note=NoteForm(formdata=None),
        close=CloseForm(formdata=None),
        refer=refer,
    )


def _render_thread(contact: Contact, reply_form: ReplyForm, saved: list[SavedReply], status=200):
    now = utcnow()
    org_id = current_user.organization_id
    conversation = _conversation(contact)
    items = queries.thread(contact.id)
    names = queries.campaign_names(org_id, {item.campaign_id for item in items})
    due = replies.reply_due(
        contact, conversation.last_inbound_at if conversation else None, now=now
    )
    case = queries.current_case(contact.id)
    rendered = render_template(
        "conversations/thread.html",
        contact=contact,
        conversation=conversation,
        items=items,
        campaign_names=names,
        outgoing_status=lambda row: _outgoing_status(row, contact.timezone),
        stop_request=keywords.STOP_REQUEST,
        case_view=_case_view(case),
        forms=_case_forms(org_id, case),
        reply_form=reply_form,
        counter_attrs=counter_label_attrs(),
        due_now=due <= now,
        due_text=recipient_time(due, contact.timezone),
        max_length=replies.MAX_LENGTH,
        now=now,
    )
    return rendered, status


@bp.get("/conversations/<int:contact_id>")
@permission_required("coordinate")
def thread(contact_id):
    contact = _contact_or_404(contact_id)
    conversation = _conversation(contact)
    if conversation is not None and (conversation.needs_attention or conversation.unread):
        services.mark_read(conversation)
        db.session.commit()
    saved = _saved_replies()
    return _render_thread(contact, _reply_form(saved), saved)


@bp.post("/conversations/<int:contact_id>/reply")
@permission_required("coordinate")
def reply(contact_id):
    contact = _contact_or_404(contact_id)
    saved = _saved_replies()
    form = _reply_form(saved)
    if not form.validate_on_submit():
        return _render_thread(contact, form, saved, status=400)
    chosen = next((s for s in saved if str(s.id) == form.saved.data), None)
    if form.use.data:
        if chosen is not None:
            form.body.data = replies.saved_text(chosen, contact.language)
        return _render_thread(contact, form, saved)
    body = form.body.data or ""
    if not body.strip() and chosen is not None:
        body = replies.saved_text(chosen, contact.language)
    now = utcnow()
    try:
        row = replies.send_reply(contact, body, user=current_user, now=now)
    except replies.ReplyError as error:
        db.session.rollback()
        form.body.errors = [*form.body.errors, str(REPLY_ERRORS.get(str(error), error))]
        return _render_thread(contact, form, saved, status=400)
    db.session.commit()
    if row.due_at <= now:
        flash(_("Reply sent: it goes out now."), "success")
    else:
        flash(
            _(
                "Reply scheduled: it goes out at %(time)s, the young person's local time.",
                time=recipient_time(row.due_at, contact.timezone),
            ),
            "success",
        )
    return redirect(url_for("conversations.thread", contact_id=contact.id))


@bp.post("/conversations/messages/<int:inbound_id>/opt-out")
@permission_required("coordinate")
def opt_out(inbound_id):
    inbound = get_owned_or_404(InboundMessage, inbound_id)
    back = redirect(url_for("conversations.thread", contact_id=inbound.contact_id))
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return back
    if inbound.intent != keywords.STOP_REQUEST and not inbound.needs_review:
        flash(_("This message did not ask to stop the messages."), "error")
        return back
    if services.opt_out_from_message(inbound, user=current_user, now=utcnow()):
        db.session.commit()
        flash(_("Opted out: this contact gets no more messages."), "success")
    else:
        db.session.rollback()
        flash(_("This contact had already opted out."), "info")
    return back


# --- case actions -----------------------------------------------------------------------------


def _first_error(form) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return _("The form expired. Try again.")


def _case_action(case_id: int, form, apply, done: str):
    """Validate `form`, apply the action to the case (a service call), commit, say so and
    go back to the thread. A refused action changes nothing."""
    case = get_owned_or_404(Case, case_id)
    back = redirect(url_for("conversations.thread", contact_id=case.contact_id))
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return back
    try:
        apply(case, form, utcnow())
    except (services.CaseError, referrals.ReferralError) as error:
        db.session.rollback()
        flash(str(CASE_ERRORS.get(str(error), error)), "error")
        return back
    db.session.commit()
    flash(done, "success")
    return back


@bp.post("/cases/<int:case_id>/acknowledge")
@permission_required("coordinate")
def acknowledge(case_id):
    def apply(case, _form, now):
        services.acknowledge(case, user=current_user, now=now)

    return _case_action(case_id, ActionForm(), apply, _("Case acknowledged."))


@bp.post("/cases/<int:case_id>/assign")
@permission_required("coordinate")
def assign(case_id):
    form = AssignForm()
    form.assignee.choices = _assignee_choices(current_user.organization_id)

    def apply(case, form, now):
        assignee = int(form.assignee.data) if form.assignee.data else None
        services.assign(case, assignee, user=current_user, now=now)

    return _case_action(case_id, form, apply, _("Assignment saved."))


@bp.post("/cases/<int:case_id>/waiting")
@permission_required("coordinate")
def waiting(case_id):
    def apply(case, _form, now):
        services.set_waiting(case, user=current_user, now=now)

    return _case_action(
        case_id, ActionForm(), apply, _("Case marked as waiting on the young person.")
    )


@bp.post("/cases/<int:case_id>/note")
@permission_required("coordinate")
def note(case_id):
    def apply(case, form, now):
        services.add_note(case, form.note.data.strip(), user=current_user, now=now)

    return _case_action(case_id, NoteForm(), apply, _("Note added."))


@bp.post("/cases/<int:case_id>/close")
@permission_required("coordinate")
def close(case_id):
    def apply(case, form, now):
        services.close(case, form.reason.data, user=current_user, now=now)

    return _case_action(case_id, CloseForm(), apply, _("Case closed."))


@bp.post("/cases/<int:case_id>/reopen")
@permission_required("coordinate")
def reopen(case_id):
    def apply(case, _form, now):
        services.reopen(case, user=current_user, now=now)

    return _case_action(case_id, ActionForm(), apply, _("Case reopened."))


@bp.post("/cases/<int:case_id>/refer")
@permission_required("coordinate")
def refer(case_id):
    form = ReferForm()
    form.service.choices = _service_choices(current_user.organization_id)

    def apply(case, form, now):
        service, _sep, local_id = form.service.data.partition(":")
        local = None
        if service == "local":
            local = db.session.scalar(
                scoped(LocalService).where(
                    LocalService.id == int(local_id), LocalService.active.is_(True)
                )
            )
        referrals.refer(
            case,
            service,
            user=current_user,
            now=now,
            local=local,
            send_details=bool(form.send_details.data),
        )

    return _case_action(case_id, form, apply, _("Referral recorded."))
