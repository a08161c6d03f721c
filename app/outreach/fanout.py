"""Fan-out: turn an OutreachSend into outbox rows, one per recipient and occurrence.

Set-based: one INSERT ... SELECT per occurrence, never a Python loop over contacts.
Per-recipient values are computed in SQL:
- the body: pre-rendered per language in Python, with the first name substituted by SQL;
- the due time: computed in Python once per distinct (time zone, state rule[, enrolment
  moment]) group — a handful of groups — and chosen per row with a CASE.
Re-running a fan-out inserts nothing twice (ON CONFLICT DO NOTHING on the unique send,
contact, occurrence), so enrolment passes for contacts who join later can reuse it safely.
(A correlated NOT EXISTS against the table being filled is quadratic on PostgreSQL.)
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, literal, or_

from ..campaigns.placeholders import render
from ..contacts.audiences import audience_contacts_query
from ..contacts.models import Contact
from ..extensions import db
from ..timeutil import UTCDateTime
from .models import CampaignEnrollment, OutboxMessage, OutreachSend
from .timing import QuietHours, local_to_utc, next_allowed, rules_for, weekly_occurrences

FIRST_NAME_TOKEN = "\u27e6first_name\u27e7"  # never typed by a person; no NUL (PostgreSQL)
STRICT_STATES = ("FL", "OK")


def org_window(org) -> QuietHours:
    return QuietHours(org.quiet_start, org.quiet_end)


def _strict_sql():
    return and_(Contact.country == "US", func.coalesce(Contact.state_code, "").in_(STRICT_STATES))


def workshop_values(workshop, language: str) -> dict:
    """Placeholder values of a workshop, in `language` and the venue's local time."""
    from babel.dates import format_date, format_time

    local = workshop.starts_at.astimezone(ZoneInfo(workshop.timezone))
    return {
        "workshop_title": workshop.title_for(language),
        "workshop_date": format_date(local.date(), "EEEE d MMMM", locale=language),
        # Babel puts a narrow no-break space before "PM": not GSM-7, so use a plain space.
        "workshop_time": format_time(local.time(), "short", locale=language).replace("\u202f", " "),
        "workshop_venue": workshop.venue_name,
        "workshop_code": workshop.code,
    }


def _rsvp_line(workshop, language: str) -> str:
    from .preparing import sms_text

    return sms_text("rsvp_line", language, code=workshop.code)


def _body_sql(send: OutreachSend, campaign, org):
    """CASE picking the recipient's language, with the first name filled in by SQL."""
    message = send.message
    bodies = {}
    for lang in ("es", "en"):
        values = {"campaign": campaign.name, "org": org.name}
        template = message.body_for(lang)
        if send.workshop is not None:
            values.update(workshop_values(send.workshop, lang))
            template = f"{template}\n{_rsvp_line(send.workshop, lang)}"
        with_name = render(template, {**values, "first_name": FIRST_NAME_TOKEN}, language=lang)
        without = render(template, values, language=lang)
        name = func.nullif(func.trim(func.coalesce(Contact.first_name, "")), "")
        bodies[lang] = case(
            (name.is_(None), literal(without)),
            else_=func.replace(literal(with_name), FIRST_NAME_TOKEN, name),
        )
    default = bodies[campaign.default_language if campaign.default_language in bodies else "es"]
    language = case(
        (Contact.language.in_(("es", "en")), Contact.language), else_=campaign.default_language
    )
    body = case(
        (Contact.language == "en", bodies["en"]),
        (Contact.language == "es", bodies["es"]),
        else_=default,
    )
    return language, body


def _due_instants(
    send: OutreachSend,
    tz: str,
    strict: bool,
    org,
    *,
    now: datetime,
    enrolled_at: datetime | None = None,
) -> list[datetime]:
    """Due instants (UTC, quiet hours applied) of every occurrence for one recipient group."""
    rules = rules_for("US", "FL" if strict else None, org_window(org))
    if send.kind == "once":
        raw = [send.fixed_at or local_to_utc(send.local_date, send.local_time, tz)]
    elif send.kind == "recurring":
        raw = weekly_occurrences(
            send.local_date, send.local_time, set(send.weekdays), send.weeks, tz
        )
    else:  # sequence: day_offset days after enrolment, at local_time
        # Contacts enrolled before this sequence existed start it now, not in the past.
        enrolled_at = max(enrolled_at, send.created_at)
        start_day = enrolled_at.astimezone(ZoneInfo(tz)).date()
        raw = [
            max(
                local_to_utc(start_day + timedelta(days=send.day_offset), send.local_time, tz),
                enrolled_at,
            )
        ]
    # Past moments go out now; everything respects the recipient's quiet hours.
    return [next_allowed(max(moment, now), tz, rules.window) for moment in raw]


