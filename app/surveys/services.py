"""Survey runs: scheduling one, asking its contacts (fan-out), reminding and closing them.

A run asks a survey of:
- audience: an audience's contacts, at the run's local date and time;
- baseline: a campaign's contacts (enrolled, or in the audience of one of its scheduled
  sends) before the campaign's first message; a contact who already got a campaign message
  is no longer a baseline;
- follow_up: each contact of a campaign `follow_up_days` days after the last campaign
  message that contact got (at the run's local time, from its local date on if given), once
  none of the campaign's messages is still pending for that contact;
- workshop: a workshop's attendees (checked in) after it ends.

Scheduling, quiet hours, language, eligibility and consent are the sends' (the date and time
are each contact's local wall time; app.outbox.timing). Fan-out runs when the run is due
(`fan_out_due_runs`, a periodic task): per eligible contact, a SurveyResponse ("invited")
and the first question (intro + question 1, purpose "survey": capped and held to quiet
hours like a campaign message, opt-out line on a first contact) in the contact's language.
It is idempotent (UNIQUE(run, contact)) and two workers never fan out one run together (the
run's row lock). A contact with another active survey is not asked: the partial unique
index on active responses decides, under races too (INSERT ... ON CONFLICT DO NOTHING).

The conversation itself is app/surveys/flow.py. `expire_responses` (periodic) sends the one
reminder to a contact who did not answer within the run's window, and closes the response
as partial after another window.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, literal, or_, select, union, update
from sqlalchemy.orm import aliased

from app.campaigns.models import Campaign
from app.contacts.audiences import audience_contacts_query
from app.contacts.eligibility import block_reason, eligible_sql
from app.contacts.models import Audience, Contact
from app.db_dialect import insert_ignoring_duplicates, is_postgres, take_write_lock
from app.errors import DomainError
from app.experiments.models import Experiment, ExperimentArm, ExperimentAssignment
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.models import OutboxMessage, counted_as_sent
from app.outbox.timing import local_to_utc, next_allowed, org_window, rules_for
from app.outreach.models import CampaignEnrollment, OutreachSend
from app.surveys import texts
from app.surveys.models import (
    ACTIVE_RESPONSE_STATUSES,
    RUN_KINDS,
    Survey,
    SurveyQuestion,
    SurveyResponse,
    SurveyRun,
)
from app.workshops.models import Workshop, WorkshopRegistration

SURVEY_PURPOSES = ("survey", "survey_reply")
CAMPAIGN_PURPOSES = ("campaign", "invitation")
MAX_FOLLOW_UP_DAYS = 365
MAX_WINDOW_HOURS = 168
MAX_YEARS_AHEAD = 2
# The form has minute precision: a time this recent still counts as "now".
PAST_GRACE = timedelta(minutes=5)
OPEN_RUN_STATUSES = ("scheduled", "running")
EXPIRE_BATCH = 500
# Outbox rows a question may still be waiting in (not yet handed to the provider).
NOT_YET_SENT = ("scheduled", "held", "claimed")


class SurveyError(DomainError):
    """A run (or survey) refused: the translated message says why (and `field` where)."""


# --- scheduling ------------------------------------------------------------------------------


def _owned(model, row_id, organization_id):
    if row_id is None:
        return None
    row = db.session.get(model, row_id)
    return row if row is not None and row.organization_id == organization_id else None


def _check_survey(survey: Survey | None) -> None:
    if survey is None:
        raise SurveyError(_l("Choose a survey."), field="survey_id")
    if survey.archived_at is not None:
        raise SurveyError(_l("This survey is archived."), field="survey_id")
    if not survey.questions:
        raise SurveyError(_l("Add at least one question to the survey first."), field="survey_id")


@dataclass
class _Links:
    campaign: Campaign | None = None
    audience: Audience | None = None
    workshop: Workshop | None = None


def _check_links(kind, organization_id, *, campaign_id, audience_id, workshop_id, days):
    links = _Links(
        _owned(Campaign, campaign_id, organization_id),
        _owned(Audience, audience_id, organization_id),
        _owned(Workshop, workshop_id, organization_id),
    )
    if kind == "audience" and links.audience is None:
        raise SurveyError(_l("Choose an audience."), field="audience_id")
    if kind in ("baseline", "follow_up"):
        if links.campaign is None:
            raise SurveyError(_l("Choose a campaign."), field="campaign_id")
        if links.campaign.status == "archived":
            raise SurveyError(_l("This campaign is archived."), field="campaign_id")
    if kind == "follow_up" and (days is None or not 1 <= days <= MAX_FOLLOW_UP_DAYS):
        raise SurveyError(
            _l("The follow-up must be between 1 and 365 days after the last message."),
            field="follow_up_days",
        )
    if kind == "workshop":
        if links.workshop is None:
            raise SurveyError(_l("Choose a workshop."), field="workshop_id")
        if links.workshop.status == "canceled":
            raise SurveyError(_l("This workshop was canceled."), field="workshop_id")
    return links


def _zones(organization_id: int, org_tz: str) -> list[str]:
    zones = db.session.scalars(
        select(Contact.timezone)
        .where(Contact.organization_id == organization_id, Contact.erased_at.is_(None))
        .distinct()
    ).all()
    return sorted({z for z in zones if z} | {org_tz})


def _moments(local_date: date, local_time: time, zones: list[str]) -> list[datetime]:
    return [local_to_utc(local_date, local_time, tz) for tz in zones]


def _campaign_first_message(campaign_id: int) -> tuple[bool, datetime | None]:
    """(a campaign message already went out, when the first pending one is due)."""
    of_campaign = (
        OutboxMessage.campaign_id == campaign_id,
        OutboxMessage.purpose.in_(CAMPAIGN_PURPOSES),
    )
    sent = db.session.scalar(
        select(OutboxMessage.id)
        .where(*of_campaign, or_(counted_as_sent(), OutboxMessage.sent_at.is_not(None)))
        .limit(1)
    )
    first_due = db.session.scalar(
        select(func.min(OutboxMessage.due_at)).where(
            *of_campaign, OutboxMessage.status.in_(outbox.PENDING)
        )
    )
    return sent is not None, first_due


def _check_timing(kind, links, *, local_date, local_time, org, now) -> datetime:
    """The run's `starts_at` (its earliest moment in any of the organization's zones)."""
    if local_time is None:
        raise SurveyError(_l("Choose the time."), field="local_time")
    if local_date is None:
        if kind != "follow_up":
            raise SurveyError(_l("Choose a date and a time."), field="local_date")
        return now
    if local_date.year > now.year + MAX_YEARS_AHEAD:
        raise SurveyError(_l("The date is too far in the future."), field="local_date")
    moments = _moments(local_date, local_time, _zones(org.id, org.timezone))
    if max(moments) < now - PAST_GRACE:
        raise SurveyError(
            _l("That date and time have already passed. Choose a later time."), field="local_time"
        )
    if kind == "baseline":
        sent, first_due = _campaign_first_message(links.campaign.id)
        if sent:
            raise SurveyError(
                _l("The campaign's first message has already gone out: a baseline comes before."),
                field="campaign_id",
            )
        if first_due is not None and max(moments) >= first_due:
            raise SurveyError(
                _l("A baseline goes before the campaign's first message. Choose an earlier time."),
                field="local_date",
            )
    if kind == "workshop":
        workshop = links.workshop
        if local_to_utc(local_date, local_time, workshop.timezone) < workshop.ends_at:
            raise SurveyError(
                _l("A workshop's survey goes after the workshop ends. Choose a later time."),
                field="local_date",
            )
    return min(moments)


def schedule_run(
    *,
    organization_id: int,
    survey_id: int,
    kind: str,
    local_date: date | None,
    local_time: time | None,
    campaign_id: int | None = None,
    audience_id: int | None = None,
    workshop_id: int | None = None,
    follow_up_days: int | None = None,
    window_hours: int = 24,
    user_id: int | None = None,
    now: datetime,
) -> SurveyRun:
    """Check and save a run (see the module docstring for the kinds); it is fanned out when
    due by `fan_out_due_runs`. Commits.

    Raises:
        SurveyError: a translated message (and the form field) saying what to fix.
    """
    survey = _owned(Survey, survey_id, organization_id)
    _check_survey(survey)
    if kind not in RUN_KINDS:
        raise SurveyError(_l("Choose who is asked."), field="kind")
    if window_hours is None or not 1 <= int(window_hours) <= MAX_WINDOW_HOURS:
        raise SurveyError(
            _l("The time to answer must be between 1 and 168 hours."), field="window_hours"
        )
    links = _check_links(
        kind,
        organization_id,
        campaign_id=campaign_id,
        audience_id=audience_id,
        workshop_id=workshop_id,
        days=follow_up_days,
    )
    org = db.session.get(Organization, organization_id)
    starts_at = _check_timing(
        kind, links, local_date=local_date, local_time=local_time, org=org, now=now
    )
    run = SurveyRun(
        organization_id=organization_id,
        survey_id=survey.id,
        kind=kind,
        campaign_id=links.campaign.id if links.campaign and kind != "audience" else None,
        audience_id=links.audience.id if kind == "audience" else None,
        workshop_id=links.workshop.id if kind == "workshop" else None,
        follow_up_days=follow_up_days if kind == "follow_up" else None,
        local_date=local_date,
        local_time=local_time,
        starts_at=starts_at,
        window_hours=int(window_hours),
        status="scheduled",
        created_by=user_id,
        created_at=now,
    )
    if kind == "workshop":
        run.campaign_id = links.workshop.campaign_id
    db.session.add(run)
    db.session.commit()
    return run


# --- ending a run ----------------------------------------------------------------------------


def _lock_run(run_id: int) -> SurveyRun | None:
    """The run, locked until the transaction ends (PostgreSQL: its row; SQLite: the write
    lock), read fresh."""
    stmt = select(SurveyRun).where(SurveyRun.id == run_id)
    if is_postgres():
        stmt = stmt.with_for_update()
    else:
        take_write_lock()
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def _active_contacts(run_id: int):
    return select(SurveyResponse.contact_id).where(
        SurveyResponse.run_id == run_id, SurveyResponse.status.in_(ACTIVE_RESPONSE_STATUSES)
    )


def cancel_pending_questions(*, reason: str, now: datetime, where=(), **filters) -> int:
    """Cancel survey messages not yet handed to the provider (one contact has at most one
    active survey, so a contact's pending survey messages are its active response's)."""
    return outbox.cancel_pending(
        reason=reason, now=now, claimed_too=True, purpose=SURVEY_PURPOSES, where=where, **filters
    )


def _end_active(run_id: int, *, invited_to: str, started_to: str, now: datetime) -> int:
    R = SurveyResponse
    count = 0
    for before, after in (("invited", invited_to), ("started", started_to)):
        count += db.session.execute(
            update(R)
            .where(R.run_id == run_id, R.status == before)
            .values(status=after, closed_at=now, position=None, expires_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
    return count


def _refuse_if_over(run: SurveyRun | None) -> SurveyRun:
    if run is None or run.status not in OPEN_RUN_STATUSES:
        db.session.rollback()
        raise SurveyError(_l("This survey run is already over."))
    return run


def cancel_run(run: SurveyRun, *, now: datetime) -> int:
    """Cancel a run: nobody else is asked, questions not yet sent are canceled, a response
    not started is canceled and one started is kept as partial. Returns how many messages
    were canceled. Commits.

    Raises:
        SurveyError: the run is already closed or canceled."""
    locked = _refuse_if_over(_lock_run(run.id))
    canceled = cancel_pending_questions(
        reason="survey_canceled",
        now=now,
        where=(OutboxMessage.contact_id.in_(_active_contacts(locked.id)),),
    )
    _end_active(locked.id, invited_to="canceled", started_to="partial", now=now)
    locked.status, locked.closed_at = "canceled", now
    db.session.commit()
    return canceled


def close_run(run: SurveyRun, *, now: datetime) -> int:
    """Close a run early: nobody else is asked, and every response still open ends as
    partial (its pending questions canceled). Returns how many responses it closed. Commits.

    Raises:
        SurveyError: the run is already closed or canceled."""
    locked = _refuse_if_over(_lock_run(run.id))
    cancel_pending_questions(
        reason="survey_closed",
        now=now,
        where=(OutboxMessage.contact_id.in_(_active_contacts(locked.id)),),
    )
    closed = _end_active(locked.id, invited_to="partial", started_to="partial", now=now)
    locked.status, locked.closed_at = "closed", now
    db.session.commit()
    return closed


# --- fan-out ---------------------------------------------------------------------------------


def _language_sql(org: Organization):
    default = org.default_language if org.default_language in ("es", "en") else "es"
    return case((Contact.language.in_(("es", "en")), Contact.language), else_=literal(default))


def _not_asked_yet(run: SurveyRun):
    """Contacts without a response in this run, nor an active one in another run."""
    R = SurveyResponse
    return and_(
        ~exists().where(R.run_id == run.id, R.contact_id == Contact.id),
        ~exists().where(R.contact_id == Contact.id, R.status.in_(ACTIVE_RESPONSE_STATUSES)),
    )


def _got_campaign_message(campaign_id: int):
    return exists().where(
        OutboxMessage.contact_id == Contact.id,
        OutboxMessage.campaign_id == campaign_id,
        OutboxMessage.purpose.in_(CAMPAIGN_PURPOSES),
        or_(counted_as_sent(), OutboxMessage.sent_at.is_not(None)),
    )


def _baseline_contacts(run: SurveyRun, today: date):
    enrolled = select(CampaignEnrollment.contact_id).where(
        CampaignEnrollment.campaign_id == run.campaign_id
    )
    parts = [enrolled]
    sends = db.session.scalars(
        select(OutreachSend).where(
            OutreachSend.campaign_id == run.campaign_id,
            OutreachSend.status == "scheduled",
            OutreachSend.audience_id.is_not(None),
        )
    ).all()
    for send in sends:
        query = audience_contacts_query(run.organization_id, send.audience.filters, today=today)
        parts.append(query.with_only_columns(Contact.id))
    everyone = union(*parts) if len(parts) > 1 else enrolled
    return Contact.id.in_(everyone), ~_got_campaign_message(run.campaign_id)


def _candidates(run: SurveyRun, org: Organization, now: datetime) -> list:
    """(contact id, language, time zone, country, state code, last campaign message sent)
    of the contacts this pass may ask."""
    today = now.date()
    columns = [
        Contact.id,
        _language_sql(org),
        Contact.timezone,
        Contact.country,
        Contact.state_code,
    ]
    conditions = [
        Contact.organization_id == run.organization_id,
        eligible_sql(today),
        _not_asked_yet(run),
    ]
    if run.kind == "audience":
        audience = db.session.get(Audience, run.audience_id) if run.audience_id else None
        if audience is None:
            return []
        query = audience_contacts_query(run.organization_id, audience.filters, today=today)
        return db.session.execute(
            query.with_only_columns(*columns, literal(None)).where(*conditions)
        ).all()
    if run.kind == "baseline":
        conditions.extend(_baseline_contacts(run, today))
    elif run.kind == "workshop":
        conditions.append(
            Contact.id.in_(
                select(WorkshopRegistration.contact_id).where(
                    WorkshopRegistration.workshop_id == run.workshop_id,
                    WorkshopRegistration.attended_at.is_not(None),
                )
            )
        )
    else:
        return _follow_up_candidates(run, columns, conditions, now)
    return db.session.execute(select(*columns, literal(None)).where(*conditions)).all()


def _follow_up_candidates(run: SurveyRun, columns, conditions, now: datetime) -> list:
    """Contacts whose last campaign message went at least `follow_up_days - 1` days ago (the
    exact local day is checked per contact), with none of the campaign's messages pending."""
    sent, queued = aliased(OutboxMessage), aliased(OutboxMessage)

    def of_campaign(m):
        return and_(
            m.contact_id == Contact.id,
            m.campaign_id == run.campaign_id,
            m.purpose.in_(CAMPAIGN_PURPOSES),
        )

    pending = exists().where(of_campaign(queued), queued.status.in_(NOT_YET_SENT))
    last_sent = func.max(sent.sent_at)
    since = now - timedelta(days=run.follow_up_days - 1)
    treated = db.session.execute(
        select(*columns, last_sent)
        .join(sent, of_campaign(sent))
        .where(*conditions, sent.sent_at.is_not(None), ~pending)
        .group_by(*columns)
        .having(last_sent <= since)
    ).all()
    # The holdout of the campaign's experiment gets none of its messages but must be asked
    # too (it is the control): its day counts from its assignment.
    a, arm = ExperimentAssignment, ExperimentArm
    held_out = db.session.execute(
        select(*columns, a.assigned_at)
        .join(a, a.contact_id == Contact.id)
        .join(arm, and_(arm.id == a.arm_id, arm.is_holdout.is_(True)))
        .join(Experiment, Experiment.id == a.experiment_id)
        .where(*conditions, Experiment.campaign_id == run.campaign_id, a.assigned_at <= since)
    ).all()
    return treated + held_out


