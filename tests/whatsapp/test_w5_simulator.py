"""Issue 19, phone simulator: a template send shows the template's own text (its language
version, the one its content SID names) with the values that went, not the SMS text."""

import json
from datetime import timedelta

from app.main.whatsapp_simulator import chat
from app.messaging.simulator import SimulatorGateway
from tests.factories import make_contact, make_outbox_row, make_user, make_whatsapp_template
from tests.support import NOW

SMS_TEXT = "Hola Xochitl: te invitamos a «Decide tú», sábado 5 de diciembre. Responde SI 4001"


def whatsapp_contact(org, **overrides):
    return make_contact(
        org,
        first_name="Xochitl",
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=NOW,
        whatsapp_opt_in_source="form",
        **overrides,
    )


def sent_row(contact, minutes_ago, **overrides):
    sent = NOW - timedelta(minutes=minutes_ago)
    return make_outbox_row(
        contact,
        channel="whatsapp",
        body=SMS_TEXT,
        status="delivered",
        sent_at=sent,
        final_at=sent,
        **overrides,
    )


def templates(org):
    for language, sid, body in (
        ("es", "HX" + "a" * 32, "¡Hola {{1}}! Te invitamos a {{2}} el {{3}}."),
        ("en", "HX" + "b" * 32, "Hi {{1}}! Join us at {{2}} on {{3}}."),
    ):
        make_whatsapp_template(
            org,
            name="invitacion",
            language=language,
            body=body,
            variables={"1": "first_name", "2": "workshop_title", "3": "workshop_date"},
            status="approved",
            content_sid=sid,
        )


def test_template_rows_show_the_filled_template_and_free_form_rows_their_body(app, make_org):
    org = make_org()
    templates(org)
    es = whatsapp_contact(org)
    sent_row(
        es,
        30,
        whatsapp_form="template",
        content_sid="HX" + "a" * 32,
        content_variables=json.dumps(
            {"1": "Xochitl", "2": "Decide tú", "3": "sábado 5 de diciembre"}
        ),
    )
    sent_row(es, 10, whatsapp_form="free_form")
    en = whatsapp_contact(org, language="en")
    sent_row(
        en,
        5,
        language="en",
        whatsapp_form="template",
        content_sid="HX" + "b" * 32,
        content_variables=json.dumps({"1": "Xochitl", "2": "Your call", "3": "Saturday"}),
    )
    assert [item.text for item in chat(es)] == [
        "¡Hola Xochitl! Te invitamos a Decide tú el sábado 5 de diciembre.",
        SMS_TEXT,
    ]
    assert [item.text for item in chat(en)] == ["Hi Xochitl! Join us at Your call on Saturday."]


def test_another_organizations_template_is_never_shown(app, make_org):
    org, other = make_org(), make_org()
    templates(other)  # same content SID, other organization
    contact = whatsapp_contact(org)
    sent_row(
        contact,
        30,
        whatsapp_form="template",
        content_sid="HX" + "a" * 32,
        content_variables=json.dumps({"1": "Xochitl"}),
    )
    assert [item.text for item in chat(contact)] == [SMS_TEXT]


def test_the_page_shows_the_template_text(app, client, login, make_org):
    app.extensions["sms_gateway"] = SimulatorGateway()
    org = make_org()
    templates(org)
    contact = whatsapp_contact(org)
    sent_row(
        contact,
        30,
        whatsapp_form="template",
        content_sid="HX" + "a" * 32,
        content_variables=json.dumps(
            {"1": "Xochitl", "2": "Decide tú", "3": "sábado 5 de diciembre"}
        ),
    )
    login(make_user(org, role="coordinator", language="en"))
    page = client.get(f"/simulator/{contact.id}/whatsapp").get_data(as_text=True)
    assert "Te invitamos a Decide tú el sábado 5 de diciembre." in page
    assert "Responde SI" not in page
