"""Translated labels of experiments (for templates and forms)."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext, ngettext

from app.experiments.outcomes import item_value

# TRANSLATORS: the status of an experiment ("experimento", masculine in Spanish).
STATUS_LABELS = {
    "draft": lazy_pgettext("experiment", "Draft"),
    "running": lazy_pgettext("experiment", "Running"),
    "finished": lazy_pgettext("experiment", "Finished"),
}
STATUS_BADGES = {"draft": "badge--muted", "running": "badge--ok", "finished": ""}
OUTCOME_KIND_LABELS = {
    "rsvp_yes": _l("Said yes to a workshop invitation"),
    "attended": _l("Attended a workshop"),
    "survey_item": _l("Answer to a survey question"),
    "clicked": _l("Clicked a link"),
}


def arm_name(arm) -> str:
    """The arm's name ("Arm A", "Holdout"), with the staff's label if any."""
    name = _("Holdout") if arm.is_holdout else _("Arm %(key)s", key=arm.key)
    return f"{name} · {arm.label}" if arm.label else name


def _kind_within(kind: str, days: int) -> str:
    # One whole sentence per kind: translations never assemble sentences from parts.
    if kind == "rsvp_yes":
        return ngettext(
            "Said yes to a workshop invitation within %(num)d day",
            "Said yes to a workshop invitation within %(num)d days",
            days,
        )
    if kind == "attended":
        return ngettext(
            "Attended a workshop within %(num)d day",
            "Attended a workshop within %(num)d days",
            days,
        )
    if kind == "clicked":
        return ngettext(
            "Clicked a link within %(num)d day", "Clicked a link within %(num)d days", days
        )
    return ngettext(
        "Answered a survey question within %(num)d day",
        "Answered a survey question within %(num)d days",
        days,
    )


def outcome_text(outcome, item_labels: dict | None = None) -> str:
    """The outcome as a sentence ("Attended a workshop within 30 days"); for a survey
    item, with the question and the answer values that count."""
    text = _kind_within(outcome.kind, outcome.window_days)
    if outcome.kind != "survey_item":
        return text
    value = item_value(outcome.survey_bank_code, outcome.survey_question_id)
    return _(
        "%(outcome)s: %(question)s (counted: %(values)s)",
        outcome=text,
        question=(item_labels or {}).get(value, value or ""),
        values=", ".join(f"{v:g}" for v in outcome.top_box or ()),
    )


def experiment_labels() -> dict:
    return {
        "experiment_status_label": lambda s: STATUS_LABELS.get(s, s),
        "experiment_status_badge": lambda s: STATUS_BADGES.get(s, ""),
        "outcome_kind_label": lambda s: OUTCOME_KIND_LABELS.get(s, s),
        "arm_name": arm_name,
    }
