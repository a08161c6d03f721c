"""Organizations: creation (CLI) and settings (admins)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..errors import DomainError
from ..extensions import db
from ..security_log import security_event
from .models import Organization


def create_organization(*, slug, name, country, timezone, default_language="es") -> Organization:
    if db.session.scalar(select(func.count()).where(Organization.slug == slug)):
        raise DomainError(_l("An organization with this slug already exists."), field="slug")
    org = Organization(
        slug=slug, name=name.strip(), country=country, timezone=timezone,
        default_language=default_language,
    )
    db.session.add(org)
    db.session.commit()
    return org


SETTINGS = ("timezone", "default_language", "quiet_start", "quiet_end", "cap_messages",
            "cap_days", "opt_out_notice", "contact_line", "reminder_hours", "thank_you_sms",
            "small_cell_threshold")


def update_settings(org: Organization, *, actor_id: int, name: str, **values) -> None:
    """Save an admin's settings (already validated by SettingsForm)."""
    org.name = name.strip()
    for key in SETTINGS:
        if key in values:
            setattr(org, key, values[key])
    org.contact_line = (org.contact_line or "").strip() or None
    db.session.commit()
    security_event("settings_changed", user_id=actor_id, org_id=org.id)


def organization_by_slug(slug: str) -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise DomainError(_l("No organization with slug “%(slug)s”.", slug=slug))
    return org
