"""Contract tests: the real TwilioContentGateway and SDK against Prism serving Twilio's
Content API spec (../shared/twilio/twilio_content_v1.json), a Prism of its own on a free
port (tests/prism.py, the same recipe as the Messages API's contract tests).

Prism validates every request against the spec (a 422 otherwise) and answers with the
spec's static examples, so these tests assert on the requests sent, not on the answers.
They skip, loudly, only when node/npm or the spec is missing.
"""

import re

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest.content.v1.content import ContentList

from app.extensions import db
from app.messaging.templates import TemplateButton, TemplateContent, TemplateGatewayError
from app.messaging.twilio_gateway import TwilioContentGateway
from app.whatsapp import services
from app.whatsapp.models import WhatsAppTemplate
from tests.factories import make_org, make_whatsapp_template
from tests.prism import prism_mock
from tests.support import NOW

ACCOUNT_SID = "AC" + "0" * 32
SID = "HX" + "0123456789abcdef" * 2


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory):
    with prism_mock(
        "twilio_content_v1.json",
        "TWILIO_CONTENT_OPENAPI_SPEC",
        tmp_path_factory.mktemp("prism_content"),
    ) as url:
        yield url


@pytest.fixture
def gateway(prism_url, monkeypatch):
    """A TwilioContentGateway on Prism; `gateway.seen` lists (method, url, params, json,
    status) of every request; `gateway.prefer` picks a named example of the spec."""
    made = TwilioContentGateway(
        ACCOUNT_SID, "test-token", api_base_url=prism_url, timeout=(2, 10), find_limit=5
    )
    made.seen, made.prefer = [], None
    request = made.http_client.request

    def spy(method, url, params=None, data=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if made.prefer:
            headers["Prefer"] = made.prefer
        response = request(method, url, params=params, data=data, headers=headers, **kwargs)
        sent = made.http_client._test_only_last_request
        made.seen.append((method, sent.url, params, data, headers, response.status_code))
        return response

    monkeypatch.setattr(made.http_client, "request", spy)
    yield made
    made.close()


CONTENT = TemplateContent(
    friendly_name="alcance_1_2_abcd1234",
    language="es",
    body="Hola {{1}}, te esperamos el {{2}}.",
    samples={"1": "Alex", "2": "sábado 5 de diciembre"},
)


def test_create_a_text_template(prism_url, gateway):
    sid = gateway.create_template(CONTENT)
    method, url, _, data, headers, status = gateway.seen[-1]
    assert (method, url, status) == ("POST", f"{prism_url}/v1/Content", 201)
    assert headers["Content-Type"] == "application/json"
    # The SDK drops the request's unset (None) members before sending.
    assert data == {
        "friendly_name": "alcance_1_2_abcd1234",
        "language": "es",
        "variables": {"1": "Alex", "2": "sábado 5 de diciembre"},
        "types": {"twilio/text": {"body": "Hola {{1}}, te esperamos el {{2}}."}},
    }
    assert re.fullmatch(r"HX[0-9a-fA-F]{32}", sid)  # the spec's example SID


def test_create_a_quick_reply_template(prism_url, gateway):
    content = TemplateContent(
        friendly_name="alcance_1_3_abcd1234",
        language="en",
        body="Hi {{1}}, are you coming?",
        samples={"1": "Alex"},
        buttons=(TemplateButton("Yes, I'll come", "rsvp_yes"), TemplateButton("Can't", "rsvp_no")),
    )
    gateway.create_template(content)
    _, _, _, data, _, status = gateway.seen[-1]
    assert status == 201  # Prism checked the quick-reply shape (type QUICK_REPLY, titles)
    assert data["types"] == {
        "twilio/quick-reply": {
            "body": "Hi {{1}}, are you coming?",
            "actions": [
                {"type": "QUICK_REPLY", "title": "Yes, I'll come", "id": "rsvp_yes"},
                {"type": "QUICK_REPLY", "title": "Can't", "id": "rsvp_no"},
            ],
        }
    }


def test_request_approval(prism_url, gateway):
    approval = gateway.request_approval(SID, name="taller_recordatorio", category="utility")
    method, url, _, data, _, status = gateway.seen[-1]
    assert (method, status) == ("POST", 201)
    assert url == f"{prism_url}/v1/Content/{SID}/ApprovalRequests/whatsapp"
    assert data == {"name": "taller_recordatorio", "category": "UTILITY"}
    # the example answers "unsubmitted": just asked, so it is pending for us
    assert (approval.status, approval.provider_status) == ("pending", "unsubmitted")


def test_fetch_status(prism_url, gateway):
    approval = gateway.fetch_status(SID)
    method, url, _, _, _, status = gateway.seen[-1]
    assert (method, url, status) == ("GET", f"{prism_url}/v1/Content/{SID}/ApprovalRequests", 200)
    assert (approval.status, approval.rejection_reason) == ("approved", "")


@pytest.mark.parametrize(
    "example, expected", [("readEmpty", None), ("readResults", "HX" + "a" * 32)]
)
def test_find_a_template_by_its_friendly_name(prism_url, gateway, example, expected):
    gateway.prefer = f"example={example}"
    name = "Some content" if expected else "alcance_1_2_abcd1234"
    assert gateway.find_template(name) == expected
    method, url, params, _, _, status = gateway.seen[0]
    assert (method, url, status) == ("GET", f"{prism_url}/v1/Content", 200)
    assert params == {"PageSize": 50}
    # Prism's example pages may link to themselves forever: `find_limit` stops the scan.
    assert len(gateway.seen) <= 5


def test_prism_rejects_a_content_without_language(gateway):
    request = ContentList.ContentCreateRequest({"types": {"twilio/text": {"body": "Hola"}}})
    with pytest.raises(TwilioRestException) as info:
        gateway.client.content.v1.contents.create(request)
    assert info.value.status == 422
    response = gateway.http_client._test_only_last_response
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "language" in response.text


def test_gateway_maps_a_refusal_to_a_translated_error(gateway):
    with pytest.raises(TemplateGatewayError) as info:
        gateway.fetch_status("HXnot-a-sid")  # Prism: the path's SID pattern
    error = info.value
    assert error.status == 422 and error.code is None
    assert not error.retryable and not error.outcome_unknown
    assert str(error).startswith("Twilio refused the template: ")


def test_submit_and_refresh_through_the_real_sdk(app, prism_url, gateway):
    org = make_org()
    template = make_whatsapp_template(
        org,
        body="Hola {{1}}, ¿vienes?",
        buttons=[{"title": "Sí, voy", "intent": "rsvp_yes", "value": "", "id": "rsvp_yes"}],
    )
    services.submit_template(template.id, organization_id=org.id, now=NOW, gateway=gateway)
    db.session.expire_all()
    template = db.session.get(WhatsAppTemplate, template.id)
    assert template.status == "pending" and template.content_sid == "HX" + "a" * 32
    assert [(m, s) for m, _, _, _, _, s in gateway.seen] == [("POST", 201), ("POST", 201)]
    assert gateway.seen[0][3]["variables"] == {"1": "Alex"}
    services.refresh_status(template, now=NOW, gateway=gateway)
    assert db.session.get(WhatsAppTemplate, template.id).status == "approved"
