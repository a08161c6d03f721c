"""Fan-out: turn an OutreachSend into outbox rows, one per recipient and occurrence.

Set-based: one INSERT ... SELECT per occurrence, never a Python loop over contacts.
Per-recipient values are computed in SQL:
- the body: pre-rendered per language in Python, with the first name substituted by SQL;
- the due time: computed in Python once per distinct (time zone, country, state rule[,
  enrolment moment]) group — a handful of groups — and chosen per row with a CASE.
Re-running a fan-out inserts nothing twice (ON CONFLICT DO NOTHING on the unique send,
contact, occurrence), so enrolment passes for contacts who join later can reuse it safely.
(A correlated NOT EXISTS against the table being filled is quadratic on PostgreSQL.)
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, literal, or_, select

from app.contacts.audiences import audience_contacts_query
from app.contacts.models import Contact
from app.contacts.names import greeting_name_sql
from app.db_dialect import insert_ignoring_duplicates
from app.experiments.allocation import (
    arm_of_contact_sql,
    assign_on_entry,
    campaign_variants,
    not_in_holdout_sql,
)
from app.extensions import db
from app.outbox import api as outbox
from app.outbox.models import OutboxMessage
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


def rendered_bodies(send: OutreachSend, texts: dict | None = None) -> dict[str, tuple[str, str]]:
    """{language: (text with FIRST_NAME_TOKEN where the name goes, text for a contact
    without a first name)}: what every recipient row's body is made of. `texts`
    ({language: text}): an experiment arm's own text instead of the message's."""
    campaign, org = send.campaign, send.campaign.organization
    message, invitation = send.message, invitation_of(send)
    bodies = {}
    for lang in ("es", "en"):
        values = {"campaign": campaign.name, "org": org.name}
        template = (texts or {}).get(lang) or message.body_for(lang)
        if invitation is not None:
            values.update(invitation.values(send, lang))
            template = f"{template}\n{invitation.footer(send, lang)}"
        with_name = render(template, {**values, "first_name": FIRST_NAME_TOKEN}, language=lang)
        bodies[lang] = (with_name, render(template, values, language=lang))
    return bodies


def recipient_language_sql(campaign):
    """The language of a recipient's row: the contact's, or the campaign's default."""
    return case(
        (Contact.language.in_(("es", "en")), Contact.language), else_=campaign.default_language
    )


def body_sql(send: OutreachSend):
    """(language, body) SQL expressions for a recipient row: a CASE picking the recipient's
    language, with the first name filled in by SQL; in a campaign's experiment, the
    recipient's arm's own text where the arm has one."""
    language, body = recipient_language_sql(send.campaign), _language_body_sql(send)
    experiment, variants = campaign_variants(send.campaign_id, send.message_id)
    if variants:
        arm = arm_of_contact_sql(experiment)
        arms = [
            (arm == arm_id, _language_body_sql(send, texts)) for arm_id, texts in variants.items()
        ]
        body = case(*arms, else_=body)
    return language, body


def _language_body_sql(send: OutreachSend, texts: dict | None = None):
    campaign = send.campaign
    bodies = {}
    for lang, (with_name, without) in rendered_bodies(send, texts).items():
        name = greeting_name_sql(Contact.first_name)
        bodies[lang] = case(
            (name.is_(None), literal(without)),
            else_=func.replace(literal(with_name), FIRST_NAME_TOKEN, name),
        )
    default = bodies[campaign.default_language if campaign.default_language in bodies else "es"]
    return case(
        (Contact.language == "en", bodies["en"]),
        (Contact.language == "es", bodies["es"]),
        else_=default,
    )


def _due_instants(
    send: OutreachSend,
    tz: str,
    country: str | None,
    strict: bool,
    org,
    *,
    now: datetime,
    enrolled_at: datetime | None = None,
) -> list[datetime]:
    """Due instants (UTC, quiet hours applied) of every occurrence for one recipient group."""
    # The recipient's country window (and the stricter FL/OK one) within the organization's.
    rules = rules_for(country, "FL" if strict else None, org_window(org))
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


