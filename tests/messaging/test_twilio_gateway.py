"""TwilioGateway over real HTTP against the fake Twilio server (tests/fake_twilio.py)."""

import json
import logging
import re
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import urllib3.exceptions
from twilio import __version__ as twilio_version
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from app.messaging import OutcomeUnknownSmsError, PermanentSmsError, RetryableSmsError, SmsError
from app.messaging.twilio_gateway import TwilioGateway, redact
from tests.fake_twilio import (
    DROP,
    FROM_NUMBER,
    HANG,
    MESSAGING_SERVICE_SID,
    RATE_LIMIT,
    SERVER_ERROR,
    STALL_BODY,
    TRUNCATE,
)
from tests.messaging.helpers import CALLBACK_URL, TEST_TIMEOUT

ANA = "+5216641234567"
BETO = "+15105550123"
BODY = "Hola Ana, ¿vienes al taller del sábado? Responde BAJA para no recibir más mensajes"
SID = re.compile(r"^SM[0-9a-f]{32}$")


def messages_path(fake):
    return f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


def assert_no_personal_data(error: SmsError, *numbers: str):
    text = f"{error} {error!r} {error.args}"
    for number in numbers or (ANA,):
        assert number not in text and number.lstrip("+") not in text
        assert number.replace("+", "%2B") not in text
    assert "Hola Ana" not in text and "taller" not in text
    # The SDK's exception (which quotes Twilio's text and URLs) is not chained.
    assert error.__cause__ is None and error.__suppress_context__


# -- success -----------------------------------------------------------------------------------
def test_send_with_messaging_service_posts_exactly_the_expected_form(fake_twilio, gateway):
    result = gateway.send(ANA, BODY, status_callback=CALLBACK_URL)

    [request] = fake_twilio.requests
    assert request.method == "POST" and request.path == messages_path(fake_twilio)
    assert request.form == {
        "To": ANA,
        "Body": BODY,
        "MessagingServiceSid": MESSAGING_SERVICE_SID,
        "StatusCallback": CALLBACK_URL,
    }
    assert all(len(v) == 1 for v in request.form_lists.values())
    assert request.auth == (fake_twilio.account_sid, fake_twilio.auth_token)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert f"twilio-python/{twilio_version}" in request.headers["user-agent"]

    assert SID.match(result.sid)
    assert result.status == "accepted"  # initial status through a Messaging Service
    assert result.num_segments is None  # Twilio reports 0 segments until the service sends
    [message] = fake_twilio.messages
    assert message["sid"] == result.sid and message["to"] == ANA and message["body"] == BODY
    assert fake_twilio.status_callback_of(result.sid) == CALLBACK_URL


def test_send_with_from_number_and_no_callback(fake_twilio, make_gateway):
    gateway = make_gateway(messaging_service_sid=None, from_number=FROM_NUMBER)
    short = gateway.send(BETO, "See you Saturday")
    spanish = gateway.send(ANA, "á" * 71)  # one accented vowel forces UCS-2: 70 per segment

    first = fake_twilio.creates[0]
    assert first.form == {"To": BETO, "Body": "See you Saturday", "From": FROM_NUMBER}
    assert short.status == "queued" and short.num_segments == 1
    assert spanish.num_segments == 2
    assert short.sid != spanish.sid


def test_sids_are_unique_under_concurrency(fake_twilio, gateway):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: gateway.send(ANA, f"msg {i}"), range(80)))
    assert len({r.sid for r in results}) == 80
    assert len(fake_twilio.messages) == 80


# -- failures ----------------------------------------------------------------------------------
def test_429_is_retryable_and_the_sdk_does_not_retry_it(fake_twilio, gateway):
    fake_twilio.inject(RATE_LIMIT)
    with pytest.raises(RetryableSmsError) as info:
        gateway.send(ANA, BODY)
    err = info.value
    assert (err.status, err.code, err.retryable, err.outcome_unknown) == (429, 20429, True, False)
    assert len(fake_twilio.creates) == 1 and fake_twilio.messages == []
    assert_no_personal_data(err)
    assert gateway.send(ANA, BODY).sid  # the next one goes through


def test_500_means_outcome_unknown(fake_twilio, gateway):
    fake_twilio.inject(SERVER_ERROR, record=True)  # Twilio may have created it before failing
    with pytest.raises(OutcomeUnknownSmsError) as info:
        gateway.send(ANA, BODY)
    err = info.value
    assert (err.status, err.code, err.outcome_unknown, err.retryable) == (500, 20500, True, False)
    assert len(fake_twilio.messages) == 1
    assert_no_personal_data(err)


