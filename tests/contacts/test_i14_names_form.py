"""First and last names kept apart on the contact form (issue 14): the last name is
optional, trimmed and at most 120 characters; pages show "first last"; the list's search
finds either name."""

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import select

from app.contacts import services
from app.contacts.models import Contact
from app.extensions import db
from tests.factories import make_contact
from tests.support import NOW, TODAY, csrf_token_from


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(make_user, org, login):
    user = make_user(org, role="coordinator")
    login(user)
    return user


def form_data(client, url, **overrides) -> dict:
    data = dict(
        csrf_token=csrf_token_from(client.get(url)),
        phone="664 555 0101",
        first_name="Valeria",
        last_name="",
        language="es",
        birth_year=str(TODAY.year - 20),
        age_band="",
        gender="female",
        country="MX",
        state="02",
        municipality="Tijuana",
        timezone="",
        tags="",
        consent_source="school",
        consent_basis="",
        consent_date="",
    )
    data.update(overrides)
    return data


def test_the_form_has_a_last_name_field(client, org, coordinator):
    html = client.get("/contacts/new").get_data(as_text=True)
    assert 'name="last_name"' in html and 'maxlength="120"' in html
    assert es("Last name (optional)") in html


def test_create_with_a_last_name_trimmed(client, org, coordinator):
    response = client.post(
        "/contacts/new",
        data=form_data(client, "/contacts/new", last_name="  Gómez    Ruiz  "),
    )
    assert response.status_code == 302
    contact = db.session.scalar(select(Contact))
    assert contact.first_name == "Valeria" and contact.last_name == "Gómez Ruiz"


def test_a_blank_last_name_is_stored_as_none(client, org, coordinator):
    client.post("/contacts/new", data=form_data(client, "/contacts/new", last_name="   "))
    assert db.session.scalar(select(Contact)).last_name is None


def test_a_too_long_last_name_is_refused_on_its_field(client, org, coordinator):
    response = client.post(
        "/contacts/new", data=form_data(client, "/contacts/new", last_name="x" * 121)
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert es("The last name is too long (120 characters at most).") in html
    assert 'id="last_name-error"' in html
    assert db.session.scalar(select(Contact)) is None


def test_edit_shows_and_changes_the_last_name(client, org, coordinator):
    contact = make_contact(org, 1, first_name="Ana", last_name="López")
    url = f"/contacts/{contact.id}/edit"
    assert 'value="López"' in client.get(url).get_data(as_text=True)
    client.post(
        url,
        data=form_data(
            client, url, phone="+526640000001", first_name="Ana", last_name="López Peña"
        ),
    )
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).last_name == "López Peña"
    client.post(url, data=form_data(client, url, phone="+526640000001", last_name=""))
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).last_name is None


def test_detail_and_list_show_first_and_last_name(client, org, coordinator):
    contact = make_contact(org, 1, first_name="Ana", last_name="López")
    only_last = make_contact(org, 2, first_name=None, last_name="Pérez")
    detail = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "<h1>Ana López</h1>" in detail and "<title>Ana López" in detail
    assert es("Last name") in detail
    listing = client.get("/contacts/").get_data(as_text=True)
    assert ">Ana López</a>" in listing and ">Pérez</a>" in listing
    assert f"/contacts/{only_last.id}" in listing


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("lopez", {"Ana"}),
        ("ana lop", {"Ana"}),
        ("ÁNA", {"Ana", "Mariana"}),
        ("perez", {"Mariana"}),
        ("mariana perez", {"Mariana"}),
        ("ana perez", {"Mariana"}),  # "mariANA PÉREZ" contains it
        ("lopez ana", set()),
    ],
)
def test_the_list_search_finds_first_and_last_names(org, query, found):
    make_contact(org, 1, first_name="Ana", last_name="López")
    make_contact(org, 2, first_name="Mariana", last_name="Pérez")
    make_contact(org, 3, first_name="Omar", last_name=None)
    page = services.list_contacts(org.id, {"q": query}, today=TODAY)
    assert {c.first_name for c in page.contacts} == found


def test_search_through_the_page_by_last_name(client, org, coordinator):
    make_contact(org, 1, first_name="Ana", last_name="López")
    make_contact(org, 2, first_name="Omar", last_name="Ruiz")
    html = client.get("/contacts/?q=ruiz").get_data(as_text=True)
    assert "Omar Ruiz" in html and "Ana López" not in html


def test_erasure_removes_the_last_name(org):
    contact = make_contact(org, 1, first_name="Ana", last_name="López")
    services.erase_contact(contact, today=TODAY, now=NOW)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).last_name is None
