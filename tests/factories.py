"""Row builders for every test folder: one function, one name and one signature per kind of
row, with sensible defaults that a test overrides by keyword (`make_contact(org,
language="en")`). Each builder commits its row. Fixtures that hand these out (`make_org`,
`make_user` in tests/conftest.py) only bind them; clocks, CSRF and time helpers live in
tests/support.py.

Organizations and users are created through their services (slug checks, password
hashing); every other row is inserted directly, so a test controls every column. Tests of
a service that need *valid input* for it use `campaign_values` / `message_values`.
"""

from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from app.auth.services import create_user
from app.campaigns.models import Campaign, CampaignMessage
from app.campaigns.services import PlaceSpec
from app.contacts.models import Audience, Contact
from app.experiments.models import Experiment, ExperimentArm, ExperimentOutcome
from app.extensions import db
from app.organizations.services import create_organization
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend
from app.surveys.models import Survey, SurveyQuestion, SurveyRun
from app.workshops.models import Workshop, WorkshopRegistration
from tests.support import NOW, STRONG_PASSWORD

_seq = count(1)
# Default contacts are numbered from here: numbers a test gives (make_contact(org, 1))
# stay free, and so do the phones tests spell out (+52664000000n, +52664555nnnn...).
_contact_numbers = count(100_001)
CONSENTED = datetime(2026, 1, 15, 12, tzinfo=UTC)
# Saturday 5 December 2026, 17:00 in Tijuana (PST): the default workshop's start.
WORKSHOP_START = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


# --- organizations and users ---------------------------------------------------------------


def make_org(**overrides):
    """An organization in Tijuana (Spanish by default), through the service."""
    n = next(_seq)
    values = dict(
        slug=f"org-{n}",
        name=f"Organización {n}",
        country="MX",
        timezone="America/Tijuana",
        default_language="es",
    )
    values.update(overrides)
    return create_organization(**values)


def make_user(org=None, role="coordinator", *, email=None, password=STRONG_PASSWORD, language=None):
    """A user of `org` (a new organization by default) with `STRONG_PASSWORD`."""
    n = next(_seq)
    return create_user(
        org or make_org(),
        email=email or f"user{n}@example.org",
        role=role,
        password=password,
        language=language,
    )


# --- contacts and audiences ------------------------------------------------------------------


def make_contact(org, n: int | None = None, **overrides) -> Contact:
    """A consenting 22-year-old in Tijuana who reads Spanish. `n` numbers the contact: phone
    +52664 and `n` on seven digits (shown as 664 000 0001 for n=1), name "Joven n"; by
    default the next free number."""
    if n is None:
        n = next(_contact_numbers)
    values = dict(
        organization_id=org.id,
        phone=f"+52664{n:07d}",
        first_name=f"Joven {n}",
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


def make_audience(org, filters=None, **overrides) -> Audience:
    """A saved audience of `org` with these filters (everyone by default)."""
    audience = Audience(
        organization_id=org.id,
        name=overrides.pop("name", f"Audiencia {next(_seq)}"),
        filters=filters or {},
        **overrides,
    )
    db.session.add(audience)
    db.session.commit()
    return audience


# --- campaigns and messages ------------------------------------------------------------------


def make_campaign(org, **overrides) -> Campaign:
    """An active campaign row of `org` (no places, no dates)."""
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


def campaign_values(**overrides) -> dict:
    """Valid keyword arguments for `app.campaigns.services.create_campaign` and
    `update_campaign`: every field filled in, two target places."""
    values = dict(
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
            PlaceSpec("MX", "02", "Tijuana", 4000),
            PlaceSpec("US", "CA", "San Diego", 1000),
        ],
        start_date=date(2026, 3, 1),
        end_date=date(2026, 6, 30),
        default_language="es",
    )
    values.update(overrides)
    return values


def make_message(campaign, **overrides) -> CampaignMessage:
    """A bilingual message row of `campaign`."""
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


def message_values(**overrides) -> dict:
    """Valid keyword arguments for `app.campaigns.services.add_message` and
    `update_message`."""
    values = dict(
        label="Semana 1",
        body_es="Hola {first_name}, ¿sabes qué es el fentanilo?",
        body_en="Hi {first_name}, do you know what fentanyl is?",
    )
    values.update(overrides)
    return values


