"""The message editor: links must lead to the organization's allowed hosts; the counter
counts the short link; the carriers' warning; the organization's allow-list setting."""

import html
import re

import pytest
from sqlalchemy import func, select

from app.campaigns import services
from app.campaigns.models import CampaignMessage
from app.errors import DomainError
from app.extensions import db
from app.organizations.models import Organization
from tests.factories import make_campaign, message_values
from tests.support import csrf_token_from

WARNING = "Mexican carriers often block SMS with links sent from Mexican numbers"


@pytest.fixture
def org(make_org):
    org = make_org()
    org.link_hosts = "allowed.org\n*.salud.gob.mx"
    db.session.commit()
    return org


def messages() -> int:
    return db.session.scalar(select(func.count()).select_from(CampaignMessage))


def add(campaign, **overrides):
    return services.add_message(campaign, **message_values(**overrides))


def test_a_link_to_an_allowed_host_is_saved(app, org):
    campaign = make_campaign(org)
    message = add(campaign, body_es="Infórmate en {link:https://www.salud.gob.mx/fentanilo}")
    assert message.body_es == "Infórmate en {link:https://www.salud.gob.mx/fentanilo}"
    assert message.track_links is False


@pytest.mark.parametrize(
    "body, expected",
    [
        ("Mira {link:https://evil.com/?x=allowed.org}", "evil.com is not on your organization's"),
        ("Mira {link:https://allowed.org.evil.com/a}", "allowed.org.evil.com is not on your"),
        ("Mira {link:https://allowed.org@evil.com/}", "contains a user name or password"),
        ("Mira {link:allowed.org/info}", "is not a full web address: it must start with https://"),
        ("Mira {link:https://www.allowed.org/}", "www.allowed.org is not on your"),
    ],
)
def test_a_link_elsewhere_is_refused_and_nothing_saved(app, org, body, expected):
    campaign = make_campaign(org)
    with pytest.raises(DomainError) as refused:
        add(campaign, body_es=body)
    assert refused.value.field == "body_es"
    assert expected in str(refused.value.message)
    db.session.rollback()
    assert messages() == 0


def test_plain_addresses_are_checked_only_when_tracked(app, org):
    campaign = make_campaign(org)
    body = "Más info: https://evil.com/info."
    assert add(campaign, body_es=body).track_links is False  # sent as written, not tracked
    with pytest.raises(DomainError) as refused:
        add(campaign, label="Otra", body_en=body, track_links=True)
    assert refused.value.field == "body_en"
    db.session.rollback()
    tracked = add(campaign, label="Sí", body_es="Más: https://allowed.org/info.", track_links=True)
    assert tracked.track_links is True


def test_without_an_allow_list_no_link_can_be_saved(app, make_org):
    campaign = make_campaign(make_org())
    with pytest.raises(DomainError) as refused:
        add(campaign, body_es="{link:https://allowed.org/}")
    assert "allows no link destinations yet" in str(refused.value.message)


def test_another_organizations_allow_list_does_not_count(app, org, make_org):
    other = make_org()
    with pytest.raises(DomainError):
        add(make_campaign(other), body_es="{link:https://allowed.org/}")


def test_update_keeps_the_tracking_choice_unless_given(app, org):
    message = add(make_campaign(org), body_es="https://allowed.org/a", track_links=True)
    services.update_message(message, **message_values(body_es="https://allowed.org/b"))
    assert message.track_links is True
    services.update_message(message, **message_values(), track_links=False)
    assert message.track_links is False


def test_duplicating_a_campaign_keeps_the_choice(app, org):
    campaign = make_campaign(org)
    add(campaign, body_es="https://allowed.org/a", track_links=True)
    copy = services.duplicate_campaign(campaign, now=campaign.created_at)
    assert [m.track_links for m in copy.messages] == [True]


def test_the_summary_counts_the_short_link(app, org):
    long_url = "https://allowed.org/" + "x" * 200
    summary = services.summarize_body(
        f"Mira {{link:{long_url}}}", language="es", values={}, footer=""
    )
    assert summary.rendered == "Mira https://alcance.example.org/l/aB3xK9pQ"
    assert summary.info.segments == 1
    plain = services.summarize_body(f"Mira {long_url}", language="es", values={}, track_links=True)
    assert plain.rendered == summary.rendered


# --- the editor page ---------------------------------------------------------------------


@pytest.fixture
def coordinator(make_user, org):
    return make_user(org, role="coordinator", language="en")


def post(client, url, **changes):
    data = {
        "csrf_token": csrf_token_from(client.get(url)),
        "label": "Semana 1",
        "body_es": "Hola {first_name}, ¿sabes qué es el fentanilo?",
        "body_en": "Hi {first_name}, do you know what fentanyl is?",
        "submit": "Save message",
        **changes,
    }
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def test_the_editor_refuses_a_link_elsewhere_with_a_clear_error(client, login, org, coordinator):
    login(coordinator)
    campaign = make_campaign(org)
    url = f"/campaigns/{campaign.id}/messages/new"
    response = post(client, url, body_es="Mira {link:https://evil.com/a}")
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "evil.com is not on your organization's list of hosts links may lead to" in page
    assert messages() == 0


def test_the_editor_warns_about_carriers_and_counts_the_short_link(client, login, org, coordinator):
    login(coordinator)
    campaign = make_campaign(org)
    url = f"/campaigns/{campaign.id}/messages/new"
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert WARNING in page  # the placeholders' help says it too
    assert "data-sms-track-links" in page
    data = re.search(r"data-preview='([^']*)'", client.get(url).get_data(as_text=True)).group(1)
    assert '"shortLink": "https://alcance.example.org/l/aB3xK9pQ"' in html.unescape(data)
    response = post(
        client,
        url,
        submit=None,
        preview="Preview",
        body_es="Mira https://allowed.org/" + "x" * 300,
        track_links="y",
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "data-link-note" in page
    assert "Mira https://alcance.example.org/l/aB3xK9pQ" in page
    response = post(client, url, body_en="See {link:https://allowed.org/info}", track_links="y")
    assert response.status_code == 302
    assert db.session.scalars(select(CampaignMessage)).one().track_links is True


def test_admins_set_the_allow_list_and_the_expiry(client, login, make_user, make_org):
    org = make_org()
    login(make_user(org, role="admin", language="en"))
    page = client.get("/organization/settings")
    form = {
        "csrf_token": csrf_token_from(page),
        "name": org.name,
        "timezone": org.timezone,
        "default_language": "es",
        "quiet_start": "08:00",
        "quiet_end": "21:00",
        "cap_messages": "3",
        "cap_days": "7",
        "opt_out_notice": "first",
        "small_cell_threshold": "5",
        "case_ack_minutes": "15",
        "referral_follow_up_days": "3",
        "link_expiry_days": "30",
    }
    bad = client.post("/organization/settings", data={**form, "link_hosts": "https://x.org/a"})
    assert bad.status_code == 400
    assert "Not a host name: https://x.org/a" in html.unescape(bad.get_data(as_text=True))
    good = client.post(
        "/organization/settings", data={**form, "link_hosts": "Allowed.org\r\n*.münchen.de"}
    )
    assert good.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Organization, org.id)
    assert (saved.link_hosts, saved.link_expiry_days) == ("allowed.org\n*.xn--mnchen-3ya.de", 30)
