"""Audience pages: create/edit with preview (with and without JavaScript), detail counts,
delete, validation, permissions and organization isolation."""

import re
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from app.contacts.models import Audience
from app.extensions import db
from tests.factories import make_audience, make_contact
from tests.support import TODAY, csrf_token_from

YEAR = TODAY.year  # the frozen calendar (tests/support.py), not the real one
WHEN = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


def count_audiences() -> int:
    return db.session.scalar(select(func.count()).select_from(Audience))


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(make_user, org, login):
    user = make_user(org, role="coordinator")
    login(user)
    return user


@pytest.fixture
def crowd(org):
    """Five Spanish speakers in Tijuana: 3 eligible, 1 opted out, 1 minor without guardian."""
    make_contact(org, 1)
    make_contact(org, 2)
    make_contact(org, 3, language="en")
    make_contact(org, 4, opted_out_at=WHEN)
    make_contact(org, 5, birth_year=YEAR - 15)
    make_contact(org, 6, erased_at=WHEN, phone=None, first_name=None)
    return org


def test_create_audience(client, org, coordinator):
    token = csrf_token_from(client.get("/audiences/new"))
    response = client.post(
        "/audiences/new",
        data={
            "csrf_token": token,
            "name": "Secundaria Tijuana",
            "languages": ["es"],
            "age_min": "12",
            "age_max": "17",
            "state_codes": ["02"],
            "municipalities": "Tijuana",
            "tags": "secundaria",
            "consent_sources": ["school", "workshop"],
            "submit": "1",
        },
    )
    assert response.status_code == 302
    audience = db.session.scalar(select(Audience))
    assert audience.organization_id == org.id
    assert audience.filters == {
        "languages": ["es"],
        "age_min": 12,
        "age_max": 17,
        "state_codes": ["02"],
        "municipalities": ["Tijuana"],
        "tags": ["secundaria"],
        "consent_sources": ["workshop", "school"],
    }
    assert response.headers["Location"].endswith(f"/audiences/{audience.id}")


@pytest.mark.parametrize(
    "data, field, message",
    [
        (
            {"age_min": "20", "age_max": "15"},
            "age_max",
            "The maximum age must not be lower than the minimum age.",
        ),
        ({"age_min": "8"}, "age_min", None),
        ({"age_max": "40"}, "age_max", None),
        ({"age_min": "quince"}, "age_min", None),
        ({"languages": ["fr"]}, "languages", "Unknown value: %(value)s."),
        ({"state_codes": ["77"]}, "state_codes", None),
        (
            {"country": "US", "state_codes": ["02"]},
            "state_codes",
            "These states are not in the chosen country: %(codes)s.",
        ),
        ({"country": "ZZ"}, "country", None),
        ({"name": ""}, "name", None),
    ],
)
def test_invalid_audience_is_refused_and_nothing_saved(
    client, org, coordinator, data, field, message
):
    payload = {
        "csrf_token": csrf_token_from(client.get("/audiences/new")),
        "name": "Prueba",
        "submit": "1",
    }
    payload.update(data)
    response = client.post("/audiences/new", data=payload)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    if message:
        values = {"value": "fr", "codes": "02"}
        assert es(message, **{k: v for k, v in values.items() if f"%({k})" in message}) in html
    assert count_audiences() == 0


def test_required_name_uses_wtforms_spanish_message(client, org, coordinator):
    payload = {
        "csrf_token": csrf_token_from(client.get("/audiences/new")),
        "name": "",
        "submit": "1",
    }
    html = client.post("/audiences/new", data=payload).get_data(as_text=True)
    assert "Este campo es obligatorio" in html


def test_age_error_is_translated(client, org, coordinator):
    payload = {
        "csrf_token": csrf_token_from(client.get("/audiences/new")),
        "name": "x",
        "age_min": "8",
        "submit": "1",
    }
    html = client.post("/audiences/new", data=payload).get_data(as_text=True)
    assert es("Ages must be between %(min)d and %(max)d.", min=10, max=35) in html
    client.get("/audiences/?lang=en")
    payload["csrf_token"] = csrf_token_from(client.get("/audiences/new"))
    html = client.post("/audiences/new", data=payload).get_data(as_text=True)
    assert "Ages must be between 10 and 35." in html


