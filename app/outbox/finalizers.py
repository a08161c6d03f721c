"""Text finalizers: a feature's last word on an outgoing text, once, when it is prepared.

preparing.py hands every row it prepares for the first time to the registered finalizers
(a row given back and prepared again keeps the text it got then: see its docstring); a
finalizer returns the rows' new texts, e.g. each recipient's own short links (app/links).
The text is stored before the provider call, so retries and reconciliation (which matches
provider messages by exact text) see the final text.

A finalizer also tells the message editors what it will do to a text they are saving:
why it cannot be saved (`problem`), the text as it will be sent (`as_sent`, for counting
characters and segments) and warnings worth showing (`notes`). Editors pass a message's
options, such as "track_links" (a campaign message's choice to track its plain web
addresses too); at send time a finalizer asks the registered option providers (the
feature that owns the message, e.g. campaigns) for them.

The outbox imports no feature: features register here when the app is built.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

TRACK_LINKS = "track_links"  # option: plain web addresses in the text are tracked too


@dataclass(frozen=True)
class Draft:
    """A row's text on its way out: the body includes the opt-out line when it goes."""

    id: int
    organization_id: int
    contact_id: int | None
    campaign_id: int | None
    message_id: int | None
    language: str
    purpose: str
    body: str


@dataclass(frozen=True)
class TextFinalizer:
    name: str
    # (drafts, now) -> {row id: final text} for the rows it changes. Runs inside the
    # preparing transaction (rows it writes commit or roll back with the batch).
    finalize: Callable[[list[Draft], datetime], dict[int, str]]
    # (text, organization id, options) -> why an editor cannot save it (a lazy message).
    problem: Callable[[str, int | None, frozenset], object] | None = None
    # (text, options) -> the text with what the finalizer will change, as sent.
    as_sent: Callable[[str, frozenset], str] | None = None
    # (text, options) -> warnings for the editor (lazy messages).
    notes: Callable[[str, frozenset], list] | None = None
    # () -> data the editor's live preview needs (JSON-serializable).
    preview_data: Callable[[], dict] | None = None


_FINALIZERS: list[TextFinalizer] = []
# message ids -> {message id: options}; registered by the features that own messages.
_OPTION_PROVIDERS: list[Callable[[set[int]], dict[int, frozenset]]] = []


def register_text_finalizer(finalizer: TextFinalizer) -> None:
    """Add a finalizer (one per name: registering it again replaces it)."""
    _FINALIZERS[:] = [f for f in _FINALIZERS if f.name != finalizer.name] + [finalizer]


def register_message_options(provider: Callable[[set[int]], dict[int, frozenset]]) -> None:
    if provider not in _OPTION_PROVIDERS:
        _OPTION_PROVIDERS.append(provider)


def active() -> bool:
    return bool(_FINALIZERS)


def message_options(message_ids: Iterable[int | None]) -> dict[int, frozenset]:
    """{message id: options} from every provider (messages without options left out)."""
    ids = {m for m in message_ids if m is not None}
    found: dict[int, frozenset] = {}
    if not ids:
        return found
    for provider in _OPTION_PROVIDERS:
        for message_id, options in provider(ids).items():
            found[message_id] = found.get(message_id, frozenset()) | frozenset(options)
    return found


def finalize(drafts: list[Draft], *, now: datetime) -> dict[int, str]:
    """{row id: final text} of the drafts some finalizer changed (each sees the text the
    previous one left)."""
    texts: dict[int, str] = {}
    for finalizer in _FINALIZERS:
        current = [d if d.id not in texts else _with_body(d, texts[d.id]) for d in drafts]
        texts.update(finalizer.finalize(current, now))
    return texts


def _with_body(draft: Draft, body: str) -> Draft:
    return Draft(**{**draft.__dict__, "body": body})


# --- for the editors ---------------------------------------------------------------------


def text_problem(text: str, *, organization_id: int | None, options=frozenset()):
    """Why an editor cannot save `text` (the first finalizer's objection), or None."""
    for finalizer in _FINALIZERS:
        if finalizer.problem is not None:
            problem = finalizer.problem(text, organization_id, frozenset(options))
            if problem:
                return problem
    return None


def as_sent(text: str, options=frozenset()) -> str:
    """`text` with what the finalizers will change, as a recipient gets it."""
    for finalizer in _FINALIZERS:
        if finalizer.as_sent is not None:
            text = finalizer.as_sent(text, frozenset(options))
    return text


def notes(text: str, options=frozenset()) -> list:
    return [
        note
        for finalizer in _FINALIZERS
        if finalizer.notes is not None
        for note in finalizer.notes(text, frozenset(options))
    ]


def preview_data() -> dict:
    data: dict = {}
    for finalizer in _FINALIZERS:
        if finalizer.preview_data is not None:
            data.update(finalizer.preview_data())
    return data
