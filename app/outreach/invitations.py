"""Sends that invite to something (today, a workshop: `OutreachSend.workshop_id`).

The feature that owns the event says what an invitation adds to the text and what
happens to the people invited; it registers that when the app is built (see
app/workshops/invitations.py). Sends themselves know no workshop.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Invitation:
    # Extra placeholder values of the event, in a language: {"workshop_title": ...}.
    values: Callable[[object, str], dict]
    # A line appended to the text in a language (e.g. how to RSVP).
    footer: Callable[[object, str], str]
    # Invitations not sent before this moment are skipped (e.g. the workshop's start).
    expires_at: Callable[[object], datetime | None]
    # After each fan-out pass, with the recipients' SELECT: e.g. "invited" registrations.
    after_fan_out: Callable[[object, object, datetime], None]
    # Once the send's first fan-out is done, before it commits: e.g. "invited" events.
    after_first_fan_out: Callable[[object, datetime], None]


_REGISTERED: list[Invitation] = []


def register_invitation(invitation: Invitation) -> None:
    _REGISTERED[:] = [invitation]


def invitation_of(send) -> Invitation | None:
    """The invitation behaviour of `send`, or None for an ordinary campaign message."""
    if send.workshop_id is None:
        return None
    if not _REGISTERED:
        raise RuntimeError("an invitation send, but no invitation feature is registered")
    return _REGISTERED[0]
