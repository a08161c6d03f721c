"""Demo data for `flask seed-demo` (and `make run` on an empty database).

Demo passwords are public by design: the demo organization is for trying the product
on a laptop, never for real young people's data.
"""
from sqlalchemy import func, select

from .auth.services import create_user
from .extensions import db
from .organizations.models import Organization
from .organizations.services import create_organization

DEMO_SLUG = "demo"
DEMO_USERS = (
    ("admin", "admin@demo.alcance.mx", "Alcance-Demo-Admin-26"),
    ("coordinator", "coordinacion@demo.alcance.mx", "Alcance-Demo-Coordina-26"),
    ("evaluator", "evaluacion@demo.alcance.mx", "Alcance-Demo-Evalua-26"),
)


def seed_demo_data(*, only_if_empty: bool = True):
    """Create the demo organization and users; None when skipped because data exists."""
    if only_if_empty and db.session.scalar(select(func.count()).select_from(Organization)):
        return None
    org = db.session.scalar(select(Organization).where(Organization.slug == DEMO_SLUG))
    if org is None:
        org = create_organization(
            slug=DEMO_SLUG,
            name="Jóvenes Sin Adicciones (demo)",
            country="MX",
            timezone="America/Tijuana",
            default_language="es",
        )
    from .auth.models import User

    for role, email, password in DEMO_USERS:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            create_user(org, email=email, role=role, password=password)
    return DEMO_USERS
