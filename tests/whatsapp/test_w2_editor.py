"""The campaign message editor (issue 19): only approved WhatsApp templates can be picked,
the choice is saved on the message, and the page counts how the organization's contacts
would get the message now (WhatsApp free text, template, SMS, SMS instead of WhatsApp, on
hold), with why."""

import re
from datetime import timedelta
from html import unescape

import pytest

from app.campaigns import services
from app.errors import DomainError
from app.extensions import db
from app.outbox import channel_plan
from app.timeutil import utcnow
from tests.factories import make_campaign, make_contact, make_message, make_whatsapp_template
from tests.support import csrf_token_from, log_in


@pytest.fixture
def world(make_org, make_user):
    org = make_org()
    user = make_user(org, language="en")
    campaign = make_campaign(org)
    make_whatsapp_template(org, name="aviso", status="approved", content_sid="HX" + "1" * 32)
    make_whatsapp_template(org, name="pendiente", status="pending", content_sid="HX" + "2" * 32)
    return org, user, campaign


def test_only_approved_templates_can_be_picked(app, world):
    org, _, campaign = world
    assert channel_plan.template_catalog(org.id) == {"aviso": frozenset({"es"})}
    message = services.add_message(
        campaign, label="A", body_es="Hola", body_en="Hi", whatsapp_template="aviso"
    )
    assert message.whatsapp_template_name == "aviso"
    with pytest.raises(DomainError):
        services.update_message(
            message, label="A", body_es="Hola", body_en="Hi", whatsapp_template="pendiente"
        )
    db.session.rollback()
    services.update_message(message, label="B", body_es="Hola", body_en="Hi")  # kept
    assert message.whatsapp_template_name == "aviso"
    services.update_message(message, label="B", body_es="Hola", body_en="Hi", whatsapp_template="")
    assert message.whatsapp_template_name is None


def test_template_of_another_organization_is_refused(app, world, make_org):
    _, _, campaign = world
    other = make_org()
    make_whatsapp_template(other, name="ajena", status="approved", content_sid="HX" + "3" * 32)
    with pytest.raises(DomainError):
        services.add_message(
            campaign, label="A", body_es="Hola", body_en="Hi", whatsapp_template="ajena"
        )


def page_text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).split())


def test_editor_picks_a_template_and_counts_the_ways(app, client, world):
    org, user, campaign = world
    now = utcnow()
    opted_in = dict(preferred_channel="whatsapp", whatsapp_opt_in_at=now - timedelta(days=30))
    make_contact(org, **opted_in, last_whatsapp_in_at=now - timedelta(hours=2))  # free text
    make_contact(org, **opted_in)  # template (es)
    make_contact(org, **opted_in, language="en")  # no English template: SMS (the rule)
    make_contact(org, preferred_channel="whatsapp")  # no WhatsApp opt-in: SMS instead
    make_contact(org)
    make_contact(org)  # SMS
    message = make_message(campaign)
    log_in(client, user)
    url = f"/campaigns/{campaign.id}/messages/{message.id}/edit"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert '<option value="aviso">aviso (es)</option>' in html
    assert "pendiente" not in html
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(page),
            "label": message.label,
            "body_es": message.body_es,
            "body_en": message.body_en,
            "whatsapp_template": "aviso",
            "submit": "Save message",
        },
    )
    assert response.status_code == 302
    db.session.refresh(message)
    assert message.whatsapp_template_name == "aviso"
    text = page_text(client.get(url))
    assert "If this message went to all your contacts now" in text
    for count, label in (
        (1, "WhatsApp, free text"),
        (1, "WhatsApp, approved template"),
        (2, "SMS: they prefer SMS"),
        (1, "SMS instead of WhatsApp: they prefer WhatsApp but have not opted in"),
        (1, "SMS instead of WhatsApp: no approved template in their language"),
    ):
        assert f"{count} {label}" in text, label
    org.whatsapp_no_template = "hold"
    db.session.commit()
    assert "1 On hold: no approved template in their language" in page_text(client.get(url))


def test_forecast_matches_what_preparation_decides(app, world):
    """The counts use the same rules as the send path (channel_plan.plan)."""
    org, _, campaign = world
    now = utcnow()
    opted_in = dict(preferred_channel="whatsapp", whatsapp_opt_in_at=now - timedelta(days=30))
    contacts = [
        make_contact(org, **opted_in, last_whatsapp_in_at=now - timedelta(hours=23, minutes=59)),
        make_contact(org, **opted_in, last_whatsapp_in_at=now - timedelta(hours=24, minutes=1)),
        make_contact(org, **opted_in, whatsapp_unreachable_at=now),
        make_contact(org),
    ]
    ways = {w.way: w.count for w in services.whatsapp_forecast(campaign, "aviso", now=now)}
    assert ways == {"free_form": 1, "template": 1, "sms_fallback": 1, "sms": 1}
    planned = [
        channel_plan.plan(_Row(), c, org, now, _Choice() if i == 1 else None).why
        for i, c in enumerate(contacts)
    ]
    assert planned == ["free_form", "template", "sms", "sms"]  # unreachable: channel_for sms


class _Row:
    fallback_of_id = None
    purpose = "campaign"
    channel = "sms"
    whatsapp_form = None


class _Choice(channel_plan.TemplateChoice):
    def __init__(self):
        super().__init__("HX" + "1" * 32, {"1": "Ana"})
