"""Labels of the WhatsApp template pages: statuses, categories, placeholders and intents."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from app.outbox.keywords import RSVP_NO, RSVP_YES
from app.outbox.placeholders import PLACEHOLDERS
from app.whatsapp.models import CATEGORIES, STATUSES
from app.whatsapp.validation import INTENTS, NO_INTENT, SURVEY_ANSWER

STATUS_LABELS = {
    "draft": lazy_pgettext("template status", "Draft"),
    "pending": lazy_pgettext("template status", "In review"),
    "approved": lazy_pgettext("template status", "Approved"),
    "rejected": lazy_pgettext("template status", "Rejected"),
    "paused": lazy_pgettext("template status", "Paused"),
    "disabled": lazy_pgettext("template status", "Disabled"),
}
STATUS_BADGES = {
    "draft": "muted",
    "pending": "warn",
    "approved": "ok",
    "rejected": "err",
    "paused": "warn",
    "disabled": "err",
}
CATEGORY_LABELS = {
    "utility": lazy_pgettext("template category", "Utility"),
    "marketing": lazy_pgettext("template category", "Marketing"),
}
PLACEHOLDER_LABELS = {
    "first_name": _l("First name"),
    "campaign": _l("Campaign name"),
    "org": _l("Organization name"),
    "workshop_title": _l("Workshop title"),
    "workshop_date": _l("Workshop date"),
    "workshop_time": _l("Workshop time"),
    "workshop_venue": _l("Workshop venue"),
    "workshop_code": _l("Workshop RSVP code"),
}
INTENT_LABELS = {
    NO_INTENT: _l("Nothing: a plain reply"),
    RSVP_YES: _l("RSVP: yes, I will come"),
    RSVP_NO: _l("RSVP: no, I cannot come"),
    SURVEY_ANSWER: _l("Survey answer"),
}
assert set(STATUS_LABELS) == set(STATUSES) == set(STATUS_BADGES)
assert set(CATEGORY_LABELS) == set(CATEGORIES)
assert set(PLACEHOLDER_LABELS) == set(PLACEHOLDERS)
assert set(INTENT_LABELS) == set(INTENTS)
