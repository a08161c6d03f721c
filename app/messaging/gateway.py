"""The SMS gateway protocol, its result types and its errors.

Services depend on `SmsGateway` only; `TwilioGateway` (real), `FakeSmsGateway` (tests) and
`SimulatorGateway` (development) implement it. Get the active one with
`app.messaging.factory.get_sms_gateway()`.

Error taxonomy (what the caller may do next):

* `RetryableSmsError`: the request was certainly not processed (HTTP 429/20429, or the
  connection failed before the request was sent). Retry with backoff.
* `OutcomeUnknownSmsError`: the request may have been processed (5xx, read timeout after
  sending, connection dropped mid-response). Never re-send blindly: reconcile first with
  `find_sent()` or wait for the status callback.
* `PermanentSmsError`: Twilio refused the message (4xx). Do not retry;
  `marks_opted_out` / `marks_undeliverable` say what it means for the contact.

Error messages never contain phone numbers or message bodies: they end up in logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

#: Twilio error codes with a meaning for the contact (https://www.twilio.com/docs/api/errors).
OPTED_OUT_CODES = frozenset({21610})  # recipient replied STOP to this sender/service
UNDELIVERABLE_CODES = frozenset({21211, 21614})  # invalid 'To' number; not a mobile number
RATE_LIMITED_CODE = 20429

# WhatsApp (https://www.twilio.com/docs/whatsapp/api/error-code-mapping). Each may come back
# at create (HTTP 4xx with the code) or, more often, later in a failed/undelivered status
# callback's ErrorCode: both paths treat them alike (app/outbox/channel_plan.py).
CHANNELS = ("sms", "whatsapp")
WHATSAPP_PREFIX = "whatsapp:"
# The number is not on WhatsApp: fall back to SMS once and use SMS from then on.
#   63003 "Channel could not find To address" (WhatsApp 1006/1013/1021: inactive or invalid)
#   63024 "Invalid message recipient" (WhatsApp 1002/1026: not a WhatsApp user, undeliverable)
WHATSAPP_NOT_ON_CODES = frozenset({63003, 63024})
# WhatsApp cannot deliver this message to this user now, though the number may be on it:
#   63032 "cannot send this message to this user because of a WhatsApp limitation" (472).
# Fall back to SMS once, but keep WhatsApp for the contact.
WHATSAPP_UNREACHABLE_CODES = WHATSAPP_NOT_ON_CODES | frozenset({63032})
# 63016 "Failed to send freeform message because you are outside the allowed window" (470):
# send it again as the approved template, else the organization's no-template rule.
WHATSAPP_WINDOW_CODE = 63016
# Not listed on purpose: 63014 (the user blocked the business on WhatsApp: no SMS behind
# their back), 63018 (rate limit: retried like 20429 by the dispatcher's backoff).


def whatsapp_address(number: str) -> str:
    """ "+5216641234567" -> "whatsapp:+5216641234567" (unchanged when already prefixed)."""
    return number if number.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + number


# An organization's own sender: an E.164 number or a Messaging Service SID (Twilio's pattern).
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


def sender_kind(sender: str | None) -> str | None:
    """ "messaging_service", "number", or None when `sender` is neither."""
    if not sender:
        return None
    if _MESSAGING_SERVICE_SID.fullmatch(sender):
        return "messaging_service"
    return "number" if _E164.fullmatch(sender) else None


@dataclass(frozen=True)
class SendResult:
    """What Twilio (or a stand-in) answered to a successful send."""

    sid: str
    status: str  # "queued", "accepted" (Messaging Service), "scheduled", or "sent" (simulator)
    num_segments: int | None = None  # None while unknown (Twilio reports 0 via a Messaging Service)


@dataclass(frozen=True)
class SentMessage:
    """A message found on the provider by `SmsGateway.find_sent` (reconciliation)."""

    sid: str
    to: str = field(repr=False)  # kept out of repr: reprs end up in logs
    status: str
    date_created: datetime  # aware UTC
    error_code: int | None = None
    # What the provider stored, so reconciliation matches a row by its exact text and sender
    # (never by number and time alone). Kept out of repr: reprs end up in logs.
    body: str | None = field(default=None, repr=False)
    sender: str | None = field(default=None, repr=False)  # Messaging Service SID, else From


class SmsError(Exception):
    """Sending (or looking up) an SMS failed.

    Attributes:
        code: Twilio error code (e.g. 21610), or None when there is none.
        status: HTTP status of the provider's answer, or None when there was no answer.
        retryable: True when the request was certainly not processed and may be retried.
        outcome_unknown: True when the message may have been sent; reconcile before resending.
    """

    retryable: bool = False
    outcome_unknown: bool = False

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class RetryableSmsError(SmsError):
    """The request was certainly not processed (429, or no connection): safe to retry."""

    retryable = True


class OutcomeUnknownSmsError(SmsError):
    """The request may have been processed: reconcile, never re-send blindly."""

    outcome_unknown = True


class PermanentSmsError(SmsError):
    """The provider refused the message; retrying the same request cannot succeed."""

    @property
    def marks_opted_out(self) -> bool:
        """The recipient unsubscribed (21610): mark the contact opted out."""
        return self.code in OPTED_OUT_CODES

    @property
    def marks_undeliverable(self) -> bool:
        """The number is invalid or not mobile (21211, 21614): mark the contact undeliverable."""
        return self.code in UNDELIVERABLE_CODES


@runtime_checkable
class SmsGateway(Protocol):
    """Sends SMS and looks up sent ones. Implementations must be safe to share across threads."""

    name: str

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
        """Send one SMS, or one WhatsApp message.

        Args:
            to: recipient in E.164 (e.g. "+5216641234567"), without any "whatsapp:" prefix.
            body: the rendered text (ignored when `content_sid` is given).
            status_callback: absolute URL the provider POSTs status changes to.
            sender: the organization's own sender (`Organization.sms_sender`, or for
                WhatsApp `Organization.whatsapp_sender`: an E.164 number or a Messaging
                Service SID); None sends from the configured default.
            channel: "sms" or "whatsapp" (Twilio: `whatsapp:`-prefixed To and From numbers).
            content_sid: an approved WhatsApp template (Content API "HX…" SID).
            content_variables: the template's variables as a JSON object string
                ('{"1": "Ana"}'), sent with `content_sid`.

        Raises:
            RetryableSmsError, OutcomeUnknownSmsError, PermanentSmsError (all `SmsError`).
        """
        ...

    def find_sent(self, to: str, *, since: datetime) -> list[SentMessage]:
        """Messages sent to `to` on or after `since` (aware), newest first.

        Used to reconcile a send whose outcome is unknown. The provider may apply `since`
        at day granularity, so compare `date_created` yourself. Raises `SmsError`.
        """
        ...
