"""The report period (a domain value): whole local days, and the step of its time series."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

GRANULARITIES = ("day", "week")
# Longest per-day time series (longer periods use weeks).
MAX_DAILY_POINTS = 366
# Open periods get daily points up to this many days, weekly points beyond.
AUTO_DAILY_DAYS = 92


@dataclass(frozen=True)
class Period:
    """Whole local days [start, end] in `tz`; None means open on that side."""

    start: date | None = None
    end: date | None = None
    tz: str = "UTC"

    def bounds_utc(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) as aware UTC instants: local midnight to the next local midnight."""
        zone = ZoneInfo(self.tz)
        low = (
            datetime.combine(self.start, time(0), tzinfo=zone).astimezone(UTC)
            if self.start
            else None
        )
        high = (
            datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
            if self.end
            else None
        )
        return low, high

    def as_args(self) -> dict:
        """Query-string arguments that select this period again."""
        args = {}
        if self.start:
            args["from"] = self.start.isoformat()
        if self.end:
            args["to"] = self.end.isoformat()
        return args


def period_hours(period: Period) -> tuple[int | None, int | None] | None:
    """The period as whole UTC hours since the epoch [low, high) (None: open), or None
    when a bound is not a whole UTC hour (a zone with a fractional offset)."""
    hours = []
    for bound in period.bounds_utc():
        if bound is None:
            hours.append(None)
            continue
        seconds = int(bound.timestamp())
        if seconds % 3600:
            return None
        hours.append(seconds // 3600)
    return hours[0], hours[1]


def auto_granularity(first: date, last: date, chosen: str | None) -> str:
    """The time series step: the chosen one, else days for short spans and weeks beyond."""
    if chosen in GRANULARITIES and not (
        chosen == "day" and (last - first).days + 1 > MAX_DAILY_POINTS
    ):
        return chosen
    return "day" if (last - first).days + 1 <= AUTO_DAILY_DAYS else "week"
