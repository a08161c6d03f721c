"""The contact list's rows, with every label the row shows already translated.

A page has up to 50 rows but only a handful of distinct languages, states, ages and
reasons: each distinct label is translated once per page instead of once per cell
(the template used to call a label helper and two macros per row, ~300 translation
lookups per page; issue 15's national bench found the list the slowest page).
"""

from datetime import date

from flask_babel import gettext as _

from app.contacts.eligibility import REASONS
from app.contacts.forms import AGE_BAND_LABELS, LANGUAGE_LABELS
from app.contacts.geography import state_name
from app.contacts.services import contact_view

# Badge colour by reason: the number cannot receive (error) or a consent is missing (warning).
_ERROR_FLAGS = frozenset({"opted_out", "undeliverable", "erased"})


class _Labels:
    """Translated labels memoized by (kind, key) for one page."""

    def __init__(self):
        self._memo: dict[tuple, str] = {}

    def get(self, kind: str, key, make, *args, **kwargs) -> str:
        """make(*args, **kwargs) as a string, computed once per (kind, key) on the page."""
        memo_key = (kind, key)
        found = self._memo.get(memo_key)
        if found is None:
            found = self._memo[memo_key] = str(make(*args, **kwargs))
        return found


def list_rows(contacts, *, today: date, org_country: str) -> list[dict]:
    """contact_view of each contact plus `display_name` (the name, or "Contact #12"),
    `select_label` (the row checkbox's accessible name), `language_label`, `state_label`,
    `age_label` (None when nothing is known: the page shows "Unknown" muted) and `badges`
    [(css modifier, label)]."""
    labels = _Labels()
    # Translated once and filled per row (the msgids stay those of the template's calls).
    select_pattern = _("Select %(name)s")
    unnamed_pattern = _("Contact #%(id)d")
    rows = []
    for contact in contacts:
        view = contact_view(contact, today=today, org_country=org_country)
        name = view["name"] or unnamed_pattern % {"id": contact.id}
        view["display_name"] = name
        view["select_label"] = select_pattern % {"name": name}
        language = contact.language
        view["language_label"] = labels.get(
            "language", language, LANGUAGE_LABELS.get, language, language or ""
        )
        country, code = contact.country, contact.state_code
        view["state_label"] = (
            labels.get("state", (country, code), state_name, country, code) if country else code
        )
        view["age_label"] = _age_label(view, contact.age_band, labels)
        view["badges"] = _badges(view["flags"], labels)
        rows.append(view)
    return rows


def _age_label(view: dict, band: str | None, labels: _Labels) -> str | None:
    age = view["age"]
    if age is not None:
        return labels.get("age", age, _years, age)
    if band:
        return labels.get("band", band, AGE_BAND_LABELS.get, band, band)
    return None


def _years(age: int) -> str:
    return _("%(age)d years", age=age)


def _can_be_messaged() -> str:
    return _("Can be messaged")


def _badges(flags: list[str], labels: _Labels) -> list[tuple[str, str]]:
    if not flags:
        return [("ok", labels.get("badge", None, _can_be_messaged))]
    return [
        (
            "err" if flag in _ERROR_FLAGS else "warn",
            labels.get("reason", flag, REASONS.get, flag, flag),
        )
        for flag in flags
    ]
