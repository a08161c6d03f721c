"""Contact pages: list, search, pagination, detail, create/edit, opt-out/in, erase,
permissions and organization isolation."""

import re
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from app.contacts.models import Contact, ContactTag
from app.extensions import db
from tests.factories import make_contact
from tests.support import TODAY, csrf_token_from

YEAR = TODAY.year  # the frozen calendar (tests/support.py), not the real one
WHEN = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


def es(msgid: str, **values) -> str:
    """The Spanish page text of `msgid` (whatever the catalog holds today), HTML-escaped."""
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


def count_contacts() -> int:
    return db.session.scalar(select(func.count()).select_from(Contact))


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
        language="es",
        birth_year=str(YEAR - 16),
        age_band="",
        gender="female",
        country="MX",
        state="02",
        municipality="Tijuana",
        timezone="",
        tags="secundaria-5, futbol",
        consent_source="school",
        consent_basis="",
        consent_date="",
        guardian_consent="y",
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- list -------------------------------------------------------------------------------


def test_list_shows_contacts_with_badges_and_links(client, org, coordinator, make_org):
    make_contact(org, 1, first_name="Ximena", birth_year=YEAR - 15, guardian_consent=False)
    make_contact(
        org,
        2,
        first_name="Omar",
        opted_out_at=WHEN,
        phone="+16195550123",
        country="US",
        state_code="CA",
        timezone="America/Los_Angeles",
    )
    make_contact(org, 3, first_name="Borrada", erased_at=WHEN, phone=None)
    make_contact(make_org(), 4, first_name="Ajena")
    tagged = make_contact(org, 5, first_name="Tere", age_band="18-24", birth_year=None)
    tagged.tags.append(ContactTag(name="futbol"))
    db.session.commit()

    html = client.get("/contacts/").get_data(as_text=True)
    assert "Ximena" in html and "Omar" in html and "Tere" in html
    assert "Borrada" not in html and "Ajena" not in html
    assert "664 000 0001" in html  # national format for the organization's country
    assert "+1 619-555-0123" in html
    assert es("Minor without guardian consent") in html and es("Opted out") in html
    assert "futbol" in html and "Baja California" in html and "California" in html
    assert es("%(age)d years", age=15) in html
    assert 'href="/contacts/new"' in html
    assert 'scope="col"' in html and 'role="search"' in html


def test_list_links_to_the_csv_import(client, org, coordinator):
    from flask import url_for

    html = client.get("/contacts/").get_data(as_text=True)
    with client.application.test_request_context():
        assert f'href="{url_for("contact_imports.new")}"' in html


def test_search_and_filters_through_the_page(client, org, coordinator):
    make_contact(org, 1, first_name="Ángela")
    make_contact(org, 2, first_name="Rocío", phone="+526649871234", language="en")
    html = client.get("/contacts/?q=angela").get_data(as_text=True)
    assert "Ángela" in html and "Rocío" not in html
    html = client.get("/contacts/?q=987 12").get_data(as_text=True)
    assert "Rocío" in html and "Ángela" not in html
    html = client.get("/contacts/?language=en").get_data(as_text=True)
    assert "Rocío" in html and "Ángela" not in html
    html = client.get("/contacts/?eligibility=eligible&consent_source=workshop&state=02").get_data(
        as_text=True
    )
    assert "Rocío" in html and "Ángela" in html


def test_invalid_filter_value_is_ignored_not_fatal(client, org, coordinator):
    make_contact(org, 1, first_name="Ángela")
    response = client.get("/contacts/?eligibility=bogus&language=xx")
    assert response.status_code == 200
    assert "Ángela" in response.get_data(as_text=True)


