"""Organizations: creation (CLI) and settings (admins)."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError
from app.extensions import db
from app.organizations.models import Organization
from app.security_log import security_event


def create_organization(*, slug, name, country, timezone, default_language="es") -> Organization:
    if db.session.scalar(select(func.count()).where(Organization.slug == slug)):
        raise DomainError(_l("An organization with this slug already exists."), field="slug")
    org = Organization(
        slug=slug,
        name=name.strip(),
        country=country,
        timezone=timezone,
        default_language=default_language,
    )
    db.session.add(org)
    db.session.commit()
    return org


SETTINGS = (
    "timezone",
    "default_language",
    "quiet_start",
    "quiet_end",
    "cap_messages",
    "cap_days",
    "opt_out_notice",
    "contact_line",
    "sms_sender",
    "reminder_hours",
    "thank_you_sms",
    "small_cell_threshold",
    "evaluator_person_files",
    "case_ack_minutes",
    "referral_follow_up_days",
    "link_hosts",
    "link_expiry_days",
    "whatsapp_sender",
    "whatsapp_fallback_sms",
    "whatsapp_no_template",
    "opt_out_all_channels",
)
SENDER_TAKEN = _l("Another organization already uses this sender.")


def _whatsapp_sender_taken(org: Organization, sender: str) -> bool:
    return bool(
        db.session.scalar(
            select(func.count()).where(
                Organization.whatsapp_sender == sender, Organization.id != org.id
            )
        )
    )


def _sender_taken(org: Organization, sender: str) -> bool:
    return bool(
        db.session.scalar(
            select(func.count()).where(Organization.sms_sender == sender, Organization.id != org.id)
        )
    )


def update_settings(org: Organization, *, actor_id: int | None, name: str, **values) -> None:
    """Save an admin's settings (already validated by SettingsForm).

    Raises DomainError (field "sms_sender") when another organization owns the sender: a
    number or Messaging Service belongs to one organization, so inbound SMS find their way.
    """
    if "sms_sender" in values:
        values["sms_sender"] = values["sms_sender"] or None
        if values["sms_sender"] and _sender_taken(org, values["sms_sender"]):
            raise DomainError(SENDER_TAKEN, field="sms_sender")
    if "whatsapp_sender" in values:
        values["whatsapp_sender"] = values["whatsapp_sender"] or None
    # One WhatsApp number, one organization: inbound WhatsApp is routed by it.
    if values.get("whatsapp_sender") and _whatsapp_sender_taken(org, values["whatsapp_sender"]):
        raise DomainError(SENDER_TAKEN, field="whatsapp_sender")
    shared_before = bool(org.evaluator_person_files)
    org.name = name.strip()
    for key in SETTINGS:
        if key in values:
            setattr(org, key, values[key])
    org.contact_line = (org.contact_line or "").strip() or None
    try:
        db.session.commit()
    except IntegrityError:  # another admin claimed it between the check and the commit
        db.session.rollback()
        raise DomainError(SENDER_TAKEN, field="sms_sender") from None
    security_event("settings_changed", user_id=actor_id, org_id=org.id)
    if shared_before != org.evaluator_person_files:
        # Who opened (or closed) per-person files to evaluators, and when: audited.
        security_event(
            "evaluator_person_files_changed",
            user_id=actor_id,
            org_id=org.id,
            shared=org.evaluator_person_files,
        )


def organization_by_slug(slug: str) -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise DomainError(_l("No organization with slug “%(slug)s”.", slug=slug))
    return org