def test_read_timeout_after_accepting_is_outcome_unknown_and_findable(fake_twilio, gateway):
    since = datetime.now(UTC) - timedelta(seconds=1)
    fake_twilio.inject(HANG)
    started = time.monotonic()
    with pytest.raises(OutcomeUnknownSmsError) as info:
        gateway.send(ANA, BODY, status_callback=CALLBACK_URL)
    elapsed = time.monotonic() - started
    err = info.value
    assert err.status is None and err.code is None and "ReadTimeout" in str(err)
    assert TEST_TIMEOUT[1] <= elapsed < TEST_TIMEOUT[1] + 1.5  # the read timeout really fired
    assert_no_personal_data(err)

    # Proof that it was "sent but unknown": the fake created it, and reconciliation finds it.
    [created] = fake_twilio.messages
    assert fake_twilio.creates[0].status is None  # no answer was ever written
    [found] = gateway.find_sent(ANA, since=since)
    assert found.sid == created["sid"] and found.to == ANA


@pytest.mark.parametrize(
    "fault, cause",
    [
        (DROP, "RemoteDisconnected"),  # connection closed before any answer
        (STALL_BODY, "ReadTimeoutError"),  # headers arrived, body never finished: ConnectionError!
        (TRUNCATE, "IncompleteRead"),  # ChunkedEncodingError
    ],
)
def test_connection_lost_after_sending_is_outcome_unknown(fake_twilio, gateway, fault, cause):
    fake_twilio.inject(fault)
    with pytest.raises(OutcomeUnknownSmsError) as info:
        gateway.send(ANA, BODY)
    assert cause in str(info.value)
    assert len(fake_twilio.messages) == 1  # it was created on the server side
    assert_no_personal_data(info.value)
    assert gateway.send(ANA, BODY).sid  # the pool recovers


