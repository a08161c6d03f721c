"""Issue 14: the campaign list filters by status, with counts, and archived campaigns can be
found (the default view leaves them out)."""

import re
from html import unescape

import pytest

from app.campaigns import services
from tests.factories import make_campaign


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).split())


def current_filter(response) -> str:
    """The data-filter of the filter link marked as the current page."""
    nav = re.search(r'<nav class="cmp-filters".*?</nav>', response.get_data(as_text=True), re.S)
    links = re.findall(r"<a [^>]*>", nav.group(0))
    current = [link for link in links if 'aria-current="page"' in link]
    assert len(current) == 1, links
    return re.search(r'data-filter="([^"]+)"', current[0]).group(1)


def names(response) -> list[str]:
    """The campaign names in the list's table, in order."""
    html = response.get_data(as_text=True)
    row_names = re.findall(r'<th scope="row"[^>]*><a href="[^"]+">([^<]+)</a>', html)
    return [unescape(name) for name in row_names]


@pytest.fixture
def signed_in(client, login, coordinator):
    login(coordinator)
    return coordinator


@pytest.fixture
def campaigns(org):
    """Two active, one paused, one draft, one completed and two archived campaigns."""
    for name, status in (
        ("Zeta activa", "active"),
        ("Alfa activa", "active"),
        ("Pausada", "paused"),
        ("Borrador", "draft"),
        ("Concluida", "completed"),
        ("Archivada uno", "archived"),
        ("Archivada dos", "archived"),
    ):
        make_campaign(org, name=name, status=status)


def test_default_view_hides_archived_and_counts_every_filter(client, signed_in, campaigns):
    response = client.get("/campaigns/")
    assert response.status_code == 200
    assert names(response) == ["Alfa activa", "Zeta activa", "Pausada", "Borrador", "Concluida"]
    page = text(response)
    for label in (
        "Current (5)",
        "Active (2)",
        "Paused (1)",
        "Drafts (1)",
        "Completed (1)",
        "Archived (2)",
        "All (7)",
    ):
        assert label in page
    assert current_filter(response) == "current"


@pytest.mark.parametrize(
    "status, expected",
    [
        ("archived", ["Archivada dos", "Archivada uno"]),
        ("active", ["Alfa activa", "Zeta activa"]),
        ("paused", ["Pausada"]),
        ("draft", ["Borrador"]),
        ("completed", ["Concluida"]),
        ("current", ["Alfa activa", "Zeta activa", "Pausada", "Borrador", "Concluida"]),
    ],
)
def test_each_filter_shows_its_campaigns(client, signed_in, campaigns, status, expected):
    response = client.get(f"/campaigns/?status={status}")
    assert names(response) == expected
    assert current_filter(response) == status


def test_all_shows_archived_too_and_filter_links_keep_the_query_string(
    client, signed_in, campaigns
):
    response = client.get("/campaigns/?status=all")
    assert len(names(response)) == 7 and names(response)[-2:] == ["Archivada dos", "Archivada uno"]
    html = response.get_data(as_text=True)
    assert 'href="/campaigns/?status=archived"' in html
    assert 'href="/campaigns/?status=draft"' in html
    assert 'href="/campaigns/"' in html  # the default filter has the plain URL


def test_earlier_show_archived_link_still_finds_archived(client, signed_in, campaigns):
    assert "Archivada uno" in names(client.get("/campaigns/?show=archived"))


@pytest.mark.parametrize("bad", ["bogus", "ARCHIVED", "", "draft'--"])
def test_unknown_filter_is_ignored_with_a_notice(client, signed_in, campaigns, bad):
    response = client.get("/campaigns/", query_string={"status": bad})
    assert response.status_code == 200
    assert names(response) == ["Alfa activa", "Zeta activa", "Pausada", "Borrador", "Concluida"]
    assert "That filter does not exist; showing the current campaigns." in text(response)
    assert current_filter(response) == "current"


def test_unknown_filter_notice_is_translated(client, login, make_user, org, campaigns):
    login(make_user(org, role="coordinator", language="es"))
    page = text(client.get("/campaigns/?status=bogus&lang=es"))
    assert "Ese filtro no existe; se muestran las campañas vigentes." in page
    assert "Vigentes (5)" in page and "Archivadas (2)" in page and "Borradores (1)" in page


def test_empty_filter_and_empty_organization(client, signed_in, org):
    assert "No campaigns yet." in text(client.get("/campaigns/"))
    make_campaign(org, name="Vieja", status="archived")
    assert "No current campaigns." in text(client.get("/campaigns/"))
    assert "No campaigns with this status." in text(client.get("/campaigns/?status=paused"))


def test_counts_and_rows_are_scoped_to_the_organization(client, signed_in, make_org, campaigns):
    other = make_org(name="Otra A.C.")
    make_campaign(other, name="Ajena archivada", status="archived")
    make_campaign(other, name="Ajena activa", status="active")
    response = client.get("/campaigns/?status=all")
    assert "All (7)" in text(response) and "Archived (2)" in text(response)
    assert not any(name.startswith("Ajena") for name in names(response))


def test_list_service_refuses_unknown_filters(app, org):
    with pytest.raises(ValueError):
        services.list_campaigns(org.id, status_filter="bogus")