# --- the outbox ------------------------------------------------------------------------------


def make_outbox_row(contact, **overrides) -> OutboxMessage:
    """One outbox row for `contact` ("scheduled", due at NOW unless overridden)."""
    values = dict(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        language="es",
        body="Hola",
        due_at=NOW,
    )
    values.update(overrides)
    row = OutboxMessage(**values)
    db.session.add(row)
    db.session.commit()
    return row


def make_outbox(message, statuses, *, send_status="scheduled", at=NOW):
    """A one-off send of `message` fixed at `at`, with one outbox row (to a new contact, due
    a day later) per status given. Returns (send, rows)."""
    campaign = message.campaign
    send = OutreachSend(
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        message_id=message.id,
        kind="once",
        fixed_at=at,
        status=send_status,
    )
    db.session.add(send)
    db.session.commit()
    rows = [
        make_outbox_row(
            make_contact(campaign.organization),
            campaign_id=campaign.id,
            send_id=send.id,
            message_id=message.id,
            body=message.body_es,
            due_at=at + timedelta(days=1),
            status=status,
        )
        for status in statuses
    ]
    return send, rows


def make_tracked_link(contact, **overrides):
    """A tracked link of `contact` (app/links) with a fresh code, to https://example.org/info,
    expiring in 90 days; no outbox row unless one is given."""
    from app.links.finalize import new_code
    from app.links.models import TrackedLink

    values = dict(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        code=new_code(),
        destination="https://example.org/info",
        created_at=NOW,
        expires_at=NOW + timedelta(days=90),
    )
    values.update(overrides)
    link = TrackedLink(**values)
    db.session.add(link)
    db.session.commit()
    return link


# --- workshops -------------------------------------------------------------------------------


def make_workshop(
    org, *, campaign=None, starts_at=WORKSHOP_START, hours=2, code=None, **overrides
) -> Workshop:
    """A scheduled 2-hour workshop of `campaign` (a new campaign of `org` by default) in
    Tijuana: "Decide tú" / "Your call", 30 seats, created ten days before NOW."""
    campaign = campaign or make_campaign(org)
    values = dict(
        organization_id=org.id,
        campaign_id=campaign.id,
        code=code or f"{4000 + db.session.query(Workshop).count():04d}",
        title_es="Decide tú",
        title_en="Your call",
        kind="community_workshop",
        venue_name="Casa de la Cultura",
        country="MX",
        state_code="02",
        municipality="Tijuana",
        timezone="America/Tijuana",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        capacity=30,
        language="es",
        status="scheduled",
        sequence=0,
        created_at=NOW - timedelta(days=10),
        updated_at=NOW - timedelta(days=10),
    )
    values.update(overrides)
    workshop = Workshop(**values)
    db.session.add(workshop)
    db.session.commit()
    return workshop


def make_registration(
    workshop, contact, status="confirmed", *, at=NOW, **overrides
) -> WorkshopRegistration:
    """`contact`'s registration to `workshop`: invited the day before `at`, answered (and
    waitlisted, for that status) at `at`."""
    values = dict(
        organization_id=workshop.organization_id,
        workshop_id=workshop.id,
        contact_id=contact.id,
        status=status,
        invited_at=at - timedelta(days=1),
        responded_at=at,
        waitlisted_at=at if status == "waitlisted" else None,
        created_at=at,
    )
    values.update(overrides)
    registration = WorkshopRegistration(**values)
    db.session.add(registration)
    db.session.commit()
    return registration


# --- surveys ---------------------------------------------------------------------------------

# Default questions of `make_survey`: a 4-point choice, a yes/no, a 1-5 scale with labeled ends.
SURVEY_QUESTIONS = (
    dict(
        qtype="choice",
        text_es="¿Qué tanto riesgo ves en probar fentanilo?",
        text_en="How risky is trying fentanyl?",
        options=[
            {"es": "Nada", "en": "None"},
            {"es": "Poco", "en": "A little"},
            {"es": "Algo", "en": "Some"},
            {"es": "Mucho", "en": "A lot"},
        ],
    ),
    dict(
        qtype="yesno",
        text_es="¿Sabes dónde pedir ayuda?",
        text_en="Do you know where to get help?",
    ),
    dict(
        qtype="scale",
        text_es="¿Qué tan capaz te sientes de decir que no?",
        text_en="How able do you feel to say no?",
        scale_min=1,
        scale_max=5,
        low_es="Nada capaz",
        low_en="Not able",
        high_es="Muy capaz",
        high_en="Very able",
    ),
)


