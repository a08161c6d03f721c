"""The fake Twilio server itself: validation, shapes, latency, faults, signed callbacks."""

import contextlib
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

import pytest
import requests
from flask import Flask, abort, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from tests.fake_twilio import (
    FROM_NUMBER,
    HANG,
    MESSAGING_SERVICE_SID,
    RATE_LIMIT,
    FakeTwilioServer,
    count_segments,
    inbound_sms_params,
    post_signed,
)
from tests.messaging.helpers import CALLBACK_URL

ANA = "+5216641234567"
APP_TOKEN = "app-auth-token-for-webhooks"


def post(fake, data, *, auth=True, path=None):
    url = fake.base_url + (path or f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json")
    credentials = (fake.account_sid, fake.auth_token) if auth is True else auth
    with requests.Session() as s:
        s.trust_env = False
        return s.post(url, data=data, auth=credentials, timeout=5)


VALID = {"To": ANA, "Body": "Hola", "MessagingServiceSid": MESSAGING_SERVICE_SID}


@pytest.mark.parametrize(
    "change, code",
    [
        ({"To": None}, 21604),
        ({"To": "6641234567"}, 21211),
        ({"To": "+0123"}, 21211),
        ({"MessagingServiceSid": None}, 21603),
        ({"MessagingServiceSid": "XX123"}, 21701),
        ({"MessagingServiceSid": None, "From": "hello"}, 21212),
        ({"Body": None}, 21602),
        ({"Body": "x" * 1601}, 21617),
        ({"StatusCallback": "not a url"}, 21609),
        ({"StatusCallback": "https://bad_host.example.org/cb"}, 21609),
    ],
)
def test_create_validates_like_twilio(fake_twilio, change, code):
    data = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    response = post(fake_twilio, data)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code and body["status"] == 400
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert fake_twilio.messages == []


def test_media_url_replaces_body(fake_twilio):
    data = {"To": ANA, "MediaUrl": "https://x.example.org/a.png", "From": FROM_NUMBER}
    assert post(fake_twilio, data).status_code == 201


@pytest.mark.parametrize(
    "auth, path, status, code",
    [
        (None, None, 401, 20003),
        (("AC" + "0" * 32, "wrong"), None, 401, 20003),
        (True, "/2010-04-01/Accounts/AC" + "9" * 32 + "/Messages.json", 404, 20404),
        (True, "/2010-04-01/Accounts/ACf4e7f4e7f4e7f4e7f4e7f4e7f4e7f4e7/Calls.json", 404, 20404),
        (True, "/nowhere", 404, 20404),
    ],
)
def test_auth_and_unknown_paths(fake_twilio, auth, path, status, code):
    response = post(fake_twilio, VALID, auth=auth, path=path)
    assert response.status_code == status and response.json()["code"] == code


def test_created_resource_is_shaped_like_twilio(fake_twilio):
    response = post(fake_twilio, {**VALID, "StatusCallback": CALLBACK_URL})
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
    m = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", m["sid"])
    assert m["status"] == "accepted" and m["to"] == ANA and m["from"] is None
    assert m["messaging_service_sid"] == MESSAGING_SERVICE_SID and m["num_segments"] == "0"
    assert m["direction"] == "outbound-api" and m["api_version"] == "2010-04-01"
    assert m["date_sent"] is None and m["error_code"] is None
    assert parsedate_to_datetime(m["date_created"]).utcoffset().total_seconds() == 0
    assert m["date_created"].endswith("+0000")
    assert m["uri"] == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages/{m['sid']}.json"
    with requests.Session() as s:
        fetched = s.get(
            fake_twilio.base_url + m["uri"],
            auth=(fake_twilio.account_sid, fake_twilio.auth_token),
            timeout=5,
        )
    assert fetched.status_code == 200 and fetched.json() == m

    direct = post(fake_twilio, {"To": ANA, "Body": "Hola", "From": FROM_NUMBER}).json()
    assert direct["status"] == "queued" and direct["from"] == FROM_NUMBER
    assert direct["num_segments"] == "1"


@pytest.mark.parametrize(
    "body, segments",
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("ñ é ü ¿ ¡" * 17, 1),  # all GSM-7
        ("€" * 80, 1),
        ("€" * 81, 2),  # extension characters count double
        ("á" * 70, 1),
        ("á" * 71, 2),
        ("Hola, ¿cómo estás?" + "a" * 52, 1),  # UCS-2
        ("😀" * 35, 1),
        ("😀" * 36, 2),  # surrogate pairs count as 2 UCS-2 units
    ],
)
def test_count_segments(body, segments):
    assert count_segments(body) == segments