def _first_moment(run: SurveyRun, tz: str, last_sent: datetime | None) -> datetime:
    if run.kind != "follow_up":
        return local_to_utc(run.local_date, run.local_time, tz)
    day = last_sent.astimezone(ZoneInfo(tz)).date() + timedelta(days=run.follow_up_days)
    moment = local_to_utc(day, run.local_time, tz)
    if run.local_date is not None:
        moment = max(moment, local_to_utc(run.local_date, run.local_time, tz))
    return moment


def _response_rows(run: SurveyRun, org: Organization, first_position: int, now: datetime):
    window = timedelta(hours=run.window_hours)
    rules = {}
    rows = []
    for contact_id, language, tz, country, state_code, last_sent in _candidates(run, org, now):
        tz = tz or org.timezone
        moment = _first_moment(run, tz, last_sent)
        if run.kind == "follow_up" and moment > now:
            continue  # not this contact's day yet
        key = (country, state_code)
        if key not in rules:
            rules[key] = rules_for(country, state_code, org_window(org))
        due = next_allowed(max(moment, now), tz, rules[key].window)
        rows.append(
            dict(
                organization_id=run.organization_id,
                run_id=run.id,
                survey_id=run.survey_id,
                contact_id=contact_id,
                status="invited",
                language=language,
                position=first_position,
                reasked=False,
                reminded=False,
                invited_at=now,
                asked_at=due,
                expires_at=due + window,
            )
        )
    return rows


