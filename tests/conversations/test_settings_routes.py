"""Management pages of conversations (issue 16): saved replies, on call, local services, the
organization's conversation settings and staff phones. Bad input changes nothing and says
why in the UI language; another organization's rows are 404; evaluators get 403."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.conversations.models import LocalService, OnCallShift, SavedReply
from app.extensions import db
from app.organizations.models import Organization
from tests.factories import make_org, make_user
from tests.support import NOW, csrf_token, csrf_token_from, utc

BASE = "/conversations"


@pytest.fixture
def org(app):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(org):
    return make_user(org, role="coordinator")


@pytest.fixture
def admin(org):
    return make_user(org, role="admin")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def post_form(client, path, data, *, lang="es"):
    """GET the page (in `lang`) for its CSRF token, then POST the data."""
    page = client.get(f"{path}?lang={lang}")
    assert page.status_code == 200, page.status_code
    return client.post(path, data={"csrf_token": csrf_token_from(page), **data})


def post_action(client, path, *, page=f"{BASE}/saved-replies"):
    token = csrf_token_from(client.get(page))
    return client.post(path, data={"csrf_token": token})


def saved_reply(org, **overrides) -> SavedReply:
    values = dict(organization_id=org.id, title="Gracias", body_es="Gracias", body_en="Thanks")
    values.update(overrides)
    row = SavedReply(**values)
    db.session.add(row)
    db.session.commit()
    return row


def local_service(org, **overrides) -> LocalService:
    values = dict(organization_id=org.id, name="CIJ Tijuana", languages="es", active=True)
    values.update(overrides)
    row = LocalService(**values)
    db.session.add(row)
    db.session.commit()
    return row


def shift(user, starts=NOW + timedelta(hours=1), ends=NOW + timedelta(hours=9)) -> OnCallShift:
    row = OnCallShift(
        organization_id=user.organization_id, user_id=user.id, starts_at=starts, ends_at=ends
    )
    db.session.add(row)
    db.session.commit()
    return row


# --- saved replies -------------------------------------------------------------------------


def test_a_coordinator_creates_edits_and_deletes_a_saved_reply(client, login, coordinator):
    login(coordinator)
    response = post_form(
        client,
        f"{BASE}/saved-replies/new",
        {"title": " Dónde pedir ayuda ", "body_es": "Llama al 800 911 2000", "body_en": "Call 988"},
    )
    assert response.status_code == 302
    saved = db.session.scalar(select(SavedReply))
    assert (saved.title, saved.body_es, saved.body_en) == (
        "Dónde pedir ayuda",
        "Llama al 800 911 2000",
        "Call 988",
    )
    assert saved.organization_id == coordinator.organization_id
    assert "Dónde pedir ayuda" in client.get(f"{BASE}/saved-replies").get_data(as_text=True)

    response = post_form(
        client,
        f"{BASE}/saved-replies/{saved.id}/edit",
        {"title": "Ayuda", "body_es": "Línea de la Vida", "body_en": "988"},
    )
    assert response.status_code == 302
    db.session.refresh(saved)
    assert (saved.title, saved.body_es) == ("Ayuda", "Línea de la Vida")

    assert post_action(client, f"{BASE}/saved-replies/{saved.id}/delete").status_code == 302
    assert count(SavedReply) == 0


def test_the_saved_reply_editor_counts_sms_segments_in_both_languages(client, login, coordinator):
    login(coordinator)
    page = client.get(f"{BASE}/saved-replies/new?lang=es").get_data(as_text=True)
    assert "js/sms_counter.js" in page
    assert 'data-sms-counter="body_es-count"' in page
    assert 'data-sms-counter="body_en-count"' in page
    assert page.count("data-label-segments=") == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "T", "body_es": "Hola", "body_en": ""}, "body_en"),
        ({"title": "T", "body_es": "  ", "body_en": "Hi"}, "body_es"),
        ({"title": "", "body_es": "Hola", "body_en": "Hi"}, "title"),
        ({"title": "T", "body_es": "a" * 641, "body_en": "Hi"}, "body_es"),
    ],
)
def test_a_saved_reply_needs_a_title_and_both_texts_within_the_limit(
    client, login, coordinator, data, field
):
    login(coordinator)
    response = post_form(client, f"{BASE}/saved-replies/new", data)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert count(SavedReply) == 0


def test_a_too_long_saved_reply_is_refused_in_spanish(client, login, coordinator):
    login(coordinator)
    saved = saved_reply(coordinator.organization)
    response = post_form(
        client,
        f"{BASE}/saved-replies/{saved.id}/edit",
        {"title": "Gracias", "body_es": "Gracias", "body_en": "x" * 700},
    )
    assert response.status_code == 400
    assert "640" in response.get_data(as_text=True)
    db.session.refresh(saved)
    assert saved.body_en == "Thanks"


# --- on call -------------------------------------------------------------------------------


def test_i_am_on_call_converts_local_times_of_the_organization_to_utc(client, login, coordinator):
    login(coordinator)
    # Tijuana is on PST (UTC-8) in late November.
    response = post_form(
        client,
        f"{BASE}/on-call",
        {
            "user_id": str(coordinator.id),
            "start_date": "2026-11-28",
            "start_time": "20:00",
            "end_date": "2026-11-29",
            "end_time": "08:00",
        },
    )
    assert response.status_code == 302
    row = db.session.scalar(select(OnCallShift))
    assert row.user_id == coordinator.id
    assert row.starts_at == utc(2026, 11, 29, 4, 0)
    assert row.ends_at == utc(2026, 11, 29, 16, 0)
    page = client.get(f"{BASE}/on-call?lang=es").get_data(as_text=True)
    assert coordinator.email in page
    assert "sáb 28 de nov, 8:00\u202fp.m." in page  # local wall time, as Mexico writes it
    english = client.get(f"{BASE}/on-call?lang=en").get_data(as_text=True)
    assert "Sat, Nov 28, 8:00\u202fPM" in english


def test_the_on_call_form_uses_the_organizations_time_zone(client, login, make_org):
    org = make_org(timezone="America/Mexico_City")
    user = make_user(org, role="coordinator")
    login(user)
    data = {"start_date": "2026-12-01", "start_time": "09:00"}
    data |= {"end_date": "2026-12-01", "end_time": "17:00", "user_id": str(user.id)}
    assert post_form(client, f"{BASE}/on-call", data).status_code == 302
    row = db.session.scalar(select(OnCallShift))
    assert (row.starts_at, row.ends_at) == (utc(2026, 12, 1, 15, 0), utc(2026, 12, 1, 23, 0))


@pytest.mark.parametrize(
    ("start", "end", "spanish"),
    [
        (("2026-11-29", "18:00"), ("2026-11-29", "08:00"), "El turno debe terminar después"),
        (("2026-11-20", "08:00"), ("2026-11-21", "08:00"), "Este turno ya terminó"),
    ],
)
def test_a_shift_ending_before_it_starts_or_in_the_past_is_refused(
    client, login, coordinator, start, end, spanish
):
    login(coordinator)
    data = {"user_id": str(coordinator.id), "start_date": start[0], "start_time": start[1]}
    data |= {"end_date": end[0], "end_time": end[1]}
    response = post_form(client, f"{BASE}/on-call", data)
    assert response.status_code == 400
    assert spanish in response.get_data(as_text=True)
    assert count(OnCallShift) == 0


def test_a_bad_date_is_a_field_error(client, login, coordinator):
    login(coordinator)
    data = {"user_id": str(coordinator.id), "start_date": "mañana", "start_time": "25:00"}
    data |= {"end_date": "2026-11-29", "end_time": "08:00"}
    response = post_form(client, f"{BASE}/on-call", data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert 'id="start_date-error"' in text and 'id="start_time-error"' in text
    assert count(OnCallShift) == 0


def test_a_coordinator_puts_only_themselves_on_call(client, login, org, coordinator):
    other = make_user(org, role="coordinator")
    login(coordinator)
    page = client.get(f"{BASE}/on-call").get_data(as_text=True)
    assert other.email not in page  # no choice of person
    data = {"user_id": str(other.id), "start_date": "2026-11-28", "start_time": "08:00"}
    data |= {"end_date": "2026-11-28", "end_time": "20:00"}
    assert post_form(client, f"{BASE}/on-call", data).status_code == 400
    assert count(OnCallShift) == 0


def test_an_admin_puts_any_active_coordinator_on_call(client, login, org, admin):
    coordinator = make_user(org, role="coordinator")
    evaluator = make_user(org, role="evaluator")
    login(admin)
    page = client.get(f"{BASE}/on-call").get_data(as_text=True)
    assert coordinator.email in page and evaluator.email not in page
    data = {"start_date": "2026-11-28", "start_time": "08:00"}
    data |= {"end_date": "2026-11-28", "end_time": "20:00"}
    assert (
        post_form(client, f"{BASE}/on-call", {**data, "user_id": str(evaluator.id)}).status_code
        == 400
    )
    assert (
        post_form(client, f"{BASE}/on-call", {**data, "user_id": str(coordinator.id)}).status_code
        == 302
    )
    assert db.session.scalar(select(OnCallShift.user_id)) == coordinator.id


def test_the_page_warns_when_the_person_on_call_has_no_staff_phone(client, login, coordinator):
    shift(coordinator, starts=NOW - timedelta(hours=1))
    login(coordinator)
    page = client.get(f"{BASE}/on-call?lang=es").get_data(as_text=True)
    assert "no tiene teléfono para alertas" in page
    coordinator.staff_phone = "+526641234567"
    db.session.commit()
    page = client.get(f"{BASE}/on-call?lang=es").get_data(as_text=True)
    assert "no tiene teléfono para alertas" not in page
    assert "664 123 4567" in page


def test_past_shifts_are_not_listed(client, login, coordinator):
    shift(coordinator, starts=NOW - timedelta(days=2), ends=NOW - timedelta(days=1))
    login(coordinator)
    page = client.get(f"{BASE}/on-call?lang=es").get_data(as_text=True)
    assert "No hay turnos" in page


def test_shifts_are_deleted_by_their_owner_or_an_admin(client, login, org, coordinator, admin):
    other = make_user(org, role="coordinator")
    mine, theirs = shift(coordinator), shift(other)
    login(coordinator)
    page = f"{BASE}/on-call"
    assert post_action(client, f"{BASE}/on-call/{theirs.id}/delete", page=page).status_code == 403
    assert post_action(client, f"{BASE}/on-call/{mine.id}/delete", page=page).status_code == 302
    assert count(OnCallShift) == 1
    admin_client = client.application.test_client()
    login(admin, c=admin_client)
    response = post_action(admin_client, f"{BASE}/on-call/{theirs.id}/delete", page=page)
    assert response.status_code == 302
    assert count(OnCallShift) == 0


# --- local services ------------------------------------------------------------------------

SERVICE = {
    "name": "Clínica Juvenil San Diego",
    "phone": "619 555 0175",
    "address": "555 Harbor View Ave",
    "hours": "Mon-Sat 10:00-18:00",
    "languages": "es,en",
    "min_age": "13",
    "max_age": "24",
    "state_code": "CA",
    "municipality": "San Diego",
}


def test_a_coordinator_creates_edits_deactivates_and_reactivates_a_service(
    client, login, coordinator
):
    login(coordinator)
    assert post_form(client, f"{BASE}/services/new", SERVICE).status_code == 302
    service = db.session.scalar(select(LocalService))
    assert (service.name, service.languages, service.min_age, service.max_age) == (
        "Clínica Juvenil San Diego",
        "es,en",
        13,
        24,
    )
    assert (service.state_code, service.municipality, service.active) == ("CA", "San Diego", True)
    page = client.get(f"{BASE}/services?lang=es").get_data(as_text=True)
    assert "Clínica Juvenil San Diego" in page and "California" in page

    data = {**SERVICE, "name": "CIJ Tijuana", "state_code": "02", "min_age": "", "max_age": ""}
    assert post_form(client, f"{BASE}/services/{service.id}/edit", data).status_code == 302
    db.session.refresh(service)
    assert (service.name, service.state_code, service.min_age) == ("CIJ Tijuana", "02", None)

    listing = f"{BASE}/services"
    path = f"{BASE}/services/{service.id}/deactivate"
    assert post_action(client, path, page=listing).status_code == 302
    db.session.refresh(service)
    assert service.active is False
    path = f"{BASE}/services/{service.id}/reactivate"
    assert post_action(client, path, page=listing).status_code == 302
    db.session.refresh(service)
    assert service.active is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"min_age": "20", "max_age": "15"}, "max_age"),
        ({"min_age": "-1"}, "min_age"),
        ({"max_age": "120"}, "max_age"),
        ({"min_age": "doce"}, "min_age"),
        ({"state_code": "XX"}, "state_code"),
        ({"languages": "fr"}, "languages"),
        ({"name": " "}, "name"),
        ({"phone": "1" * 41}, "phone"),
    ],
)
def test_a_bad_service_changes_nothing(client, login, coordinator, overrides, field):
    login(coordinator)
    response = post_form(client, f"{BASE}/services/new", {**SERVICE, **overrides})
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert count(LocalService) == 0


def test_ages_in_the_wrong_order_are_explained_in_spanish(client, login, coordinator):
    login(coordinator)
    data = {**SERVICE, "min_age": "20", "max_age": "15"}
    response = post_form(client, f"{BASE}/services/new", data)
    assert "La edad máxima no puede ser menor que la mínima." in response.get_data(as_text=True)


# --- organizations and roles ---------------------------------------------------------------


def test_evaluators_get_403_on_every_page(client, login, org):
    evaluator = make_user(org, role="evaluator")
    reply, service = saved_reply(org), local_service(org)
    login(evaluator)
    for path in (
        "/saved-replies",
        "/saved-replies/new",
        f"/saved-replies/{reply.id}/edit",
        "/on-call",
        "/services",
        "/services/new",
        f"/services/{service.id}/edit",
        f"/staff-phone/{evaluator.id}",
    ):
        assert client.get(BASE + path).status_code == 403, path
    for path in (
        f"/saved-replies/{reply.id}/delete",
        f"/services/{service.id}/deactivate",
    ):
        response = client.post(BASE + path, data={"csrf_token": csrf_token(client)})
        assert response.status_code == 403, path
    assert count(SavedReply) == 1 and db.session.get(LocalService, service.id).active


def test_another_organizations_rows_are_404(client, login, coordinator):
    other = make_org(slug="ong-b")
    stranger = make_user(other, role="coordinator")
    reply = saved_reply(other, title="Respuesta de otra ONG")
    service, their_shift = local_service(other), shift(stranger)
    login(coordinator)
    for path in (
        f"/saved-replies/{reply.id}/edit",
        f"/services/{service.id}/edit",
        f"/staff-phone/{stranger.id}",
    ):
        assert client.get(BASE + path).status_code == 404, path
    for path in (
        f"/saved-replies/{reply.id}/delete",
        f"/services/{service.id}/deactivate",
        f"/on-call/{their_shift.id}/delete",
    ):
        assert post_action(client, BASE + path).status_code == 404, path
    assert count(SavedReply) == 1 and count(OnCallShift) == 1
    assert db.session.get(LocalService, service.id).active
    assert "Respuesta de otra ONG" not in client.get(f"{BASE}/saved-replies").get_data(as_text=True)


# --- organization settings -----------------------------------------------------------------


def settings_data(**overrides) -> dict:
    data = {
        "name": "ONG",
        "timezone": "America/Tijuana",
        "default_language": "es",
        "quiet_start": "08:00",
        "quiet_end": "21:00",
        "cap_messages": "3",
        "cap_days": "7",
        "opt_out_notice": "first",
        "reminder_hours": "24,2",
        "small_cell_threshold": "5",
        "case_ack_minutes": "30",
        "referral_follow_up_days": "7",
    }
    data.update(overrides)
    return data


def test_admins_set_the_acknowledgement_target_and_the_follow_up_delay(client, login, admin):
    login(admin)
    page = client.get("/organization/settings?lang=es").get_data(as_text=True)
    assert 'name="case_ack_minutes"' in page and 'value="15"' in page
    assert "coordinadora o coordinador de guardia" in page  # the help text
    response = post_form(client, "/organization/settings", settings_data())
    assert response.status_code == 302
    org = db.session.get(Organization, admin.organization_id)
    assert (org.case_ack_minutes, org.referral_follow_up_days) == (30, 7)


@pytest.mark.parametrize(
    "overrides",
    [
        {"case_ack_minutes": "0"},
        {"case_ack_minutes": "241"},
        {"case_ack_minutes": ""},
        {"referral_follow_up_days": "61"},
        {"referral_follow_up_days": "tres"},
    ],
)
def test_out_of_range_conversation_settings_change_nothing(client, login, admin, overrides):
    login(admin)
    response = post_form(client, "/organization/settings", settings_data(**overrides))
    assert response.status_code == 400
    org = db.session.get(Organization, admin.organization_id)
    assert (org.case_ack_minutes, org.referral_follow_up_days) == (15, 3)


def test_a_settings_form_without_the_new_fields_keeps_them(client, login, admin):
    org = admin.organization
    org.case_ack_minutes = 20
    db.session.commit()
    login(admin)
    data = settings_data()
    del data["case_ack_minutes"], data["referral_follow_up_days"]
    assert post_form(client, "/organization/settings", data).status_code == 302
    db.session.refresh(org)
    assert (org.case_ack_minutes, org.referral_follow_up_days) == (20, 3)


# --- staff phones --------------------------------------------------------------------------


def test_a_coordinator_sets_their_own_staff_phone(client, login, coordinator):
    login(coordinator)
    path = f"{BASE}/staff-phone/{coordinator.id}"
    response = post_form(client, path, {"staff_phone": "664 123 4567"})
    assert response.status_code == 302
    db.session.refresh(coordinator)
    assert coordinator.staff_phone == "+526641234567"
    assert post_form(client, path, {"staff_phone": ""}).status_code == 302
    db.session.refresh(coordinator)
    assert coordinator.staff_phone is None


def test_a_staff_phone_takes_the_organizations_country_by_default(client, login, make_org):
    org = make_org(country="US", timezone="America/Los_Angeles", default_language="en")
    user = make_user(org, role="coordinator")
    login(user)
    assert (
        post_form(client, f"{BASE}/staff-phone/{user.id}", {"staff_phone": "(619) 555-0123"})
    ).status_code == 302
    db.session.refresh(user)
    assert user.staff_phone == "+16195550123"


@pytest.mark.parametrize("raw", ["12345", "+44 20 7946 0958", "teléfono"])
def test_an_invalid_staff_phone_is_refused_in_spanish(client, login, coordinator, raw):
    coordinator.staff_phone = "+526641234567"
    db.session.commit()
    login(coordinator)
    response = post_form(client, f"{BASE}/staff-phone/{coordinator.id}", {"staff_phone": raw})
    assert response.status_code == 400
    assert "Escribe un celular de México o de Estados Unidos" in response.get_data(as_text=True)
    db.session.refresh(coordinator)
    assert coordinator.staff_phone == "+526641234567"


def test_admins_set_a_coordinators_phone_from_the_user_page(client, login, org, admin):
    coordinator = make_user(org, role="coordinator")
    evaluator = make_user(org, role="evaluator")
    login(admin)
    page = client.get(f"/users/{coordinator.id}").get_data(as_text=True)
    assert f"{BASE}/staff-phone/{coordinator.id}" in page
    assert f"{BASE}/staff-phone/" not in client.get(f"/users/{evaluator.id}").get_data(as_text=True)
    path = f"{BASE}/staff-phone/{coordinator.id}"
    assert post_form(client, path, {"staff_phone": "6641234567"}).status_code == 302
    db.session.refresh(coordinator)
    assert coordinator.staff_phone == "+526641234567"
    assert "+526641234567" in client.get(f"/users/{coordinator.id}").get_data(as_text=True)
    assert client.get(f"{BASE}/staff-phone/{evaluator.id}").status_code == 404


def test_a_coordinator_cannot_set_someone_elses_phone(client, login, org, coordinator):
    other = make_user(org, role="coordinator")
    login(coordinator)
    assert client.get(f"{BASE}/staff-phone/{other.id}").status_code == 403


def test_the_account_page_links_the_phone_for_coordinators_only(client, login, org, coordinator):
    evaluator = make_user(org, role="evaluator")
    evaluator.staff_phone = "+526641234567"  # never set through the UI; never shown
    db.session.commit()
    login(evaluator)
    page = client.get("/account/password").get_data(as_text=True)
    assert "staff-phone" not in page and "+526641234567" not in page
    other = client.application.test_client()
    login(coordinator, c=other)
    assert f"{BASE}/staff-phone/{coordinator.id}" in other.get("/account/password").get_data(
        as_text=True
    )
