"""Events a campaign message may invite to (today, workshops), as the message editor's
phone preview shows them: the event's placeholder values and the line its invitations add
(how to RSVP), in each language.

Campaigns know no workshop: the feature that owns the event registers a provider when the
app is built (see app/workshops/previews.py). Without one, the editor previews messages
with the placeholders' fallbacks, exactly as a send that invites to nothing renders them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PreviewEvent:
    key: str  # unique among a campaign's events, e.g. "workshop-12"
    label: str  # in the current locale, for the editor's choice
    values: dict[str, dict[str, str]]  # language → placeholder values ({"workshop_code": ...})
    footers: dict[str, str] = field(default_factory=dict)  # language → line an invitation adds
    invited: bool = False  # this message already went (or is scheduled) as its invitation


# (campaign, message or None) → the campaign's events worth previewing, soonest first.
Provider = Callable[[object, object], list[PreviewEvent]]
_PROVIDERS: list[Provider] = []


def register_preview_events(provider: Provider) -> None:
    """Add a provider of preview events (registering the same function twice keeps one)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def preview_events(campaign, message=None) -> list[PreviewEvent]:
    """Every registered provider's events for `campaign` (and the message being edited)."""
    return [event for provider in _PROVIDERS for event in provider(campaign, message)]
