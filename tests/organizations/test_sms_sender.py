"""An organization's own SMS sender (issue 12): validated, unique, editable by admins."""

import pytest

from app.errors import DomainError
from app.extensions import db
from app.organizations.models import Organization
from app.organizations.services import update_settings
from tests.support import csrf_token_from

SERVICE = "MG" + "0a1b2c3d" * 4


@pytest.fixture
def admin(make_user, make_org):
    return make_user(make_org(slug="ong-a"), role="admin")


def settings_form(page, **overrides) -> dict:
    data = {
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
    data.update(overrides)
    return data


def sender_of(org_id):
    db.session.expire_all()
    return db.session.get(Organization, org_id).sms_sender


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("+52 664 555 0100", "+526645550100"),
        ("+1 (619) 555-0123", "+16195550123"),
        (" mg" + "0A1B2C3D" * 4 + " ", SERVICE),
        ("", None),
    ],
)
def test_admin_sets_the_organizations_sender(client, admin, login, typed, stored):
    login(admin)
    page = client.get("/organization/settings")
    assert 'name="sms_sender"' in page.get_data(as_text=True)
    response = client.post("/organization/settings", data=settings_form(page, sms_sender=typed))
    assert response.status_code == 302
    assert sender_of(admin.organization_id) == stored


@pytest.mark.parametrize(
    "lang, typed, message",
    [
        ("en", "6645550100", "Write an E.164 number such as +526641234567"),
        ("es", "MG123", "Escribe un número en formato E.164"),
        ("en", "hola", "Write an E.164 number such as +526641234567"),
        ("es", "+52 664 555 0100 ext 2", "Escribe un número en formato E.164"),
    ],
)
def test_a_malformed_sender_is_refused_with_a_translated_error(
    client, admin, login, lang, typed, message
):
    admin.organization.sms_sender = SERVICE
    db.session.commit()
    login(admin)
    page = client.get(f"/organization/settings?lang={lang}")
    response = client.post("/organization/settings", data=settings_form(page, sms_sender=typed))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert sender_of(admin.organization_id) == SERVICE


@pytest.mark.parametrize(
    "lang, message",
    [
        ("en", "Another organization already uses this sender."),
        ("es", "Otra organización ya usa este remitente."),
    ],
)
def test_a_sender_belongs_to_one_organization(client, admin, login, make_org, lang, message):
    other = make_org(slug="ong-b")
    other.sms_sender = "+526645550100"
    db.session.commit()
    login(admin)
    page = client.get(f"/organization/settings?lang={lang}")
    response = client.post(
        "/organization/settings",
        data=settings_form(page, sms_sender="+52 664 555 0100", name="Otra"),
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert sender_of(admin.organization_id) is None
    assert db.session.get(Organization, admin.organization_id).name != "Otra"  # nothing saved


@pytest.mark.parametrize(
    "setting, value",
    [("TWILIO_MESSAGING_SERVICE_SID", SERVICE), ("TWILIO_FROM_NUMBER", "+15005550006")],
)
def test_the_shared_default_sender_cannot_be_claimed(app, client, admin, login, setting, value):
    """Claiming the shared sender would route every STOP sent to it to one organization."""
    app.config[setting] = value
    login(admin)
    page = client.get("/organization/settings?lang=en")
    response = client.post("/organization/settings", data=settings_form(page, sms_sender=value))
    assert response.status_code == 400
    assert "shared default sender" in response.get_data(as_text=True)
    assert sender_of(admin.organization_id) is None


def test_the_service_refuses_a_taken_sender_and_changes_nothing(app, make_org):
    first, second = make_org(), make_org()
    update_settings(first, actor_id=None, name=first.name, sms_sender=SERVICE)
    with pytest.raises(DomainError) as info:
        update_settings(second, actor_id=None, name="Cambiada", sms_sender=SERVICE)
    assert info.value.field == "sms_sender"
    db.session.expire_all()
    assert (first.sms_sender, second.sms_sender) == (SERVICE, None)
    assert second.name != "Cambiada"


def test_two_admins_claiming_one_sender_at_once_get_a_clear_error(app, make_org, monkeypatch):
    """The check-then-write race ends at the unique constraint, reported like the check."""
    from app.organizations import services

    first, second = make_org(), make_org()
    update_settings(first, actor_id=None, name=first.name, sms_sender=SERVICE)
    monkeypatch.setattr(services, "_sender_taken", lambda org, sender: False)  # lost the race
    with pytest.raises(DomainError) as info:
        update_settings(second, actor_id=None, name=second.name, sms_sender=SERVICE)
    assert info.value.field == "sms_sender"
    db.session.expire_all()
    assert second.sms_sender is None
