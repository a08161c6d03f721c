"""Imports every model so SQLAlchemy's metadata (and Alembic) sees all tables."""

from app.api.models import ApiIdempotentRequest, ApiKey  # noqa: F401
from app.auth.models import User  # noqa: F401
from app.campaigns.models import Campaign, CampaignMessage, CampaignPlace  # noqa: F401
from app.contacts.models import Audience, Contact, ContactImport, ContactTag  # noqa: F401
from app.conversations.models import (  # noqa: F401
    Case,
    CaseEvent,
    Conversation,
    LocalService,
    OnCallShift,
    Referral,
    SavedReply,
)
from app.experiments.models import (  # noqa: F401
    Experiment,
    ExperimentArm,
    ExperimentAssignment,
    ExperimentOutcome,
    ExperimentVariant,
    PreregistrationChange,
)
from app.integrations.models import WebhookDelivery, WebhookEndpoint  # noqa: F401
from app.jobs.models import Job  # noqa: F401
from app.links.models import TrackedLink  # noqa: F401
from app.organizations.models import Organization  # noqa: F401
from app.organizations.prices import ChannelPrice  # noqa: F401
from app.outbox.models import EarlyStatusCallback, InboundMessage, OutboxMessage  # noqa: F401
from app.outreach.models import CampaignEnrollment, OutreachSend  # noqa: F401
from app.participation.attribution import OptOutAttribution  # noqa: F401
from app.participation.models import ParticipationEvent  # noqa: F401
from app.reports.models import ExportFile  # noqa: F401
from app.surveys.models import (  # noqa: F401
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    SurveyRun,
)
from app.whatsapp.models import WhatsAppTemplate  # noqa: F401
from app.workshops.models import Workshop, WorkshopRegistration  # noqa: F401
