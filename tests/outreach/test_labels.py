"""Every skip/cancel reason the code can store has a translated label (coordinators see it)."""

import re
from pathlib import Path

from app.campaigns.models import STATUSES as CAMPAIGN_STATUSES
from app.outbox.labels import SKIP_REASON_LABELS

APP = Path(__file__).resolve().parents[2] / "app"
# skip_reason="x", reason="x", the (status, due_at, "x") decisions, return "x" in eligibility,
# and NAME = "x" constants used as reasons.
PATTERNS = [
    r'skip_reason="([a-z_]+)"(?!\s*\+)',
    r'\breason="([a-z_]+)"(?!\s*\+)',
    r'return "(?:skipped|canceled)", None, "([a-z_]+)"(?!\s*\+)',
    r'Verdict\("(?:skipped|canceled)", "([a-z_]+)"\)',
]
# Where outbox reasons are set.
PACKAGES = ("outbox", "outreach", "workshops", "campaigns", "contacts")


def reasons_in_source() -> set[str]:
    found = set()
    for path in (p for package in PACKAGES for p in (APP / package).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            found.update(re.findall(pattern, text))
    eligibility = (APP / "contacts" / "eligibility.py").read_text(encoding="utf-8")
    found.update(re.findall(r'return "([a-z_]+)"', eligibility))
    found.add(
        re.search(
            r'NO_ALLOWED_TIME = "([a-z_]+)"',
            (APP / "workshops" / "reminders.py").read_text(encoding="utf-8"),
        ).group(1)
    )
    return found


def test_every_stored_reason_has_a_label():
    reasons = reasons_in_source()
    # The campaign transitions store "campaign_" + the new status (draft, completed, archived).
    reasons |= {f"campaign_{s}" for s in CAMPAIGN_STATUSES if s not in ("active", "paused")}
    assert {"expired", "no_allowed_time", "workshop_canceled", "superseded"} <= reasons
    assert reasons - set(SKIP_REASON_LABELS) == set()
