"""The template gateways: TwilioContentGateway's answers and errors (canned Twilio answers,
no network; the request shapes are checked against Twilio's spec in test_contract_prism),
the fake's behaviour, and which gateway the configuration builds."""

import json
import socket

import pytest
from flask_babel import force_locale
from twilio.http.response import Response

from app.messaging.factory import build_template_gateway
from app.messaging.fake_templates import FakeTemplateGateway
from app.messaging.templates import TemplateContent, TemplateGateway, our_status
from app.messaging.twilio_gateway import TwilioContentGateway

SID = "HX" + "1" * 32
CONTENT = TemplateContent(friendly_name="alcance_1_1_x", language="es", body="Hola {{1}}, ven.")


@pytest.fixture
def answer(monkeypatch):
    """A TwilioContentGateway whose HTTP client answers `status`, `payload` (canned)."""

    def make(status: int, payload: dict):
        gateway = TwilioContentGateway("AC" + "0" * 32, "token")
        monkeypatch.setattr(
            gateway.http_client,
            "request",
            lambda *args, **kwargs: Response(status, json.dumps(payload)),
        )
        return gateway

    return make


def twilio_error(code: int, message: str, status: int) -> dict:
    return {"code": code, "message": message, "more_info": "", "status": status}


def test_the_gateways_follow_the_protocol():
    assert isinstance(FakeTemplateGateway(), TemplateGateway)
    assert isinstance(TwilioContentGateway("AC" + "0" * 32, "token"), TemplateGateway)


@pytest.mark.parametrize(
    "status, payload, expected",
    [
        (
            400,
            twilio_error(21656, "Content variables are invalid for +5216641234567", 400),
            "Twilio refused the template (error 21656): Content variables are invalid for [number]",
        ),
        (429, twilio_error(20429, "Too Many Requests", 429), "Twilio is busy right now"),
        (401, twilio_error(20003, "Authenticate", 401), "Twilio refused this installation"),
        (404, twilio_error(20404, "Not found", 404), "Twilio no longer has this template"),
        (500, {"message": "oops"}, "Twilio did not answer in time"),
    ],
)
def test_create_errors(app, answer, status, payload, expected):
    gateway = answer(status, payload)
    with pytest.raises(Exception) as info:
        gateway.create_template(CONTENT)
    error = info.value
    assert str(error).startswith(expected), str(error)
    assert error.retryable == (status == 429)
    assert error.outcome_unknown == (status == 500)  # the content may have been created


def test_a_failed_lookup_is_retryable(app, answer):
    with pytest.raises(Exception) as info:
        answer(503, {"message": "down"}).fetch_status(SID)
    assert info.value.retryable and not info.value.outcome_unknown
    assert str(info.value).startswith("Twilio could not be reached")


def test_unreachable_twilio_is_retryable(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway = TwilioContentGateway(
        "AC" + "0" * 32, "token", api_base_url=f"http://127.0.0.1:{port}", timeout=0.5
    )
    with pytest.raises(Exception) as info:
        gateway.create_template(CONTENT)
    assert info.value.retryable and not info.value.outcome_unknown


def test_errors_are_translated(app, answer):
    with pytest.raises(Exception) as info:
        answer(429, twilio_error(20429, "Too Many Requests", 429)).create_template(CONTENT)
    with force_locale("es"):
        assert str(info.value) == "Twilio está ocupado en este momento. Inténtalo en un minuto."


@pytest.mark.parametrize(
    "whatsapp, expected",
    [
        ({"status": "approved", "rejection_reason": ""}, ("approved", "")),
        ({"status": "received"}, ("pending", "")),
        ({"status": "pending"}, ("pending", "")),
        (
            {"status": "rejected", "rejection_reason": "Variables at the end"},
            ("rejected", "Variables at the end"),
        ),
        ({"status": "PAUSED"}, ("paused", "")),
        ({"status": "disabled"}, ("disabled", "")),
        ({"status": "unsubmitted"}, ("draft", "")),
        ({"status": "something_new"}, ("pending", "")),  # unknown: keep asking
        (None, ("draft", "")),  # never submitted
    ],
)
def test_fetch_status(app, answer, whatsapp, expected):
    payload = {"sid": SID, "account_sid": "AC" + "0" * 32, "whatsapp": whatsapp, "url": "x"}
    approval = answer(200, payload).fetch_status(SID)
    assert (approval.status, approval.rejection_reason) == expected


def test_our_status():
    assert our_status(" Approved ") == "approved" and our_status(None) is None


def test_the_fake_approves_at_the_first_check_in_development():
    gateway = FakeTemplateGateway(auto_approve=True)
    sid = gateway.create_template(CONTENT)
    assert gateway.fetch_status(sid).status == "draft"
    gateway.request_approval(sid, name="hola", category="utility")
    assert gateway.fetch_status(sid).status == "approved"


def test_the_simulator_approves_a_template_another_process_submitted():
    # gunicorn workers and the worker CLI each hold their own fake: the one refreshing the
    # status may not be the one that created the content.
    web, worker = FakeTemplateGateway(auto_approve=True), FakeTemplateGateway(auto_approve=True)
    sid = web.create_template(CONTENT)
    assert worker.request_approval(sid, name="hola", category="utility").status == "pending"
    assert worker.fetch_status(sid).status == "approved"


def test_the_fake_knows_only_its_contents():
    with pytest.raises(Exception) as info:
        FakeTemplateGateway().fetch_status(SID)
    assert info.value.status == 404


@pytest.mark.parametrize(
    "config, kind, auto_approve",
    [
        ({"SMS_BACKEND": "simulator"}, FakeTemplateGateway, True),
        ({}, FakeTemplateGateway, True),
        ({"SMS_BACKEND": "fake"}, FakeTemplateGateway, False),
        (
            {
                "SMS_BACKEND": "twilio",
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "TWILIO_AUTH_TOKEN": "token",
            },
            TwilioContentGateway,
            None,
        ),
    ],
)
def test_the_configuration_picks_the_gateway(config, kind, auto_approve):
    gateway = build_template_gateway(config)
    assert isinstance(gateway, kind)
    assert getattr(gateway, "auto_approve", None) == auto_approve


@pytest.mark.parametrize("config", [{"SMS_BACKEND": "twilio"}, {"SMS_BACKEND": "carrier"}])
def test_bad_configurations_fail_fast(config):
    with pytest.raises(RuntimeError):
        build_template_gateway(config)
