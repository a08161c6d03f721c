"""Contract tests: the real TwilioGateway and SDK against Prism serving Twilio's OpenAPI spec.

Prism (`make prism`, pinned in tests/contract/package.json) validates every request against
`twilio_api_v2010.json` and answers with the spec's static examples, so these tests assert on
the requests sent (the SDK keeps the last one in `_test_only_last_request`), not on the answers.
Twilio error codes cannot come from Prism: the fake server covers those.

They skip, loudly, only when node/npm or the spec is missing. A missing Prism install is
installed with `npm ci` (what `make prism` does): see tests/prism.py.
"""

import re
from datetime import UTC, datetime

import pytest
from twilio.base.exceptions import TwilioRestException

from app.messaging import PermanentSmsError
from app.messaging.twilio_gateway import TwilioGateway
from tests.prism import prism_mock

ACCOUNT_SID = "AC" + "0" * 32
SERVICE_SID = "MG" + "a1b2" * 8
CALLBACK = "https://alcance.example.org/webhooks/twilio/status"
ANA = "+5216641234567"


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory):
    with prism_mock(
        "twilio_api_v2010.json", "TWILIO_OPENAPI_SPEC", tmp_path_factory.mktemp("prism")
    ) as url:
        yield url


@pytest.fixture
def make_gateway(prism_url):
    made = []

    def make(**kwargs):
        kwargs.setdefault("messaging_service_sid", SERVICE_SID)
        gateway = TwilioGateway(
            ACCOUNT_SID, "test-token", api_base_url=prism_url, timeout=(2, 10), **kwargs
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def last_exchange(gateway):
    http = gateway.http_client
    return http._test_only_last_request, http._test_only_last_response


def test_send_with_messaging_service_is_accepted(prism_url, make_gateway):
    gateway = make_gateway()
    result = gateway.send(ANA, "Hola, ¿cómo estás?", status_callback=CALLBACK)

    request, response = last_exchange(gateway)
    assert response.status_code == 201
    assert request.method == "POST"
    assert request.url == f"{prism_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.data == {
        "To": ANA,
        "Body": "Hola, ¿cómo estás?",
        "MessagingServiceSid": SERVICE_SID,
        "StatusCallback": CALLBACK,
    }
    assert request.auth == (ACCOUNT_SID, "test-token")
    # Static example answer: only its shape is meaningful.
    assert re.fullmatch(r"SM[0-9a-fA-F]{32}", result.sid) and result.status


def test_send_with_from_number_and_no_callback_is_accepted(prism_url, make_gateway):
    gateway = make_gateway(messaging_service_sid=None, from_number="+15017122661")
    gateway.send(ANA, "Taller el sábado")
    request, response = last_exchange(gateway)
    assert response.status_code == 201
    assert request.data == {"To": ANA, "Body": "Taller el sábado", "From": "+15017122661"}


def test_find_sent_matches_the_list_operation(prism_url, make_gateway, monkeypatch):
    gateway = make_gateway()
    seen = []
    request = gateway.http_client.request

    def spy(method, url, **kwargs):
        response = request(method, url, **kwargs)
        seen.append((method, gateway.http_client._test_only_last_request, response.status_code))
        return response

    monkeypatch.setattr(gateway.http_client, "request", spy)
    since = datetime(2026, 11, 27, 18, 0, 5, tzinfo=UTC)
    found = gateway.find_sent(ANA, since=since)

    method, first, status = seen[0]
    assert (method, status) == ("GET", 200)
    assert first.url == f"{prism_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert first.params == {"To": ANA, "DateSent>": "2026-11-27T18:00:05Z", "PageSize": 20}
    # Prism's example page links to a next page forever: only limit=20 stops the SDK.
    assert all(s == 200 and r.url.startswith(prism_url) for _, r, s in seen)
    assert len(found) == 20
    # Static example records (an SMS and an MMS to another number): check the parsing only.
    assert all(m.date_created.tzinfo is not None and m.sid[:2] in ("SM", "MM") for m in found)


# Malformed requests: the raw SDK lets them through, Prism's validation rejects them.
@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(to=None, body="x", messaging_service_sid=SERVICE_SID), "To"),
        (dict(to=ANA, body="x", messaging_service_sid="XX123"), "MessagingServiceSid"),
        (
            dict(to=ANA, body="x", messaging_service_sid=SERVICE_SID, status_callback="not a url"),
            "StatusCallback",
        ),
    ],
)
def test_prism_rejects_malformed_requests_from_the_raw_sdk(make_gateway, kwargs, field):
    gateway = make_gateway()
    with pytest.raises(TwilioRestException) as info:
        gateway.client.messages.create(**kwargs)
    assert info.value.status == 422
    _, response = last_exchange(gateway)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


@pytest.mark.parametrize(
    "gateway_kwargs, callback",
    [
        (dict(messaging_service_sid="XX123"), None),
        (dict(), "not a url"),
    ],
)
def test_gateway_maps_422_to_permanent_error(make_gateway, gateway_kwargs, callback):
    gateway = make_gateway(**gateway_kwargs)
    with pytest.raises(PermanentSmsError) as info:
        gateway.send(ANA, "Hola Ana", status_callback=callback)
    err = info.value
    assert err.status == 422
    assert err.code is None  # Prism's problem+json has no Twilio code (the SDK copies the 422)
    assert not err.marks_opted_out and not err.marks_undeliverable
    assert ANA not in str(err) and "Hola Ana" not in str(err)
