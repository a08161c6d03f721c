"""When a message may go out: quiet hours, local wall times, recurrence and frequency caps.

Everything takes and returns aware UTC datetimes; local times are computed with the IANA
database (`zoneinfo`), never with fixed offsets. Rules:

- Quiet hours: deliver only within [start, end) of the recipient's local wall time: the
  intersection of the recipient's country window (`country_window`) with the organization's
  own window (`org_window`), so the narrower one wins. Country windows: Mexico 09:00-21:00
  (Twilio's Mexico guideline: nothing between 21:00 and 09:00); US 08:00-21:00 (TCPA), and
  08:00-20:00 in Florida and Oklahoma (state law, by the contact's `state_code`), which also
  allow at most 3 messages per rolling 24 h; anywhere else 08:00-21:00. If the organization's
  window does not meet the country's at all, the country's window applies.
- A message due outside the window moves LATER to the next local `start` (`next_allowed`).
  A workshop reminder moves EARLIER instead, to one minute before the previous window's end
  (20:59), never after the workshop and never before `not_before`; if none is left it is
  skipped (`latest_allowed_before` returns None).
- Wall times in a DST gap (02:30 on the spring-forward day) become the first valid wall time
  after the gap (03:00); ambiguous wall times (the repeated hour in autumn) take the first
  occurrence.
- Sequences: step k is due at `local_time` on enrolment day + offset_k (recipient's zone). A
  step whose moment is already past at enrolment (day 0 at 09:00 for someone who joined at
  15:00) is due at the enrolment moment itself, i.e. at once; quiet hours then shift it
  (`next_allowed`), e.g. joining at 22:30 makes day 0 go out at 08:00 the next morning.
- Frequency cap (default 3 messages per contact per rolling 7 days, across all campaigns):
  a message may go out at t when fewer than `max_messages` sends fall in (t - days, t]. If
  it would exceed the cap it is DEFERRED to the first moment it no longer would (the oldest
  counted send + the window); if that deferral exceeds `max_defer` (default 7 days) it is
  DROPPED (None, reported as "skipped: frequency cap"). The FL/OK rule is the same function
  with `FrequencyCap(3, days=1)`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = UTC
DAY = timedelta(days=1)
STRICT_STATES = {("US", "FL"), ("US", "OK")}
STRICT_END = time(20, 0)


def as_zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")


@dataclass(frozen=True)
class QuietHours:
    """The allowed sending window, [start, end) in the recipient's local wall time."""

    start: time = time(8, 0)
    end: time = time(21, 0)

    def __post_init__(self):
        if not self.start < self.end:
            raise ValueError("quiet-hours window must start before it ends (same day)")

    def intersect(self, other: "QuietHours") -> "QuietHours":
        return QuietHours(max(self.start, other.start), min(self.end, other.end))

    @property
    def last_minute(self) -> time:
        """One minute before `end` (20:59 for a 21:00 end), or `start` for tiny windows."""
        day = date(2000, 1, 2)
        moment = datetime.combine(day, self.end) - timedelta(minutes=1)
        return moment.time() if moment.date() == day and moment.time() > self.start else self.start

    def contains(self, wall: time) -> bool:
        return self.start <= wall.replace(tzinfo=None) < self.end


@dataclass(frozen=True)
class FrequencyCap:
    max_messages: int = 3
    days: int = 7

    def __post_init__(self):
        if self.max_messages < 1 or self.days < 1:
            raise ValueError("a frequency cap needs max_messages >= 1 and days >= 1")

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.days)


@dataclass(frozen=True)
class ContactRules:
    window: QuietHours
    max_per_24h: int | None = None

    @property
    def daily_cap(self) -> FrequencyCap | None:
        return FrequencyCap(self.max_per_24h, days=1) if self.max_per_24h else None


# Default allowed hours by the recipient's country (see the module docstring).
DEFAULT_WINDOW = QuietHours(time(8, 0), time(21, 0))
COUNTRY_WINDOWS = {
    "MX": QuietHours(time(9, 0), time(21, 0)),
    "US": DEFAULT_WINDOW,
}
STRICT_WINDOW = QuietHours(time(8, 0), STRICT_END)


