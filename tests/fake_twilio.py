"""A fake Twilio REST API (Messages) on 127.0.0.1, for gateway tests, dispatch tests and benchmarks.

    with FakeTwilioServer(latency=0.1) as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token,
                                messaging_service_sid=MESSAGING_SERVICE_SID,
                                api_base_url=fake.base_url)
        fake.inject(RATE_LIMIT)                      # next create: 429 / 20429
        fake.inject(21610, to="+5216640000000", times=None)   # always, for that number
        ...
        fake.requests   # every request, in arrival order (thread-safe snapshot)
        fake.messages   # every message created, as Twilio's JSON resource
        fake.emit_status_callbacks(client_or_url, statuses=("sent", "delivered"))

It speaks the subset of `api.twilio.com/2010-04-01` the app uses: create, list and fetch
Messages, with Twilio's validation errors, JSON error bodies and paging shape. Each request
is served by its own thread (HTTP/1.1 keep-alive), so `latency` applies per request and
concurrent requests overlap, like the real API. Run it alone with `python -m tests.fake_twilio`.

WhatsApp (issue 19): `whatsapp:`-prefixed To/From, ContentSid + ContentVariables (no Body
needed), and WhatsApp's refusals. `fake.whatsapp_inbound(number, at)` tells it the number's
last WhatsApp message (the 24-hour window); `fake.not_on_whatsapp(number)` makes a number
unknown to WhatsApp. Like Twilio, both are accepted at create and fail afterwards: the
message's status is "failed" with ErrorCode 63016 (free-form outside the window) or 63003,
and `emit_status_callbacks` reports that failure. `sync=True` refuses the create itself
instead (HTTP 400 with the code). `read` callbacks carry ChannelPrefix and EventType=READ.

Faults (`inject`): RATE_LIMIT (429/20429, not processed), SERVER_ERROR (500/20500, not
created unless record=True), HANG (created, then no answer: the client's read timeout fires),
DROP (created, then the connection is closed without an answer), STALL_BODY (created, headers
sent, body never finishes), TRUNCATE (created, body cut short), or a Twilio error code such as
21610, 21211, 21614, 21408, 21611 (4xx with Twilio's JSON error body, not created).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import secrets
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ACCOUNT_SID = "AC" + "f4e7" * 8
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
MESSAGING_SERVICE_SID = "MG" + "5e7d" * 8
FROM_NUMBER = "+15005550006"  # Twilio's magic "valid" test number
SERVICE_NUMBER = "+15005550010"  # the number a Messaging Service "picks" in callbacks

RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
HANG = "hang"
DROP = "drop"
STALL_BODY = "stall_body"
TRUNCATE = "truncate"
_RECORDING_FAULTS = {HANG, DROP, STALL_BODY, TRUNCATE}
_FAULTS = {RATE_LIMIT, SERVER_ERROR} | _RECORDING_FAULTS

API = "/2010-04-01/Accounts/"
E164_MAX = 15

# Twilio error code -> (HTTP status, message). Messages follow Twilio's (some quote the number).
TWILIO_ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21212: (
        400,
        "The 'From' number {from_} is not a valid phone number, shortcode, or "
        "alphanumeric sender ID.",
    ),
    21408: (
        400,
        "Permission to send an SMS has not been enabled for the region indicated by "
        "the 'To' number: {to}.",
    ),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."),
    21604: (400, "A 'To' phone number is required."),
    21609: (400, "Invalid StatusCallback url"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21611: (400, "This 'From' number has exceeded the maximum number of queued messages"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21701: (400, "The Messaging Service Sid {service} is invalid."),
    # WhatsApp (https://www.twilio.com/docs/whatsapp/api/error-code-mapping)
    63003: (400, "Channel could not find To address"),
    63016: (
        400,
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template.",
    ),
    63024: (400, "Invalid message recipient"),
}
WHATSAPP = "whatsapp:"
WHATSAPP_WINDOW = 24 * 3600  # seconds after the user's last message

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """SMS segments: GSM-7 160/153 (extension chars cost 2), else UCS-2 70/67."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in body):
        units = len(body) + sum(c in _GSM_EXTENSION for c in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(dt: datetime) -> str:
    """Twilio's date format: 'Thu, 27 Nov 2026 18:25:00 +0000'."""
    return format_datetime(dt.astimezone(UTC).replace(microsecond=0))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def bare(address: str | None) -> str | None:
    """'whatsapp:+52…' -> '+52…' (other addresses unchanged)."""
    if address and address.startswith(WHATSAPP):
        return address[len(WHATSAPP) :]
    return address


def is_e164(number: str | None) -> bool:
    return (
        bool(number)
        and number[0] == "+"
        and number[1:].isdigit()
        and number[1] != "0"
        and 2 <= len(number) - 1 <= E164_MAX
    )


def _is_callback_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and bool(host) and "_" not in host and " " not in url


@dataclass
class RecordedRequest:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    form_lists: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    auth: tuple[str, str] | None
    received_at: datetime
    status: int | None = None  # HTTP status answered (None: no answer, e.g. HANG/DROP)

    @property
    def form(self) -> dict[str, str]:
        """Form fields, one value each (the first)."""
        return {k: v[0] for k, v in self.form_lists.items()}

    @property
    def is_create(self) -> bool:
        return self.method == "POST" and self.path.endswith("/Messages.json")


@dataclass
class _Rule:
    fault: str | int
    to: str | None
    remaining: int | None  # None: forever
    endpoint: str
    record: bool


@dataclass
class CallbackResult:
    sid: str
    status: str
    url: str
    params: dict[str, str]
    signature: str
    http_status: int


@dataclass
class _Message:
    resource: dict[str, Any]
    status_callback: str | None
    created_at: datetime
    sent_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops SYNs under concurrent connects

    def server_bind(self):  # HTTPServer.server_bind does a reverse DNS lookup: skip it
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"
    sys_version = ""
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._untrack(self.connection)

    def log_message(self, format, *args):  # noqa: A002  (silence per-request stderr lines)
        pass

    def do_GET(self):  # noqa: N802
        self.server.fake._handle(self, "GET")

    def do_POST(self):  # noqa: N802
        self.server.fake._handle(self, "POST")

    def do_DELETE(self):  # noqa: N802
        self.server.fake._handle(self, "DELETE")


class FakeTwilioServer:
    """Fake Twilio REST server in a background thread; a context manager.

    Args:
        account_sid, auth_token: credentials the fake accepts (auth_token=None: any Basic auth).
        latency: seconds added to every request before it is answered (settable any time).
        hang_seconds: how long HANG/STALL_BODY keep the connection before closing it
            (stop() cuts it short).
        clock: returns the aware UTC "now" used for date_created.
    """

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str | None = AUTH_TOKEN,
        latency: float = 0.0,
        hang_seconds: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.clock = clock
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._messages: list[_Message] = []
        self._by_sid: dict[str, _Message] = {}
        self._rules: list[_Rule] = []
        self._last_inbound: dict[str, datetime] = {}  # E.164 -> last WhatsApp message
        self._not_on_whatsapp: dict[str, bool] = {}  # E.164 -> refused at create (sync)
        self.window_sync = False  # 63016 at create instead of in the status
        self._conns: set[socket.socket] = set()
        self._in_flight = 0
        self.peak_in_flight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if the server stops. Short sleeps rather than a timed
        Event.wait: a timed wait never wakes under libfaketime (make test-any-date)."""
        deadline = time.monotonic() + seconds
        while not self._closing.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.01))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeTwilioServer:
        if self._server is not None:
            return self
        self._closing.clear()
        self._server = _Server((self._host, self._port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-twilio",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._closing.set()  # wakes latency, HANG and STALL_BODY waits
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # end idle keep-alive connections so handler threads exit
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads
        self._thread.join()

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """Value for TWILIO_API_BASE_URL."""
        return f"http://127.0.0.1:{self.port}"

    # -- configuration -----------------------------------------------------------------------
    def inject(
        self,
        fault: str | int,
        *,
        to: str | None = None,
        times: int | None = 1,
        endpoint: str = "create",
        record: bool | None = None,
    ) -> None:
        """Answer the next matching request(s) with a fault.

        Args:
            fault: RATE_LIMIT, SERVER_ERROR, HANG, DROP, STALL_BODY, TRUNCATE or a Twilio code.
            to: only for this recipient ('To' field on create, 'To' filter on list).
            times: how many requests it applies to; None means every one.
            endpoint: "create" (POST Messages.json) or "list" (GET Messages.json).
            record: whether the message is created anyway (default: only for the faults that
                mean "accepted, answer lost"; SERVER_ERROR can set it to model a real 500).
        """
        if fault not in _FAULTS and fault not in TWILIO_ERRORS:
            raise ValueError(f"unknown fault {fault!r}")
        if endpoint not in ("create", "list"):
            raise ValueError("endpoint must be 'create' or 'list'")
        if record is None:
            record = fault in _RECORDING_FAULTS
        with self._lock:
            self._rules.append(_Rule(fault, to, times, endpoint, record))

    def whatsapp_inbound(self, number: str, at: datetime) -> None:
        """The number wrote on WhatsApp at `at`: free-form may go for 24 hours."""
        with self._lock:
            self._last_inbound[bare(number)] = at

    def not_on_whatsapp(self, number: str, *, sync: bool = False) -> None:
        """WhatsApp does not know this number: 63003 in the status (or at create: `sync`)."""
        with self._lock:
            self._not_on_whatsapp[bare(number)] = sync

    def _whatsapp_refusal(self, f: dict[str, str]) -> tuple[int, bool] | None:
        """(error code, at create?) when WhatsApp refuses this create, else None."""
        to = f.get("To") or ""
        if not to.startswith(WHATSAPP):
            return None
        number = bare(to)
        with self._lock:
            if number in self._not_on_whatsapp:
                return 63003, self._not_on_whatsapp[number]
            last = self._last_inbound.get(number)
        if not f.get("ContentSid") and (
            last is None or (self.clock() - last).total_seconds() >= WHATSAPP_WINDOW
        ):
            return 63016, self.window_sync
        return None

    def fail_next(self, *faults: str | int) -> None:
        """Shortcut: the next creates fail with these faults, one each, in order."""
        for fault in faults:
            self.inject(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def reset(self) -> None:
        """Forget requests, messages and faults."""
        with self._lock:
            self._requests.clear()
            self._messages.clear()
            self._by_sid.clear()
            self._rules.clear()
            self._last_inbound.clear()
            self._not_on_whatsapp.clear()
            self.peak_in_flight = 0

    # -- inspection --------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def creates(self) -> list[RecordedRequest]:
        """POST Messages.json requests."""
        return [r for r in self.requests if r.is_create]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Messages created, oldest first, as Twilio's JSON resource (plus nothing else)."""
        with self._lock:
            return [dict(m.resource) for m in self._messages]

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._by_sid[sid].resource)

    def status_callback_of(self, sid: str) -> str | None:
        with self._lock:
            return self._by_sid[sid].status_callback

    # -- status callbacks --------------------------------------------------------------------
    def emit_status_callbacks(
        self,
        target,
        auth_token: str | None = None,
        statuses: tuple[str, ...] = ("sent", "delivered"),
        *,
        sids: list[str] | None = None,
        url: str | None = None,
        error_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> list[CallbackResult]:
        """POST signed status callbacks for messages, as Twilio does, and update them here.

        Args:
            target: a base URL ("http://127.0.0.1:5000": real HTTP to the callback's path) or a
                Flask test client (posted with the callback URL's scheme and host as base_url).
            auth_token: token to sign with (the app's TWILIO_AUTH_TOKEN); default: the fake's.
            statuses: emitted in this order for each message (pass them out of order to test
                ordering). ErrorCode is added to failed/undelivered (default 30003).
            sids: which messages (default: every message with a StatusCallback, or all if url).
            url: callback URL to sign and call instead of each message's StatusCallback.
        """
        token = auth_token or self.auth_token
        if not token:
            raise ValueError("an auth token is needed to sign callbacks")
        with self._lock:
            if sids is None:
                chosen = [m for m in self._messages if url or m.status_callback]
            else:
                chosen = [self._by_sid[s] for s in sids]
        results = []
        for msg in chosen:
            callback_url = url or msg.status_callback
            if not callback_url:
                raise ValueError(f"message {msg.resource['sid']} has no StatusCallback; pass url=")
            fails_with = msg.extra.get("fails_with")
            for status in ("failed",) if fails_with else statuses:
                code = (
                    (fails_with or error_code or 30003)
                    if status in ("failed", "undelivered")
                    else None
                )
                params = self._apply_status(msg, status, code)
                signature, http_status = post_signed(
                    target, callback_url, params, token, headers=headers
                )
                results.append(
                    CallbackResult(
                        msg.resource["sid"], status, callback_url, params, signature, http_status
                    )
                )
        return results

    def set_status(self, sid: str, status: str, *, error_code: int | None = None) -> dict[str, str]:
        """Move a message to `status` without calling anyone; returns the callback params."""
        with self._lock:
            msg = self._by_sid[sid]
        return self._apply_status(msg, status, error_code)

    def _apply_status(self, msg: _Message, status: str, error_code: int | None) -> dict[str, str]:
        now = self.clock()
        with self._lock:
            r = msg.resource
            r["status"] = status
            r["date_updated"] = rfc2822(now)
            if status in ("sent", "delivered", "undelivered") and msg.sent_at is None:
                msg.sent_at = now
                r["date_sent"] = rfc2822(now)
            if r["from"] is None:
                r["from"] = SERVICE_NUMBER
            if error_code is not None:
                r["error_code"] = error_code
                r["error_message"] = None
            if status != "queued" and r["num_segments"] == "0":
                r["num_segments"] = str(count_segments(r["body"] or ""))
            params = {
                "AccountSid": r["account_sid"],
                "ApiVersion": "2010-04-01",
                "From": r["from"],
                "MessageSid": r["sid"],
                "MessageStatus": status,
                "SmsSid": r["sid"],
                "SmsStatus": status,
                "To": r["to"],
            }
            if r["messaging_service_sid"]:
                params["MessagingServiceSid"] = r["messaging_service_sid"]
            if (r["to"] or "").startswith(WHATSAPP):
                params["ChannelPrefix"] = "whatsapp"
                if status == "read":
                    params["EventType"] = "READ"
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
            if status in ("delivered", "undelivered"):
                params["RawDlrDoneDate"] = now.astimezone(UTC).strftime("%y%m%d%H%M")
        return params

    # -- HTTP handling -------------------------------------------------------------------------
    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _handle(self, h: _Handler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        ctype = h.headers.get("Content-Type", "")
        form = {}
        if raw and ctype.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        req = RecordedRequest(
            method=method,
            path=parts.path,
            query=query,
            form_lists=form,
            headers={k.lower(): v for k, v in h.headers.items()},
            auth=_basic_auth(h.headers.get("Authorization")),
            received_at=self.clock(),
        )
        with self._lock:
            self._requests.append(req)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if self.latency > 0:
                self._pause(self.latency)
            self._route(h, req)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _route(self, h: _Handler, req: RecordedRequest) -> None:
        path = req.path
        if not path.startswith(API):
            return self._error(h, req, 20404, path=path)
        rest = path[len(API) :].split("/")
        account = rest[0]
        if req.auth is None or (
            self.auth_token is not None and req.auth != (self.account_sid, self.auth_token)
        ):
            return self._error(h, req, 20003)
        if account != req.auth[0] or account != self.account_sid:
            return self._error(h, req, 20404, path=path)
        if rest[1:] == ["Messages.json"] and req.method == "POST":
            return self._create(h, req)
        if rest[1:] == ["Messages.json"] and req.method == "GET":
            return self._list(h, req)
        if (
            len(rest) == 3
            and rest[1] == "Messages"
            and rest[2].endswith(".json")
            and req.method == "GET"
        ):
            with self._lock:
                msg = self._by_sid.get(rest[2][:-5])
                resource = dict(msg.resource) if msg else None
            if resource is None:
                return self._error(h, req, 20404, path=path)
            return self._json(h, req, 200, resource)
        return self._error(h, req, 20404, path=path)

    def _take_rule(self, endpoint: str, to: str | None) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.endpoint == endpoint and (rule.to is None or rule.to == to):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def _create(self, h: _Handler, req: RecordedRequest) -> None:
        f = req.form
        to = f.get("To")
        error = self._validate(f)  # invalid requests do not consume injected faults
        if error is not None:
            return self._error(h, req, error[0], **error[1])
        rule = self._take_rule("create", to)
        if rule is not None and rule.fault in (RATE_LIMIT, SERVER_ERROR) and not rule.record:
            return self._error(h, req, 20429 if rule.fault == RATE_LIMIT else 20500)
        if rule is not None and isinstance(rule.fault, int):
            return self._error(
                h, req, rule.fault, to=to, from_=f.get("From"), service=f.get("MessagingServiceSid")
            )
        refusal = self._whatsapp_refusal(f)
        if refusal is not None and refusal[1]:
            return self._error(h, req, refusal[0])
        resource = self._store(f, fails_with=refusal[0] if refusal else None)
        if rule is None:
            return self._json(h, req, 201, resource)
        if rule.fault == SERVER_ERROR:
            return self._error(h, req, 20500)
        self._misbehave(h, rule.fault, resource)

    def _validate(self, f: dict[str, str]) -> tuple[int, dict] | None:
        to, sender, service = f.get("To"), f.get("From"), f.get("MessagingServiceSid")
        if not to:
            return 21604, {}
        whatsapp = to.startswith(WHATSAPP)
        if sender and not service and whatsapp != sender.startswith(WHATSAPP):
            return 21212, {"from_": sender}  # both addresses on one channel
        to, sender = bare(to), bare(sender)
        if not is_e164(to):
            return 21211, {"to": to}
        if not sender and not service:
            return 21603, {}
        if service and not (
            len(service) == 34
            and service.startswith("MG")
            and all(c in "0123456789abcdefABCDEF" for c in service[2:])
        ):
            return 21701, {"service": service}
        if sender and not service and not is_e164(sender):
            return 21212, {"from_": sender}
        if not f.get("Body") and not f.get("MediaUrl") and not f.get("ContentSid"):
            return 21602, {}
        if len(f.get("Body", "")) > 1600:
            return 21617, {}
        if "StatusCallback" in f and not _is_callback_url(f["StatusCallback"]):
            return 21609, {}
        return None

    def _store(self, f: dict[str, str], *, fails_with: int | None = None) -> dict[str, Any]:
        now = self.clock()
        sid = new_sid()
        service = f.get("MessagingServiceSid")
        body = f.get("Body", "")
        base = f"{API}{self.account_sid}/Messages/{sid}"
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": None,
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": None if service else f.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            # Twilio reports 0 segments at creation through a Messaging Service.
            "num_segments": "0" if service else str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": f["To"],
            "uri": f"{base}.json",
        }
        if f.get("ContentSid"):  # a template: Twilio renders it; the fake keeps the request
            resource["content_sid"] = f["ContentSid"]
            resource["content_variables"] = f.get("ContentVariables")
        msg = _Message(resource, f.get("StatusCallback"), now)
        if fails_with is not None:
            msg.extra["fails_with"] = fails_with
        with self._lock:
            self._messages.append(msg)
            self._by_sid[sid] = msg
        return dict(resource)

    def _misbehave(self, h: _Handler, fault: str, resource: dict) -> None:
        h.close_connection = True
        if fault == HANG:
            self._pause(self.hang_seconds)
            return
        if fault == DROP:
            return
        body = json.dumps(resource).encode()
        head = _head(201, len(body))
        try:
            if fault == STALL_BODY:
                h.wfile.write(head + body[:20])
                self._pause(self.hang_seconds)
            elif fault == TRUNCATE:
                h.wfile.write(head + body[: len(body) // 2])
        except OSError:
            pass

    def _list(self, h: _Handler, req: RecordedRequest) -> None:
        q = {k: v[0] for k, v in req.query.items()}
        rule = self._take_rule("list", q.get("To"))
        if rule is not None:
            if rule.fault in _RECORDING_FAULTS:
                return self._misbehave(h, rule.fault, {})
            code = {RATE_LIMIT: 20429, SERVER_ERROR: 20500}.get(rule.fault, rule.fault)
            return self._error(h, req, code, to=q.get("To"))
        try:
            page_size = min(max(int(q.get("PageSize", 50)), 1), 1000)
            page = max(int(q.get("Page", 0)), 0)
        except ValueError:
            return self._json(h, req, 400, _error_body(20001, 400, "Invalid paging parameter"))
        with self._lock:
            found = [m for m in self._messages if _matches(m, q)]
        found.sort(key=lambda m: m.created_at, reverse=True)
        start = page * page_size
        chunk = found[start : start + page_size]
        path = f"{API}{self.account_sid}/Messages.json"
        filters = {k: v for k, v in q.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(n):
            return (
                path
                + "?"
                + urlencode(
                    {
                        **filters,
                        "PageSize": page_size,
                        "Page": n,
                        **({"PageToken": f"PA{n * page_size}"} if n else {}),
                    }
                )
            )

        with self._lock:
            records = [dict(m.resource) for m in chunk]
        payload = {
            "end": start + len(chunk) - 1 if chunk else start,
            "first_page_uri": page_uri(0),
            "messages": records,
            "next_page_uri": page_uri(page + 1) if start + page_size < len(found) else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": req.path + ("?" + urlencode(q) if q else ""),
        }
        self._json(h, req, 200, payload)

    def _error(self, h: _Handler, req: RecordedRequest, code: int, **fmt) -> None:
        status, template = TWILIO_ERRORS[code]
        fmt.setdefault("to", "")
        fmt.setdefault("from_", "")
        fmt.setdefault("service", "")
        fmt.setdefault("path", req.path)
        self._json(h, req, status, _error_body(code, status, template.format(**fmt)))

    def _json(self, h: _Handler, req: RecordedRequest, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        req.status = status
        try:
            h.wfile.write(_head(status, len(body), close=h.close_connection) + body)
        except OSError:
            h.close_connection = True


def _error_body(code: int, status: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def _head(status: int, length: int, *, close: bool = False) -> bytes:
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
        f"Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {length}\r\n"
        f"Twilio-Request-Id: RQ{secrets.token_hex(16)}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    ).encode("latin-1")


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _day(value: str):
    """Twilio documents DateSent filters as GMT dates (YYYY-MM-DD); a time part is ignored."""
    return datetime.strptime(value[:10], "%Y-%m-%d").date()


def _matches(m: _Message, q: dict[str, str]) -> bool:
    r = m.resource
    if "To" in q and r["to"] != q["To"]:
        return False
    if "From" in q and r["from"] != q["From"]:
        return False
    # Queued messages have no date_sent yet; the fake filters them by creation date.
    day = (m.sent_at or m.created_at).astimezone(UTC).date()
    try:
        if "DateSent" in q and day != _day(q["DateSent"]):
            return False
        if "DateSent>" in q and day < _day(q["DateSent>"]):
            return False
        if "DateSent<" in q and day > _day(q["DateSent<"]):
            return False
    except ValueError:
        return False
    return True


# -- signed webhooks (status callbacks, inbound SMS) --------------------------------------------
def sign(url: str, params: dict[str, str], auth_token: str) -> str:
    """X-Twilio-Signature for a form POST to `url`, exactly as Twilio computes it."""
    from twilio.request_validator import RequestValidator

    return RequestValidator(auth_token).compute_signature(url, params)


def post_signed(
    target,
    url: str,
    params: dict[str, str],
    auth_token: str,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[str, int]:
    """POST `params` to `url` signed as Twilio would; return (signature, HTTP status).

    `target` is a Flask test client (the request gets `url`'s scheme and host) or a base URL
    that replaces `url`'s scheme and host for the real HTTP request (the signature still
    covers `url`, the public address Twilio would have called).
    """
    signature = sign(url, params, auth_token)
    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    all_headers = {
        "X-Twilio-Signature": signature,
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        **(headers or {}),
    }
    if isinstance(target, str):
        import requests

        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                target.rstrip("/") + path,
                data=params,
                headers=all_headers,
                timeout=10,
                allow_redirects=False,
            )
            return signature, response.status_code
    response = target.post(
        path, data=params, headers=all_headers, base_url=f"{parts.scheme}://{parts.netloc}"
    )
    try:
        return signature, response.status_code
    finally:
        response.close()


def inbound_sms_params(
    from_: str,
    body: str,
    *,
    to: str = FROM_NUMBER,
    account_sid: str = ACCOUNT_SID,
    messaging_service_sid: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Form fields of Twilio's inbound-SMS webhook (add OptOutType=STOP etc. via extra)."""
    sid = new_sid()
    params = {
        "ToCountry": "US",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "",
        "To": to,
        "ToZip": "",
        "NumSegments": str(count_segments(body)),
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    params.update(extra)
    return params


def main() -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Run the fake Twilio API.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with FakeTwilioServer(port=args.port, latency=args.latency) as fake:
        print(
            f"TWILIO_API_BASE_URL={fake.base_url} TWILIO_ACCOUNT_SID={fake.account_sid} "
            f"TWILIO_AUTH_TOKEN={fake.auth_token} "
            f"TWILIO_MESSAGING_SERVICE_SID={MESSAGING_SERVICE_SID}",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
