"""Translated labels of outbox states, skip reasons and reply intents (for templates)."""

from flask_babel import lazy_gettext as _l

from app.messaging.gateway import WHATSAPP_UNREACHABLE_CODES

OUTBOX_STATUS_LABELS = {
    "scheduled": _l("Scheduled"),
    "held": _l("On hold (campaign paused)"),
    "claimed": _l("Sending"),
    "unknown": _l("Being verified"),
    "sent": _l("Sent"),
    "delivered": _l("Delivered"),
    "undelivered": _l("Undelivered"),
    "failed": _l("Failed"),
    "canceled": _l("Canceled"),
    "skipped": _l("Skipped"),
    "failed_unknown": _l("Not confirmed by the provider"),
}
SKIP_REASON_LABELS = {
    "opted_out": _l("Opted out"),
    "undeliverable": _l("Undeliverable number"),
    "no_consent": _l("No consent recorded"),
    "no_guardian_consent": _l("Minor without guardian consent"),
    "erased": _l("Erased on request"),
    "frequency_cap": _l("Frequency cap reached"),
    "send_canceled": _l("Send canceled"),
    "campaign_completed": _l("Campaign completed"),
    "campaign_archived": _l("Campaign archived"),
    "campaign_draft": _l("Campaign in draft"),
    "unreachable": _l("Contact unreachable"),
    "expired": _l("Too late to send (its moment had passed)"),
    "no_allowed_time": _l("No allowed hour left before the workshop"),
    "workshop_canceled": _l("Workshop canceled"),
    "workshop_rescheduled": _l("Workshop rescheduled"),
    "rsvp_canceled": _l("Place given up"),
    "superseded": _l("Replaced by a newer notice"),
    "workshop_completed": _l("Workshop completed"),
    "completion_undone": _l("Workshop completion undone"),
    "survey_canceled": _l("Survey run canceled"),
    "survey_closed": _l("Survey run closed"),
    "survey_partial": _l("No answer in time"),
    "survey_stopped": _l("Survey stopped (opted out)"),
    "experiment_holdout": _l("Holdout of the campaign's experiment"),
    "no_whatsapp_template": _l("Waiting for an approved WhatsApp template"),
}
INTENT_LABELS = {
    "opt_out": _l("Opt-out"),
    "opt_in": _l("Opt-in"),
    "help": _l("Help"),
    "whatsapp_opt_in": _l("WhatsApp opt-in"),
    "rsvp_yes": _l("RSVP yes"),
    "rsvp_no": _l("RSVP no"),
    "stop_request": _l("Asks to stop (review)"),
    "survey_answer": _l("Survey answer"),
    "other": _l("Reply"),
}
# The channel a message came in or went out on (the thread's badge).
CHANNEL_LABELS = {"sms": _l("SMS"), "whatsapp": _l("WhatsApp")}
STATUS_BADGE = {
    "delivered": "ok",
    "sent": "ok",
    "failed": "err",
    "undelivered": "err",
    "canceled": "muted",
    "skipped": "muted",
    "held": "warn",
    "unknown": "warn",
    "failed_unknown": "err",
}


# How a row went, next to its status on a send's recipient list (issue 19).
WAY_NOTES = {
    "free_form": _l("WhatsApp"),
    "template": _l("WhatsApp template"),
    "sms_fallback": _l("SMS instead of WhatsApp"),
    "template_retry": _l("WhatsApp template (the 24-hour window had closed)"),
    "not_on_whatsapp": _l("Not reachable on WhatsApp"),
}


def way_note(row) -> str:
    """The recipient row's channel note: "" for a plain SMS."""
    if row.fallback_of_id is not None:
        key = "sms_fallback" if row.channel == "sms" else "template_retry"
    elif (
        row.channel == "whatsapp"
        and (row.error_code or "").isdigit()
        and (int(row.error_code) in WHATSAPP_UNREACHABLE_CODES)
    ):
        key = "not_on_whatsapp"
    elif row.channel == "whatsapp":
        key = row.whatsapp_form or "free_form"
    else:
        return ""
    return str(WAY_NOTES[key])


def outbox_labels() -> dict:
    return {
        "outbox_status_label": lambda s: OUTBOX_STATUS_LABELS.get(s, s),
        "skip_reason_label": lambda s: SKIP_REASON_LABELS.get(s, s) if s else "",
        "intent_label": lambda s: INTENT_LABELS.get(s, s),
        "status_badge": lambda s: STATUS_BADGE.get(s, ""),
        "channel_label": lambda s: CHANNEL_LABELS.get(s, s),
        "way_note": way_note,
    }