def _group_condition(key):
    """The recipients of one due-time group: (time zone, country, FL/OK[, enrolment])."""
    condition = [
        Contact.timezone == key[0],
        Contact.country == key[1] if key[1] is not None else Contact.country.is_(None),
        _strict_sql() if key[2] else ~_strict_sql(),
    ]
    if len(key) > 3:
        condition.append(CampaignEnrollment.enrolled_at == key[3])
    return and_(*condition)


def _due_time_groups(stmt, send: OutreachSend):
    """`stmt` (over contacts) and the columns a recipient's due time depends on: time zone,
    country, the FL/OK rule and, for a sequence, when the contact enrolled."""
    columns = [Contact.timezone, Contact.country, _strict_sql().label("strict")]
    if send.kind == "sequence":
        stmt = stmt.join(
            CampaignEnrollment,
            and_(
                CampaignEnrollment.contact_id == Contact.id,
                CampaignEnrollment.campaign_id == send.campaign_id,
            ),
        )
        columns.append(CampaignEnrollment.enrolled_at)
    return stmt, columns


def fan_out(send: OutreachSend, *, today: date, now: datetime) -> int:
    """Insert the outbox rows of `send` that do not exist yet. Returns how many."""
    org = send.campaign.organization
    audience = audience_contacts_query(send.organization_id, send.audience.filters, today=today)
    # A running experiment assigns newcomers on entry; its holdout gets none of the rows.
    experiment = assign_on_entry(send.campaign_id, audience, now=now)
    if experiment is not None:
        audience = audience.where(not_in_holdout_sql(experiment))
    recipients, group_cols = _due_time_groups(audience, send)
    groups = db.session.execute(recipients.with_only_columns(*group_cols).distinct()).all()
    if not groups:
        return 0

    due_by_group = {
        tuple(g): _due_instants(
            send, g[0], g[1], bool(g[2]), org, now=now, enrolled_at=g[3] if len(g) > 3 else None
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
            condition = _group_condition(key)
            whens.append((condition, literal(dues[occurrence], UTCDateTime())))
            groups_here.append(condition)
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


def refresh_pending(send: OutreachSend, *, now: datetime) -> int:
    """Give the send's rows not yet claimed by a worker the send's current text and due
    times (after the coordinator edited it), computed as `fan_out` does. Rows already
    claimed or sent are never touched (`outbox.reword_pending` only changes pending rows).
    Returns how many rows changed."""
    org = send.campaign.organization
    per_contact, group_cols = _due_time_groups(
        select(Contact.id).where(Contact.id == OutboxMessage.contact_id).correlate(OutboxMessage),
        send,
    )
    pending = (
        select(*group_cols)
        .select_from(OutboxMessage)
        .join(Contact, Contact.id == OutboxMessage.contact_id)
        .where(OutboxMessage.send_id == send.id, OutboxMessage.status.in_(outbox.PENDING))
    )
    if send.kind == "sequence":
        pending = pending.join(
            CampaignEnrollment,
            and_(
                CampaignEnrollment.contact_id == Contact.id,
                CampaignEnrollment.campaign_id == send.campaign_id,
            ),
        )
    groups = db.session.execute(pending.distinct()).all()
    if not groups:
        return 0
    due_by_group = {
        tuple(g): _due_instants(
            send, g[0], g[1], bool(g[2]), org, now=now, enrolled_at=g[3] if len(g) > 3 else None
        )
        for g in groups
    }
    language, body = body_sql(send)
    changed = 0
    for occurrence in range(max(len(v) for v in due_by_group.values())):
        whens = [
            (_group_condition(key), literal(dues[occurrence], UTCDateTime()))
            for key, dues in due_by_group.items()
            if occurrence < len(dues)
        ]
        # A contact whose zone changed since the groups were read keeps its time.
        due = case(*whens, else_=OutboxMessage.due_at)
        values = {
            "due_at": per_contact.with_only_columns(due).scalar_subquery(),
            "language": per_contact.with_only_columns(language).scalar_subquery(),
            "body": per_contact.with_only_columns(body).scalar_subquery(),
            "message_id": send.message_id,
        }
        changed += outbox.reword_pending(values, send_id=send.id, occurrence=occurrence)
    return changed
