"""In-memory `TemplateGateway` for development and tests.

Tests decide the approval: `approve(sid)`, `reject(sid, reason)`, `set_status(sid, ...)`,
and queue failures with `fail_next(...)`. In development (`auto_approve=True`) the first
status check after an approval request finds the template approved, so the pages can be
tried end to end without Twilio.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field

from app.messaging.templates import (
    UNKNOWN_TEMPLATE,
    ApprovalStatus,
    TemplateContent,
    TemplateGatewayError,
)


def new_content_sid() -> str:
    """A unique SID shaped like Twilio's Content SIDs: "HX" + 32 hex digits."""
    return "HX" + secrets.token_hex(16)


@dataclass
class FakeContent:
    sid: str
    content: TemplateContent
    approval_name: str | None = None
    category: str | None = None
    status: str = "draft"  # ours (see app.messaging.templates.APPROVAL_STATUSES)
    rejection_reason: str = ""
    approval_requests: int = 0
    status_fetches: int = 0
    history: list[str] = field(default_factory=list)


class FakeTemplateGateway:
    """Records contents in `.contents` (by SID) and every call in `.calls`. Thread-safe.

    `fail_next(error, created=True)` makes the next call raise `error`; with `created=True`
    a create still stores the content first, which is what a lost answer means in reality.
    """

    name = "fake"

    def __init__(self, *, auto_approve: bool = False):
        self.auto_approve = auto_approve
        self.contents: dict[str, FakeContent] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, friendly name or SID)
        self._failures: deque[tuple[TemplateGatewayError, bool]] = deque()
        self._lock = threading.Lock()

    def fail_next(self, *errors: TemplateGatewayError, created: bool = False) -> None:
        with self._lock:
            self._failures.extend((e, created) for e in errors)

    def _failure(self):
        return self._failures.popleft() if self._failures else None

    def create_template(self, content: TemplateContent) -> str:
        with self._lock:
            self.calls.append(("create", content.friendly_name))
            failure = self._failure()
            if failure is None or failure[1]:
                sid = new_content_sid()
                self.contents[sid] = FakeContent(sid=sid, content=content)
        if failure is not None:
            raise failure[0]
        return sid

    def find_template(self, friendly_name: str) -> str | None:
        with self._lock:
            self.calls.append(("find", friendly_name))
            failure = self._failure()
            if failure is None:
                for sid, item in self.contents.items():
                    if item.content.friendly_name == friendly_name:
                        return sid
                return None
        raise failure[0]

    def request_approval(self, sid: str, *, name: str, category: str) -> ApprovalStatus:
        with self._lock:
            self.calls.append(("approve", sid))
            failure = self._failure()
            if failure is None and self._elsewhere(sid):
                return ApprovalStatus("pending", provider_status="received")
            if failure is None:
                item = self._get(sid)
                item.approval_name, item.category = name, category
                item.approval_requests += 1
                item.status, item.rejection_reason = "pending", ""
                item.history.append("pending")
                return ApprovalStatus("pending", provider_status="received")
        raise failure[0]

    def fetch_status(self, sid: str) -> ApprovalStatus:
        with self._lock:
            self.calls.append(("fetch", sid))
            failure = self._failure()
            if failure is None and self._elsewhere(sid):
                return ApprovalStatus("approved", "approved", "")
            if failure is None:
                item = self._get(sid)
                item.status_fetches += 1
                if self.auto_approve and item.status == "pending":
                    self._set(item, "approved")
                provider = "unsubmitted" if item.status == "draft" else item.status
                return ApprovalStatus(item.status, provider, item.rejection_reason)
        raise failure[0]

    # -- what WhatsApp decides (tests) ------------------------------------------------------

    def approve(self, sid: str) -> None:
        self.set_status(sid, "approved")

    def reject(self, sid: str, reason: str) -> None:
        self.set_status(sid, "rejected", reason)

    def set_status(self, sid: str, status: str, rejection_reason: str = "") -> None:
        with self._lock:
            self._set(self._get(sid), status, rejection_reason)

    def created(self, friendly_name: str) -> list[FakeContent]:
        """Contents created under this friendly name (more than one: a duplicate)."""
        return [c for c in self.contents.values() if c.content.friendly_name == friendly_name]

    def reset(self) -> None:
        with self._lock:
            self.contents.clear()
            self.calls.clear()
            self._failures.clear()

    def _elsewhere(self, sid: str) -> bool:
        """The simulator runs several processes (gunicorn workers, the worker CLI), each with
        its own memory: a SID another process created is unknown here. Auto-approving, answer
        as WhatsApp would for it instead of "unknown template"."""
        return self.auto_approve and sid not in self.contents

    def _get(self, sid: str) -> FakeContent:
        try:
            return self.contents[sid]
        except KeyError:
            raise TemplateGatewayError(UNKNOWN_TEMPLATE, code=20404, status=404) from None

    @staticmethod
    def _set(item: FakeContent, status: str, rejection_reason: str = "") -> None:
        item.status, item.rejection_reason = status, rejection_reason
        item.history.append(status)
