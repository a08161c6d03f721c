"""In-memory `SmsGateway` for tests: records every message and fails on demand."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from app.messaging.gateway import SendResult, SentMessage, SmsError, whatsapp_address


def new_message_sid() -> str:
    """A unique SID shaped like Twilio's: "SM" + 32 hex digits."""
    return "SM" + secrets.token_hex(16)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SentSms(NamedTuple):
    to: str
    body: str
    status_callback: str | None
    sid: str
    sender: str | None = None  # None: the configured default sender

    @property
    def channel(self) -> str:
        return "sms"


class SentWhatsApp(NamedTuple):
    """A WhatsApp send (an SMS stays a 5-field SentSms, as tests compare it)."""

    to: str  # E.164, without the "whatsapp:" prefix
    body: str
    status_callback: str | None
    sid: str
    sender: str | None = None
    channel: str = "whatsapp"
    content_sid: str | None = None  # a WhatsApp template
    content_variables: str | None = None  # its variables (JSON object string)


class FakeSmsGateway:
    """Records sends in `.sent` as (to, body, status_callback, sid, sender) tuples. Thread-safe.

    `fail_next(exc)` queues exceptions raised by the next sends, one per send, in order.
    With `sent=True` the message is recorded (and found by `find_sent`) before raising,
    which is what an `OutcomeUnknownSmsError` means in reality.
    """

    name = "fake"

    def __init__(self, *, status: str = "queued", clock: Callable[[], datetime] = _utcnow):
        self.status = status
        self.clock = clock
        self.sent: list[SentSms] = []
        self._records: list[SentMessage] = []
        self._failures: deque[tuple[SmsError, bool]] = deque()
        self._lock = threading.Lock()

    def fail_next(self, *errors: SmsError, sent: bool = False) -> None:
        """Raise these exceptions on the next sends (one each). `sent=True`: record first."""
        with self._lock:
            self._failures.extend((e, sent) for e in errors)

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
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
            if failure is None or failure[1]:
                sid = new_message_sid()
                self.sent.append(
                    SentWhatsApp(
                        to,
                        body,
                        status_callback,
                        sid,
                        sender,
                        channel,
                        content_sid,
                        content_variables,
                    )
                    if channel == "whatsapp"
                    else SentSms(to, body, status_callback, sid, sender)
                )
                self._records.append(
                    SentMessage(
                        sid=sid,
                        # Twilio lists a WhatsApp message under its "whatsapp:" address.
                        to=whatsapp_address(to) if channel == "whatsapp" else to,
                        status=self.status,
                        date_created=self.clock(),
                        body=body,
                        sender=sender,
                    )
                )
        if failure is not None:
            raise failure[0]
        return SendResult(sid=sid, status=self.status, num_segments=None)

    def find_sent(self, to: str, *, since: datetime) -> list[SentMessage]:
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        with self._lock:
            found = [m for m in self._records if m.to == to and m.date_created >= since]
        return sorted(found, key=lambda m: m.date_created, reverse=True)

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Simulate a later lifecycle step, as `find_sent` would then report it."""
        with self._lock:
            for i, m in enumerate(self._records):
                if m.sid == sid:
                    self._records[i] = dataclasses.replace(m, status=status, error_code=error_code)
                    return
        raise KeyError(sid)

    @property
    def last(self) -> SentSms | None:
        return self.sent[-1] if self.sent else None

    def to(self, number: str) -> list[SentSms]:
        """Messages sent to one number."""
        return [s for s in self.sent if s.to == number]

    def on(self, channel: str) -> list[SentSms]:
        """Messages sent on one channel ("sms", "whatsapp")."""
        return [s for s in self.sent if s.channel == channel]

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self._records.clear()
            self._failures.clear()
