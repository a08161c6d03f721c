"""WhatsApp template pages: the list with statuses and reasons, the form with its preview,
submit and refresh, in Spanish and English; coordinators and admins only, another
organization's template is a 404."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.whatsapp.models import WhatsAppTemplate
from tests.factories import make_org, make_user, make_whatsapp_template
from tests.support import csrf_token, csrf_token_from

BASE = "/whatsapp/templates"
FORM = {
    "name": "taller_recordatorio",
    "language": "es",
    "category": "utility",
    "body": "Hola {{1}}, tu taller es el {{2}}. ¿Vienes?",
    "var_1": "first_name",
    "var_2": "workshop_date",
    "button_1_title": "Sí, voy",
    "button_1_intent": "rsvp_yes",
    "button_2_title": "No puedo",
    "button_2_intent": "rsvp_no",
    "button_3_intent": "none",
}


@pytest.fixture
def org(app):
    return make_org(name="Jóvenes Tijuana")


@pytest.fixture
def coordinator(org):
    return make_user(org, role="coordinator")


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(WhatsAppTemplate))


def text(response) -> str:
    return response.get_data(as_text=True)


def post_form(client, path, data, *, lang="es"):
    page = client.get(f"{path}?lang={lang}")
    assert page.status_code == 200, page.status_code
    return client.post(path, data={"csrf_token": csrf_token_from(page), **data})


def post_action(client, path):
    return client.post(path, data={"csrf_token": csrf_token(client)})


def test_evaluators_and_strangers_have_no_access(client, login, org):
    template = make_whatsapp_template(org)
    assert client.get(BASE).status_code == 302  # to sign in
    login(make_user(org, role="evaluator"))
    for path in (BASE, f"{BASE}/new", f"{BASE}/{template.id}", f"{BASE}/{template.id}/edit"):
        assert client.get(path).status_code == 403, path
    for action in ("submit", "refresh", "delete"):
        assert post_action(client, f"{BASE}/{template.id}/{action}").status_code == 403
    assert "WhatsApp" not in text(client.get("/dashboard"))  # no menu entry


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_coordinators_and_admins_see_the_menu_entry(client, login, org, role):
    login(make_user(org, role=role))
    page = text(client.get("/dashboard?lang=en"))
    assert f'href="{BASE}"' in page and "WhatsApp templates" in page


def test_another_organizations_template_is_not_found(client, login, org, coordinator):
    other = make_whatsapp_template(make_org(), status="rejected", rejection_reason="Secreto")
    login(coordinator)
    for path in (f"{BASE}/{other.id}", f"{BASE}/{other.id}/edit", f"{BASE}/new?copy={other.id}"):
        assert client.get(path).status_code == 404, path
    for action in ("submit", "refresh", "delete"):
        assert post_action(client, f"{BASE}/{other.id}/{action}").status_code == 404
    assert "Secreto" not in text(client.get(BASE))
    assert db.session.get(WhatsAppTemplate, other.id).status == "rejected"


def test_list_shows_statuses_and_the_rejection_reason_in_english(client, login, org, coordinator):
    make_whatsapp_template(org, name="invitacion", status="approved", content_sid="HX" + "1" * 32)
    make_whatsapp_template(
        org,
        name="invitacion",
        language="en",
        status="rejected",
        content_sid="HX" + "2" * 32,
        rejection_reason="Variable at the end",
    )
    make_whatsapp_template(org, name="encuesta", status="pending", content_sid="HX" + "3" * 32)
    login(coordinator)
    page = text(client.get(f"{BASE}?lang=en"))
    assert re.search(r'data-status="approved">\s*<span class="badge badge--ok">Approved', page)
    assert re.search(r'data-status="pending">\s*<span class="badge badge--warn">In review', page)
    assert "Reason: Variable at the end" in page
    assert page.index("encuesta") < page.index("invitacion")  # by name


def test_list_in_spanish(client, login, org, coordinator):
    make_whatsapp_template(org, status="rejected", rejection_reason="Formato inválido")
    make_whatsapp_template(org, status="pending", content_sid="HX" + "3" * 32)
    login(coordinator)
    page = text(client.get(f"{BASE}?lang=es"))
    assert "Plantillas de WhatsApp" in page
    assert "Rechazada" in page and "En revisión" in page
    assert "Motivo: Formato inválido" in page


def test_create_a_template_then_submit_and_refresh(
    client, login, org, coordinator, templates_gateway
):
    login(coordinator)
    response = post_form(client, f"{BASE}/new", FORM, lang="en")
    assert response.status_code == 302
    template = db.session.scalar(select(WhatsAppTemplate))
    assert response.headers["Location"].endswith(f"{BASE}/{template.id}")
    assert (template.name, template.status, template.created_by) == (
        "taller_recordatorio",
        "draft",
        coordinator.id,
    )
    assert template.variables == {"1": "first_name", "2": "workshop_date"}
    assert [b["id"] for b in template.buttons] == ["rsvp_yes", "rsvp_no"]

    page = text(client.get(f"{BASE}/{template.id}?lang=en"))
    assert "Hola Alex, tu taller es el " in page  # the preview with sample values
    assert "Submit to WhatsApp" in page and "Refresh status" not in page

    response = post_action(client, f"{BASE}/{template.id}/submit")
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"] + "?lang=en"))
    assert "Submitted to WhatsApp" in page and "In review" in page
    assert "Refresh status" in page and "Submit to WhatsApp" not in page
    db.session.expire_all()
    template = db.session.get(WhatsAppTemplate, template.id)
    assert template.status == "pending" and len(templates_gateway.contents) == 1

    templates_gateway.approve(template.content_sid)
    response = post_action(client, f"{BASE}/{template.id}/refresh")
    page = text(client.get(response.headers["Location"] + "?lang=en"))
    assert "Status: Approved." in page
    # approved: no more edits
    response = client.get(f"{BASE}/{template.id}/edit?lang=en")
    assert response.status_code == 302
    assert "Only a draft or a rejected template can be edited." in text(
        client.get(response.headers["Location"])
    )


def test_bad_input_shows_every_error_and_saves_nothing(client, login, coordinator):
    login(coordinator)
    data = {**FORM, "name": "Taller Nuevo", "body": "Hola {{1}}, {{3}}", "var_1": ""}
    response = post_form(client, f"{BASE}/new", data, lang="en")
    assert response.status_code == 400 and count() == 0
    page = text(response)
    assert "Use only lowercase letters without accents" in page
    assert "{{2}} is missing" in page
    assert "Choose what fills {{1}}." in page


def test_bad_input_in_spanish(client, login, coordinator):
    login(coordinator)
    data = {**FORM, "body": "{{1}} ven al taller", "var_2": ""}
    response = post_form(client, f"{BASE}/new", data, lang="es")
    assert response.status_code == 400 and count() == 0
    assert "WhatsApp no acepta una variable al principio o al final del texto" in text(response)


def test_twilio_refusal_is_shown_translated(client, login, org, coordinator, templates_gateway):
    from app.messaging.templates import CREDENTIALS, TemplateGatewayError

    template = make_whatsapp_template(org)
    templates_gateway.fail_next(TemplateGatewayError(CREDENTIALS, status=401, code=20003))
    login(coordinator)
    client.get("/dashboard?lang=en")  # the message is written in the language of the POST
    response = post_action(client, f"{BASE}/{template.id}/submit")
    page = text(client.get(response.headers["Location"]))
    assert "Twilio refused this installation" in page
    db.session.expire_all()
    assert db.session.get(WhatsAppTemplate, template.id).status == "draft"


def test_edit_a_rejected_template(client, login, org, coordinator):
    template = make_whatsapp_template(
        org, status="rejected", rejection_reason="Too short", content_sid="HX" + "9" * 32
    )
    login(coordinator)
    page = text(client.get(f"{BASE}/{template.id}/edit?lang=en"))
    assert "Too short" in page and 'value="' + template.name + '"' in page
    response = post_form(client, f"{BASE}/{template.id}/edit", FORM, lang="en")
    assert response.status_code == 302
    db.session.expire_all()
    template = db.session.get(WhatsAppTemplate, template.id)
    assert (template.status, template.content_sid, template.name) == (
        "draft",
        None,
        "taller_recordatorio",
    )


def test_the_other_language_starts_from_the_first(client, login, org, coordinator):
    source = make_whatsapp_template(
        org,
        body="Hola {{1}}, {{2}} te invita.",
        variables={"1": "first_name", "2": "org"},
        buttons=[{"title": "Sí", "intent": "rsvp_yes", "value": "", "id": "rsvp_yes"}],
    )
    login(coordinator)
    page = text(client.get(f"{BASE}/{source.id}?lang=en"))
    assert f'href="{BASE}/new?copy={source.id}"' in page and "Write the English version" in page
    page = text(client.get(f"{BASE}/new?copy={source.id}&lang=en"))
    assert f'value="{source.name}"' in page
    assert '<option selected value="en">' in page
    assert '<option selected value="org">' in page  # {{2}} keeps its placeholder
    assert '<option selected value="rsvp_yes">' in page  # the button keeps its meaning


def test_delete_a_draft(client, login, org, coordinator):
    template = make_whatsapp_template(org)
    login(coordinator)
    response = post_action(client, f"{BASE}/{template.id}/delete")
    assert response.headers["Location"].endswith(BASE) and count() == 0


def test_the_form_has_the_samples_of_both_languages(client, login, coordinator):
    login(coordinator)
    page = text(client.get(f"{BASE}/new?lang=en"))
    assert "data-samples=" in page and "Jóvenes Tijuana" in page
    assert "js/whatsapp_templates.js" in page
