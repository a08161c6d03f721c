"""Features' say over whether an outbox message may still go out.

The outbox knows contacts (the kernel) but not what a send or a campaign is. A feature whose
state can stop its messages (a canceled send, a paused or completed campaign) registers a
Guard; the outbox asks every guard when it prepares a batch, again in the conditional
UPDATE right before each provider call, and when reconciliation decides whether a message
the provider never accepted may be retried.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import and_, true
from sqlalchemy.sql.elements import ColumnElement


@dataclass(frozen=True)
class Verdict:
    """Why a row must not go now: `held` (may go later), `canceled` or `skipped` (never)."""

    status: str
    reason: str | None = None


@dataclass(frozen=True)
class Guard:
    name: str
    # {row id: Verdict} for the rows of a claimed batch that must not go now.
    verdicts: Callable[[list], dict[int, Verdict]]
    # SQL over OutboxMessage: the row may still go (re-checked right before the provider call).
    still_allowed: Callable[[], ColumnElement]
    # Why a row that never reached the provider must not be retried (reconciliation): the
    # skip reason, or None when it may be.
    withdrawn: Callable[[object], str | None] = lambda row: None
    # First guards speak before any other rule, for every purpose (a canceled send); the
    # others after the message's own expiry, and never for replies ("system").
    first: bool = False


_GUARDS: dict[str, Guard] = {}


def register_guard(guard: Guard) -> Guard:
    """Register (or replace, by name) a guard. Features call this when imported."""
    _GUARDS[guard.name] = guard
    return guard


def registered() -> Iterable[Guard]:
    return tuple(_GUARDS.values())


def verdicts(rows: list, *, first: bool) -> dict[int, Verdict]:
    """The first verdict per row among the guards of that kind."""
    found: dict[int, Verdict] = {}
    for guard in registered():
        if guard.first == first:
            for row_id, verdict in guard.verdicts(rows).items():
                found.setdefault(row_id, verdict)
    return found


def still_allowed() -> ColumnElement:
    return and_(true(), *(guard.still_allowed() for guard in registered()))


def withdrawn(row) -> str | None:
    return next((r for guard in registered() if (r := guard.withdrawn(row))), None)