def test_connection_refused_is_retryable(closed_port, make_gateway):
    gateway = make_gateway(api_base_url=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(RetryableSmsError) as info:
        gateway.send(ANA, BODY)
    assert "NewConnectionError" in str(info.value)
    assert info.value.status is None and info.value.code is None
    assert_no_personal_data(info.value)


def test_connect_timeout_is_retryable(make_gateway):
    """A listener whose accept queue is full drops SYNs, so connect() times out."""
    listener = socket.socket()
    fillers = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.05)
        gateway = make_gateway(api_base_url=f"http://127.0.0.1:{port}", timeout=(0.3, 5))
        started = time.monotonic()
        with pytest.raises(RetryableSmsError) as info:
            gateway.send(ANA, BODY)
        assert "ConnectTimeout" in str(info.value)
        assert time.monotonic() - started < 2  # the connect timeout, not the 5 s read timeout
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_dns_failure_is_retryable(make_gateway, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    gateway = make_gateway(api_base_url="http://twilio-mock.example.invalid:8080")
    with pytest.raises(RetryableSmsError) as info:
        gateway.send(ANA, BODY)
    assert "NameResolutionError" in str(info.value)


@pytest.mark.parametrize(
    "code, opted_out, undeliverable",
    [
        (21610, True, False),
        (21211, False, True),
        (21614, False, True),
        (21408, False, False),
        (21611, False, False),
    ],
)
def test_twilio_4xx_codes_are_permanent(fake_twilio, gateway, code, opted_out, undeliverable):
    fake_twilio.inject(code)
    with pytest.raises(PermanentSmsError) as info:
        gateway.send(ANA, BODY)
    err = info.value
    assert (err.status, err.code) == (400, code)
    assert (err.marks_opted_out, err.marks_undeliverable) == (opted_out, undeliverable)
    assert not err.retryable and not err.outcome_unknown
    assert fake_twilio.messages == []
    assert_no_personal_data(err)  # 21211 and 21408 quote the number in Twilio's message


def test_faults_can_target_one_recipient(fake_twilio, gateway):
    fake_twilio.inject(21610, to=ANA, times=None)
    assert gateway.send(BETO, "hi").sid
    for _ in range(2):
        with pytest.raises(PermanentSmsError):
            gateway.send(ANA, BODY)
    assert [m["to"] for m in fake_twilio.messages] == [BETO]


def test_real_validation_errors_are_permanent(gateway):
    with pytest.raises(PermanentSmsError) as info:
        gateway.send("664 123 4567", BODY)  # not E.164
    assert info.value.code == 21211 and info.value.marks_undeliverable
    assert "664" not in str(info.value)


def test_wrong_credentials_are_permanent(make_gateway):
    gateway = make_gateway(auth_token="wrong-token")
    with pytest.raises(PermanentSmsError) as info:
        gateway.send(ANA, BODY)
    assert (info.value.status, info.value.code) == (401, 20003)
    assert not info.value.marks_opted_out and not info.value.marks_undeliverable


# Mapping of exceptions that the fake cannot produce over plain HTTP.
def _max_retry(reason):
    return urllib3.exceptions.MaxRetryError(None, "/2010-04-01/x?To=%2B5216641234567", reason)


@pytest.mark.parametrize(
    "raised, expected, code",
    [
        (
            TwilioServiceException(
                "https://www.twilio.com/docs/errors/21610",
                "Unsubscribed",
                400,
                21610,
                detail=f"{ANA} sent STOP",
            ),
            PermanentSmsError,
            21610,
        ),
        (
            TwilioRestException(502, "https://api.twilio.com/x", "Bad gateway", 502),
            OutcomeUnknownSmsError,
            None,
        ),  # no Twilio code: the SDK copies the status into .code
        (
            TwilioRestException(400, "https://api.twilio.com/x", "20429", 20429),
            RetryableSmsError,
            20429,
        ),
        (json.JSONDecodeError("Expecting value", "<html>", 0), OutcomeUnknownSmsError, None),
        (
            requests.exceptions.SSLError(
                _max_retry(
                    urllib3.exceptions.SSLError(
                        ssl.SSLCertVerificationError(1, "certificate verify failed")
                    )
                )
            ),
            RetryableSmsError,
            None,
        ),
        (
            requests.exceptions.SSLError(_max_retry(urllib3.exceptions.SSLError("bad record mac"))),
            OutcomeUnknownSmsError,
            None,
        ),
        (
            requests.exceptions.ProxyError(
                _max_retry(
                    urllib3.exceptions.ProxyError("Unable to connect to proxy", OSError("refused"))
                )
            ),
            RetryableSmsError,
            None,
        ),
        (requests.exceptions.InvalidURL("bad url"), PermanentSmsError, None),
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.ProtocolError(
                    "Connection aborted.", ConnectionResetError(104, "reset")
                )
            ),
            OutcomeUnknownSmsError,
            None,
        ),
    ],
)
def test_exception_mapping(gateway, monkeypatch, raised, expected, code):
    def create(**kwargs):
        raise raised

    monkeypatch.setattr(gateway.client.api.v2010.account.messages, "create", create)
    with pytest.raises(expected) as info:
        gateway.send(ANA, BODY)
    assert type(info.value) is expected and info.value.code == code
    assert_no_personal_data(info.value)


def test_programming_errors_are_not_disguised(gateway, monkeypatch):
    def create(**kwargs):
        raise TypeError("bug")

    monkeypatch.setattr(gateway.client.api.v2010.account.messages, "create", create)
    with pytest.raises(TypeError):
        gateway.send(ANA, BODY)


def test_redact_removes_phone_numbers():
    assert (
        redact("The 'To' number +52 1 664 123 4567 is not valid")
        == "The 'To' number [number] is not valid"
    )
    assert redact("code 21610") == "code 21610"


# -- find_sent ---------------------------------------------------------------------------------
def test_find_sent_by_recipient_and_time(fake_twilio, gateway):
    clock_now = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    fake_twilio.clock = lambda: clock_now - timedelta(days=1)
    gateway.send(ANA, "ayer")
    fake_twilio.clock = lambda: clock_now
    first = gateway.send(ANA, "uno")
    gateway.send(BETO, "other")
    fake_twilio.clock = lambda: clock_now + timedelta(seconds=3)
    second = gateway.send(ANA, "dos")

    tijuana = ZoneInfo("America/Tijuana")
    since = clock_now.astimezone(tijuana)  # 10:00 in Tijuana: must be sent as 18:00Z
    found = gateway.find_sent(ANA, since=since)

    assert [m.sid for m in found] == [second.sid, first.sid]  # newest first, yesterday excluded
    assert all(m.to == ANA and m.status == "accepted" and m.error_code is None for m in found)
    assert found[0].date_created == clock_now + timedelta(seconds=3)
    assert found[0].date_created.tzinfo is not None
    [lookup] = [r for r in fake_twilio.requests if r.method == "GET"]
    assert lookup.path == messages_path(fake_twilio)
    assert {k: v[0] for k, v in lookup.query.items()} == {
        "To": ANA,
        "DateSent>": "2026-11-27T18:00:00Z",
        "PageSize": "20",
    }


