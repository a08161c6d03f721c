"""Times on the outreach pages, said in whose time they are."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.numbers import format_currency
from flask_babel import get_locale


def _zone(tz: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_abbreviation(moment: datetime, zone: ZoneInfo, locale) -> str:
    """ "HST", "CST", "PST"... in the UI locale; where its CLDR data has no abbreviation
    (Spanish has few) the common English one; else "GMT-7"."""
    for candidate in (locale, "en_US"):
        name = format_datetime(moment, "zzz", tzinfo=zone, locale=candidate)
        if name.isalpha():
            return name
    return format_datetime(moment, "O", tzinfo=zone, locale=locale)


def recipient_time(moment: datetime | None, tz: str | None) -> str:
    """`moment` in the recipient's zone, in the UI locale, with the zone's abbreviation:
    "27/11/26, 2:12 p.m. HST". Empty for no moment."""
    if moment is None:
        return ""
    locale = get_locale()
    zone = _zone(tz) or ZoneInfo("UTC")
    text = format_datetime(moment, "short", tzinfo=zone, locale=locale)
    return f"{text} {zone_abbreviation(moment, zone, locale)}"


def money(amount, currency: str, *, exact: bool = False) -> str:
    """An amount in the UI locale's currency format ("US$0.25" / "$0.25"); `exact` keeps
    every decimal (prices per segment such as 0.0083)."""
    return format_currency(amount, currency, locale=get_locale(), decimal_quantization=not exact)
