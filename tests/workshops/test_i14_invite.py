"""Issue 14, inviting to a workshop whose campaign has no invitation message: the invite
page says so and offers to write one (bilingual, prefilled with a default that carries the
workshop's date, venue and code), then comes back; unrelated messages are not offered."""

import re

import pytest
from flask_babel import force_locale
from markupsafe import escape
from sqlalchemy import func, select

from app.campaigns.models import CampaignMessage
from app.errors import DomainError
from app.extensions import db
from app.outbox.encoding import is_gsm
from app.workshops import invitation_messages
from tests.factories import make_message, make_workshop
from tests.support import csrf_token_from

UNRELATED = {"label": "Consejo", "body_es": "El fentanilo mata.", "body_en": "Fentanyl kills."}


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(make_user, org, login, client):
    user = make_user(org, role="coordinator")
    login(user)
    client.get("/?lang=en")
    return user


@pytest.fixture
def workshop(org):
    return make_workshop(org, code="4821")  # upcoming, active campaign


def invite_url(workshop) -> str:
    return f"/workshops/{workshop.id}/invite"


def messages() -> int:
    return db.session.scalar(select(func.count()).select_from(CampaignMessage))


def field_value(html: str, name: str) -> str:
    textarea = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    if textarea:
        return textarea[1].strip()
    return re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)[1]


def test_without_an_invitation_the_page_offers_to_write_one(client, coordinator, workshop):
    unrelated = make_message(workshop.campaign, **UNRELATED)
    html = client.get(invite_url(workshop)).get_data(as_text=True)
    assert "This campaign has no invitation message yet" in html
    assert f"/workshops/{workshop.id}/invitation-message" in html
    assert f'value="{unrelated.id}"' not in html and "Consejo" not in html  # not offered
    body_es = field_value(html, "body_es")
    body_en = field_value(html, "body_en")
    for body in (body_es, body_en):
        for placeholder in ("{workshop_date}", "{workshop_venue}", "{workshop_code}"):
            assert placeholder in body
    assert body_es != body_en and "Clave del taller" in body_es
    assert "Workshop code" in body_en
    assert field_value(html, "label") == "Invitation to workshop 4821"


def test_the_spanish_default_is_gsm_7(app):
    for language in ("es", "en"):
        with force_locale(language):
            text = str(invitation_messages.DEFAULT_BODY)
        assert is_gsm(text), (language, text)
    with force_locale("es"):
        assert str(invitation_messages.DEFAULT_BODY).startswith("Hola {first_name}")


def test_writing_it_creates_the_message_and_returns_to_the_invite_page(
    client, coordinator, workshop
):
    page = client.get(invite_url(workshop))
    html = page.get_data(as_text=True)
    response = client.post(
        f"/workshops/{workshop.id}/invitation-message",
        data={
            "csrf_token": csrf_token_from(page),
            "label": field_value(html, "label"),
            "body_es": field_value(html, "body_es"),
            "body_en": field_value(html, "body_en"),
        },
    )
    assert response.status_code == 302
    message = db.session.scalar(select(CampaignMessage))
    assert message.campaign_id == workshop.campaign_id
    assert invitation_messages.is_invitation(message)
    assert response.headers["Location"].endswith(
        f"/workshops/{workshop.id}/invite?message={message.id}"
    )
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invitation message saved." in html
    assert "This campaign has no invitation message yet" not in html
    assert f'<option selected value="{message.id}">' in html


def test_a_text_that_does_not_say_when_or_where_is_refused(client, coordinator, workshop):
    page = client.get(invite_url(workshop))
    response = client.post(
        f"/workshops/{workshop.id}/invitation-message",
        data={"csrf_token": csrf_token_from(page), **UNRELATED},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert str(escape("The Spanish text must say when and where")) in html
    assert messages() == 0


def test_invitation_messages_are_those_that_speak_of_the_workshop(workshop):
    make_message(workshop.campaign, **UNRELATED)
    invite = make_message(
        workshop.campaign, label="Inv", body_es="Te esperamos el {workshop_date}", body_en="Hi"
    )
    # Only the code or the title does not say when or where: not offered, and not
    # accepted when written from the invite page either (one rule for both).
    make_message(workshop.campaign, label="Code", body_es="Clave {workshop_code}", body_en="Hi")
    assert [m.id for m in invitation_messages.invitation_messages(workshop)] == [invite.id]
    with pytest.raises(DomainError):
        invitation_messages.write_invitation_message(
            workshop.campaign, label="x", body_es="Clave {workshop_code}", body_en="{workshop_date}"
        )


def test_the_page_in_spanish(client, coordinator, workshop):
    client.get("/?lang=es")
    html = client.get(invite_url(workshop)).get_data(as_text=True)
    with force_locale("es"):
        from flask_babel import gettext

        assert str(escape(gettext("Write the invitation first"))) in html
        assert gettext("Write the invitation first") != "Write the invitation first"
    assert field_value(html, "label") == "Invitación al taller 4821"


def test_another_organizations_workshop_is_404_and_evaluators_get_403(
    app, client, make_org, make_user, login, org, workshop
):
    path = f"/workshops/{workshop.id}/invitation-message"
    data = {"label": "x", "body_es": "{workshop_date}", "body_en": "{workshop_date}"}
    login(make_user(org, role="evaluator"))
    csrf = csrf_token_from(client.get("/dashboard"))
    assert client.post(path, data={"csrf_token": csrf, **data}).status_code == 403
    other = app.test_client()
    login(make_user(make_org(slug="ong-b"), role="coordinator"), c=other)
    csrf = csrf_token_from(other.get("/dashboard"))
    assert other.post(path, data={"csrf_token": csrf, **data}).status_code == 404
    assert messages() == 0