def test_list_filters_and_pages_like_twilio(fake_twilio, gateway):
    for i in range(5):
        gateway.send(ANA, f"msg {i}")
    gateway.send("+15105550123", "other")
    auth = (fake_twilio.account_sid, fake_twilio.auth_token)
    url = fake_twilio.base_url + f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    with requests.Session() as s:
        page = s.get(url, params={"To": ANA, "PageSize": 2}, auth=auth, timeout=5).json()
    assert set(page) >= {
        "messages",
        "next_page_uri",
        "previous_page_uri",
        "first_page_uri",
        "page",
        "page_size",
        "start",
        "end",
        "uri",
    }
    assert len(page["messages"]) == 2 and page["page"] == 0 and page["page_size"] == 2
    assert page["next_page_uri"].startswith("/2010-04-01/") and page["previous_page_uri"] is None
    # The SDK follows next_page_uri (through the base-URL rewrite) until the limit.
    listed = gateway.client.messages.list(to=ANA, page_size=2, limit=10)
    assert [m.body for m in listed] == [f"msg {i}" for i in range(4, -1, -1)]
    last = gateway.client.messages.page(to=ANA, page_size=2, page_number=2)
    assert last.next_page_url is None


def test_latency_is_per_request_and_requests_overlap():
    with FakeTwilioServer(latency=0.3) as fake:
        with ThreadPoolExecutor(8) as pool:
            started = time.monotonic()
            codes = list(pool.map(lambda i: post(fake, VALID).status_code, range(8)))
            elapsed = time.monotonic() - started
        assert codes == [201] * 8
        assert 0.3 <= elapsed < 1.5  # concurrent, not 8 x 0.3 s = 2.4 s
        assert fake.peak_in_flight >= 4 and len(fake.requests) == 8


def test_requests_are_recorded_even_when_failing(fake_twilio):
    fake_twilio.fail_next(21610, RATE_LIMIT)
    assert post(fake_twilio, VALID).json()["code"] == 21610
    assert post(fake_twilio, VALID).status_code == 429
    assert post(fake_twilio, VALID).status_code == 201
    assert [r.status for r in fake_twilio.creates] == [400, 429, 201]
    with pytest.raises(ValueError):
        fake_twilio.inject("gremlins")


def test_fault_rules_count_down(fake_twilio):
    fake_twilio.inject(21614, times=2)
    assert [post(fake_twilio, VALID).status_code for _ in range(3)] == [400, 400, 201]
    fake_twilio.inject(21614, times=None)
    assert [post(fake_twilio, VALID).status_code for _ in range(3)] == [400, 400, 400]
    fake_twilio.clear_faults()
    assert post(fake_twilio, VALID).status_code == 201
    fake_twilio.reset()
    assert fake_twilio.requests == [] and fake_twilio.messages == []


def test_stop_is_quick_with_hanging_requests_and_idle_connections():
    fake = FakeTwilioServer(hang_seconds=30).start()
    fake.inject(HANG)
    session = requests.Session()
    try:
        # leaves an idle keep-alive connection open in the session's pool
        assert session.post(fake.base_url + "/nowhere", timeout=5).status_code == 404
        hung = threading.Thread(target=lambda: _swallow(post, fake, VALID))
        hung.start()
        time.sleep(0.2)
        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 2
        hung.join(5)
        assert not hung.is_alive()
    finally:
        session.close()
        fake.stop()


def _swallow(fn, *args):
    with contextlib.suppress(requests.RequestException):
        fn(*args)


# -- signed status callbacks and inbound webhooks -----------------------------------------------
def receiver_app(public_base_url=None):
    """A minimal webhook endpoint that validates X-Twilio-Signature like the real app will."""
    app = Flask(__name__)
    app.received = []

    @app.post("/webhooks/twilio/status")
    def status():
        url = public_base_url + request.full_path.rstrip("?") if public_base_url else request.url
        if not RequestValidator(APP_TOKEN).validate(
            url, request.form, request.headers.get("X-Twilio-Signature", "")
        ):
            abort(403)
        app.received.append(request.form.to_dict())
        return "", 200

    return app


