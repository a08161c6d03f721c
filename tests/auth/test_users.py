"""User management by admins, role permissions and organization isolation."""

import pytest

from app.auth.models import User
from app.extensions import db
from app.organizations.models import Organization
from tests.support import csrf_token_from


def count_users() -> int:
    return db.session.query(User).count()


@pytest.fixture
def admin(make_user, make_org):
    return make_user(make_org(slug="ong-a"), role="admin")


def create_user_post(client, **data):
    token = csrf_token_from(client.get("/users"))
    payload = {
        "csrf_token": token,
        "email": "nueva@example.org",
        "role": "coordinator",
        "language": "es",
        "password": "Prevencion-Comunitaria-2026",
    }
    payload.update(data)
    return client.post("/users", data=payload)


def test_admin_creates_user(client, admin, login):
    login(admin)
    response = create_user_post(client)
    assert response.status_code == 302
    user = db.session.query(User).filter_by(email="nueva@example.org").one()
    assert user.organization_id == admin.organization_id and user.role == "coordinator"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": ""}, "Este campo es obligatorio"),
        ({"email": "no-es-correo"}, "correo"),
        ({"email": "a" * 250 + "@x.org"}, "254"),
        ({"role": "superuser"}, "Opción inválida"),
        ({"password": "corta"}, "Usa al menos 12 caracteres."),
        ({"password": "x" * 200}, "128"),
    ],
)
def test_bad_user_input_is_rejected_in_spanish(client, admin, login, data, message):
    login(admin)
    client.get("/dashboard?lang=es")
    before = count_users()
    response = create_user_post(client, **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_users() == before


def test_duplicate_email_rejected(client, admin, login, make_user):
    make_user(email="repetida@example.org")
    login(admin)
    before = count_users()
    response = create_user_post(client, email="Repetida@example.org")
    assert response.status_code == 400
    assert "Ya existe un usuario con este correo electrónico." in response.get_data(as_text=True)
    assert count_users() == before


def test_admin_changes_role_and_deactivates(app, client, admin, login, make_user):
    person = make_user(admin.organization, role="coordinator")
    person_client = app.test_client()
    login(person, c=person_client)
    login(admin)
    token = csrf_token_from(client.get(f"/users/{person.id}"))
    response = client.post(f"/users/{person.id}", data={"csrf_token": token, "role": "evaluator"})
    assert response.status_code == 302
    db.session.refresh(person)
    assert person.role == "evaluator" and not person.active
    assert person_client.get("/dashboard").status_code == 302  # signed out everywhere


def test_admin_cannot_demote_self(client, admin, login):
    login(admin)
    token = csrf_token_from(client.get(f"/users/{admin.id}"))
    response = client.post(
        f"/users/{admin.id}", data={"csrf_token": token, "role": "evaluator", "active": "y"}
    )
    assert response.status_code == 400
    db.session.refresh(admin)
    assert admin.role == "admin"


@pytest.mark.parametrize("role", ["coordinator", "evaluator"])
def test_non_admin_cannot_manage_users_or_settings(client, make_user, login, role):
    login(make_user(role=role))
    assert client.get("/users").status_code == 403
    assert client.get("/organization/settings").status_code == 403


def test_other_organization_user_is_404(client, admin, login, make_user, make_org):
    stranger = make_user(make_org(slug="ong-b"))
    login(admin)
    assert client.get(f"/users/{stranger.id}").status_code == 404
    token = csrf_token_from(client.get("/users"))
    response = client.post(
        f"/users/{stranger.id}", data={"csrf_token": token, "role": "admin", "active": "y"}
    )
    assert response.status_code == 404
    db.session.refresh(stranger)
    assert stranger.role == "coordinator"
    html = client.get("/users").get_data(as_text=True)
    assert stranger.email not in html


def test_permission_denial_is_logged(client, make_user, login, caplog):
    user = make_user(role="evaluator")
    login(user)
    caplog.set_level("INFO", logger="alcance.security")
    client.get("/users")
    assert "security_event=permission_denied" in caplog.text
    assert user.email not in caplog.text


def test_admin_updates_settings(client, admin, login):
    login(admin)
    token = csrf_token_from(client.get("/organization/settings"))
    base = {
        "csrf_token": token,
        "quiet_start": "08:00",
        "quiet_end": "21:00",
        "cap_messages": "3",
        "cap_days": "7",
        "opt_out_notice": "first",
        "contact_line": "664 555 0100",
        "reminder_hours": "24, 2",
        "small_cell_threshold": "5",
    }
    bad = client.post(
        "/organization/settings",
        data={**base, "name": "ONG", "timezone": "Mars/Olympus", "default_language": "es"},
    )
    assert bad.status_code == 400
    db.session.refresh(admin.organization)
    assert admin.organization.timezone == "America/Tijuana"
    for window in (("21:00", "08:00"), ("19:45", "21:00"), ("05:00", "21:00")):
        response = client.post(
            "/organization/settings",
            data={
                **base,
                "quiet_start": window[0],
                "quiet_end": window[1],
                "name": "ONG",
                "timezone": "America/Tijuana",
                "default_language": "es",
            },
        )
        assert response.status_code == 400
    ok = client.post(
        "/organization/settings",
        data={
            **base,
            "name": "ONG Frontera",
            "timezone": "America/Ciudad_Juarez",
            "default_language": "en",
            "cap_messages": "2",
        },
    )
    assert ok.status_code == 302
    db.session.refresh(admin.organization)
    assert admin.organization.timezone == "America/Ciudad_Juarez"
    assert admin.organization.cap_messages == 2
    assert admin.organization.contact_line == "664 555 0100"


@pytest.mark.parametrize(
    "lang, hours, message",
    [
        ("en", "24, two", "Write whole hours between 1 and 336"),
        ("es", "0", "Escribe horas enteras entre 1 y 336"),
        ("en", "400", "Write whole hours between 1 and 336"),
        ("en", "48,24,6,2", "At most 3 reminders."),
    ],
)
def test_reminder_hours_are_validated(client, admin, login, lang, hours, message):
    login(admin)
    page = client.get(f"/organization/settings?lang={lang}")
    data = {**_settings_form(page), "reminder_hours": hours}
    response = client.post("/organization/settings", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.refresh(admin.organization)
    assert admin.organization.reminder_hours == "24,2"


def test_workshop_and_report_settings_are_saved(client, admin, login):
    login(admin)
    data = {
        **_settings_form(client.get("/organization/settings")),
        "reminder_hours": " 2; 48 ,2",
        "thank_you_sms": "y",
        "small_cell_threshold": "10",
    }
    assert client.post("/organization/settings", data=data).status_code == 302
    org = db.session.get(Organization, admin.organization_id)
    db.session.refresh(org)
    assert (org.reminder_hours, org.thank_you_sms, org.small_cell_threshold) == ("48,2", True, 10)
    data = {
        **_settings_form(client.get("/organization/settings")),
        "reminder_hours": "",
        "small_cell_threshold": "2",
    }
    assert client.post("/organization/settings", data=data).status_code == 400  # below 3
    data["small_cell_threshold"] = "5"
    data.pop("thank_you_sms", None)  # an unticked box is not sent
    assert client.post("/organization/settings", data=data).status_code == 302
    db.session.refresh(org)
    assert (org.reminder_hours, org.thank_you_sms, org.small_cell_threshold) == ("", False, 5)


def _settings_form(page) -> dict:
    """Every settings field, valid, as an admin would submit them."""
    return {
        "csrf_token": csrf_token_from(page),
        "name": "ONG",
        "timezone": "America/Tijuana",
        "default_language": "es",
        "quiet_start": "08:00",
        "quiet_end": "21:00",
        "cap_messages": "3",
        "cap_days": "7",
        "opt_out_notice": "first",
        "contact_line": "",
        "reminder_hours": "24,2",
        "small_cell_threshold": "5",
    }
