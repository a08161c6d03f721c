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


def update_settings(org: Organization, *, actor_id: int, name, timezone, default_language) -> None:
    org.name = name.strip()
    org.timezone = timezone
    org.default_language = default_language
    db.session.commit()
    security_event("settings_changed", user_id=actor_id, org_id=org.id)


def organization_by_slug(slug: str) -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise DomainError(_l("No organization with slug “%(slug)s”.", slug=slug))
    return org
