"""Notices for an organization's admins on the settings page, from the layers above (e.g.
"a webhook endpoint kept failing and was disabled"). Each provider takes the organization
id and returns translated messages; registered when the app is built."""

from collections.abc import Callable

_PROVIDERS: dict[str, Callable[[int], list]] = {}


def register_settings_notice(name: str, provider: Callable[[int], list]) -> None:
    _PROVIDERS[name] = provider


def settings_notices(organization_id: int) -> list:
    return [notice for provider in _PROVIDERS.values() for notice in provider(organization_id)]