def test_preview_button_counts_without_saving(client, crowd, coordinator):
    token = csrf_token_from(client.get("/audiences/new"))
    response = client.post(
        "/audiences/new",
        data={"csrf_token": token, "name": "", "languages": ["es"], "preview": "1"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Spanish speakers: 1, 2, 4, 5 (6 erased); eligible 1 and 2.
    with force_locale("es"):
        from flask_babel import ngettext

        sentence = str(
            escape(
                ngettext(
                    "%(num)d contact can be messaged (of %(matched)d matching).",
                    "%(num)d contacts can be messaged (of %(matched)d matching).",
                    2,
                    matched=4,
                )
            )
        )
    assert sentence in html
    assert es("Opted out") in html and es("Minor without guardian consent") in html
    assert "Joven 1" in html and "Joven 4" not in html  # sample: eligible only
    assert 'id="name-error"' not in html  # a name is needed to save, not to preview
    assert count_audiences() == 0


def test_preview_json_endpoint(client, crowd, coordinator):
    response = client.get("/audiences/preview?languages=es&age_min=12&age_max=29")
    assert response.status_code == 200
    data = response.get_json()
    assert (data["valid"], data["eligible"], data["matched"]) == (True, 2, 4)
    assert {e["reason"]: e["count"] for e in data["excluded"]} == {
        "opted_out": 1,
        "no_guardian_consent": 1,
    }
    assert all(e["label"] for e in data["excluded"]) and data["message"]

    everyone = client.get("/audiences/preview").get_json()
    assert (everyone["eligible"], everyone["matched"]) == (3, 5)

    bad = client.get("/audiences/preview?age_min=30&age_max=20")
    assert bad.status_code == 400
    assert bad.get_json()["valid"] is False and "age_max" in bad.get_json()["errors"]
    assert client.get("/audiences/preview?age_min=abc").status_code == 400


def test_detail_shows_live_count_excluded_and_sample(client, crowd, coordinator):
    audience = make_audience(crowd, {"languages": ["es"]}, name="Tijuana")
    html = client.get(f"/audiences/{audience.id}").get_data(as_text=True)
    assert es("Opted out") in html and es("Minor without guardian consent") in html
    assert "Joven 1" in html and "Joven 2" in html
    assert "Joven 3" not in html and "Joven 4" not in html and "Joven 5" not in html
    assert 'scope="col"' in html and 'scope="row"' in html
    # The count is live: a new eligible contact shows up at once.
    make_contact(crowd, 7)
    assert "Joven 7" in client.get(f"/audiences/{audience.id}").get_data(as_text=True)


def test_list_describes_each_audience(client, org, coordinator):
    make_audience(org, {"age_min": 15, "age_max": 17}, name="Jóvenes 15-17")
    html = client.get("/audiences/").get_data(as_text=True)
    assert "Jóvenes 15-17" in html
    assert es("%(min)d to %(max)d years", min=15, max=17) in html


def test_edit_audience(client, org, coordinator):
    audience = make_audience(
        org,
        {"languages": ["es"], "municipalities": ["Tijuana", "Tecate"], "state_codes": ["02"]},
        name="Tijuana",
    )
    url = f"/audiences/{audience.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="Tijuana, Tecate"' in page
    assert re.search(
        r'<input checked id="state_codes-\d+" name="state_codes" type="checkbox" '
        r'value="02">',
        page,
    )
    assert 'checked id="languages-0"' in page
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(client.get(url)),
            "name": "Tijuana adultos",
            "age_min": "18",
            "submit": "1",
        },
    )
    assert response.status_code == 302
    db.session.refresh(audience)
    assert audience.name == "Tijuana adultos" and audience.filters == {"age_min": 18}


def test_edit_with_invalid_filters_changes_nothing(client, org, coordinator):
    audience = make_audience(org, {"languages": ["es"]}, name="Tijuana")
    url = f"/audiences/{audience.id}/edit"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(client.get(url)),
            "name": "Otro",
            "age_min": "30",
            "age_max": "12",
            "submit": "1",
        },
    )
    assert response.status_code == 400
    db.session.refresh(audience)
    assert audience.name == "Tijuana" and audience.filters == {"languages": ["es"]}


def test_duplicate_name_is_refused(client, org, coordinator):
    make_audience(org, name="Todos")
    response = client.post(
        "/audiences/new",
        data={
            "csrf_token": csrf_token_from(client.get("/audiences/new")),
            "name": "Todos",
            "submit": "1",
        },
    )
    assert response.status_code == 400
    assert es("An audience with this name already exists.") in response.get_data(as_text=True)
    assert count_audiences() == 1


def test_delete_audience(client, org, coordinator):
    audience = make_audience(org, name="Tijuana")
    token = csrf_token_from(client.get(f"/audiences/{audience.id}"))
    response = client.post(f"/audiences/{audience.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert count_audiences() == 0


def test_form_loads_the_live_count_script(client, org, coordinator):
    html = client.get("/audiences/new").get_data(as_text=True)
    assert "/static/js/audiences.js" in html and 'data-preview-url="/audiences/preview"' in html
    assert "<script>" not in html and "style=" not in html
    script = client.get("/static/js/audiences.js")
    script.close()
    assert script.status_code == 200


# --- permissions and isolation -----------------------------------------------------------


def test_evaluator_gets_403_everywhere(client, org, make_user, login):
    audience = make_audience(org, name="Tijuana")
    login(make_user(org, role="evaluator"))
    for route in (
        "/audiences/",
        f"/audiences/{audience.id}",
        "/audiences/new",
        f"/audiences/{audience.id}/edit",
        "/audiences/preview",
    ):
        assert client.get(route).status_code == 403, route
    token = csrf_token_from(client.get("/account/password"))
    for route in (
        "/audiences/new",
        f"/audiences/{audience.id}/edit",
        f"/audiences/{audience.id}/delete",
    ):
        response = client.post(route, data={"csrf_token": token, "name": "x", "submit": "1"})
        assert response.status_code == 403, route
    assert count_audiences() == 1


def test_other_organizations_audiences_are_404_everywhere(client, org, coordinator, make_org):
    other = make_org(slug="ong-b")
    theirs = make_audience(other, name="Ajena")
    for route in (f"/audiences/{theirs.id}", f"/audiences/{theirs.id}/edit"):
        assert client.get(route).status_code == 404, route
    token = csrf_token_from(client.get("/audiences/new"))
    for route in (f"/audiences/{theirs.id}/edit", f"/audiences/{theirs.id}/delete"):
        response = client.post(route, data={"csrf_token": token, "name": "Mía", "submit": "1"})
        assert response.status_code == 404, route
    db.session.refresh(theirs)
    assert theirs.name == "Ajena" and count_audiences() == 1
    assert "Ajena" not in client.get("/audiences/").get_data(as_text=True)


def test_other_organizations_contacts_never_count(client, org, coordinator, make_org):
    other = make_org(slug="ong-b")
    make_contact(other, 1, first_name="Ajena")
    make_contact(org, 2)
    mine = make_audience(org, name="Todos")
    assert client.get("/audiences/preview").get_json()["matched"] == 1
    html = client.get(f"/audiences/{mine.id}").get_data(as_text=True)
    assert "Joven 2" in html and "Ajena" not in html
