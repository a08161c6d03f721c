"""GET/HEAD /l/<code>: a 302 to the allowed destination that sets nothing on the device;
previews are not clicks; the first click is one participation event; friendly pages."""

import html
from datetime import timedelta

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from app.contacts.models import Contact
from app.extensions import db
from app.links.models import TrackedLink
from app.participation.models import ParticipationEvent
from tests.factories import (
    make_campaign,
    make_contact,
    make_message,
    make_outbox_row,
    make_tracked_link,
)
from tests.support import NOW

BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)


def sent_link(org, *, sent_ago=timedelta(hours=1), language="es", status="sent", **overrides):
    """A link in a message sent `sent_ago` (None: not handed to the provider yet)."""
    campaign = make_campaign(org)
    message = make_message(campaign)
    contact = make_contact(org, language=language)
    moment = None if sent_ago is None else NOW - sent_ago
    row = make_outbox_row(
        contact,
        campaign_id=campaign.id,
        message_id=message.id,
        status=status,
        send_started_at=moment,
        sent_at=moment,
        final_at=overrides.pop("final_at", None),
    )
    values = dict(outbox_id=row.id, campaign_id=campaign.id, message_id=message.id)
    return make_tracked_link(contact, **{**values, **overrides})


@pytest.fixture
def org(make_org):
    org = make_org()
    org.link_hosts = "example.org"
    db.session.commit()
    return org


def visit(client, link, *, method="GET", agent=BROWSER, **headers):
    code = link if isinstance(link, str) else link.code
    return client.open(f"/l/{code}", method=method, headers={"User-Agent": agent, **headers})


def state(link) -> tuple:
    db.session.expire_all()
    row = db.session.get(TrackedLink, link.id)
    return row.clicks, row.previews, row.first_click_at is not None


def clicked_events() -> list[ParticipationEvent]:
    db.session.expire_all()
    query = select(ParticipationEvent).where(ParticipationEvent.kind == "clicked")
    return list(db.session.scalars(query))


def assert_nothing_stored(response):
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_click_redirects_and_sets_nothing(client, org):
    link = sent_link(org)
    response = visit(client, link)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.org/info"
    assert_nothing_stored(response)
    assert state(link) == (1, 0, True)
    (event,) = clicked_events()
    assert (event.organization_id, event.contact_id, event.campaign_id, event.message_id) == (
        org.id,
        link.contact_id,
        link.campaign_id,
        link.message_id,
    )
    assert (event.channel, event.outbox_id) == ("web", link.outbox_id)


def test_no_cookie_even_for_a_signed_in_browser(client, org, make_user, login):
    link = sent_link(org)
    login(make_user(org))
    response = visit(client, link.code + "?lang=en")
    assert response.status_code == 302
    assert_nothing_stored(response)
    assert visit(client, "zzzzzzzz?lang=en").headers.get("Set-Cookie") is None


def test_more_clicks_count_but_the_event_is_once(client, org):
    link = sent_link(org)
    for _ in range(3):
        assert visit(client, link).status_code == 302
    assert state(link) == (3, 0, True)
    assert len(clicked_events()) == 1


def test_two_links_of_one_message_are_one_event(client, org):
    first = sent_link(org)
    second = make_tracked_link(
        db.session.get(Contact, first.contact_id),
        outbox_id=first.outbox_id,
        campaign_id=first.campaign_id,
        message_id=first.message_id,
        destination="https://example.org/otra",
    )
    assert visit(client, first).status_code == visit(client, second).status_code == 302
    assert state(first)[0] == state(second)[0] == 1
    assert len(clicked_events()) == 1


def test_a_link_of_no_known_message_still_records_its_click(client, org):
    link = make_tracked_link(make_contact(org))  # no outbox row, no campaign message
    assert visit(client, link).status_code == 302
    assert state(link) == (1, 0, True)
    (event,) = clicked_events()
    assert (event.contact_id, event.message_id, event.outbox_id) == (link.contact_id, None, None)