def test_status_callbacks_through_a_flask_test_client(fake_twilio, gateway):
    a = gateway.send(ANA, "uno", status_callback=CALLBACK_URL)
    b = gateway.send("+15105550123", "dos", status_callback=CALLBACK_URL + "?attempt=2")
    gateway.send(ANA, "sin callback")
    app = receiver_app()

    results = fake_twilio.emit_status_callbacks(
        app.test_client(), APP_TOKEN, statuses=("sent", "undelivered")
    )

    assert [(r.sid, r.status, r.http_status) for r in results] == [
        (a.sid, "sent", 200),
        (a.sid, "undelivered", 200),
        (b.sid, "sent", 200),
        (b.sid, "undelivered", 200),
    ]
    first, second = app.received[:2]
    assert first["MessageSid"] == first["SmsSid"] == a.sid
    assert first["MessageStatus"] == "sent" and "ErrorCode" not in first
    assert first["AccountSid"] == fake_twilio.account_sid and first["To"] == ANA
    assert first["MessagingServiceSid"] == MESSAGING_SERVICE_SID and first["ApiVersion"]
    assert second["MessageStatus"] == "undelivered" and second["ErrorCode"] == "30003"
    assert re.fullmatch(r"\d{10}", second["RawDlrDoneDate"])
    assert results[2].url == CALLBACK_URL + "?attempt=2"  # the query string is signed too
    message = fake_twilio.message(a.sid)
    assert message["status"] == "undelivered" and message["error_code"] == 30003
    assert message["date_sent"] is not None


def test_wrong_token_is_rejected_by_the_receiver(fake_twilio, gateway):
    gateway.send(ANA, "uno", status_callback=CALLBACK_URL)
    app = receiver_app()
    [result] = fake_twilio.emit_status_callbacks(
        app.test_client(), "not-the-app-token", statuses=("delivered",)
    )
    assert result.http_status == 403 and app.received == []


def test_status_callbacks_over_real_http(fake_twilio, gateway):
    """Delivered to a local server; signed for the public URL, as behind a proxy."""
    sent = gateway.send(ANA, "uno", status_callback=CALLBACK_URL)
    app = receiver_app(public_base_url="https://alcance.example.org")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        results = fake_twilio.emit_status_callbacks(
            f"http://127.0.0.1:{server.server_port}", APP_TOKEN, statuses=("delivered", "sent")
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert [(r.status, r.http_status) for r in results] == [("delivered", 200), ("sent", 200)]
    assert [p["MessageStatus"] for p in app.received] == ["delivered", "sent"]  # out of order
    assert app.received[0]["MessageSid"] == sent.sid


def test_emit_needs_a_callback_url(fake_twilio, gateway):
    sent = gateway.send(ANA, "sin callback")
    with pytest.raises(ValueError, match="no StatusCallback"):
        fake_twilio.emit_status_callbacks(receiver_app().test_client(), APP_TOKEN, sids=[sent.sid])
    app = receiver_app()
    [result] = fake_twilio.emit_status_callbacks(
        app.test_client(), APP_TOKEN, sids=[sent.sid], url=CALLBACK_URL, statuses=("failed",)
    )
    assert result.http_status == 200 and app.received[0]["ErrorCode"] == "30003"


def test_inbound_sms_params_can_be_posted_signed():
    app = Flask(__name__)
    seen = {}

    @app.post("/webhooks/twilio/inbound")
    def inbound():
        ok = RequestValidator(APP_TOKEN).validate(
            request.url, request.form, request.headers["X-Twilio-Signature"]
        )
        seen.update(request.form.to_dict(), ok=ok)
        return "<Response/>", 200, {"Content-Type": "text/xml"}

    params = inbound_sms_params(ANA, "BAJA", OptOutType="STOP")
    url = "https://alcance.example.org/webhooks/twilio/inbound"
    _, status = post_signed(app.test_client(), url, params, APP_TOKEN)
    assert status == 200 and seen["ok"] is True
    assert seen["Body"] == "BAJA" and seen["From"] == ANA and seen["OptOutType"] == "STOP"
    assert re.fullmatch(r"SM[0-9a-f]{32}", seen["MessageSid"])