def test_pagination_by_cursor(client, org, coordinator):
    for n in range(1, 56):
        make_contact(org, n)
    first = client.get("/contacts/?tag=&q=").get_data(as_text=True)
    assert "Joven 55" in first and "Joven 6<" in first and "Joven 5<" not in first
    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "after=" in older and 'rel="prev"' not in first
    second = client.get(older).get_data(as_text=True)
    assert "Joven 5<" in second and "Joven 1<" in second and "Joven 6<" not in second
    assert 'rel="next"' not in second
    newer = re.search(r'rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    assert "before=" in newer
    back = client.get(newer).get_data(as_text=True)
    assert "Joven 55" in back and "Joven 6<" in back and 'rel="prev"' not in back


def test_pagination_keeps_the_filters(client, org, coordinator):
    for n in range(1, 56):
        make_contact(org, n, language="en")
    html = client.get("/contacts/?language=en").get_data(as_text=True)
    older = re.search(r'rel="next" href="([^"]+)"', html).group(1)
    assert "language=en" in older


def test_bad_cursor_is_a_400(client, org, coordinator):
    assert client.get("/contacts/?after=abc").status_code == 400
    assert client.get("/contacts/?before=-1").status_code == 400


# --- detail -----------------------------------------------------------------------------


def test_detail_shows_consent_opt_out_and_eligibility(client, org, coordinator):
    contact = make_contact(
        org,
        1,
        first_name="Iván",
        birth_year=YEAR - 15,
        consent_source="school",
        guardian_consent=False,
        opted_out_at=WHEN,
        opt_out_channel="sms",
    )
    html = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Iván" in html and "664 000 0001" in html
    assert es("School program") in html
    assert es("No: %(reason)s", reason=es("No consent recorded")) not in html
    assert es("No: %(reason)s", reason=es("Opted out")) in html
    assert es("SMS reply") in html
    assert es("Participation history") in html and es("No participation recorded yet.") in html
    assert f"/contacts/{contact.id}/opt-in" in html


# --- create / edit ------------------------------------------------------------------------


def test_create_contact(client, org, coordinator):
    response = client.post("/contacts/new", data=form_data(client, "/contacts/new"))
    assert response.status_code == 302
    contact = db.session.scalar(select(Contact))
    assert response.headers["Location"].endswith(f"/contacts/{contact.id}")
    assert contact.phone == "+526645550101" and contact.organization_id == org.id
    assert contact.guardian_consent and contact.tag_names == ["futbol", "secundaria-5"]


def test_new_contact_form_defaults_to_the_organization(client, org, coordinator):
    html = client.get("/contacts/new").get_data(as_text=True)
    assert re.search(r'<option selected value="MX">|<option value="MX" selected>', html)
    assert 'for="phone"' in html and "<legend>" in html


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"phone": "123"}, "phone", "Invalid mobile phone number."),
        ({"birth_year": "1950"}, "birth_year", None),
        ({"state": "Atlantis"}, "state", None),
        (
            {"consent_source": "imported_list"},
            "consent_source",
            "An imported list needs the stated basis of its consent.",
        ),
        ({"consent_date": "2999-01-01"}, "consent_date", "The consent date is in the future."),
    ],
)
def test_bad_input_is_refused_with_a_translated_error(
    client, org, coordinator, overrides, field, message
):
    response = client.post("/contacts/new", data=form_data(client, "/contacts/new", **overrides))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert f'aria-describedby="{field}-error"' in html or f'-hint {field}-error"' in html
    if message:
        assert es(message) in html
    assert count_contacts() == 0


def test_bad_input_in_english(client, org, coordinator):
    client.get("/contacts/?lang=en")
    response = client.post("/contacts/new", data=form_data(client, "/contacts/new", phone="1"))
    assert "Invalid mobile phone number." in response.get_data(as_text=True)


def test_duplicate_phone_is_refused(client, org, coordinator):
    make_contact(org, 1, phone="+526645550101", first_name="Primera")
    response = client.post(
        "/contacts/new", data=form_data(client, "/contacts/new", phone="+52 1 664 555 0101")
    )
    assert response.status_code == 400
    assert es(
        "Another contact of your organization already has this phone number."
    ) in response.get_data(as_text=True)
    assert count_contacts() == 1


def test_edit_contact(client, org, coordinator):
    contact = make_contact(org, 1, first_name="Paola", timezone="America/Tijuana")
    contact.tags.append(ContactTag(name="teatro"))
    db.session.commit()
    page = client.get(f"/contacts/{contact.id}/edit").get_data(as_text=True)
    assert 'value="Paola"' in page and 'value="teatro"' in page
    data = form_data(
        client,
        f"/contacts/{contact.id}/edit",
        phone="+526640000001",
        first_name="Paola Andrea",
        tags="teatro, danza",
        state="08",
        municipality="Ciudad Juárez",
        guardian_consent=None,
    )
    response = client.post(f"/contacts/{contact.id}/edit", data=data)
    assert response.status_code == 302
    db.session.refresh(contact)
    assert contact.first_name == "Paola Andrea" and contact.tag_names == ["danza", "teatro"]
    assert contact.timezone == "America/Ciudad_Juarez"  # derived, since the field was blank