def _key(country: str | None, state_code: str | None) -> tuple[str, str]:
    return (country or "").strip().upper(), (state_code or "").strip().upper()


def country_window(country: str | None, state_code: str | None = None) -> QuietHours:
    """The default allowed hours for a recipient's country (and US state), before the
    organization narrows them."""
    key = _key(country, state_code)
    if key in STRICT_STATES:
        return STRICT_WINDOW
    return COUNTRY_WINDOWS.get(key[0], DEFAULT_WINDOW)


def allowed_window(
    country: str | None, state_code: str | None, org_window: QuietHours = DEFAULT_WINDOW
) -> QuietHours:
    """The recipient's allowed hours: country window ∩ organization window (the narrower
    wins); the country window alone when the two do not overlap."""
    legal = country_window(country, state_code)
    if org_window.start < legal.end and legal.start < org_window.end:
        return org_window.intersect(legal)
    return legal


@lru_cache(maxsize=1024)  # pure; a worker prepares hundreds of rows a second (issue 15)
def rules_for(
    country: str | None, state_code: str | None, org_window: QuietHours = DEFAULT_WINDOW
) -> ContactRules:
    """Quiet hours and 24-hour cap for a recipient: the country's default window (Mexico
    09:00-21:00, US 08:00-21:00, FL/OK 08:00-20:00 and 3 per 24 h) within the
    organization's."""
    window = allowed_window(country, state_code, org_window)
    return ContactRules(window, 3 if _key(country, state_code) in STRICT_STATES else None)