def make_survey(org, questions=SURVEY_QUESTIONS, **overrides) -> Survey:
    """A survey of `org` with these questions (dicts of SurveyQuestion columns, numbered
    from 1 in order; SURVEY_QUESTIONS by default), an intro and a thank-you in both
    languages."""
    values = dict(
        organization_id=org.id,
        title_es="Encuesta",
        title_en="Survey",
        intro_es="Hola, 3 preguntas rapidas.",
        intro_en="Hi, 3 quick questions.",
        thanks_es="¡Gracias!",
        thanks_en="Thanks!",
        created_at=NOW - timedelta(days=10),
        updated_at=NOW - timedelta(days=10),
    )
    values.update(overrides)
    survey = Survey(**values)
    db.session.add(survey)
    db.session.flush()
    for position, question in enumerate(questions, start=1):
        db.session.add(
            SurveyQuestion(
                organization_id=org.id, survey_id=survey.id, position=position, **question
            )
        )
    db.session.commit()
    return survey


def make_survey_run(survey, kind="audience", *, starts_at=NOW, **overrides) -> SurveyRun:
    """A run of `survey` due at `starts_at` (its local date and time in Tijuana), not yet
    fanned out; give audience_id / campaign_id / workshop_id / follow_up_days as needed."""
    local = starts_at.astimezone(ZoneInfo("America/Tijuana"))
    values = dict(
        organization_id=survey.organization_id,
        survey_id=survey.id,
        kind=kind,
        local_date=local.date(),
        local_time=local.time().replace(tzinfo=None),
        starts_at=starts_at,
        window_hours=24,
        status="scheduled",
        created_at=NOW - timedelta(days=1),
    )
    values.update(overrides)
    run = SurveyRun(**values)
    db.session.add(run)
    db.session.commit()
    return run


# --- experiments -----------------------------------------------------------------------------


def make_experiment(
    campaign,
    weights=(1, 1),
    *,
    holdout: int | None = None,
    stratify: bool = False,
    audience=None,
    primary: tuple[str, int] | None = ("attended", 30),
    **overrides,
) -> Experiment:
    """A draft experiment of `campaign`: arms A, B... with these ratios, a holdout with its
    ratio if given, and a primary outcome (kind, window days) unless None."""
    values = dict(
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        audience_id=audience.id if audience is not None else None,
        status="draft",
        stratify=stratify,
        created_at=NOW - timedelta(days=1),
    )
    values.update(overrides)
    experiment = Experiment(**values)
    arms = [(key, weight, False) for key, weight in zip("ABCD", weights, strict=False)]
    if holdout is not None:
        arms.append(("holdout", holdout, True))
    experiment.arms = [
        ExperimentArm(
            organization_id=campaign.organization_id,
            key=key,
            position=position,
            label="",
            weight=weight,
            is_holdout=is_holdout,
        )
        for position, (key, weight, is_holdout) in enumerate(arms)
    ]
    if primary is not None:
        experiment.outcomes = [
            ExperimentOutcome(
                organization_id=campaign.organization_id,
                position=0,
                kind=primary[0],
                window_days=primary[1],
                is_primary=True,
            )
        ]
    db.session.add(experiment)
    db.session.commit()
    return experiment


# --- WhatsApp templates ---------------------------------------------------------------------


def make_whatsapp_template(org, **overrides):
    """A draft WhatsApp template of `org` (app/whatsapp) in Spanish, with one variable (the
    first name) and no buttons; `status`, `content_sid`… can be given directly."""
    from app.whatsapp.models import WhatsAppTemplate

    n = next(_seq)
    values = dict(
        organization_id=org.id,
        name=f"aviso_{n}",
        language="es",
        category="utility",
        body="Hola {{1}}, te esperamos en el taller.",
        variables={"1": "first_name"},
        buttons=[],
        status="draft",
        created_at=NOW,
        updated_at=NOW,
    )
    values.update(overrides)
    template = WhatsAppTemplate(**values)
    db.session.add(template)
    db.session.commit()
    return template
