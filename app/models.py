"""Imports every model so SQLAlchemy's metadata (and Alembic) sees all tables."""

from .auth.models import User  # noqa: F401
from .campaigns.models import Campaign, CampaignMessage, CampaignPlace  # noqa: F401
from .contacts.models import Audience, Contact, ContactImport, ContactTag  # noqa: F401
from .jobs.models import Job  # noqa: F401
from .organizations.models import Organization  # noqa: F401
from .outreach.models import (  # noqa: F401
    CampaignEnrollment,
    InboundMessage,
    OutboxMessage,
    OutreachSend,
)
from .participation.models import ParticipationEvent  # noqa: F401
from .reports.models import ExportFile  # noqa: F401
from .workshops.models import Workshop, WorkshopRegistration  # noqa: F401
