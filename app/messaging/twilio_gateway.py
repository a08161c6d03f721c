"""Twilio implementations of `SmsGateway` and `TemplateGateway` (WhatsApp templates, at the
end): the only module of the app that imports `twilio`.

It uses the official SDK with a `TwilioHttpClient` subclass (the SDK's documented
`http_client` hook) that adds what the SDK lacks:

* an explicit (connect, read) timeout: the SDK waits forever by default;
* an optional base URL (`TWILIO_API_BASE_URL`) that replaces `https://*.twilio.com`, for the
  fake Twilio server and the Prism contract mock (the SDK has no base-URL option);
* no request logging unless `log_phone=True`: the SDK logs URLs with phone numbers;
* a keep-alive connection pool sized to the sending threads (`size_connection_pool`, which
  the outreach worker calls with its thread count; it grows, never shrinks).

Failures map onto the error taxonomy of `gateway.py`. The hard part is telling "never sent"
from "sent, answer lost", because `requests` folds both into `ConnectionError`:

* connect refused / DNS failure: `ConnectionError(MaxRetryError(reason=NewConnectionError))`
  (urllib3's NewConnectionError subclasses ConnectTimeoutError; requests deliberately does
  *not* raise `ConnectTimeout` for it) -> retryable;
* connect timeout: `ConnectTimeout`, subclass of both `ConnectionError` and `Timeout` -> retryable;
* read timeout waiting for the headers: `ReadTimeout` (a `Timeout`, *not* a `ConnectionError`)
  -> outcome unknown;
* read timeout while reading the body: `ConnectionError(ReadTimeoutError)`, raised from
  `Response.content` -> outcome unknown;
* peer closed or reset mid-response: `ConnectionError(ProtocolError("Connection aborted."))`
  or `ChunkedEncodingError` -> outcome unknown.

So a `ConnectionError` is retryable only when urllib3's connect-phase error is in its cause chain.
"""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
import threading
from datetime import UTC, datetime
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList
from twilio.rest.content.v1.content.approval_create import ApprovalCreateList

from app.messaging.gateway import (
    RATE_LIMITED_CODE,
    OutcomeUnknownSmsError,
    PermanentSmsError,
    RetryableSmsError,
    SendResult,
    SentMessage,
    SmsError,
    sender_kind,
    whatsapp_address,
)
from app.messaging.templates import (
    BUSY,
    CREDENTIALS,
    NO_ANSWER,
    UNKNOWN_TEMPLATE,
    UNREACHABLE,
    ApprovalStatus,
    TemplateContent,
    TemplateGatewayError,
    our_status,
    refused,
)

logger = logging.getLogger("alcance.messaging.twilio")

DEFAULT_TIMEOUT = (5.0, 15.0)  # (connect, read) seconds
FIND_SENT_LIMIT = 20

# urllib3 errors that can only happen before a single byte of the request was sent.
_CONNECT_PHASE_ERRORS = (
    urllib3.exceptions.ConnectTimeoutError,  # includes NewConnectionError, NameResolutionError
    urllib3.exceptions.ProxyError,  # only raised before the connection to the proxy is up
)
# Raised while preparing the request: nothing was sent and retrying cannot help.
_INVALID_REQUEST_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)
_NUMBER_RE = re.compile(r"\+?\d[\d\s().-]{4,}\d")


def redact(text: str) -> str:
    """Remove anything that looks like a phone number (Twilio puts them in error messages)."""
    return _NUMBER_RE.sub("[number]", text or "")


def mask_phone(number: str) -> str:
    """'+5216641234567' -> '+52*********67' for logs."""
    if not number or len(number) < 6:
        return "***"
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


