"""Translated labels of sends (for templates)."""

from flask_babel import lazy_gettext as _l

SEND_KIND_LABELS = {"once": _l("Once"), "recurring": _l("Recurring"), "sequence": _l("Sequence")}


def send_labels() -> dict:
    return {"send_kind_label": lambda s: SEND_KIND_LABELS.get(s, s)}
