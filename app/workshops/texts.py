"""A workshop's values in its SMS texts: placeholders and the RSVP line."""

from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from app.outbox.text import sms_text


def workshop_values(workshop, language: str) -> dict:
    """Placeholder values of a workshop, in `language` and the venue's local time."""
    local = workshop.starts_at.astimezone(ZoneInfo(workshop.timezone))
    return {
        "workshop_title": workshop.title_for(language),
        "workshop_date": format_date(local.date(), "EEEE d MMMM", locale=language),
        # Babel puts a narrow no-break space before "PM": not GSM-7, so use a plain space.
        "workshop_time": format_time(local.time(), "short", locale=language).replace("\u202f", " "),
        "workshop_venue": workshop.venue_name,
        "workshop_code": workshop.code,
    }


def rsvp_line(workshop, language: str) -> str:
    """How to answer an invitation ("Responde SI 4821..."), in `language`."""
    return sms_text("rsvp_line", language, code=workshop.code)
