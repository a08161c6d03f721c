"""A workshop's values in its SMS texts: placeholders and the RSVP line."""

from zoneinfo import ZoneInfo

from app.outbox.text import sms_date, sms_text, sms_time


def workshop_values(workshop, language: str, country: str | None = None) -> dict:
    """Placeholder values of a workshop, in `language` and the formats of the recipient's
    `country` (None: the language's usual country), at the venue's local time (the
    workshop happens there)."""
    local = workshop.starts_at.astimezone(ZoneInfo(workshop.timezone))
    return {
        "workshop_title": workshop.title_for(language),
        "workshop_date": sms_date(local.date(), language, country),
        "workshop_time": sms_time(local.time(), language, country),
        "workshop_venue": workshop.venue_name,
        "workshop_code": workshop.code,
    }


def rsvp_line(workshop, language: str) -> str:
    """How to answer an invitation ("Responde SI 4821..."), in `language`."""
    return sms_text("rsvp_line", language, code=workshop.code)