def test_find_sent_reports_later_status_and_error_code(fake_twilio, gateway):
    since = datetime.now(UTC) - timedelta(seconds=1)
    sent = gateway.send(ANA, BODY, status_callback=CALLBACK_URL)
    fake_twilio.set_status(sent.sid, "undelivered", error_code=30005)
    [found] = gateway.find_sent(ANA, since=since)
    assert (found.status, found.error_code) == ("undelivered", 30005)


def test_find_sent_stops_at_twenty(fake_twilio, make_gateway):
    gateway = make_gateway(messaging_service_sid=None, from_number=FROM_NUMBER)
    for i in range(25):
        gateway.send(ANA, f"msg {i}")
    found = gateway.find_sent(ANA, since=datetime.now(UTC) - timedelta(minutes=1))
    assert len(found) == 20
    assert len([r for r in fake_twilio.requests if r.method == "GET"]) == 1


def test_find_sent_requires_an_aware_datetime(gateway):
    with pytest.raises(ValueError):
        gateway.find_sent(ANA, since=datetime(2026, 11, 27, 18, 0))


@pytest.mark.parametrize(
    "fault, expected",
    [
        (RATE_LIMIT, RetryableSmsError),
        (SERVER_ERROR, RetryableSmsError),  # a lookup has no side effect: safe to repeat
        (HANG, RetryableSmsError),
        (21211, PermanentSmsError),
    ],
)
def test_find_sent_failures(fake_twilio, gateway, fault, expected):
    fake_twilio.inject(fault, endpoint="list")
    with pytest.raises(expected) as info:
        gateway.find_sent(ANA, since=datetime.now(UTC))
    assert_no_personal_data(info.value)