def insert_ignoring_duplicates(model):
    """INSERT ... ON CONFLICT DO NOTHING on PostgreSQL and SQLite."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(model)


def enroll_audience(send: OutreachSend, *, today: date, now: datetime) -> int:
    """Enrol the audience's eligible contacts in the campaign (once each). Returns new rows."""
    eligible = audience_contacts_query(send.organization_id, send.audience.filters, today=today)
    rows = eligible.with_only_columns(
        literal(send.organization_id),
        literal(send.campaign_id),
        Contact.id,
        literal(now, UTCDateTime()),
    )
    result = db.session.execute(
        insert_ignoring_duplicates(CampaignEnrollment)
        .from_select(["organization_id", "campaign_id", "contact_id", "enrolled_at"], rows)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)  # psycopg: -1 otherwise
    )
    return result.rowcount or 0


def fan_out(send: OutreachSend, *, today: date, now: datetime) -> int:
    """Insert the outbox rows of `send` that do not exist yet. Returns how many."""
    campaign, org = send.campaign, send.campaign.organization
    recipients = audience_contacts_query(send.organization_id, send.audience.filters, today=today)
    group_cols = [Contact.timezone, _strict_sql().label("strict")]
    if send.kind == "sequence":
        recipients = recipients.join(
            CampaignEnrollment,
            and_(
                CampaignEnrollment.contact_id == Contact.id,
                CampaignEnrollment.campaign_id == send.campaign_id,
            ),
        )
        group_cols.append(CampaignEnrollment.enrolled_at)
    groups = db.session.execute(recipients.with_only_columns(*group_cols).distinct()).all()
    if not groups:
        return 0

    due_by_group = {
        tuple(g): _due_instants(
            send, g[0], bool(g[1]), org, now=now, enrolled_at=g[2] if len(g) > 2 else None
        )
        for g in groups
    }
    occurrences = max(len(v) for v in due_by_group.values())
    language, body = _body_sql(send, campaign, org)
    inserted = 0
    for occurrence in range(occurrences):
        whens, groups_here = [], []
        for key, dues in due_by_group.items():
            if occurrence >= len(dues):
                continue
            condition = [Contact.timezone == key[0], _strict_sql() if key[1] else ~_strict_sql()]
            if len(key) > 2:
                condition.append(CampaignEnrollment.enrolled_at == key[2])
            whens.append((and_(*condition), literal(dues[occurrence], UTCDateTime())))
            groups_here.append(and_(*condition))
        purpose = "invitation" if send.workshop_id else "campaign"
        rows = recipients.with_only_columns(
            literal(send.organization_id),
            literal(send.campaign_id),
            literal(send.id),
            literal(send.message_id),
            literal(send.workshop_id, Integer()),
            Contact.id,
            literal(occurrence),
            literal(purpose),
            language,
            body,
            case(*whens),
            literal(send.workshop.starts_at if send.workshop_id else None, UTCDateTime()),
            literal("scheduled"),
            literal(0),
            literal(False),
            literal(now, UTCDateTime()),
        ).where(or_(*groups_here))
        result = db.session.execute(
            insert_ignoring_duplicates(OutboxMessage)
            .from_select(
                [
                    "organization_id",
                    "campaign_id",
                    "send_id",
                    "message_id",
                    "workshop_id",
                    "contact_id",
                    "occurrence",
                    "purpose",
                    "language",
                    "body",
                    "due_at",
                    "expires_at",
                    "status",
                    "attempts",
                    "with_opt_out_notice",
                    "created_at",
                ],
                rows,
            )
            .on_conflict_do_nothing()
            .execution_options(preserve_rowcount=True)
        )
        inserted += result.rowcount or 0
    if send.workshop_id:
        _register_invited(send, recipients, now=now)
    return inserted


def _register_invited(send: OutreachSend, recipients, *, now: datetime) -> None:
    """Every invited recipient gets an "invited" registration (kept if it already exists)."""
    from ..workshops.models import WorkshopRegistration

    rows = recipients.with_only_columns(
        literal(send.organization_id),
        literal(send.workshop_id),
        Contact.id,
        literal("invited"),
        literal(now, UTCDateTime()),
        literal(False),
        literal(False),
        literal(now, UTCDateTime()),
    )
    db.session.execute(
        insert_ignoring_duplicates(WorkshopRegistration)
        .from_select(
            [
                "organization_id",
                "workshop_id",
                "contact_id",
                "status",
                "invited_at",
                "walk_in",
                "no_show",
                "created_at",
            ],
            rows,
        )
        .on_conflict_do_nothing()
    )
