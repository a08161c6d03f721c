"""Translated labels of workshop kinds, statuses and languages (one home)."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from app.workshops.models import DELIVERY_LANGUAGES, KINDS, STATUSES

KIND_LABELS = {
    "school_talk": _l("School talk"),
    "community_workshop": _l("Community workshop"),
    "sports_arts": _l("Sports or arts activity"),
    "parents_session": _l("Session for parents and caregivers"),
}
STATUS_LABELS = {
    "scheduled": _l("Scheduled"),
    "canceled": _l("Canceled"),
    "completed": _l("Completed"),
}
DELIVERY_LANGUAGE_LABELS = {
    "es": _l("Spanish"),
    "en": _l("English"),
    "both": _l("Spanish and English"),
}
REGISTRATION_STATUS_LABELS = {
    # TRANSLATORS: registration status: the young person has a seat.
    "confirmed": _l("Confirmed"),
    # TRANSLATORS: registration status: waiting for a seat to free up.
    "waitlisted": _l("Waitlist"),
    # TRANSLATORS: registration status: invited, no answer yet.
    "invited": _l("Invited, no answer yet"),
    "declined": _l("Declined"),
    # TRANSLATORS: registration status: had a seat or a waitlist place and gave it back.
    "canceled": _l("Canceled by the contact"),
}
# What the door roster and the registrations list show (attendance.attendance_status).
ATTENDANCE_LABELS = {
    # TRANSLATORS: one person's attendance at a workshop (a badge beside their name).
    "attended": lazy_pgettext("attendance of one person", "Attended"),
    "no_show": _l("No-show"),
}
assert set(KIND_LABELS) == set(KINDS) and set(STATUS_LABELS) == set(STATUSES)
assert set(DELIVERY_LANGUAGE_LABELS) == set(DELIVERY_LANGUAGES)