def local_to_utc(local_date: date, local_time: time, tz: str | ZoneInfo) -> datetime:
    """The UTC instant of a local wall time (gap: next valid wall time; fold: first one)."""
    zone = as_zone(tz)
    naive = datetime.combine(local_date, local_time.replace(tzinfo=None, fold=0))
    earlier, later = sorted(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    if earlier == later or earlier.astimezone(zone).replace(tzinfo=None) == naive:
        return earlier  # unambiguous, or the first occurrence of a repeated wall time
    # In a gap: find the transition (first instant with the new offset) by bisection.
    new_offset = later.astimezone(zone).utcoffset()
    lo, hi = earlier, later
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def is_within(moment_utc: datetime, tz: str | ZoneInfo, window: QuietHours) -> bool:
    _require_aware(moment_utc)
    return _within(moment_utc, tz, window)


@lru_cache(maxsize=4096)
def _within(moment_utc: datetime, tz: str | ZoneInfo, window: QuietHours) -> bool:
    """`is_within`, remembered: a batch is prepared at one `now` for a few zones."""
    return window.contains(moment_utc.astimezone(as_zone(tz)).time())


def next_allowed(moment_utc: datetime, tz: str | ZoneInfo, window: QuietHours) -> datetime:
    """`moment_utc` itself if allowed, else the next local window start (UTC)."""
    _require_aware(moment_utc)
    zone = as_zone(tz)
    local = moment_utc.astimezone(zone)
    if window.contains(local.time()):
        return moment_utc.astimezone(UTC)
    day = local.date() if local.time() < window.start else local.date() + DAY
    return local_to_utc(day, window.start, zone)


def latest_allowed_before(
    deadline_utc: datetime,
    desired_utc: datetime,
    tz: str | ZoneInfo,
    window: QuietHours,
    *,
    not_before_utc: datetime,
) -> datetime | None:
    """The latest allowed moment in [not_before, min(desired, deadline)], or None.

    For reminders: a reminder falling in quiet hours moves earlier, to 1 minute before the
    end of the previous window (20:59 local by default).
    """
    for moment in (deadline_utc, desired_utc, not_before_utc):
        _require_aware(moment)
    zone = as_zone(tz)
    candidate = min(desired_utc, deadline_utc).astimezone(UTC)
    if candidate < not_before_utc:
        return None
    if is_within(candidate, zone, window):
        return candidate
    last_minute = window.last_minute
    local = candidate.astimezone(zone)
    day = local.date() if local.time() >= window.end else local.date() - DAY
    for _ in range(3):  # a DST gap at 20:59 could push past the candidate; go a day back
        moment = local_to_utc(day, last_minute, zone)
        if moment <= candidate and is_within(moment, zone, window):
            return moment if moment >= not_before_utc else None
        day -= DAY
    return None


def weekly_occurrences(
    first_local_date: date, local_time: time, weekdays: set[int], weeks: int, tz: str | ZoneInfo
) -> list[datetime]:
    """`local_time` on each of `weekdays` (0 = Monday) during `weeks` weeks from
    `first_local_date` (inclusive), in the recipient's zone, as sorted UTC instants."""
    if not weekdays or not set(weekdays) <= set(range(7)):
        raise ValueError("weekdays must be a non-empty subset of 0..6 (0 = Monday)")
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    days = (first_local_date + timedelta(days=i) for i in range(7 * weeks))
    return [local_to_utc(d, local_time, tz) for d in days if d.weekday() in weekdays]


def sequence_due(
    enrolled_at_utc: datetime,
    day_offsets: list[int],
    local_time: time,
    tz: str | ZoneInfo,
    *,
    window: QuietHours | None = None,
) -> list[datetime]:
    """Due instants of a sequence (day offsets after enrolment), in `day_offsets` order.

    A step already past at enrolment is due at enrolment; with `window`, each step is also
    shifted by `next_allowed` (see the module docstring).
    """
    _require_aware(enrolled_at_utc)
    if any(offset < 0 for offset in day_offsets):
        raise ValueError("sequence day offsets must be >= 0")
    zone = as_zone(tz)
    enrolled = enrolled_at_utc.astimezone(UTC)
    start_day = enrolled.astimezone(zone).date()
    due = [
        max(local_to_utc(start_day + timedelta(days=o), local_time, zone), enrolled)
        for o in day_offsets
    ]
    return [next_allowed(d, zone, window) for d in due] if window else due


def apply_cap(
    due_utc: datetime,
    recent_send_times_utc: list[datetime],
    cap: FrequencyCap = FrequencyCap(),
    *,
    max_defer: timedelta = timedelta(days=7),
) -> datetime | None:
    """`due_utc`, or the deferred moment the cap allows, or None (drop) if beyond `max_defer`."""
    _require_aware(due_utc)
    sends = sorted(s.astimezone(UTC) for s in recent_send_times_utc)
    moment = due_utc.astimezone(UTC)
    while True:
        counted = [s for s in sends if moment - cap.window < s <= moment]
        if len(counted) < cap.max_messages:
            return moment
        # Wait until enough of the oldest counted sends have left the rolling window.
        moment = counted[len(counted) - cap.max_messages] + cap.window
        if moment - due_utc > max_defer:
            return None


def plan_send(
    due_utc: datetime,
    tz: str | ZoneInfo,
    rules: ContactRules,
    recent_send_times_utc: list[datetime],
    cap: FrequencyCap | None = FrequencyCap(),
    *,
    max_defer: timedelta = timedelta(days=7),
) -> datetime | None:
    """Apply quiet hours, the contact's cap and the state 24 h cap until all agree.

    Returns the UTC send moment, or None when a cap would defer beyond `max_defer`.
    """
    _require_aware(due_utc)
    caps = [c for c in (cap, rules.daily_cap) if c is not None]
    if not recent_send_times_utc and _within(due_utc, tz, rules.window):
        # What the loop below returns for a moment inside the window and no recent sends
        # (no cap can defer it): the common case when a worker prepares a batch.
        return None if caps and max_defer < timedelta(0) else due_utc.astimezone(UTC)
    moment = due_utc.astimezone(UTC)
    for _ in range(50):
        shifted = next_allowed(moment, tz, rules.window)
        for each in caps:
            remaining = max_defer - (shifted - due_utc)
            if remaining < timedelta(0):
                return None
            shifted = apply_cap(shifted, recent_send_times_utc, each, max_defer=remaining)
            if shifted is None:
                return None
        if shifted == moment:
            return moment
        moment = shifted
    return None


def org_window(org) -> QuietHours:
    """The organization's own allowed hours; `rules_for` narrows them to the recipient's
    country window."""
    return _quiet_hours(org.quiet_start, org.quiet_end)


@lru_cache(maxsize=256)
def _quiet_hours(start: time, end: time) -> QuietHours:
    return QuietHours(start, end)
