"""The organization's iCalendar (RFC 5545) feed of workshops, for facilitators' calendar apps.

Calendar apps cannot sign in, so the feed lives at a secret URL
(`/workshops/calendar/<Organization.calendar_token>.ics`) that admins can regenerate. It
holds workshop logistics only (title, time, venue, facilitator, code), never anything
about the young people invited or registered.

Each workshop is one VEVENT with a stable UID, DTSTART/DTEND in the venue's zone (TZID plus
its VTIMEZONE), SEQUENCE (bumped on reschedule and cancel, so clients replace old copies)
and STATUS (CANCELLED for canceled workshops, which stay in the feed so subscribed
calendars drop or strike them). DTSTAMP/LAST-MODIFIED are the last change to the workshop.
"""

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select

from app.campaigns.models import Campaign
from app.contacts.geography import state_name
from app.extensions import db
from app.organizations.models import Organization
from app.workshops.labels import DELIVERY_LANGUAGE_LABELS, KIND_LABELS
from app.workshops.models import Workshop

PAST_DAYS = 180  # how far back the feed goes
MAX_EVENTS = 2000
TOKEN_MAX_LENGTH = 64


def organization_for_token(token: str) -> Organization | None:
    """The organization whose calendar token this is, or None (compared in constant time)."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    org = db.session.scalar(select(Organization).where(Organization.calendar_token == token))
    if org is None or not secrets.compare_digest(org.calendar_token, token):
        return None
    return org


def uid_for(workshop) -> str:
    return f"workshop-{workshop.id}@alcance"


def _location(workshop) -> str:
    parts = [
        workshop.venue_name,
        workshop.venue_address,
        workshop.municipality,
        state_name(workshop.country, workshop.state_code),
    ]
    return ", ".join(part.strip() for part in parts if part and part.strip())


def _description(workshop, campaign_name: str, language: str) -> str:
    other = "en" if language == "es" else "es"
    lines = [
        _("Campaign: %(name)s", name=campaign_name),
        _("Kind: %(kind)s", kind=KIND_LABELS.get(workshop.kind, workshop.kind)),
        _(
            "Language: %(language)s",
            language=DELIVERY_LANGUAGE_LABELS.get(workshop.language, workshop.language),
        ),
        ngettext("Capacity: %(num)d person", "Capacity: %(num)d people", workshop.capacity),
        _("RSVP code: %(code)s", code=workshop.code),
    ]
    if workshop.facilitator:
        lines.insert(2, _("Facilitator: %(name)s", name=workshop.facilitator))
    if workshop.title_for(other) != workshop.title_for(language):
        lines.insert(0, workshop.title_for(other))
    return "\n".join(lines)


def _event(workshop, campaign_name: str, language: str) -> Event:
    zone = ZoneInfo(workshop.timezone)
    event = Event()
    event.add("uid", uid_for(workshop))
    event.add("dtstamp", workshop.updated_at or workshop.created_at)
    event.add("created", workshop.created_at)
    event.add("last-modified", workshop.updated_at or workshop.created_at)
    event.add("dtstart", workshop.starts_at.astimezone(zone))
    event.add("dtend", workshop.ends_at.astimezone(zone))
    title = workshop.title_for(language)
    if workshop.status == "canceled":
        # TRANSLATORS: calendar event title of a canceled workshop.
        title = _("Canceled: %(title)s", title=title)
    event.add("summary", title)
    event.add("location", _location(workshop))
    event.add("description", _description(workshop, campaign_name, language))
    event.add("sequence", workshop.sequence or 0)
    event.add("status", "CANCELLED" if workshop.status == "canceled" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def build_feed(org: Organization, *, now: datetime) -> bytes:
    """The organization's workshops (from PAST_DAYS ago on) as an iCalendar file."""
    language = org.default_language if org.default_language in ("es", "en") else "es"
    rows = db.session.execute(
        select(Workshop, Campaign.name)
        .join(Campaign, Campaign.id == Workshop.campaign_id)
        .where(
            Workshop.organization_id == org.id, Workshop.ends_at >= now - timedelta(days=PAST_DAYS)
        )
        .order_by(Workshop.starts_at, Workshop.id)
        .limit(MAX_EVENTS)
    ).all()
    with force_locale(language):
        calendar = Calendar()
        calendar.add("prodid", "-//Alcance//Workshops//" + language.upper())
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("x-wr-calname", _("Workshops · %(org)s", org=org.name))
        calendar.add("x-wr-timezone", org.timezone)
        calendar.add("x-published-ttl", "PT1H")
        for workshop, campaign_name in rows:
            calendar.add_component(_event(workshop, campaign_name, language))
    if rows:
        first = min(w.starts_at for w, _n in rows).date() - timedelta(days=366)
        last = max(w.ends_at for w, _n in rows).date() + timedelta(days=366)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()
