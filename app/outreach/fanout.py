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

from app.contacts.audiences import audience_contacts_query
from app.contacts.models import Contact
from app.db_dialect import insert_ignoring_duplicates
from app.extensions import db
from app.outbox import api as outbox
from app.outbox.placeholders import render
from app.outbox.timing import local_to_utc, next_allowed, org_window, rules_for, weekly_occurrences
from app.outreach.invitations import invitation_of
from app.outreach.models import CampaignEnrollment, OutreachSend
from app.timeutil import UTCDateTime

FIRST_NAME_TOKEN = "\u27e6first_name\u27e7"  # never typed by a person; no NUL (PostgreSQL)
STRICT_STATES = ("FL", "OK")
FAN_OUT_COLUMNS = [
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
]


def _strict_sql():
    return and_(Contact.country == "US", func.coalesce(Contact.state_code, "").in_(STRICT_STATES))


def body_sql(send: OutreachSend):
    """(language, body) SQL expressions for a recipient row: a CASE picking the recipient's
    language, with the first name filled in by SQL."""
    campaign, org = send.campaign, send.campaign.organization
    message, invitation = send.message, invitation_of(send)
    bodies = {}
    for lang in ("es", "en"):
        values = {"campaign": campaign.name, "org": org.name}
        template = message.body_for(lang)
        if invitation is not None:
            values.update(invitation.values(send, lang))
            template = f"{template}\n{invitation.footer(send, lang)}"
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
    org = send.campaign.organization
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
    language, body = body_sql(send)
    invitation = invitation_of(send)
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
        purpose = "campaign" if invitation is None else "invitation"
        expires_at = None if invitation is None else invitation.expires_at(send)
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
            literal(expires_at, UTCDateTime()),
        ).where(or_(*groups_here))
        inserted += outbox.enqueue_select(rows, FAN_OUT_COLUMNS, now=now)
    if invitation is not None:
        invitation.after_fan_out(send, recipients, now)
    return inserted
