"""Demo data for `flask seed-demo` (and `make run` on an empty database).

Demo passwords are public by design: the demo organization is for trying the product
on a laptop, never for real young people's data.
"""

from flask import current_app
from sqlalchemy import func, select

from app.auth.models import User
from app.auth.services import create_user
from app.contacts.services import local_today
from app.demo.conversations import seed_conversations
from app.demo.experiments import seed_experiment
from app.demo.outreach import seed_campaign
from app.demo.people import seed_audiences, seed_people
from app.demo.surveys import seed_surveys
from app.demo.whatsapp import seed_whatsapp_setup
from app.demo.workshops import seed_workshops
from app.extensions import db
from app.organizations.models import Organization
from app.organizations.services import create_organization
from app.timeutil import utcnow

DEMO_SLUG = "demo"
DEMO_USERS = (
    ("admin", "admin@demo.alcance.mx", "Alcance-Demo-Admin-26"),
    ("coordinator", "coordinacion@demo.alcance.mx", "Alcance-Demo-Coordina-26"),
    ("evaluator", "evaluacion@demo.alcance.mx", "Alcance-Demo-Evalua-26"),
)


def seed_demo_data(*, only_if_empty: bool = True, now=None):
    """Create the demo organization, users, contacts, audiences, a campaign with history,
    its workshops (past ones with attendance, upcoming ones with RSVPs), conversations
    (saved replies, local services, on call, a closed urgent case, messages to answer) and
    a second campaign measured with a baseline and a follow-up survey, answered, and a
    finished experiment (two texts of a message with a link, and a holdout). Some contacts
    are on WhatsApp: the campaign's first message reaches them as an approved template,
    most of them read it (app/demo/whatsapp.py).

    Returns the demo logins, or None when skipped because the database has data.
    """
    now = now or utcnow()
    if only_if_empty and db.session.scalar(select(func.count()).select_from(Organization)):
        return None
    org = db.session.scalar(select(Organization).where(Organization.slug == DEMO_SLUG))
    fresh = org is None
    if fresh:
        org = create_organization(
            slug=DEMO_SLUG,
            name="Jóvenes Sin Adicciones (demo)",
            country="MX",
            timezone="America/Tijuana",
            default_language="es",
        )
        org.contact_line = "664 555 0100"
        db.session.commit()
    for role, email, password in DEMO_USERS:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            create_user(org, email=email, role=role, password=password)
    if fresh:
        # The history is laid out on the organization's local calendar (days before and
        # after `today`, at fixed wall times), so a demo seeded at 03:00 has the same
        # messages, replies and attendance as one seeded at noon.
        today = local_today(org, now)
        seed_people(org, today=today)
        audiences = seed_audiences(org, now=now)
        app = current_app._get_current_object()
        # The experiment's campaign came first (-42 to -30 days): no cap touches the others.
        seed_experiment(app, org, audiences, today=today, now=now)
        # WhatsApp (issue 19): templates and contacts on WhatsApp before the campaign.
        seed_whatsapp_setup(org, audiences["border"], today=today, now=now)
        campaign = seed_campaign(app, org, audiences, today=today, now=now)
        seed_workshops(app, org, campaign, today=today, now=now)
        seed_conversations(app, org, today=today, now=now)
        seed_surveys(app, org, today=today, now=now)
    return DEMO_USERS


def demo_logins_if_present():
    """The demo logins when the demo organization exists (printed by `make run`)."""
    exists = db.session.scalar(select(Organization.id).where(Organization.slug == DEMO_SLUG))
    return DEMO_USERS if exists else None