def _insert_responses(rows: list[dict]) -> None:
    """Insert the responses; one that would be the contact's second active survey (or its
    second in this run) is not inserted (a concurrent fan-out of another run won it)."""
    for start in range(0, len(rows), 1000):
        db.session.execute(
            insert_ignoring_duplicates(SurveyResponse).on_conflict_do_nothing(),
            rows[start : start + 1000],
        )


def _enqueue_first_questions(run: SurveyRun, survey: Survey, now: datetime) -> int:
    """The first question of every response of the run that has none yet, due at its
    `asked_at`, linked back to the response (`last_outbox_id`)."""
    R = SurveyResponse
    first = survey.questions[0]
    bodies = {lang: texts.first_sms(survey, first, lang) for lang in ("es", "en")}
    new = (R.run_id == run.id, R.status == "invited", R.last_outbox_id.is_(None))
    rows = select(
        R.organization_id,
        R.contact_id,
        literal("survey"),
        R.language,
        case((R.language == "en", literal(bodies["en"])), else_=literal(bodies["es"])),
        R.asked_at,
    ).where(*new)
    created = outbox.enqueue_select(
        rows,
        ["organization_id", "contact_id", "purpose", "language", "body", "due_at"],
        now=now,
    )
    M = OutboxMessage
    db.session.execute(
        update(R)
        .where(*new)
        .values(
            last_outbox_id=select(func.max(M.id))
            .where(M.contact_id == R.contact_id, M.purpose == "survey", M.created_at == now)
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )
    return created


def fan_out_run(run_id: int, *, now: datetime) -> int:
    """Ask a due run's contacts (see the module docstring). Returns how many were asked.
    Commits; safe to call again (and from several workers at once)."""
    run = _lock_run(run_id)
    repeating = run is not None and run.kind == "follow_up"
    if (
        run is None
        or run.status not in OPEN_RUN_STATUSES
        or run.starts_at > now
        or (run.fanned_out_at is not None and not repeating)
    ):
        db.session.commit()
        return 0
    survey = db.session.get(Survey, run.survey_id)
    org = db.session.get(Organization, run.organization_id)
    created = 0
    if survey.questions:
        _insert_responses(_response_rows(run, org, survey.questions[0].position, now))
        created = _enqueue_first_questions(run, survey, now)
    run.status = "running"
    run.fanned_out_at = run.fanned_out_at or now
    db.session.commit()
    return created


def due_runs(now: datetime) -> list[int]:
    return db.session.scalars(
        select(SurveyRun.id)
        .where(
            SurveyRun.status.in_(OPEN_RUN_STATUSES),
            SurveyRun.starts_at <= now,
            or_(SurveyRun.fanned_out_at.is_(None), SurveyRun.kind == "follow_up"),
        )
        .order_by(SurveyRun.starts_at, SurveyRun.id)
    ).all()


def fan_out_due_runs(*, now: datetime) -> int:
    """The periodic task: fan out every run that is due (follow-up runs on every pass, for
    the contacts whose day has come). Returns how many contacts were asked."""
    ids = due_runs(now)
    db.session.commit()
    return sum(fan_out_run(run_id, now=now) for run_id in ids)


# --- reminders and expiry --------------------------------------------------------------------


def _question(response: SurveyResponse) -> SurveyQuestion | None:
    return db.session.scalar(
        select(SurveyQuestion).where(
            SurveyQuestion.survey_id == response.survey_id,
            SurveyQuestion.position == response.position,
        )
    )


def _remind(response: SurveyResponse, contact: Contact, org: Organization, now: datetime):
    """The one reminder, at the contact's next allowed time (before that window closes)."""
    question = _question(response)
    if question is None:
        return _close(response, "partial", now)
    tz = contact.timezone or org.timezone
    window = rules_for(contact.country, contact.state_code, org_window(org)).window
    due = next_allowed(now, tz, window)
    day = due.astimezone(ZoneInfo(tz)).date()
    outbox.enqueue(
        organization_id=response.organization_id,
        contact_id=response.contact_id,
        purpose="survey_reply",
        language=response.language,
        body=texts.reminder_sms(question, response.language),
        due_at=due,
        expires_at=local_to_utc(day, window.end, tz),
        now=now,
    )
    response.reminded = True
    response.expires_at = due + timedelta(hours=response.run.window_hours)


def _close(response: SurveyResponse, status: str, now: datetime) -> None:
    cancel_pending_questions(reason=f"survey_{status}", now=now, contact_id=response.contact_id)
    response.status, response.closed_at = status, now
    response.position = response.expires_at = None


def _expire(response: SurveyResponse, now: datetime) -> None:
    contact = db.session.get(Contact, response.contact_id)
    reason = block_reason(contact, today=now.date())
    if reason == "opted_out":
        return _close(response, "stopped", now)
    row = (
        db.session.get(OutboxMessage, response.last_outbox_id) if response.last_outbox_id else None
    )
    if row is not None and row.status in NOT_YET_SENT:
        # Still waiting for its turn (quiet hours, the cap): the window counts from then.
        response.expires_at = max(row.due_at, now) + timedelta(hours=response.run.window_hours)
        return None
    never_went = row is not None and row.sent_at is None and row.send_started_at is None
    if response.status == "invited" and never_went:
        return _close(response, "canceled", now)  # the first question never went
    if reason is None and not response.reminded:
        return _remind(
            response, contact, db.session.get(Organization, contact.organization_id), now
        )
    return _close(response, "partial", now)


def _close_finished_runs(now: datetime) -> int:
    """Runs asked once (not follow-ups) with no response still open are over. A follow-up is
    over once its campaign is completed or archived (no message of it will go any more),
    none of the campaign's messages is pending, the follow-up day of its last message has
    passed (a day of margin for time zones) and no response is still open."""
    R, M = SurveyResponse, OutboxMessage
    open_responses = exists().where(
        R.run_id == SurveyRun.id, R.status.in_(ACTIVE_RESPONSE_STATUSES)
    )
    of_campaign = and_(M.campaign_id == SurveyRun.campaign_id, M.purpose.in_(CAMPAIGN_PURPOSES))
    last_sent = select(func.max(M.sent_at)).where(of_campaign).scalar_subquery()
    days = func.coalesce(SurveyRun.follow_up_days, 0) + 1
    if is_postgres():
        follow_up_passed = last_sent + func.make_interval(0, 0, 0, days) <= now
    else:
        follow_up_passed = func.julianday(last_sent) + days <= func.julianday(now)
    follow_up_over = and_(
        SurveyRun.kind == "follow_up",
        exists().where(
            Campaign.id == SurveyRun.campaign_id, Campaign.status.in_(("completed", "archived"))
        ),
        ~exists().where(of_campaign, M.status.in_(NOT_YET_SENT)),
        or_(last_sent.is_(None), follow_up_passed),
    )
    return db.session.execute(
        update(SurveyRun)
        .where(
            SurveyRun.status == "running",
            or_(SurveyRun.kind != "follow_up", follow_up_over),
            SurveyRun.fanned_out_at.is_not(None),
            ~open_responses,
        )
        .values(status="closed", closed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def expire_responses(*, now: datetime) -> int:
    """The periodic task: an active response whose question waited `window_hours` gets the
    one reminder (the question again, at the contact's next allowed time), then after
    another window closes as partial; one whose contact opted out meanwhile is stopped, and
    one whose first question never went (skipped: not eligible any more, the cap) is
    canceled. Returns how many responses it handled. Commits."""
    R = SurveyResponse
    handled = 0
    while True:
        if not is_postgres():
            take_write_lock()
        stmt = (
            select(R)
            .where(R.status.in_(ACTIVE_RESPONSE_STATUSES), R.expires_at <= now)
            .order_by(R.expires_at, R.id)
            .limit(EXPIRE_BATCH)
            .execution_options(populate_existing=True)
        )
        if is_postgres():
            stmt = stmt.with_for_update(skip_locked=True)  # one being answered right now waits
        batch = db.session.scalars(stmt).all()
        for response in batch:
            _expire(response, now)
        handled += len(batch)
        db.session.commit()
        if len(batch) < EXPIRE_BATCH:
            break
    _close_finished_runs(now)
    db.session.commit()
    return handled
