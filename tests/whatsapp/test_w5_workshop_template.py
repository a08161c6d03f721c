"""A workshop invitation sent as a WhatsApp template (issue 19) carries the workshop's
details in its variables, in the row's language and the recipient's country formats, like
its SMS text; a plain campaign message keeps the stand-ins."""

from app.outbox.channel_plan import TemplateRequest
from app.whatsapp.hooks import pick
from tests.factories import (
    make_campaign,
    make_contact,
    make_message,
    make_whatsapp_template,
    make_workshop,
)
from tests.support import utc

NOW = utc(2026, 12, 2, 1, 0)
MAPPING = {"1": "first_name", "2": "workshop_title", "3": "workshop_date", "4": "workshop_time"}
BODY = "Hola {{1}}: {{2}}, {{3}} a las {{4}}."


def setup(org):
    campaign = make_campaign(org)
    message = make_message(campaign, whatsapp_template_name="invitacion_taller")
    for language, sid in (("es", "HX" + "ab12" * 8), ("en", "HX" + "cd34" * 8)):
        make_whatsapp_template(
            org,
            name="invitacion_taller",
            language=language,
            body=BODY,
            variables=MAPPING,
            status="approved",
            content_sid=sid,
        )
    # Saturday 5 December, 17:00 in Tijuana: "Decide tú" / "Your call".
    return campaign, message, make_workshop(org, campaign=campaign)


def request(row_id, contact, campaign, message, workshop=None, purpose="invitation"):
    return TemplateRequest(
        row_id,
        contact.organization_id,
        contact.id,
        campaign.id,
        message.id,
        workshop.id if workshop is not None else None,
        contact.language,
        purpose if workshop is not None else "campaign",
    )


def test_invitation_template_gets_the_workshop_in_each_language(app, make_org):
    org = make_org()
    campaign, message, workshop = setup(org)
    es = make_contact(org, first_name="Xochitl")
    en = make_contact(org, first_name="Ann", language="en", country="US")
    chosen = pick(
        [
            request(1, es, campaign, message, workshop),
            request(2, en, campaign, message, workshop),
        ],
        NOW,
    )
    assert chosen[1].content_sid == "HX" + "ab12" * 8
    assert chosen[1].variables == {
        "1": "Xochitl",
        "2": "Decide tú",
        "3": "sábado 5 de diciembre",
        "4": "17:00",
    }
    assert chosen[2].content_sid == "HX" + "cd34" * 8
    assert chosen[2].variables == {
        "1": "Ann",
        "2": "Your call",
        "3": "Saturday, December 5",
        "4": "5:00 PM",
    }


def test_campaign_message_and_another_organizations_workshop_keep_the_stand_ins(app, make_org):
    org, other = make_org(), make_org()
    campaign, message, _ = setup(org)
    _, _, foreign = setup(other)
    contact = make_contact(org, first_name="Xochitl")
    chosen = pick(
        [
            request(1, contact, campaign, message),
            request(2, contact, campaign, message, foreign),
        ],
        NOW,
    )
    stand_ins = {"1": "Xochitl", "2": "nuestro taller", "3": "(por confirmar)"}
    for row_id in (1, 2):
        assert {k: chosen[row_id].variables[k] for k in "123"} == stand_ins
