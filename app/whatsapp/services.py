"""WhatsApp templates: create and edit (while draft or rejected), submit for WhatsApp's
approval through the template gateway, follow the decision, and list the approved ones.

Submitting is idempotent. The content is created once per edit: before the create, the row
records a random friendly name and the time (committed), so a submit after a create whose
answer was lost looks for that name first; the approval request is made under the row's
lock, and a retry first asks the provider whether it already arrived. A submit of a template
that is already pending (a double click) changes nothing.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update

from app.errors import DomainError
from app.extensions import db
from app.messaging.factory import get_template_gateway
from app.messaging.templates import (
    ApprovalStatus,
    TemplateButton,
    TemplateContent,
    TemplateGateway,
    TemplateGatewayError,
)
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.channel_plan import NO_TEMPLATE_REASON
from app.outbox.placeholders import fallback_values, sample_values
from app.whatsapp.models import SUBMITTABLE_STATUSES, WhatsAppTemplate
from app.whatsapp.validation import clean_template, fill

logger = logging.getLogger("alcance.whatsapp")

# A content create under way (or whose answer was lost) blocks another submit this long.
SUBMIT_LEASE = timedelta(minutes=1)
# The periodic refresh: pending templates every few minutes, approved and paused ones
# (WhatsApp may pause or disable them for quality) once a day.
PENDING_CHECK_EVERY = timedelta(minutes=10)
APPROVED_CHECK_EVERY = timedelta(hours=24)
REFRESH_BATCH = 50


class TemplateError(DomainError):
    """A template action the rules refuse (translated message, form field if any)."""


NOT_EDITABLE = _l("Only a draft or a rejected template can be edited.")
NAME_TAKEN = _l("Your organization already has a template with this name in this language.")
BEING_SUBMITTED = _l("This template is being submitted. Refresh the page in a minute.")
CHANGED_WHILE_SUBMITTING = _l("The template changed while it was being submitted. Submit it again.")


# --- create and edit -----------------------------------------------------------------------


def _check_name_free(organization_id: int, values: dict, template_id: int | None) -> None:
    stmt = select(WhatsAppTemplate.id).where(
        WhatsAppTemplate.organization_id == organization_id,
        WhatsAppTemplate.name == values["name"],
        WhatsAppTemplate.language == values["language"],
    )
    if template_id is not None:
        stmt = stmt.where(WhatsAppTemplate.id != template_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise TemplateError(NAME_TAKEN, field="name")


def create_template(
    *, organization_id: int, user_id: int | None, values: dict, now: datetime
) -> WhatsAppTemplate:
    """A new draft from form values (see validation.clean_template). Raises InvalidFields or
    TemplateError; nothing is saved then."""
    cleaned = clean_template(values)
    _check_name_free(organization_id, cleaned, None)
    template = WhatsAppTemplate(
        organization_id=organization_id,
        created_by=user_id,
        created_at=now,
        updated_at=now,
        status="draft",
        **cleaned,
    )
    db.session.add(template)
    db.session.commit()
    logger.info("whatsapp template %s (%s) created", template.name, template.language)
    return template


def update_template(template: WhatsAppTemplate, *, values: dict, now: datetime) -> None:
    """Edit a draft or rejected template; it becomes a draft again, to be submitted anew
    (with a new content: a submitted one cannot change). Raises InvalidFields or
    TemplateError; nothing is saved then."""
    if not template.editable:
        raise TemplateError(NOT_EDITABLE)
    cleaned = clean_template(values)
    _check_name_free(template.organization_id, cleaned, template.id)
    for key, value in cleaned.items():
        setattr(template, key, value)
    template.status = "draft"
    template.rejection_reason = None
    template.content_sid = None
    template.content_name = None
    template.content_requested_at = None
    template.updated_at = now
    db.session.commit()
    logger.info("whatsapp template %s (%s) edited", template.name, template.language)


def delete_template(template: WhatsAppTemplate) -> None:
    """Delete a draft or rejected template (an approved one may be in use)."""
    if not template.editable:
        raise TemplateError(_l("Only a draft or a rejected template can be deleted."))
    db.session.delete(template)
    db.session.commit()


# --- what the provider gets ----------------------------------------------------------------


def samples(template: WhatsAppTemplate, *, org_name: str, now: datetime) -> dict[str, str]:
    """Example values of the placeholders in the template's language (what the preview
    shows, and what WhatsApp's reviewers see for each variable)."""
    language = template.language
    return sample_values(
        language,
        campaign=fallback_values(language)["campaign"],
        org=org_name,
        today=now.date(),
    )


