"""Organization events other systems may hear about (issue 20, outbound webhooks).

The packages where something happens (contacts, workshops, conversations, surveys, sends)
call `emit` inside their own unit of work; listeners registered by the layers above (the
outbound webhooks of app/integrations) add their rows to that same transaction, so an
event that rolls back leaves nothing behind and one that commits is never lost. Emitters
import only this module; listeners are registered when the app is built.

An event carries ids and de-identified fields only: never a phone number, a name or the
text of a message. `key` identifies the event itself: emitting the same key twice (a
retried transaction, two code paths) is one event.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

EVENT_TYPES = (
    "contact.opted_out",
    "contact.opted_in",
    "workshop.registration.changed",
    "case.opened",
    "survey.completed",
    "send.completed",
)


@dataclass(frozen=True)
class OrgEvent:
    type: str  # one of EVENT_TYPES
    organization_id: int
    key: str  # unique per event, e.g. "case.opened:42"
    occurred_at: datetime
    data: dict = field(default_factory=dict)  # ids and de-identified fields (JSON values)
    contact_id: int | None = None  # the contact it is about, if any


_LISTENERS: dict[str, Callable[[list[OrgEvent]], None]] = {}
_WANTS: dict[str, Callable[[int, str], bool] | None] = {}


def register_listener(
    name: str,
    listener: Callable[[list[OrgEvent]], None],
    *,
    wants: Callable[[int, str], bool] | None = None,
) -> None:
    """Add (or replace, by name) a listener of batches of events; it runs inside the
    emitter's transaction and must not commit. `wants(organization_id, event_type)` tells
    whether it would do anything with such events (None: always)."""
    _LISTENERS[name] = listener
    _WANTS[name] = wants


def wanted(organization_id: int, event_type: str) -> bool:
    """Whether any listener would use events of this type for this organization: emitters
    of many events at once (a 100,000-contact invitation) build them only then."""
    return any(w is None or w(organization_id, event_type) for w in _WANTS.values())


def event(
    event_type: str,
    *,
    organization_id: int,
    key: str,
    occurred_at: datetime,
    data: dict | None = None,
    contact_id: int | None = None,
) -> OrgEvent:
    """An event to `emit_all` (set-based emitters: one call for many events)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown organization event: {event_type}")
    return OrgEvent(
        type=event_type,
        organization_id=organization_id,
        key=f"{event_type}:{key}",
        occurred_at=occurred_at,
        data=dict(data or {}),
        contact_id=contact_id,
    )


def emit_all(events: list[OrgEvent]) -> None:
    """Tell the listeners about these events at once (the caller commits)."""
    if events:
        for listener in tuple(_LISTENERS.values()):
            listener(list(events))


def emit(
    event_type: str,
    *,
    organization_id: int,
    key: str,
    occurred_at: datetime,
    data: dict | None = None,
    contact_id: int | None = None,
) -> None:
    """Tell the listeners that `event_type` happened (the caller commits)."""
    emit_all(
        [
            event(
                event_type,
                organization_id=organization_id,
                key=key,
                occurred_at=occurred_at,
                data=data,
                contact_id=contact_id,
            )
        ]
    )
