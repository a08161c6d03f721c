"""Labels of the survey pages: question types, run kinds and statuses, response statuses."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

QTYPE_LABELS = {
    "choice": _l("Choice (one answer)"),
    "scale": lazy_pgettext("question type", "Scale"),
    "yesno": _l("Yes or no"),
    "number": lazy_pgettext("question type", "Number"),
    "text": _l("Free text"),
}
SCALE_LABELS = {
    "1-4": _l("1 to 4"),
    "1-5": _l("1 to 5"),
    "0-10": _l("0 to 10"),
}
RUN_KIND_LABELS = {
    "audience": _l("An audience"),
    "baseline": _l("Baseline: a campaign's contacts, before its first message"),
    "follow_up": _l("Follow-up: a campaign's contacts, some days after their last message"),
    "workshop": _l("A workshop's attendees, after it ends"),
}
RUN_KIND_SHORT = {
    "audience": lazy_pgettext("survey run", "Audience"),
    "baseline": lazy_pgettext("survey run", "Baseline"),
    "follow_up": lazy_pgettext("survey run", "Follow-up"),
    "workshop": lazy_pgettext("survey run", "Workshop"),
}
RUN_STATUS_LABELS = {
    "scheduled": lazy_pgettext("survey run", "Scheduled"),
    "running": lazy_pgettext("survey run", "Running"),
    "closed": lazy_pgettext("survey run", "Closed"),
    "canceled": lazy_pgettext("survey run", "Canceled"),
}
RUN_STATUS_BADGES = {"scheduled": "", "running": "ok", "closed": "muted", "canceled": "err"}
RESPONSE_STATUS_LABELS = {
    "invited": lazy_pgettext("survey response", "Invited"),
    "started": lazy_pgettext("survey response", "Started"),
    "completed": lazy_pgettext("survey response", "Completed"),
    "partial": lazy_pgettext("survey response", "Partial"),
    "stopped": lazy_pgettext("survey response", "Stopped (opted out)"),
    "canceled": lazy_pgettext("survey response", "Canceled"),
}
