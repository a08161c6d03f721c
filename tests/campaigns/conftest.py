"""Campaign fixtures: builders for campaigns, messages, contacts and outbox rows."""

from datetime import UTC, date, datetime, timedelta

import pytest

from app.campaigns import services
from app.contacts.models import Contact
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)

UCS2_QUESTION = "¿Sabías que el fentanilo es 50 veces más potente que la heroína?"


@pytest.fixture
def org(make_org):
    return make_org(name="Jóvenes Libres A.C.")


@pytest.fixture
def coordinator(make_user, org):
    # English UI, so assertions read the msgids whatever the Spanish catalogue holds.
    return make_user(org, role="coordinator", language="en")


@pytest.fixture
def campaign_values():
    def values(**overrides):
        data = dict(
            name="Fentanilo: lo que no te dicen",
            topic="fentanyl",
            strategy="information_dissemination",
            level="universal",
            target_age_min=15,
            target_age_max=24,
            target_population=5000,
            description="SMS para preparatorias de Tijuana.",
            objectives="Que 30 % sepa qué es el fentanilo.",
            places=[
                services.PlaceSpec("MX", "02", "Tijuana", 4000),
                services.PlaceSpec("US", "CA", "San Diego", 1000),
            ],
            start_date=date(2026, 3, 1),
            end_date=date(2026, 6, 30),
            default_language="es",
        )
        data.update(overrides)
        return data

    return values


@pytest.fixture
def make_campaign(org, campaign_values):
    def make(organization=None, status="draft", **overrides):
        campaign = services.create_campaign(
            (organization or org).id, **campaign_values(**overrides)
        )
        if status != "draft":
            campaign.status = status
            db.session.commit()
        return campaign

    return make


@pytest.fixture
def make_message():
    def make(campaign, **overrides):
        values = dict(
            label="Semana 1",
            body_es="Hola {first_name}, ¿sabes qué es el fentanilo?",
            body_en="Hi {first_name}, do you know what fentanyl is?",
        )
        values.update(overrides)
        return services.add_message(campaign, **values)

    return make


@pytest.fixture
def make_contact():
    counter = iter(range(100, 10_000))

    def make(organization_id, **overrides):
        values = dict(
            organization_id=organization_id,
            phone=f"+52664555{next(counter):04d}",
            first_name="Ana",
            country="MX",
            state_code="02",
            timezone="America/Tijuana",
            language="es",
        )
        values.update(overrides)
        contact = Contact(**values)
        db.session.add(contact)
        db.session.commit()
        return contact

    return make


@pytest.fixture
def make_outbox(make_contact):
    """Outbox rows of one send of `message`, one per status given."""

    def make(message, statuses, *, send_status="scheduled"):
        campaign = message.campaign
        send = OutreachSend(
            organization_id=campaign.organization_id,
            campaign_id=campaign.id,
            message_id=message.id,
            kind="once",
            fixed_at=NOW,
            status=send_status,
        )
        db.session.add(send)
        db.session.flush()
        rows = []
        for status in statuses:
            contact = make_contact(campaign.organization_id)
            row = OutboxMessage(
                organization_id=campaign.organization_id,
                campaign_id=campaign.id,
                send_id=send.id,
                message_id=message.id,
                contact_id=contact.id,
                language="es",
                body=message.body_es,
                due_at=NOW + timedelta(days=1),
                status=status,
            )
            rows.append(row)
        db.session.add_all(rows)
        db.session.commit()
        return send, rows

    return make


def outbox_statuses(campaign) -> dict:
    db.session.expire_all()
    return services.outbox_counts(campaign)
