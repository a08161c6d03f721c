"""Issue 14: the app shell — the navigation's current section, sign-out in the header, the
phone menu button, the favicon, and the phone simulator's search box."""

import re
from pathlib import Path

import pytest

from app.messaging.simulator import SimulatorGateway
from app.ui import nav_section
from tests.factories import make_campaign, make_contact, make_outbox_row, make_workshop

ROOT = Path(__file__).resolve().parents[2]


def _current(html):
    """{href: aria-current value} of the main navigation's links."""
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    return dict(re.findall(r'<a href="([^"]+)"\s*aria-current="([^"]+)"', nav))


@pytest.mark.parametrize(
    ("endpoint", "section"),
    [
        ("outreach.inbox", "campaigns.index"),
        ("outreach.sends", "campaigns.index"),
        ("outreach.send_detail", "campaigns.index"),
        ("outreach.new_send", "campaigns.index"),
        ("outreach.simulator", "outreach.simulator"),
        ("outreach.simulator_phone", "outreach.simulator"),
        ("audiences.detail", "audiences.index"),
        ("contact_imports.preview", "contacts.index"),
        ("contacts.detail", "contacts.index"),
        ("attendance.roster", "workshops.index"),
        ("workshops.detail", "workshops.index"),
        ("reports.campaign", "reports.index"),
        ("auth.edit_user", "auth.users"),
        ("main.index", "main.index"),
        ("auth.change_password", None),
        ("auth.login", None),
        (None, None),
    ],
)
def test_every_page_maps_to_its_section(endpoint, section):
    assert nav_section(endpoint) == section


def test_outreach_pages_are_campaigns_except_the_simulator(app):
    outreach = [
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint[:9] == "outreach."
    ]
    for endpoint in outreach:
        expected = "outreach.simulator" if "simulator" in endpoint else "campaigns.index"
        assert nav_section(endpoint) == expected, endpoint


def test_inbox_and_sends_highlight_campaigns_not_the_simulator(app, client, login, make_user):
    app.extensions["sms_gateway"] = SimulatorGateway()
    user = make_user(role="coordinator")
    campaign = make_campaign(user.organization)
    login(user)
    for path in (f"/campaigns/{campaign.id}/inbox", f"/campaigns/{campaign.id}/sends"):
        html = client.get(path + "?lang=en").get_data(as_text=True)
        assert 'href="/simulator"' in html
        assert _current(html) == {"/campaigns/": "true"}, path
    assert _current(client.get("/campaigns/").get_data(as_text=True)) == {"/campaigns/": "page"}
    assert _current(client.get("/simulator").get_data(as_text=True)) == {"/simulator": "page"}
    assert _current(client.get("/dashboard").get_data(as_text=True)) == {"/dashboard": "page"}
    workshop = make_workshop(user.organization)
    roster = client.get(f"/workshops/{workshop.id}/attendance").get_data(as_text=True)
    assert _current(roster) == {"/workshops/": "true"}
    assert _current(client.get("/account/password").get_data(as_text=True)) == {}


def test_sign_out_is_a_visible_header_button(client, login, make_user):
    login(make_user(role="evaluator"))
    html = client.get("/dashboard?lang=en").get_data(as_text=True)
    header = re.search(r"<header.*?</header>", html, re.S).group(0)
    assert "<details" not in header
    form = re.search(r'<form[^>]*action="/logout".*?</form>', header, re.S).group(0)
    assert re.search(r'<button type="submit"[^>]*>Sign out</button>', form)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard").status_code == 302  # signed out


def test_phone_menu_button_controls_the_menu(client, login, make_user):
    login(make_user(role="coordinator"))
    html = client.get("/dashboard?lang=es").get_data(as_text=True)
    button = re.search(r'<button type="button" class="topbar__toggle"[^>]*>', html).group(0)
    assert 'aria-controls="topbar-menu"' in button and "aria-expanded=" in button
    assert " hidden" in button  # shown by app.js: without JavaScript the menu stays open
    assert 'id="topbar-menu"' in html
    assert "Menú" in html
    # Signed out: no menu to fold, the language switch stays in the header.
    client.post("/logout")


def test_signed_out_pages_have_no_menu_button(client):
    html = client.get("/login").get_data(as_text=True)
    assert "topbar__toggle" not in html
    assert 'class="langswitch"' in html


def test_favicon(client):
    first = client.get("/favicon.ico")
    assert first.status_code == 301 and first.location.endswith("/static/favicon.ico")
    assert first.cache_control.max_age >= 86400  # browsers ask once a week at most
    response = client.get("/favicon.ico", follow_redirects=True)
    data = response.get_data()
    response.close()  # a file response: its stream is read, then closed
    assert response.status_code == 200
    assert response.mimetype.startswith("image/")
    assert data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    html = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.ico" sizes="32x32">' in html
    svg = client.get("/static/favicon.svg")
    svg.get_data()
    svg.close()
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"


def test_week_view_dates_are_not_title_cased():
    css = (ROOT / "app/static/css/app.css").read_text(encoding="utf-8")
    rule = re.search(r"\.ws-day__title\s*\{([^}]*)\}", css)
    assert rule is None or "capitalize" not in rule.group(1)


def test_simulator_list_is_searchable(app, client, login, make_user):
    app.extensions["sms_gateway"] = SimulatorGateway()
    user = make_user(role="coordinator")
    for n in range(3):
        make_outbox_row(make_contact(user.organization, first_name=f"Persona {n}"))
    login(user)
    html = client.get("/simulator?lang=en").get_data(as_text=True)
    field = re.search(r'<input type="search" id="sim-filter"[^>]*>', html).group(0)
    assert 'aria-controls="sim-phones"' in field
    assert '<label for="sim-filter">Find a phone by name or number</label>' in html
    assert 'role="status"' in html
    assert "No phone matches “%(query)s”." in html  # the template simulator.js fills in
    assert len(re.findall(r"<li data-sim-item>", html)) == 3
    assert "js/simulator.js" in html
    es = client.get("/simulator?lang=es").get_data(as_text=True)
    assert "Ningún teléfono coincide con “%(query)s”." in es
