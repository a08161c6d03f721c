"""Campaign pages: forms and errors, status buttons, message editor, isolation, permissions."""

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from app.campaigns.models import Campaign, CampaignMessage
from app.extensions import db
from tests.campaigns.helpers import UCS2_QUESTION, outbox_statuses, spanish
from tests.factories import make_outbox
from tests.support import csrf_token_from


def text(response) -> str:
    """The page's text, unescaped, whitespace collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).split())


def token(client) -> str:
    return csrf_token_from(client.get("/campaigns/new"))


CAMPAIGN_FORM = {
    "name": "Vapeo: la verdad",
    "description": "Secundarias de Mérida.",
    "objectives": "Bajar la intención de vapear.",
    "topic": "tobacco_vaping",
    "strategy": "education",
    "level": "selective",
    "target_age_min": "12",
    "target_age_max": "15",
    "target_population": "3000",
    "start_date": "2026-04-01",
    "end_date": "2026-07-15",
    "default_language": "es",
    "places-0-state": "MX:31",
    "places-0-municipality": "Mérida",
    "places-0-target_population": "2500",
    "places-1-state": "MX:04",
    "places-1-municipality": "",
    "places-1-target_population": "",
    "places-2-state": "",
    "places-2-municipality": "",
    "places-2-target_population": "",
}


def post_campaign(client, url="/campaigns/new", **changes):
    data = {**CAMPAIGN_FORM, "csrf_token": token(client), "submit": "Save campaign", **changes}
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def count_campaigns() -> int:
    return db.session.scalar(select(func.count()).select_from(Campaign))


@pytest.fixture
def signed_in(client, login, coordinator):
    login(coordinator)
    return coordinator


# --- List, create, edit -------------------------------------------------------------------


def test_index_lists_campaigns_with_status_topic_dates_and_message_count(
    client, signed_in, create_campaign, add_message
):
    active = create_campaign(status="active")
    add_message(active)
    add_message(active, label="Semana 2")
    create_campaign(name="Archivada", status="archived")
    page = text(client.get("/campaigns/"))
    assert "Fentanilo: lo que no te dicen Active Fentanyl Mar 1, 2026 to Jun 30, 2026 2" in page
    assert "Archivada" not in page and "Archived (1)" in page  # filters: see test_i14_list
    assert "Archivada" in text(client.get("/campaigns/?status=archived"))


def test_nav_shows_campaigns_to_coordinators(client, signed_in):
    assert 'href="/campaigns/"' in client.get("/campaigns/").get_data(as_text=True)


def test_create_campaign_with_places(client, signed_in):
    response = post_campaign(client)
    assert response.status_code == 302
    campaign = db.session.scalars(select(Campaign)).one()
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    assert (campaign.organization_id, campaign.status, campaign.level) == (
        signed_in.organization_id,
        "draft",
        "selective",
    )
    assert [
        (p.country, p.state_code, p.municipality, p.target_population) for p in campaign.places
    ] == [("MX", "31", "Mérida", 2500), ("MX", "04", None, None)]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, "This field is required."),
        ({"topic": ""}, "This field is required."),
        ({"target_age_min": "abc"}, "Not a valid integer value."),
        ({"target_age_min": "8"}, "Ages must be between 10 and 35."),
        (
            {"target_age_min": "20", "target_age_max": "16"},
            "The minimum age cannot be above the maximum age.",
        ),
        ({"target_population": "-3"}, "The target population cannot be negative."),
        ({"end_date": "2026-03-01"}, "The end date cannot be before the start date."),
        ({"start_date": "mañana"}, "Not a valid date value."),
        ({"strategy": "scare_tactics"}, "Not a valid choice."),
        ({"places-0-state": "MX:99"}, "Not a valid choice."),
        (
            {"places-1-state": "MX:31", "places-1-municipality": "Mérida"},
            "Place 2 is listed twice.",
        ),
        (
            {"places-1-target_population": "-1"},
            "Place 2: the target population cannot be negative.",
        ),
        ({"places-2-municipality": "Progreso"}, "Choose a state, or clear the row."),
        ({"places-2-target_population": "muchos"}, "Not a valid integer value."),
    ],
)
def test_bad_campaign_input_is_refused_and_nothing_created(client, signed_in, changes, message):
    response = post_campaign(client, **changes)
    assert response.status_code == 400
    assert message in text(response)
    assert count_campaigns() == 0


def test_spanish_errors(client, signed_in):
    client.get("/campaigns/?lang=es")
    response = post_campaign(client, name="")
    assert response.status_code == 400 and "Este campo es obligatorio" in text(response)
    expected = spanish("The end date cannot be before the start date.")
    response = post_campaign(client, end_date="2026-01-01")
    assert expected in text(response)


def test_add_more_place_rows_saves_nothing(client, signed_in):
    response = post_campaign(client, submit=None, more_places="Add more place rows")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="places-5-state"' in html and 'name="places-6-state"' not in html
    assert 'value="Mérida"' in html  # what was typed is kept
    assert count_campaigns() == 0


def test_new_form_offers_three_place_rows_and_defaults(client, signed_in):
    html = client.get("/campaigns/new").get_data(as_text=True)
    assert 'name="places-2-state"' in html and 'name="places-3-state"' not in html
    assert re.search(r'name="target_age_min"[^>]*value="12"', html)
    assert '<optgroup label="United States">' in html


def test_edit_campaign(client, signed_in, create_campaign):
    campaign = create_campaign()
    page = client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="Tijuana"' in page and '<option selected value="US:CA">' in page
    response = post_campaign(
        client, f"/campaigns/{campaign.id}/edit", name="Nuevo nombre", **{"places-1-state": ""}
    )
    assert response.status_code == 302
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.name == "Nuevo nombre"
    assert [p.state_code for p in campaign.places] == ["31"]


def test_edit_with_bad_input_changes_nothing(client, signed_in, create_campaign):
    campaign = create_campaign()
    response = post_campaign(
        client, f"/campaigns/{campaign.id}/edit", name="Otro", target_age_max="40"
    )
    assert response.status_code == 400 and "Ages must be between 10 and 35." in text(response)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).name == "Fentanilo: lo que no te dicen"


def test_archived_campaign_cannot_be_edited(client, signed_in, create_campaign):
    campaign = create_campaign(status="archived")
    response = client.get(f"/campaigns/{campaign.id}/edit", follow_redirects=True)
    assert "An archived campaign cannot be changed." in text(response)
    assert "Edit campaign" not in text(client.get(f"/campaigns/{campaign.id}"))


# --- Detail and status --------------------------------------------------------------------


def test_detail_shows_translated_labels_places_and_messages(
    client, signed_in, create_campaign, add_message
):
    campaign = create_campaign()
    add_message(campaign, body_es=UCS2_QUESTION)
    page = text(client.get(f"/campaigns/{campaign.id}"))
    for expected in (
        "Draft",
        "Fentanyl",
        "Information dissemination",
        "Universal",
        "15 to 24 years",
        "5,000",
        "Baja California Tijuana Mexico 4,000",
        "California San Diego United States 1,000",
        "Sum of the places 5,000",
        "Spanish",
        UCS2_QUESTION,
        "Semana 1",
    ):
        assert expected in page, expected
    # The server-side summary of the accented Spanish question.
    assert "64 characters · 1 SMS · UCS-2 (Unicode, shorter SMS)" in page
    assert "Characters outside GSM-7: á í." in page
    # The English text, with the sample name, is plain GSM-7.
    assert "GSM-7 (standard)" in page


def test_detail_shows_only_legal_transitions(client, signed_in, create_campaign):
    campaign = create_campaign(status="paused")
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    buttons = re.findall(r'name="to" value="(\w+)"', html)
    assert buttons == ["active", "completed"]
    assert ">Resume campaign<" in html and ">Complete campaign<" in html
    assert ">Pause campaign<" not in html
    assert 'data-confirm="Complete this campaign? Every pending message will be canceled."' in html


def test_schedule_link_only_when_the_outreach_page_exists(
    app, client, signed_in, create_campaign, add_message
):
    campaign = create_campaign(status="active")
    add_message(campaign)
    if "outreach.new_send" not in app.view_functions:
        assert ">Schedule<" not in client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
        app.view_functions["outreach.new_send"] = lambda campaign_id: ""
        app.url_map.add(
            app.url_rule_class("/_test/sends/<int:campaign_id>", endpoint="outreach.new_send")
        )
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert re.search(r'href="[^"]*">Schedule<', html)


def test_pause_resume_complete_through_the_page(client, signed_in, create_campaign, add_message):
    campaign = create_campaign(status="active")
    make_outbox(add_message(campaign), ["scheduled", "scheduled", "sent"])
    url = f"/campaigns/{campaign.id}/status"

    response = client.post(
        url, data={"csrf_token": token(client), "to": "paused"}, follow_redirects=True
    )
    assert "Campaign paused. 2 pending messages are on hold." in text(response)
    assert "Pending messages: 0 scheduled, 2 on hold." in text(response)
    assert outbox_statuses(campaign) == {"held": 2, "sent": 1}

    response = client.post(
        url, data={"csrf_token": token(client), "to": "active"}, follow_redirects=True
    )
    assert "Campaign resumed. 2 held messages are scheduled again." in text(response)

    response = client.post(
        url, data={"csrf_token": token(client), "to": "completed"}, follow_redirects=True
    )
    assert "Campaign completed. 2 pending messages were canceled." in text(response)
    assert outbox_statuses(campaign) == {"canceled": 2, "sent": 1}


def test_illegal_transition_through_the_page(client, signed_in, create_campaign):
    campaign = create_campaign()
    response = client.post(
        f"/campaigns/{campaign.id}/status",
        data={"csrf_token": token(client), "to": "completed"},
        follow_redirects=True,
    )
    assert "A campaign cannot go from “Draft” to “Completed”." in text(response)
    assert db.session.get(Campaign, campaign.id).status == "draft"


def test_status_post_needs_a_known_status_and_csrf(client, signed_in, create_campaign):
    campaign = create_campaign()
    url = f"/campaigns/{campaign.id}/status"
    assert client.post(url, data={"csrf_token": token(client), "to": "gone"}).status_code == 400
    assert client.post(url, data={"to": "active"}).status_code == 400
    assert db.session.get(Campaign, campaign.id).status == "draft"


# --- Message editor -----------------------------------------------------------------------


def post_message(client, url, **changes):
    data = {
        "csrf_token": token(client),
        "label": "Semana 1",
        "body_es": "Hola {first_name}, ¿sabes qué es el fentanilo?",
        "body_en": "Hi {first_name}, do you know what fentanyl is?",
        "submit": "Save message",
        **changes,
    }
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def test_editor_has_live_counters_and_the_opt_out_note(client, signed_in, create_campaign):
    campaign = create_campaign()
    html = client.get(f"/campaigns/{campaign.id}/messages/new").get_data(as_text=True)
    assert "js/sms_counter.js" in html
    for lang in ("es", "en"):
        assert f'data-sms-counter="body_{lang}-count"' in html
        output = re.search(rf'<output id="body_{lang}-count"[^>]*>', html).group(0)
        for attribute in (
            "data-label-chars",
            "data-label-segments",
            "data-label-encoding-gsm",
            "data-label-encoding-ucs2",
            "data-label-warning",
        ):
            assert f'{attribute}="' in output
    assert "The opt-out instruction is added to the first message each contact receives" in html


def test_preview_renders_samples_and_the_ucs2_warning_without_saving(
    client, signed_in, create_campaign
):
    campaign = create_campaign()
    response = post_message(
        client,
        f"/campaigns/{campaign.id}/messages/new",
        submit=None,
        preview="Preview",
        label="",
        body_es="Hola {first_name}, " + UCS2_QUESTION + " " * 40 + "Más en {org}.",
    )
    assert response.status_code == 200
    page = text(response)
    assert "Hola Alex, ¿Sabías que el fentanilo es 50 veces más potente" in page
    assert "Más en Jóvenes Libres A.C." in page
    assert "UCS-2 (Unicode, shorter SMS)" in page
    assert "Characters outside GSM-7: á í ó. This text costs 3 SMS instead of 1." in page
    assert "Hi Alex, do you know what fentanyl is?" in page
    assert db.session.scalar(select(func.count()).select_from(CampaignMessage)) == 0


def test_save_message(client, signed_in, create_campaign):
    campaign = create_campaign()
    response = post_message(client, f"/campaigns/{campaign.id}/messages/new")
    assert response.status_code == 302
    message = db.session.scalars(select(CampaignMessage)).one()
    assert (message.campaign_id, message.label) == (campaign.id, "Semana 1")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"body_es": "a" * 1601}, "The Spanish text has 1601 characters; the limit is 1600"),
        ({"body_en": "b" * 1601}, "The English text has 1601 characters; the limit is 1600"),
        ({"body_es": ""}, "Write the Spanish text."),
        ({"body_es": "Hola {nombre}"}, "Unknown placeholder {nombre}. You can use: {first_name}"),
        ({"label": ""}, "This field is required."),
    ],
)
def test_bad_message_is_refused(client, signed_in, create_campaign, changes, message):
    campaign = create_campaign()
    response = post_message(client, f"/campaigns/{campaign.id}/messages/new", **changes)
    assert response.status_code == 400
    assert message in text(response)
    assert db.session.scalar(select(func.count()).select_from(CampaignMessage)) == 0


def test_failed_save_still_shows_the_summary(client, signed_in, create_campaign):
    campaign = create_campaign()
    response = post_message(
        client, f"/campaigns/{campaign.id}/messages/new", label="", body_es=UCS2_QUESTION
    )
    assert response.status_code == 400
    assert "64 characters · 1 SMS · UCS-2" in text(response)


def test_edit_message_warns_about_rows_with_the_old_text(
    client, signed_in, create_campaign, add_message
):
    campaign = create_campaign(status="active")
    message = add_message(campaign)
    make_outbox(message, ["scheduled"])
    url = f"/campaigns/{campaign.id}/messages/{message.id}/edit"
    assert 'value="Semana 1"' in client.get(url).get_data(as_text=True)
    response = post_message(client, url, body_en="Hi {first_name}!")
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Message saved." in page
    assert "1 message already scheduled keeps the previous text" in page
    assert db.session.get(CampaignMessage, message.id).body_en == "Hi {first_name}!"


def test_messages_of_a_completed_campaign_are_read_only(
    client, signed_in, create_campaign, add_message
):
    campaign = create_campaign()
    message = add_message(campaign)
    campaign.status = "completed"
    db.session.commit()
    response = client.get(f"/campaigns/{campaign.id}/messages/new", follow_redirects=True)
    assert "cannot be changed" in text(response)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f"/messages/{message.id}/edit" not in page and "New message" not in page


def test_delete_message(client, signed_in, create_campaign, add_message):
    campaign = create_campaign()
    message = add_message(campaign)
    response = client.post(
        f"/campaigns/{campaign.id}/messages/{message.id}/delete",
        data={"csrf_token": token(client)},
        follow_redirects=True,
    )
    assert "Message deleted." in text(response)
    assert db.session.get(CampaignMessage, message.id) is None


@pytest.mark.parametrize(
    "statuses, message",
    [
        (["sent"], "This message was already sent, so it is kept in the campaign's history."),
        (["scheduled"], "This message is scheduled to be sent. Cancel its send first"),
    ],
)
def test_delete_message_refused(client, signed_in, create_campaign, add_message, statuses, message):
    campaign = create_campaign(status="active")
    msg = add_message(campaign)
    make_outbox(msg, statuses)
    response = client.post(
        f"/campaigns/{campaign.id}/messages/{msg.id}/delete",
        data={"csrf_token": token(client)},
        follow_redirects=True,
    )
    assert message in text(response)
    assert db.session.get(CampaignMessage, msg.id) is not None


def test_message_of_another_campaign_is_404(client, signed_in, create_campaign, add_message):
    first, second = create_campaign(), create_campaign(name="Otra")
    message = add_message(second)
    assert client.get(f"/campaigns/{first.id}/messages/{message.id}/edit").status_code == 404
    response = client.post(
        f"/campaigns/{first.id}/messages/{message.id}/delete", data={"csrf_token": token(client)}
    )
    assert response.status_code == 404
    assert db.session.get(CampaignMessage, message.id) is not None


# --- Isolation and permissions ------------------------------------------------------------


def routes(campaign_id, message_id):
    c, m = campaign_id, message_id
    return [
        ("GET", f"/campaigns/{c}"),
        ("GET", f"/campaigns/{c}/edit"),
        ("POST", f"/campaigns/{c}/edit"),
        ("POST", f"/campaigns/{c}/status"),
        ("GET", f"/campaigns/{c}/messages/new"),
        ("POST", f"/campaigns/{c}/messages/new"),
        ("GET", f"/campaigns/{c}/messages/{m}/edit"),
        ("POST", f"/campaigns/{c}/messages/{m}/edit"),
        ("POST", f"/campaigns/{c}/messages/{m}/delete"),
    ]


@pytest.fixture
def foreign(make_org, create_campaign, add_message):
    """A campaign and message of another organization."""
    campaign = create_campaign(organization=make_org(), status="active")
    return campaign, add_message(campaign)


def test_other_organizations_campaigns_are_404_everywhere(client, signed_in, foreign):
    campaign, message = foreign
    csrf = token(client)
    for method, url in routes(campaign.id, message.id):
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(
                url,
                data={
                    **CAMPAIGN_FORM,
                    "csrf_token": csrf,
                    "to": "paused",
                    "label": "x",
                    "body_es": "x",
                    "body_en": "x",
                    "submit": "Save",
                },
            )
        assert response.status_code == 404, (method, url)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "active"
    assert db.session.get(CampaignMessage, message.id).body_es.startswith("Hola")
    assert "Fentanilo" not in text(client.get("/campaigns/"))


def test_evaluators_get_403_everywhere(client, login, make_user, org, create_campaign, add_message):
    campaign = create_campaign()
    message = add_message(campaign)
    login(make_user(org, role="evaluator", language="en"))
    csrf = csrf_token_from(client.get("/account/password"))
    urls = [
        ("GET", "/campaigns/"),
        ("GET", "/campaigns/new"),
        ("POST", "/campaigns/new"),
        *routes(campaign.id, message.id),
    ]
    for method, url in urls:
        response = (
            client.get(url)
            if method == "GET"
            else client.post(url, data={"csrf_token": csrf, "to": "active"})
        )
        assert response.status_code == 403, (method, url)
    assert db.session.get(Campaign, campaign.id).status == "draft"
    assert 'href="/campaigns/"' not in client.get("/account/password").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_login(client, create_campaign):
    campaign = create_campaign()
    for url in ("/campaigns/", f"/campaigns/{campaign.id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