class _EnvironmentOnceSession(requests.Session):
    """A `requests.Session` that reads the proxy and CA-bundle environment variables once
    per scheme and host, not on every request: requests scans the whole environment two or
    three times per call (`get_environ_proxies`), ~15 % of a sending worker's CPU with 64
    threads (issue 15). Same settings as requests derives (the environment of a running
    worker does not change)."""

    def __init__(self):
        super().__init__()
        self._environment: dict[tuple, tuple[dict, str | None]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._environment.get(key)
        if found is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            found = self._environment[key] = (get_environ_proxies(url, no_proxy), bundle)
        env_proxies, bundle = found
        if proxies is not None:
            for name, value in env_proxies.items():
                proxies.setdefault(name, value)
        if (verify is True or verify is None) and bundle:
            verify = bundle
        return {
            "proxies": requests.sessions.merge_setting(proxies, self.proxies),
            "stream": requests.sessions.merge_setting(stream, self.stream),
            "verify": requests.sessions.merge_setting(verify, self.verify),
            "cert": requests.sessions.merge_setting(cert, self.cert),
        }


class AlcanceTwilioHttpClient(TwilioHttpClient):
    """`TwilioHttpClient` with a (connect, read) timeout, a base-URL rewrite, no PII logging
    and the environment's proxy settings read once per host."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        base_url: str | None = None,
        log_phone: bool = False,
        pool_maxsize: int = 32,
    ):
        # The SDK's constructor checks `timeout <= 0`, which a (connect, read) tuple fails:
        # validate here and set it afterwards. `requests` accepts the tuple as is.
        super().__init__(pool_connections=True, timeout=None)
        self.session = _EnvironmentOnceSession()  # adapters are mounted by size_pool
        self.timeout = _validate_timeout(timeout)
        self.log_phone = log_phone
        self.pool_maxsize = 0
        self._pool_lock = threading.Lock()
        self.size_pool(pool_maxsize)
        # One session is shared by sending threads; keep it stateless (no cookies).
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._base = _parse_base_url(base_url) if base_url else None

    def size_pool(self, maxsize: int) -> None:
        """Keep up to `maxsize` connections per host (at least one per sending thread: beyond
        the pool, urllib3 opens and drops a connection per request). Grows, never shrinks;
        requests under way finish on the pool they started with."""
        with self._pool_lock:
            if maxsize <= self.pool_maxsize:
                return
            # The SDK mounts a sized pool on https:// only; http:// (local fakes, mocks) gets
            # requests' default of 10 connections. Size both for concurrent senders.
            old = self.session.adapters.get("http://") if self.pool_maxsize else None
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=maxsize)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
            self.pool_maxsize = maxsize
            if old is not None:
                old.close()  # idle connections now; busy ones close when they come back

    def rewrite_url(self, url: str) -> str:
        """Send `https://*.twilio.com/<path>?<query>` to the configured base URL instead."""
        if self._base is None:
            return url
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not (host == "twilio.com" or host.endswith(".twilio.com")):
            return url
        scheme, netloc, prefix = self._base
        return urlunsplit((scheme, netloc, prefix + parts.path, parts.query, parts.fragment))

    def request(
        self,
        method,
        url,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):
        return super().request(
            method,
            self.rewrite_url(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )

    # The SDK formats (eagerly) and logs URLs with `To=` numbers and all headers at INFO.
    def log_request(self, kwargs):
        if self.log_phone:
            super().log_request(kwargs)

    def log_response(self, status_code, response):
        if self.log_phone:
            super().log_response(status_code, response)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class TwilioGateway:
    """Sends SMS through Twilio's Messages API with the official SDK."""

    name = "twilio"
    # Twilio answers STOP/START/HELP-style standard keywords itself; we must not confirm twice.
    answers_standard_keywords = True

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        api_base_url: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        log_phone: bool = False,
        pool_maxsize: int = 32,
    ):
        """`timeout` is (connect, read) seconds, or one number for both; `pool_maxsize` should
        be at least the number of threads sending concurrently through this gateway."""
        if not account_sid or not auth_token:
            raise ValueError("TwilioGateway needs an account SID and an auth token")
        if messaging_service_sid:
            self._sender = {"messaging_service_sid": messaging_service_sid}
        elif from_number:
            self._sender = {"from_": from_number}
        else:
            raise ValueError("TwilioGateway needs a Messaging Service SID or a from number")
        self.log_phone = log_phone
        if not log_phone:
            _quiet_loggers()
        self.http_client = AlcanceTwilioHttpClient(
            timeout=timeout,
            base_url=api_base_url or None,
            log_phone=log_phone,
            pool_maxsize=pool_maxsize,
        )
        self.client = Client(account_sid, auth_token, http_client=self.http_client)
        self.client.messages  # noqa: B018  build the SDK's lazy objects now, not in threads

    def size_connection_pool(self, maxsize: int) -> None:
        """Let `maxsize` threads send at once, each on a kept-alive connection (the worker
        calls this with its thread count)."""
        self.http_client.size_pool(maxsize)

    @property
    def timeout(self) -> tuple[float, float]:
        return self.http_client.timeout

    @property
    def sender(self) -> str:
        """The default sender: the Messaging Service SID, else the From number."""
        return next(iter(self._sender.values()))

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        sender: str | None = None,
        channel: str = "sms",
        content_sid: str | None = None,
        content_variables: str | None = None,
    ) -> SendResult:
        """Create one message. See `SmsGateway.send`."""
        kwargs = {"to": to, "body": body, **(self._sender_of(sender) if sender else self._sender)}
        if channel == "whatsapp":
            kwargs = self._whatsapp(kwargs)
        if content_sid:  # a template: its content and variables instead of a body
            del kwargs["body"]
            kwargs["content_sid"] = content_sid
            if content_variables:
                kwargs["content_variables"] = content_variables
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            error = _map_error(exc, lookup=False)
            logger.debug("SMS to %s failed: %s", self._who(to), error)
            raise error from None  # the SDK's exceptions quote Twilio's text (phone numbers)
        if not message.sid:
            raise OutcomeUnknownSmsError("Twilio answered 2xx without a message SID")
        result = SendResult(
            sid=message.sid,
            status=message.status or "queued",
            num_segments=_positive_int(message.num_segments),
        )
        logger.debug("SMS to %s: %s %s", self._who(to), result.sid, result.status)
        return result

    @staticmethod
    def _whatsapp(kwargs: dict) -> dict:
        """WhatsApp addresses: "whatsapp:+52…" To and From; a Messaging Service stays as is
        (Twilio picks its WhatsApp sender)."""
        kwargs = dict(kwargs, to=whatsapp_address(kwargs["to"]))
        if "from_" in kwargs:
            kwargs["from_"] = whatsapp_address(kwargs["from_"])
        return kwargs

    @staticmethod
    def _sender_of(sender: str) -> dict:
        """An organization's own sender replaces the default (never combined with it)."""
        kind = sender_kind(sender)
        if kind == "messaging_service":
            return {"messaging_service_sid": sender}
        if kind == "number":
            return {"from_": sender}
        # A bad setting must fail the row with a reason, not be retried forever.
        raise PermanentSmsError(
            "the organization's sender is neither an E.164 number nor a "
            "Messaging Service SID; not sent"
        )

    def find_sent(self, to: str, *, since: datetime) -> list[SentMessage]:
        """Messages Twilio has for recipient `to` since `since`, newest first (at most 20).

        Twilio filters on the sent date (`DateSent>`, documented at day granularity), so the
        list may include older messages of the same day: compare `date_created`. A lookup
        has no side effect, so transport failures and 5xx raise `RetryableSmsError`.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        # The SDK formats DateSent with strftime("...Z") without converting: pass UTC.
        since_utc = since.astimezone(UTC)
        try:
            records = self.client.messages.list(
                to=to, date_sent_after=since_utc, limit=FIND_SENT_LIMIT
            )
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            raise _map_error(exc, lookup=True) from None
        found = []
        for m in records:
            created = m.date_created or m.date_sent
            if not isinstance(created, datetime) or not m.sid:
                continue
            found.append(
                SentMessage(
                    sid=m.sid,
                    to=m.to or to,
                    status=m.status or "",
                    date_created=created,
                    error_code=m.error_code or None,
                    body=m.body,
                    sender=m.messaging_service_sid or m.from_,
                )
            )
        return found

    def close(self) -> None:
        """Close pooled connections."""
        self.http_client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _who(self, to: str) -> str:
        return to if self.log_phone else mask_phone(to)

    def __repr__(self) -> str:
        return f"<TwilioGateway {next(iter(self._sender))}>"


# Loggers that print request URLs (find_sent's carries `To=<number>`): the SDK logs them at
# INFO, urllib3 at DEBUG. Explicit levels hold even when the root logger is set to DEBUG.
_PII_LOGGERS = {"twilio.http_client": logging.WARNING, "urllib3.connectionpool": logging.INFO}


def _quiet_loggers() -> None:
    for name, level in _PII_LOGGERS.items():
        log = logging.getLogger(name)
        if log.level == logging.NOTSET or log.level < level:
            log.setLevel(level)


def _map_error(exc: BaseException, *, lookup: bool) -> SmsError:
    """Translate an SDK/requests exception into an `SmsError` whose text holds no PII."""
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        return _from_http_answer(
            exc.status,
            exc.code,
            getattr(exc, "msg", None) or getattr(exc, "title", ""),
            lookup=lookup,
        )
    if isinstance(exc, TwilioException):
        # Listing raises a bare TwilioException("Unable to fetch page", response) on non-200.
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if status is None:
            return OutcomeUnknownSmsError(f"Twilio SDK error ({type(exc).__name__})")
        code, message = _twilio_error_body(getattr(response, "text", ""))
        return _from_http_answer(status, code, message, lookup=lookup)
    if isinstance(exc, json.JSONDecodeError):
        return OutcomeUnknownSmsError("Twilio answered 2xx with an unreadable body")
    chain = _cause_chain(exc)
    names = "<-".join(type(e).__name__ for e in chain)
    if isinstance(exc, _INVALID_REQUEST_ERRORS):
        return PermanentSmsError(f"invalid Twilio request, not sent ({names})")
    if _failed_before_sending(chain):
        return RetryableSmsError(f"could not connect to Twilio, request not sent ({names})")
    if lookup:
        return RetryableSmsError(f"Twilio lookup failed ({names})")
    return OutcomeUnknownSmsError(f"request sent to Twilio but no complete answer ({names})")


def _from_http_answer(status: int, code, message: str, *, lookup: bool) -> SmsError:
    code = _twilio_code(code, status)
    text = redact(message)
    if status == 429 or code == RATE_LIMITED_CODE:
        return RetryableSmsError(
            f"Twilio rate limit, request not processed (HTTP {status}, code {code})",
            code=code,
            status=status,
        )
    if 400 <= status < 500:
        return PermanentSmsError(
            f"Twilio refused the request (HTTP {status}, code {code}): {text}",
            code=code,
            status=status,
        )
    if lookup:
        return RetryableSmsError(
            f"Twilio lookup failed (HTTP {status}, code {code})", code=code, status=status
        )
    return OutcomeUnknownSmsError(
        f"Twilio answered HTTP {status} (code {code}): the message may have been created",
        code=code,
        status=status,
    )


def _twilio_code(code, status) -> int | None:
    """The SDK substitutes the HTTP status when the body has no code; that is no Twilio code."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        return None
    return None if code == status else code


