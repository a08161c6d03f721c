"""Outcome choices that come from the layers above: survey items.

Surveys sit above experiments, so they register a provider of the items an organization
can pre-register as an outcome (bank questions and its own questions); experiments never
import them.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SurveyItem:
    value: str  # "bank:<code>" or "question:<id>"
    label: str
    # The answer values (value_num) counted as an event by default: the "top box".
    top_box: tuple[float, ...]
    # Every value an answer can take, labeled, for the top-box choice.
    values: tuple[tuple[float, str], ...] = ()


_PROVIDERS: list[Callable[[int], list[SurveyItem]]] = []


def register_survey_items(provider: Callable[[int], list[SurveyItem]]) -> None:
    """Register a function org_id -> survey items (called when the app is built)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def survey_items(org_id: int) -> list[SurveyItem]:
    return [item for provider in _PROVIDERS for item in provider(org_id)]


def split_item(value: str | None) -> tuple[str | None, int | None]:
    """("bank code", None) or (None, question id) of an item value; (None, None) if bad."""
    kind, _, rest = (value or "").partition(":")
    if kind == "bank" and rest:
        return rest, None
    if kind == "question" and rest.isdigit():
        return None, int(rest)
    return None, None


def item_value(bank_code: str | None, question_id: int | None) -> str | None:
    if bank_code:
        return f"bank:{bank_code}"
    if question_id:
        return f"question:{question_id}"
    return None