def test_find_sent_connection_refused_does_not_leak_the_number(closed_port, make_gateway):
    gateway = make_gateway(api_base_url=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(RetryableSmsError) as info:
        gateway.find_sent(ANA, since=datetime.now(UTC))
    assert_no_personal_data(info.value)  # requests' own message quotes the URL with To=


# -- timeout, base URL, logging -----------------------------------------------------------------
def test_default_timeout_is_explicit_and_reaches_requests(fake_twilio, make_gateway, monkeypatch):
    gateway = make_gateway(timeout=TwilioGateway.__init__.__kwdefaults__["timeout"])
    assert gateway.timeout == (5.0, 15.0)
    seen = []
    send = gateway.http_client.session.send

    def spy(request, **kwargs):
        seen.append(kwargs["timeout"])
        return send(request, **kwargs)

    monkeypatch.setattr(gateway.http_client.session, "send", spy)
    gateway.send(ANA, BODY)
    gateway.find_sent(ANA, since=datetime.now(UTC))
    assert seen == [(5.0, 15.0), (5.0, 15.0)]


def test_timeout_accepts_a_single_number_and_rejects_nonsense(fake_twilio):
    gateway = TwilioGateway("AC" + "1" * 32, "tok", from_number=FROM_NUMBER, timeout=2)
    assert gateway.timeout == (2.0, 2.0)
    gateway.close()
    with pytest.raises(ValueError):
        TwilioGateway("AC" + "1" * 32, "tok", from_number=FROM_NUMBER, timeout=(0, 1))


def test_constructor_requires_credentials_and_a_sender():
    with pytest.raises(ValueError, match="Messaging Service SID or a from number"):
        TwilioGateway("AC" + "1" * 32, "tok")
    with pytest.raises(ValueError, match="auth token"):
        TwilioGateway("AC" + "1" * 32, "", from_number=FROM_NUMBER)


@pytest.mark.parametrize(
    "base, url, expected",
    [
        (
            "http://127.0.0.1:4010",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B1555&PageSize=20",
            "http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json?To=%2B1555&PageSize=20",
        ),
        (
            "http://127.0.0.1:4010/",
            "https://api.sydney.us1.twilio.com/2010-04-01/x.json",
            "http://127.0.0.1:4010/2010-04-01/x.json",
        ),
        (
            "https://mock.internal/twilio/",
            "https://messaging.twilio.com/v1/Services",
            "https://mock.internal/twilio/v1/Services",
        ),
        (
            "http://127.0.0.1:4010",
            "https://example.com/2010-04-01/x.json",
            "https://example.com/2010-04-01/x.json",
        ),
        (
            "http://127.0.0.1:4010",
            "https://twilio.com.evil.example/x",
            "https://twilio.com.evil.example/x",
        ),
        ("http://127.0.0.1:4010", "http://api.twilio.com/x", "http://api.twilio.com/x"),
        (None, "https://api.twilio.com/x", "https://api.twilio.com/x"),
    ],
)
def test_base_url_rewrite(base, url, expected):
    gateway = TwilioGateway("AC" + "1" * 32, "tok", from_number=FROM_NUMBER, api_base_url=base)
    try:
        assert gateway.http_client.rewrite_url(url) == expected
    finally:
        gateway.close()


def test_bad_base_url_is_rejected():
    with pytest.raises(ValueError, match="TWILIO_API_BASE_URL"):
        TwilioGateway(
            "AC" + "1" * 32, "tok", from_number=FROM_NUMBER, api_base_url="localhost:4010"
        )


def test_rewrite_follows_sdk_region_and_edge(fake_twilio, make_gateway, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")  # the SDK reads it: api.sydney.us1.twilio.com
    gateway = make_gateway()
    assert gateway.send(ANA, BODY).sid
    assert gateway.http_client._test_only_last_request.url.startswith(fake_twilio.base_url)


def test_no_phone_numbers_or_bodies_in_logs(fake_twilio, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="alcance.messaging")  # create_app sets alcance=INFO
    gateway.send(ANA, BODY, status_callback=CALLBACK_URL)
    gateway.find_sent(ANA, since=datetime.now(UTC))
    fake_twilio.inject(21211)
    with pytest.raises(PermanentSmsError):
        gateway.send(ANA, BODY)
    assert logging.getLogger("twilio.http_client").getEffectiveLevel() >= logging.WARNING
    assert "+52*********67" in caplog.text  # our own debug lines mask the number
    for needle in (ANA, ANA.replace("+", "%2B"), "taller"):
        assert needle not in caplog.text


def test_log_phone_opt_in_keeps_the_sdk_request_log(fake_twilio, make_gateway, caplog):
    gateway = make_gateway(log_phone=True)
    caplog.set_level(logging.INFO, logger="twilio.http_client")
    gateway.find_sent(ANA, since=datetime.now(UTC))
    assert "%2B5216641234567" in caplog.text


def test_module_is_the_only_twilio_importer():
    """STYLE: app/messaging/twilio_gateway.py is the only app module that imports twilio."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "app"
    importers = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if re.search(r"^\s*(from|import)\s+twilio\b", p.read_text(encoding="utf-8"), re.M)
    )
    assert importers == ["messaging/twilio_gateway.py"]


# -- per-organization sender (issue 12) -------------------------------------------------------
ORG_SERVICE = "MG" + "0a1b" * 8
ORG_NUMBER = "+526645550100"


def test_send_with_an_organizations_messaging_service_overrides_the_default(
    fake_twilio, make_gateway
):
    gateway = make_gateway()  # default: MESSAGING_SERVICE_SID
    gateway.send(ANA, "uno", sender=ORG_SERVICE)
    gateway.send(ANA, "dos", sender=None)
    first, second = fake_twilio.creates
    assert first.form == {"To": ANA, "Body": "uno", "MessagingServiceSid": ORG_SERVICE}
    assert second.form == {"To": ANA, "Body": "dos", "MessagingServiceSid": MESSAGING_SERVICE_SID}


def test_send_with_an_organizations_number_sends_from_it_without_the_default_service(
    fake_twilio, make_gateway
):
    gateway = make_gateway()
    gateway.send(ANA, "tres", sender=ORG_NUMBER)
    [request] = fake_twilio.creates
    assert request.form == {"To": ANA, "Body": "tres", "From": ORG_NUMBER}


@pytest.mark.parametrize("sender", ["MG123", "5216641234567", "+52 664 555", "hello"])
def test_a_malformed_sender_is_refused_before_any_request(fake_twilio, gateway, sender):
    with pytest.raises(PermanentSmsError) as info:
        gateway.send(ANA, BODY, sender=sender)
    assert fake_twilio.requests == []
    assert "sender" in str(info.value) and ANA not in str(info.value)