def test_edit_with_bad_input_or_taken_phone_changes_nothing(client, org, coordinator):
    make_contact(org, 1, phone="+526645550101")
    contact = make_contact(org, 2, first_name="Sofía")
    url = f"/contacts/{contact.id}/edit"
    response = client.post(url, data=form_data(client, url, first_name="Otra", birth_year="18"))
    assert response.status_code == 400
    response = client.post(
        url, data=form_data(client, url, first_name="Otra", phone="664 555 0101")
    )
    assert response.status_code == 400
    db.session.refresh(contact)
    assert contact.first_name == "Sofía" and contact.phone == "+526640000002"


# --- opt-out / opt-in -----------------------------------------------------------------------


def test_opt_out_and_back_in_by_a_coordinator(client, org, coordinator):
    contact = make_contact(org, 1)
    token = csrf_token_from(client.get(f"/contacts/{contact.id}"))
    response = client.post(f"/contacts/{contact.id}/opt-out", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(contact)
    assert contact.opted_out_at is not None and contact.opt_out_channel == "coordinator"

    url = f"/contacts/{contact.id}/opt-in"
    response = client.post(url, data={"csrf_token": csrf_token_from(client.get(url))})
    assert response.status_code == 400
    assert es("Confirm the renewed consent to opt back in.") in response.get_data(as_text=True)
    db.session.refresh(contact)
    assert contact.opted_out_at is not None

    response = client.post(
        url, data={"csrf_token": csrf_token_from(client.get(url)), "confirm": "y"}
    )
    assert response.status_code == 302
    db.session.refresh(contact)
    assert contact.opted_out_at is None and contact.opt_out_channel is None


# --- erase --------------------------------------------------------------------------------


def test_erase_needs_confirmation_then_keeps_a_de_identified_row(client, org, coordinator):
    contact = make_contact(org, 1, first_name="Renata", birth_year=YEAR - 16, guardian_consent=True)
    contact.tags.append(ContactTag(name="futbol"))
    db.session.commit()
    url = f"/contacts/{contact.id}/erase"
    page = client.get(url)
    assert page.status_code == 200 and "Renata" in page.get_data(as_text=True)

    response = client.post(url, data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 400
    db.session.refresh(contact)
    assert contact.erased_at is None and contact.first_name == "Renata"

    response = client.post(
        url, data={"csrf_token": csrf_token_from(client.get(url)), "confirm": "y"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    erased = db.session.get(Contact, contact.id)
    assert erased.erased_at is not None and erased.age_band == "15-17"
    assert (erased.phone, erased.first_name, erased.birth_year, erased.tag_names) == (
        None,
        None,
        None,
        [],
    )
    assert count_contacts() == 1

    detail = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert es("Erased contact") in detail
    assert "Renata" not in detail and "664 000 0001" not in detail and "futbol" not in detail
    assert f"/contacts/{contact.id}/edit" not in detail
    listing = client.get("/contacts/").get_data(as_text=True)
    assert f'/contacts/{contact.id}"' not in listing
    # Erased contacts cannot be edited or erased again.
    assert client.get(f"/contacts/{contact.id}/edit").status_code == 302
    assert client.get(url).status_code == 302


# --- permissions and isolation ------------------------------------------------------------

GET_ROUTES = [
    "/contacts/",
    "/contacts/{id}",
    "/contacts/new",
    "/contacts/{id}/edit",
    "/contacts/{id}/erase",
    "/contacts/{id}/opt-in",
]
POST_ROUTES = [
    "/contacts/new",
    "/contacts/{id}/edit",
    "/contacts/{id}/erase",
    "/contacts/{id}/opt-out",
    "/contacts/{id}/opt-in",
]


def test_evaluator_gets_403_everywhere(client, org, make_user, login):
    contact = make_contact(org, 1, opted_out_at=WHEN)
    login(make_user(org, role="evaluator"))
    for route in GET_ROUTES:
        response = client.get(route.format(id=contact.id))
        assert response.status_code == 403, route
        assert "Joven 1" not in response.get_data(as_text=True)
    token = csrf_token_from(client.get("/account/password"))
    for route in POST_ROUTES:
        response = client.post(
            route.format(id=contact.id), data={"csrf_token": token, "confirm": "y"}
        )
        assert response.status_code == 403, route
    db.session.refresh(contact)
    assert contact.erased_at is None and contact.opted_out_at == WHEN


def test_admin_can_use_the_contact_pages(client, org, make_user, login):
    contact = make_contact(org, 1)
    login(make_user(org, role="admin"))
    assert client.get("/contacts/").status_code == 200
    assert client.get(f"/contacts/{contact.id}/edit").status_code == 200


def test_other_organizations_contacts_are_404_everywhere(client, org, coordinator, make_org):
    stranger = make_contact(make_org(slug="ong-b"), 1, first_name="Ajena", opted_out_at=WHEN)
    for route in GET_ROUTES[1:]:
        if route == "/contacts/new":
            continue
        assert client.get(route.format(id=stranger.id)).status_code == 404, route
    token = csrf_token_from(client.get("/contacts/new"))
    for route in POST_ROUTES:
        if route == "/contacts/new":
            continue
        data = dict(form_data(client, "/contacts/new"), csrf_token=token, confirm="y")
        response = client.post(route.format(id=stranger.id), data=data)
        assert response.status_code == 404, route
    db.session.refresh(stranger)
    assert stranger.first_name == "Ajena" and stranger.erased_at is None
    assert stranger.opted_out_at == WHEN
    html = client.get("/contacts/?q=Ajena").get_data(as_text=True)
    assert f"/contacts/{stranger.id}" not in html
    assert es("No contact matches these filters.") in html
    assert client.get("/contacts/999999").status_code == 404


def test_anonymous_is_sent_to_login(client):
    response = client.get("/contacts/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _row(html: str, contact_id: int) -> str:
    """The list's table row of one contact, whitespace collapsed."""
    match = re.search(
        rf'<tr>\s*<td><input type="checkbox" name="ids" value="{contact_id}".*?</tr>', html, re.S
    )
    assert match, f"no row for contact {contact_id}"
    return re.sub(r"\s+", " ", match.group(0))


def test_list_rows_show_each_label_translated_once_per_kind(client, org, coordinator):
    """The row labels come translated from app/contacts/list_rows.py: every cell kind, the
    colour of each badge, and the labels repeated on several rows."""
    opted_out = make_contact(org, 1, first_name="Omar", opted_out_at=WHEN, language="en")
    minor = make_contact(
        org,
        2,
        first_name="Ximena",
        birth_year=YEAR - 15,
        guardian_consent=False,
        consent_source=None,
        consent_at=None,
    )
    banded = make_contact(org, 3, first_name="Tere", age_band="18-24", birth_year=None)
    unknown_age = make_contact(org, 4, first_name="Leo", birth_year=None, age_band=None)
    unnamed = make_contact(org, 5, first_name=None, last_name=None)
    fine = [make_contact(org, n) for n in (6, 7)]

    html = client.get("/contacts/").get_data(as_text=True)

    row = _row(html, opted_out.id)
    assert f'<span class="badge badge--err">{es("Opted out")}</span>' in row
    assert f'<td data-label="{es("Language")}">{es("English")}</td>' in row
    row = _row(html, minor.id)
    assert f'<span class="badge badge--warn">{es("No consent recorded")}</span>' in row
    assert f'<span class="badge badge--warn">{es("Minor without guardian consent")}</span>' in row
    assert es("%(age)d years", age=15) in row
    assert es("%(band)s years", band="18–24") in _row(html, banded.id)
    assert f'<span class="muted">{es("Unknown")}</span>' in _row(html, unknown_age.id)
    row = _row(html, unnamed.id)
    unnamed_label = es("Contact #%(id)d", id=unnamed.id)
    assert f">{unnamed_label}</a>" in row
    assert f'aria-label="{es("Select %(name)s", name=unnamed_label)}"' in row
    for contact in fine:
        row = _row(html, contact.id)
        assert f'<span class="badge badge--ok">{es("Can be messaged")}</span>' in row
        assert f'<td data-label="{es("Language")}">{es("Spanish")}</td>' in row
        assert "Baja California" in row and es("%(age)d years", age=YEAR - 2004) in row
        assert f'aria-label="{es("Select %(name)s", name=contact.first_name)}"' in row
