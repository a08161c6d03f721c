"""WhatsApp templates through a content provider: the `TemplateGateway` protocol, its value
types and its one error.

WhatsApp only delivers a business-initiated message outside the 24-hour window when it uses
a template WhatsApp approved. With Twilio that is a Content resource (`POST /v1/Content`)
plus a WhatsApp approval request (`POST /v1/Content/{sid}/ApprovalRequests/whatsapp`), whose
status is read back with `GET /v1/Content/{sid}/ApprovalRequests`.
`TwilioContentGateway` (app.messaging.twilio_gateway) is the real implementation,
`FakeTemplateGateway` (app.messaging.fake_templates) the one for development and tests; get
the active one with `app.messaging.factory.get_template_gateway()`.

Errors carry a translated message for the coordinator (never a message body or a phone
number: they also end up in logs) and say whether the request may have been processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from flask_babel import lazy_gettext as _l

from app.errors import DomainError

# Twilio's approval statuses -> ours. "unsubmitted": content exists, approval never asked.
APPROVAL_STATUSES = {
    "unsubmitted": "draft",
    "received": "pending",
    "pending": "pending",
    "in_appeal": "pending",
    "approved": "approved",
    "rejected": "rejected",
    "paused": "paused",
    "disabled": "disabled",
}


def our_status(provider_status: str | None) -> str | None:
    """Our status for a provider's approval status (case-insensitive), None when unknown."""
    return APPROVAL_STATUSES.get((provider_status or "").strip().lower())


@dataclass(frozen=True)
class TemplateButton:
    """A quick-reply button: what the young person taps, and the id that comes back."""

    title: str
    id: str


@dataclass(frozen=True)
class TemplateContent:
    """One template in one language, as the provider stores it.

    `friendly_name` identifies this revision of the template on the provider (it is how a
    create whose answer was lost is found again); `samples` maps each variable number ("1")
    to the example value WhatsApp's reviewers see.
    """

    friendly_name: str
    language: str
    body: str = field(repr=False)
    samples: dict[str, str] = field(default_factory=dict, repr=False)
    buttons: tuple[TemplateButton, ...] = ()


@dataclass(frozen=True)
class ApprovalStatus:
    """A template's WhatsApp approval as the provider reports it."""

    status: str  # ours: draft (never submitted), pending, approved, rejected, paused, disabled
    provider_status: str = ""
    rejection_reason: str = ""


class TemplateGatewayError(DomainError):
    """The provider refused or did not answer a template request.

    `message` is lazy-translated for the coordinator. `outcome_unknown`: the request may have
    been processed (no complete answer), so look before creating again. `retryable`: it was
    certainly not processed and may be retried as is.
    """

    def __init__(
        self,
        message,
        *,
        code: int | None = None,
        status: int | None = None,
        retryable: bool = False,
        outcome_unknown: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable
        self.outcome_unknown = outcome_unknown


# Messages of TemplateGatewayError (lazy: shown in the viewer's language).
UNREACHABLE = _l("Twilio could not be reached. Nothing was sent; try again in a few minutes.")
NO_ANSWER = _l(
    "Twilio did not answer in time: the request may have arrived. Try again in a minute; "
    "Alcance checks first, so nothing is created twice."
)
BUSY = _l("Twilio is busy right now. Try again in a minute.")
CREDENTIALS = _l(
    "Twilio refused this installation's credentials. Ask the administrator of the "
    "installation to check them."
)
UNKNOWN_TEMPLATE = _l("Twilio no longer has this template. Edit it and submit it again.")


def refused(reason: str, code: int | None):
    """Twilio refused the template, with its (English) reason and error code (lazy)."""
    if code:
        # TRANSLATORS: Twilio's own explanation (in English) follows the colon.
        return _l(
            "Twilio refused the template (error %(code)s): %(reason)s", code=code, reason=reason
        )
    # TRANSLATORS: Twilio's own explanation (in English) follows the colon.
    return _l("Twilio refused the template: %(reason)s", reason=reason or "?")


@runtime_checkable
class TemplateGateway(Protocol):
    """Creates WhatsApp templates on the provider and follows their approval.
    Implementations must be safe to share across threads."""

    name: str

    def create_template(self, content: TemplateContent) -> str:
        """Create the content; returns its SID ("HX…"). Raises TemplateGatewayError."""
        ...

    def find_template(self, friendly_name: str) -> str | None:
        """The SID of the content named `friendly_name`, or None. Used only after a create
        whose answer was lost. Raises TemplateGatewayError."""
        ...

    def request_approval(self, sid: str, *, name: str, category: str) -> ApprovalStatus:
        """Ask WhatsApp to approve content `sid` as template `name` in `category`
        ("utility" or "marketing"). Raises TemplateGatewayError."""
        ...

    def fetch_status(self, sid: str) -> ApprovalStatus:
        """The WhatsApp approval status of content `sid`. Raises TemplateGatewayError."""
        ...