def test_head_is_a_preview(client, org):
    link = sent_link(org)
    response = visit(client, link, method="HEAD")
    assert response.status_code == 302
    assert_nothing_stored(response)
    assert state(link) == (0, 1, False)
    assert clicked_events() == []


@pytest.mark.parametrize(
    "agent",
    [
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage's preview
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "TelegramBot (like TwitterBot)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "",
    ],
)
def test_bots_and_scripts_are_previews(client, org, agent):
    link = sent_link(org)
    assert visit(client, link, agent=agent).status_code == 302
    assert state(link) == (0, 1, False)
    assert clicked_events() == []


@pytest.mark.parametrize(
    "overrides",
    [
        dict(sent_ago=timedelta(seconds=1)),  # a carrier's scanner as the SMS arrives
        dict(sent_ago=None, status="claimed"),  # the provider call has not returned yet
        dict(status="delivered", final_at=NOW - timedelta(seconds=2)),  # at the delivery report
    ],
)
def test_a_fetch_within_seconds_of_sending_or_delivery_is_a_preview(client, org, overrides):
    link = sent_link(org, **overrides)
    assert visit(client, link).status_code == 302
    assert state(link) == (0, 1, False)


def test_a_click_seconds_later_is_a_click(client, org):
    link = sent_link(org, sent_ago=timedelta(seconds=10))
    visit(client, link)
    assert state(link) == (1, 0, True)


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def expect(language: str, msgid: str) -> str:
    with force_locale({"es": "es_MX", "en": "en_US"}[language]):
        return gettext(msgid)


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("code", ["Zz9Zz9Zz", "abc!", "a" * 40])
def test_an_unknown_code_is_a_friendly_404(client, org, language, code):
    response = visit(client, code, **{"Accept-Language": language})
    assert response.status_code == 404
    assert_nothing_stored(response)
    text = page(response)
    assert f'<html lang="{"en-US" if language == "en" else "es-MX"}">' in text
    assert expect(language, "This link does not work") in text
    assert 'class="site-header' not in text and "<nav" not in text  # no app chrome


@pytest.mark.parametrize("language", ["es", "en"])
def test_an_expired_link_shows_a_page_in_the_recipients_language(client, org, language):
    link = sent_link(org, language=language, expires_at=NOW - timedelta(minutes=1))
    other = "en" if language == "es" else "es"
    response = visit(client, link, **{"Accept-Language": other})  # the contact's wins
    assert response.status_code == 410
    assert_nothing_stored(response)
    text = page(response)
    assert f'<html lang="{"en-US" if language == "en" else "es-MX"}">' in text
    assert expect(language, "This link has expired") in text
    assert "example.org" not in text
    assert state(link) == (0, 0, False)


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_host_taken_off_the_allow_list_is_not_followed(client, org, language):
    link = sent_link(org, language=language)
    org.link_hosts = "other.org"
    db.session.commit()
    response = visit(client, link)
    assert response.status_code == 410
    assert "Location" not in response.headers
    text = page(response)
    assert expect(language, "This link is no longer available") in text
    assert "example.org" not in text
    assert state(link) == (0, 0, False)


def test_a_stored_destination_that_is_not_a_web_address_never_redirects(client, org):
    link = sent_link(org, destination="javascript:alert(1)//example.org")
    assert visit(client, link).status_code == 410


def test_organizations_do_not_share_allow_lists(client, org, make_org):
    other = make_org()
    other.link_hosts = "evil.com"
    db.session.commit()
    link = sent_link(org, destination="https://evil.com/x")
    assert visit(client, link).status_code == 410
    theirs = sent_link(other, destination="https://evil.com/x")
    assert visit(client, theirs).headers["Location"] == "https://evil.com/x"
    (event,) = clicked_events()
    assert event.organization_id == other.id and event.contact_id == theirs.contact_id