def preview(template_or_values, values: dict) -> str:
    """The body with every variable filled from `values` (placeholder name -> text)."""
    if isinstance(template_or_values, WhatsAppTemplate):
        return fill(template_or_values.body, template_or_values.variables or {}, values)
    return fill(template_or_values["body"], template_or_values.get("variables") or {}, values)


def content_of(template: WhatsAppTemplate, *, org_name: str, now: datetime) -> TemplateContent:
    example = samples(template, org_name=org_name, now=now)
    return TemplateContent(
        friendly_name=template.content_name or "",
        language=template.language,
        body=template.body,
        samples={n: example[name] for n, name in (template.variables or {}).items()},
        buttons=tuple(TemplateButton(b["title"], b["id"]) for b in template.buttons or ()),
    )


# --- submit --------------------------------------------------------------------------------


def _locked(template_id: int, organization_id: int) -> WhatsAppTemplate:
    template = db.session.scalar(
        select(WhatsAppTemplate)
        .where(
            WhatsAppTemplate.id == template_id,
            WhatsAppTemplate.organization_id == organization_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if template is None:
        raise LookupError(template_id)
    return template


def _status_values(approval: ApprovalStatus, now: datetime) -> dict:
    rejected = approval.status == "rejected"
    return {
        "status": approval.status,
        "rejection_reason": (approval.rejection_reason or None) if rejected else None,
        "status_checked_at": now,
    }


def _log_change(template: WhatsAppTemplate, before: str, after: str) -> None:
    if before != after:
        logger.info(
            "whatsapp template %s (%s): %s -> %s", template.name, template.language, before, after
        )


def _ensure_content(template_id: int, organization_id: int, gateway, now: datetime) -> str | None:
    """The template's content SID, created if needed; None when the template no longer needs
    submitting. Commits."""
    template = _locked(template_id, organization_id)
    if template.status not in SUBMITTABLE_STATUSES:
        db.session.commit()
        return None
    try:
        clean_template(_values_of(template))  # saved before a rule changed: check again
    except DomainError:
        db.session.rollback()
        raise
    if template.content_sid:
        sid = template.content_sid
        db.session.commit()
        return sid
    look_first = template.content_requested_at is not None
    if look_first and now - template.content_requested_at < SUBMIT_LEASE:
        db.session.commit()
        raise TemplateError(BEING_SUBMITTED)
    if not look_first:
        template.content_name = f"alcance_{organization_id}_{template.id}_{secrets.token_hex(4)}"
    template.content_requested_at = now
    name = template.content_name
    org_name = db.session.get(Organization, organization_id).name
    content = content_of(template, org_name=org_name, now=now)
    db.session.commit()  # the intent is on record before the provider hears of it

    try:
        sid = gateway.find_template(name) if look_first else None
        if sid is None:
            sid = gateway.create_template(content)
    except TemplateGatewayError as error:
        if not error.outcome_unknown:  # certainly not created: the next submit just creates
            db.session.execute(
                update(WhatsAppTemplate)
                .where(
                    WhatsAppTemplate.id == template_id,
                    WhatsAppTemplate.content_name == name,
                    WhatsAppTemplate.content_sid.is_(None),
                )
                .values(content_requested_at=None)
            )
            db.session.commit()
        raise
    stored = db.session.execute(
        update(WhatsAppTemplate)
        .where(
            WhatsAppTemplate.id == template_id,
            WhatsAppTemplate.content_name == name,
            WhatsAppTemplate.content_sid.is_(None),
        )
        .values(content_sid=sid, content_requested_at=None)
    ).rowcount
    db.session.commit()
    if not stored:  # edited meanwhile: this content is stale
        raise TemplateError(CHANGED_WHILE_SUBMITTING)
    return sid


def _values_of(template: WhatsAppTemplate) -> dict:
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "body": template.body,
        "variables": template.variables,
        "buttons": template.buttons,
    }


def submit_template(
    template_id: int,
    *,
    organization_id: int,
    now: datetime,
    gateway: TemplateGateway | None = None,
) -> WhatsAppTemplate:
    """Submit a draft or rejected template to WhatsApp: create its content (once) and ask
    for approval (once). Already submitted: nothing happens. Raises TemplateGatewayError
    (what the provider said, translated), TemplateError, InvalidFields, LookupError (no such
    template in the organization)."""
    gateway = gateway or get_template_gateway()
    sid_before = db.session.scalar(
        select(WhatsAppTemplate.content_sid).where(WhatsAppTemplate.id == template_id)
    )
    sid = _ensure_content(template_id, organization_id, gateway, now)
    template = _locked(template_id, organization_id)
    if sid is None or template.status not in SUBMITTABLE_STATUSES or template.content_sid != sid:
        db.session.commit()
        return template
    try:
        approval = None
        if sid_before == sid:  # a retry: the earlier approval request may have arrived
            found = gateway.fetch_status(sid)
            approval = found if found.status != "draft" else None
        if approval is None:
            approval = gateway.request_approval(sid, name=template.name, category=template.category)
    except TemplateGatewayError:
        db.session.commit()
        raise
    before = template.status
    for key, value in _status_values(approval, now).items():
        setattr(template, key, value)
    template.submitted_at = now
    db.session.commit()
    _log_change(template, before, approval.status)
    return template


# --- status ----------------------------------------------------------------------------------


def refresh_status(
    template: WhatsAppTemplate, *, now: datetime, gateway: TemplateGateway | None = None
) -> WhatsAppTemplate:
    """Ask the provider for the template's approval status and record it. A template that
    was never submitted is left alone. Raises TemplateGatewayError."""
    sid = template.content_sid
    if not sid or template.status == "draft":
        return template
    approval = (gateway or get_template_gateway()).fetch_status(sid)
    before = template.status
    # Only onto the same content: an edit meanwhile made this answer stale.
    changed = db.session.execute(
        update(WhatsAppTemplate)
        .where(WhatsAppTemplate.id == template.id, WhatsAppTemplate.content_sid == sid)
        .values(**_status_values(approval, now))
    ).rowcount
    if changed and approval.status == "approved" and before != "approved":
        # WhatsApp rows held for lack of an approved template: their preparation decides again.
        outbox.release_held(NO_TEMPLATE_REASON, organization_id=template.organization_id)
    db.session.commit()  # expires `template`: it reloads what is stored
    if changed:
        _log_change(template, before, approval.status)
    return template


def refresh_due_templates(
    *, now: datetime, gateway: TemplateGateway | None = None, limit: int = REFRESH_BATCH
) -> int:
    """The periodic refresh (app.schedule): pending templates not checked for 10 minutes,
    approved and paused ones not checked for a day, oldest check first. Stops at the first
    error the provider may get over by itself (busy, unreachable). Returns how many
    templates were checked."""
    gateway = gateway or get_template_gateway()
    due = db.session.scalars(
        select(WhatsAppTemplate)
        .where(
            WhatsAppTemplate.content_sid.is_not(None),
            or_(
                and_(
                    WhatsAppTemplate.status == "pending",
                    or_(
                        WhatsAppTemplate.status_checked_at.is_(None),
                        WhatsAppTemplate.status_checked_at <= now - PENDING_CHECK_EVERY,
                    ),
                ),
                and_(
                    WhatsAppTemplate.status.in_(("approved", "paused")),
                    or_(
                        WhatsAppTemplate.status_checked_at.is_(None),
                        WhatsAppTemplate.status_checked_at <= now - APPROVED_CHECK_EVERY,
                    ),
                ),
            ),
        )
        .order_by(WhatsAppTemplate.status_checked_at.asc().nulls_first(), WhatsAppTemplate.id)
        .limit(limit)
    ).all()
    checked = 0
    for template in due:
        try:
            refresh_status(template, now=now, gateway=gateway)
        except TemplateGatewayError as error:
            db.session.rollback()
            logger.warning(
                "whatsapp template %s (%s): status not refreshed (HTTP %s, code %s)",
                template.name,
                template.language,
                error.status,
                error.code,
            )
            if error.retryable or error.outcome_unknown:
                break
            continue
        checked += 1
    return checked


def approved_templates(organization_id: int, language: str) -> list[WhatsAppTemplate]:
    """The organization's templates WhatsApp approved in `language`, by name: the ones a
    business-initiated WhatsApp message may use."""
    return list(
        db.session.scalars(
            select(WhatsAppTemplate)
            .where(
                WhatsAppTemplate.organization_id == organization_id,
                WhatsAppTemplate.language == language,
                WhatsAppTemplate.status == "approved",
            )
            .order_by(WhatsAppTemplate.name)
        )
    )
