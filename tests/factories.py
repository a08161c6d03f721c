"""Builders for domain rows with sensible defaults (used across feature tests)."""

from datetime import UTC, datetime
from itertools import count

from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.models import Audience, Contact
from app.extensions import db

_seq = count(1)
CONSENTED = datetime(2026, 1, 15, 12, tzinfo=UTC)


def make_contact(org, **overrides) -> Contact:
    n = next(_seq)
    values = dict(
        organization_id=org.id,
        phone=f"+52664555{n:04d}",
        first_name=f"Joven{n}",
        language="es",
        birth_year=2004,
        country="MX",
        state_code="02",
        municipality="Tijuana",
        timezone="America/Tijuana",
        consent_source="workshop",
        consent_at=CONSENTED,
    )
    values.update(overrides)
    contact = Contact(**values)
    db.session.add(contact)
    db.session.commit()
    return contact


def make_campaign(org, **overrides) -> Campaign:
    values = dict(
        organization_id=org.id,
        name="Sin Fentanilo",
        topic="fentanyl",
        strategy="information_dissemination",
        level="universal",
        status="active",
        default_language="es",
    )
    values.update(overrides)
    campaign = Campaign(**values)
    db.session.add(campaign)
    db.session.commit()
    return campaign


def make_message(campaign, **overrides) -> CampaignMessage:
    values = dict(
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        label="Aviso",
        body_es="Hola {first_name}, el fentanilo mata. Infórmate.",
        body_en="Hi {first_name}, fentanyl kills. Learn more.",
    )
    values.update(overrides)
    message = CampaignMessage(**values)
    db.session.add(message)
    db.session.commit()
    return message


def make_audience(org, filters=None, **overrides) -> Audience:
    audience = Audience(
        organization_id=org.id,
        name=overrides.pop("name", f"Audiencia {next(_seq)}"),
        filters=filters or {},
        **overrides,
    )
    db.session.add(audience)
    db.session.commit()
    return audience
