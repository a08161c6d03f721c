"""Workshop SMS in the outbox: reminders before the start, and notices about changes.

Reminders (purpose "reminder") go to confirmed contacts at each of the organization's
`reminder_hours` ("24,2") before the start. A reminder that would fall in the contact's
quiet hours moves EARLIER, to the last allowed minute of the previous window (20:59 by
default), never after the start and never before now (`timing.latest_allowed_before`).
When no allowed moment remains, the reminder is not sent: it is stored as a "skipped" row
with skip_reason "no_allowed_time", so coordinators can see and count it. Reminders whose
ideal moment is already past when the contact confirms (confirming 3 h before a 24 h
reminder) are simply not created: the confirmation reply already carries the details.

Notices (purpose "workshop_notice": rescheduled, canceled, promoted from the waitlist) are
due at once; quiet hours apply (the worker re-checks them), the frequency cap does not.
Every row expires at the workshop's start (`expires_at`), so nothing goes out late.

These helpers add rows to the session; the calling service commits.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.organizations.models import MAX_REMINDER_HOURS
from app.outbox import api as outbox
from app.outbox.text import sms_text
from app.outbox.timing import latest_allowed_before, next_allowed, org_window, rules_for
from app.workshops.texts import workshop_values

NO_ALLOWED_TIME = "no_allowed_time"


@dataclass
class ReminderResult:
    queued: int = 0
    skipped: int = 0  # no allowed moment left before the start

    def __iadd__(self, other: "ReminderResult") -> "ReminderResult":
        self.queued += other.queued
        self.skipped += other.skipped
        return self


def reminder_hours(org) -> list[int]:
    """The organization's reminder offsets in hours, largest first ("24,2" -> [24, 2]).

    Blank or malformed entries are ignored, so a typo never stops confirmations.
    """
    hours = set()
    for part in (org.reminder_hours or "").replace(";", ",").split(","):
        part = part.strip()
        if part.isdigit() and 0 < int(part) <= MAX_REMINDER_HOURS:
            hours.add(int(part))
    return sorted(hours, reverse=True)


def _window(contact, org):
    return rules_for(contact.country, contact.state_code, org_window(org)).window


def workshop_sms(
    template: str, workshop, language: str, country: str | None = None, **extra
) -> str:
    """A workshop SMS (templates/outreach/sms/<template>.txt) in `language`, with the
    workshop's title, date and time (venue's zone, formats of `language` + `country`),
    venue and code."""
    values = workshop_values(workshop, language, country)
    return sms_text(
        template,
        language,
        title=values["workshop_title"],
        date=values["workshop_date"],
        time=values["workshop_time"],
        venue=values["workshop_venue"],
        code=values["workshop_code"],
        **extra,
    )


def _row(
    contact, workshop, *, purpose: str, body: str, due_at: datetime, now: datetime, skipped=None
):
    return outbox.enqueue(
        organization_id=workshop.organization_id,
        campaign_id=workshop.campaign_id,
        contact_id=contact.id,
        workshop_id=workshop.id,
        purpose=purpose,
        language=contact.language,
        body=body,
        due_at=due_at,
        expires_at=workshop.starts_at,
        now=now,
        skipped=skipped,
    )


def queue_reminders(contact, workshop, org, *, now: datetime) -> ReminderResult:
    """Queue `contact`'s reminders for `workshop` (see the module docstring)."""
    result = ReminderResult()
    if workshop.status != "scheduled" or workshop.starts_at <= now:
        return result
    window = _window(contact, org)
    body = workshop_sms("workshop_reminder", workshop, contact.language, contact.country)
    planned = set()
    for hours in reminder_hours(org):
        desired = workshop.starts_at - timedelta(hours=hours)
        if desired < now:
            continue  # confirmed after this reminder's moment: nothing to remind yet
        moment = latest_allowed_before(
            workshop.starts_at, desired, contact.timezone, window, not_before_utc=now
        )
        if moment is None:
            _row(
                contact,
                workshop,
                purpose="reminder",
                body=body,
                due_at=desired,
                now=now,
                skipped=NO_ALLOWED_TIME,
            )
            result.skipped += 1
        elif moment not in planned:  # two offsets moved to the same minute: remind once
            planned.add(moment)
            _row(contact, workshop, purpose="reminder", body=body, due_at=moment, now=now)
            result.queued += 1
    return result


def queue_notice(contact, workshop, org, template: str, *, now: datetime, **extra) -> None:
    """A workshop notice (rescheduled, canceled, promoted) for `contact`, due at the next
    moment inside the contact's quiet-hours window."""
    body = workshop_sms(template, workshop, contact.language, contact.country, **extra)
    due = next_allowed(now, contact.timezone, _window(contact, org))
    _row(contact, workshop, purpose="workshop_notice", body=body, due_at=due, now=now)


def cancel_pending(
    workshop_id: int,
    *,
    purposes: tuple[str, ...],
    reason: str,
    now: datetime,
    contact_id: int | None = None,
) -> int:
    """Cancel the workshop's not-yet-sent rows of these purposes (one contact's, or all)."""
    filters = {"contact_id": contact_id} if contact_id is not None else {}
    return outbox.cancel_pending(
        reason=reason, now=now, workshop_id=workshop_id, purpose=tuple(purposes), **filters
    )