def _twilio_error_body(text: str) -> tuple[int | None, str]:
    try:
        payload = json.loads(text)
    except (TypeError, ValueError):
        return None, ""
    if not isinstance(payload, dict):
        return None, ""
    return payload.get("code"), str(payload.get("message") or payload.get("title") or "")


def _cause_chain(exc: BaseException) -> list[BaseException]:
    """The exception, the exceptions in its args, urllib3 `reason`s, causes and contexts."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack and len(seen) < 20:
        e = stack.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        for attr in ("reason", "__cause__", "__context__"):
            nxt = getattr(e, attr, None)
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return seen


def _failed_before_sending(chain: list[BaseException]) -> bool:
    for e in chain:
        if isinstance(e, (requests.exceptions.ConnectTimeout, *_CONNECT_PHASE_ERRORS)):
            return True
        # Certificate verification happens in the handshake, before any request byte.
        if isinstance(e, ssl.SSLCertVerificationError):
            return True
    return False


def _positive_int(value) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def _validate_timeout(timeout) -> tuple[float, float]:
    if isinstance(timeout, (int, float)):
        timeout = (timeout, timeout)
    connect, read = (float(t) for t in timeout)
    if connect <= 0 or read <= 0:
        raise ValueError("timeouts must be positive")
    return connect, read


def _parse_base_url(base_url: str) -> tuple[str, str, str]:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("TWILIO_API_BASE_URL must look like http://host:port")
    return parts.scheme, parts.netloc, parts.path.rstrip("/")


def signature_is_valid(auth_token: str, url: str, params, signature: str) -> bool:
    """Check an X-Twilio-Signature over the public URL and the POSTed form (Twilio's algorithm)."""
    return bool(signature) and RequestValidator(auth_token).validate(url, params, signature)


# --- WhatsApp templates: Twilio's Content API ---------------------------------------------------

FIND_TEMPLATE_LIMIT = 1000  # contents scanned for a lost create's friendly name
_RECORD_PREFIX = re.compile(r"^Unable to \w+ record:?\s*")


class TwilioContentGateway:
    """`TemplateGateway` over Twilio's Content API (content.twilio.com/v1) with the SDK:
    `contents.create`, `contents(sid).approval_create.create` and
    `contents(sid).approval_fetch().fetch()`. Logs name templates by their friendly name
    only, never by their text."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_base_url: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        find_limit: int = FIND_TEMPLATE_LIMIT,
    ):
        if not account_sid or not auth_token:
            raise ValueError("TwilioContentGateway needs an account SID and an auth token")
        _quiet_loggers()
        self.http_client = AlcanceTwilioHttpClient(
            timeout=timeout, base_url=api_base_url or None, pool_maxsize=4
        )
        self.client = Client(account_sid, auth_token, http_client=self.http_client)
        self.find_limit = find_limit

    @property
    def _contents(self):
        return self.client.content.v1.contents

    def create_template(self, content: TemplateContent) -> str:
        """POST /v1/Content: a twilio/text, or a twilio/quick-reply when it has buttons."""
        if content.buttons:
            actions = [
                {"type": "QUICK_REPLY", "title": b.title, "id": b.id} for b in content.buttons
            ]
            types = {"twilio/quick-reply": {"body": content.body, "actions": actions}}
        else:
            types = {"twilio/text": {"body": content.body}}
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": content.friendly_name,
                "language": content.language,
                "variables": dict(content.samples),
                "types": types,
            }
        )
        try:
            created = self._contents.create(request)
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            error = _template_error(exc, lookup=False)
            logger.warning("template %s not created: %s", content.friendly_name, error.code)
            raise error from None
        if not created.sid:
            raise TemplateGatewayError(NO_ANSWER, outcome_unknown=True)
        logger.info("template %s created: %s", content.friendly_name, created.sid)
        return created.sid

    def find_template(self, friendly_name: str) -> str | None:
        """GET /v1/Content, page by page (at most `find_limit` contents)."""
        try:
            for item in self._contents.stream(page_size=50, limit=self.find_limit):
                if item.friendly_name == friendly_name and item.sid:
                    return item.sid
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            raise _template_error(exc, lookup=True) from None
        return None

    def request_approval(self, sid: str, *, name: str, category: str) -> ApprovalStatus:
        """POST /v1/Content/{sid}/ApprovalRequests/whatsapp."""
        request = ApprovalCreateList.ContentApprovalRequest(
            {"name": name, "category": category.upper()}
        )
        try:
            answer = self._contents(sid).approval_create.create(request)
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            error = _template_error(exc, lookup=False)
            logger.warning("template %s: approval not requested: %s", name, error.code)
            raise error from None
        # Just asked: whatever Twilio echoes first ("received", "unsubmitted"), it is pending.
        status = our_status(answer.status)
        return ApprovalStatus(
            status=status if status not in (None, "draft") else "pending",
            provider_status=answer.status or "",
            rejection_reason=redact(answer.rejection_reason or ""),
        )

    def fetch_status(self, sid: str) -> ApprovalStatus:
        """GET /v1/Content/{sid}/ApprovalRequests (its `whatsapp` object)."""
        try:
            answer = self._contents(sid).approval_fetch().fetch()
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            raise _template_error(exc, lookup=True) from None
        whatsapp = answer.whatsapp if isinstance(answer.whatsapp, dict) else {}
        provider = str(whatsapp.get("status") or "")
        status = our_status(provider)
        if status is None:
            logger.warning("template %s: unknown approval status %r", sid, provider[:40])
            status = "pending" if provider else "draft"
        return ApprovalStatus(
            status=status,
            provider_status=provider,
            rejection_reason=redact(str(whatsapp.get("rejection_reason") or "")),
        )

    def close(self) -> None:
        self.http_client.close()

    def __repr__(self) -> str:
        return "<TwilioContentGateway>"


def _template_error(exc: BaseException, *, lookup: bool) -> TemplateGatewayError:
    """An SDK/requests exception as a TemplateGatewayError for the coordinator."""
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        message = getattr(exc, "msg", None) or getattr(exc, "title", "") or ""
        return _template_http_error(exc.status, exc.code, message, lookup=lookup)
    if isinstance(exc, TwilioException):
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if status is None:
            return TemplateGatewayError(NO_ANSWER, outcome_unknown=not lookup, retryable=lookup)
        code, message = _twilio_error_body(getattr(response, "text", ""))
        return _template_http_error(status, code, message, lookup=lookup)
    if isinstance(exc, json.JSONDecodeError):
        return TemplateGatewayError(NO_ANSWER, outcome_unknown=not lookup, retryable=lookup)
    if isinstance(exc, _INVALID_REQUEST_ERRORS):
        return TemplateGatewayError(UNREACHABLE)
    if lookup or _failed_before_sending(_cause_chain(exc)):
        return TemplateGatewayError(UNREACHABLE, retryable=True)
    return TemplateGatewayError(NO_ANSWER, outcome_unknown=True)


def _template_http_error(status: int, code, message: str, *, lookup: bool):
    code = _twilio_code(code, status)
    if status == 429 or code == RATE_LIMITED_CODE:
        return TemplateGatewayError(BUSY, code=code, status=status, retryable=True)
    if status in (401, 403) or code == 20003:
        return TemplateGatewayError(CREDENTIALS, code=code, status=status)
    if status == 404 or code == 20404:
        return TemplateGatewayError(UNKNOWN_TEMPLATE, code=code, status=status)
    if 400 <= status < 500:
        reason = redact(_RECORD_PREFIX.sub("", message or "")).strip()[:300]
        return TemplateGatewayError(refused(reason, code), code=code, status=status)
    if lookup:
        return TemplateGatewayError(UNREACHABLE, code=code, status=status, retryable=True)
    return TemplateGatewayError(NO_ANSWER, code=code, status=status, outcome_unknown=True)
