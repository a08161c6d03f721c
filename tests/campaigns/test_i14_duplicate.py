"""Issue 14: duplicating a campaign copies its definition (fields, places, bilingual
messages) into a new draft, never what happened (sends, enrolments, outbox rows, replies)."""

import re
from html import unescape

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.campaigns import services
from app.campaigns.models import Campaign, CampaignMessage, CampaignPlace
from app.extensions import db
from app.outbox.models import InboundMessage, OutboxMessage
from app.outreach.models import CampaignEnrollment, OutreachSend
from tests.factories import make_outbox
from tests.support import NOW, csrf_token_from

DEFINITION = (
    "description",
    "objectives",
    "topic",
    "strategy",
    "level",
    "target_age_min",
    "target_age_max",
    "target_population",
    "start_date",
    "end_date",
    "default_language",
)


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).split())


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


@pytest.fixture
def original(create_campaign, add_message):
    """An active campaign with two messages, places, a send with outbox rows, an enrolment
    and a reply."""
    campaign = create_campaign(status="active", default_language="en", target_population=777)
    first = add_message(campaign, label="Semana 1")
    add_message(
        campaign,
        label="Taller",
        body_es="Te esperamos el {workshop_date} en {workshop_venue}.",
        body_en="See you on {workshop_date} at {workshop_venue}.",
    )
    send, rows = make_outbox(first, ["scheduled", "delivered"])
    db.session.add(
        CampaignEnrollment(
            organization_id=campaign.organization_id,
            campaign_id=campaign.id,
            contact_id=rows[0].contact_id,
        )
    )
    db.session.add(
        InboundMessage(
            organization_id=campaign.organization_id,
            twilio_sid="SM" + "d" * 32,
            contact_id=rows[1].contact_id,
            campaign_id=campaign.id,
            body="¿Dónde es?",
            intent="other",
            needs_review=True,
        )
    )
    db.session.commit()
    return campaign


def test_copy_is_a_draft_with_the_definition_places_and_messages(app, original):
    with force_locale("en"):
        copy = services.duplicate_campaign(original, now=NOW)
    db.session.expire_all()
    copy = db.session.get(Campaign, copy.id)
    assert copy.id != original.id and copy.organization_id == original.organization_id
    assert copy.status == "draft" and copy.name == "Copy of " + original.name
    assert copy.created_at == NOW
    for column in DEFINITION:
        assert getattr(copy, column) == getattr(original, column), column
    place = lambda p: (p.country, p.state_code, p.municipality, p.target_population)  # noqa: E731
    assert [place(p) for p in copy.places] == [place(p) for p in original.places]
    assert len(copy.places) == 2
    message = lambda m: (m.label, m.body_es, m.body_en, m.organization_id)  # noqa: E731
    assert [message(m) for m in copy.messages] == [message(m) for m in original.messages]
    assert len(copy.messages) == 2
    assert {m.id for m in copy.messages}.isdisjoint({m.id for m in original.messages})


def test_copy_takes_nothing_that_happened(app, original):
    copy = services.duplicate_campaign(original, now=NOW)
    assert count(OutreachSend, campaign_id=copy.id) == 0
    assert count(CampaignEnrollment, campaign_id=copy.id) == 0
    assert count(OutboxMessage, campaign_id=copy.id) == 0
    assert count(InboundMessage, campaign_id=copy.id) == 0
    # ...and the original keeps all of it.
    assert count(OutreachSend, campaign_id=original.id) == 1
    assert count(OutboxMessage, campaign_id=original.id) == 2
    assert count(CampaignPlace, campaign_id=original.id) == 2
    assert count(CampaignMessage, campaign_id=original.id) == 2


def test_copy_name_is_translated_numbered_and_fits(app, create_campaign):
    campaign = create_campaign(name="Sin Fentanilo")
    with force_locale("es"):
        assert services.duplicate_campaign(campaign, now=NOW).name == "Copia de Sin Fentanilo"
        assert services.duplicate_campaign(campaign, now=NOW).name == "Copia de Sin Fentanilo (2)"
    with force_locale("en"):
        assert services.duplicate_campaign(campaign, now=NOW).name == "Copy of Sin Fentanilo"
    long = create_campaign(name="Campaña " + "x" * 112)
    with force_locale("es"):
        names = [services.duplicate_campaign(long, now=NOW).name for _ in range(2)]
    assert all(len(name) <= 120 for name in names)
    assert names[0].startswith("Copia de Campaña xxx") and names[1].endswith("x (2)")
    assert len(set(names)) == 2


def test_an_archived_campaign_can_be_duplicated(app, create_campaign, add_message):
    campaign = create_campaign(status="archived")
    copy = services.duplicate_campaign(campaign, now=NOW)
    assert copy.status == "draft" and campaign.status == "archived"


# --- The page --------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, login, coordinator):
    login(coordinator)
    return coordinator


def test_duplicate_button_posts_and_redirects_to_the_copy(client, signed_in, original):
    page = client.get(f"/campaigns/{original.id}")
    html = page.get_data(as_text=True)
    assert f'action="/campaigns/{original.id}/duplicate"' in html
    response = client.post(
        f"/campaigns/{original.id}/duplicate", data={"csrf_token": csrf_token_from(page)}
    )
    copy = db.session.scalars(select(Campaign).where(Campaign.id != original.id)).one()
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/campaigns/{copy.id}")
    landed = text(client.get(response.headers["Location"]))
    assert f"Campaign duplicated as the draft “Copy of {original.name}”" in landed
    assert copy.status == "draft" and len(copy.messages) == 2


def test_duplicate_in_spanish(client, login, make_user, org, original):
    login(make_user(org, role="coordinator", language="es"))
    page = client.get(f"/campaigns/{original.id}")
    response = client.post(
        f"/campaigns/{original.id}/duplicate",
        data={"csrf_token": csrf_token_from(page)},
        follow_redirects=True,
    )
    assert f"Campaña duplicada como el borrador “Copia de {original.name}”" in text(response)
    assert "Duplicar" in text(page)


def test_duplicate_needs_post_and_csrf(client, signed_in, original):
    assert client.get(f"/campaigns/{original.id}/duplicate").status_code == 405
    assert client.post(f"/campaigns/{original.id}/duplicate").status_code == 400
    assert count(Campaign) == 1


def test_another_organizations_campaign_is_404(client, signed_in, make_org, create_campaign):
    foreign = create_campaign(organization=make_org(name="Otra A.C."))
    page = client.get("/campaigns/new")
    response = client.post(
        f"/campaigns/{foreign.id}/duplicate", data={"csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 404
    assert count(Campaign) == 1


def test_evaluators_cannot_duplicate(client, login, make_user, org, original):
    login(make_user(org, role="evaluator", language="en"))
    csrf = csrf_token_from(client.get("/account/password"))
    response = client.post(f"/campaigns/{original.id}/duplicate", data={"csrf_token": csrf})
    assert response.status_code == 403
    assert count(Campaign) == 1


def test_signed_out_visitors_are_sent_to_login(client, original):
    response = client.post(f"/campaigns/{original.id}/duplicate")
    assert response.status_code in (302, 400)
    assert count(Campaign) == 1
