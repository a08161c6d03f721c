"""What the home page (/dashboard) shows each role: a coordinator's to-dos for today, an
evaluator's headline figures, an administrator's users and settings.

Every query is scoped to one organization (the signed-in user's): another organization's
rows never reach the page. Report figures come from app.reports through its cache with the
reports page's own key, so the dashboard and the reports page show the same numbers."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import url_for
from sqlalchemy import func, or_, select
from werkzeug.routing import BuildError

from app.auth.models import User
from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.models import Contact, ContactImport
from app.conversations import referrals
from app.conversations.models import Case
from app.db_dialect import is_postgres
from app.extensions import db
from app.jobs.models import Job
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.models import InboundMessage, OutboxMessage
from app.outreach.models import OutreachSend
from app.reports.conversations import OVERALL, conversation_cells
from app.reports.numbers import ratio
from app.reports.organization import OrganizationFigures, cached_organization_figures
from app.reports.period import Period
from app.workshops.models import Workshop
from app.workshops.services import workshops_between

SEND_WINDOW = timedelta(hours=48)  # "sends in the next 48 hours"
WORKSHOP_WINDOW = timedelta(days=14)
RECENT_FAILURES = timedelta(days=7)  # failed imports and jobs stay on the page this long
LIST_LIMIT = 8
BACKGROUND_KINDS = ("send_fanout",)  # contact imports are listed from their own table


@dataclass(frozen=True)
class ReviewItem:
    campaign_id: int
    campaign_name: str
    count: int
    latest_at: datetime


@dataclass(frozen=True)
class UpcomingSend:
    send_id: int
    campaign_name: str
    message_label: str
    first_due_at: datetime
    waiting: int  # the send's messages not handed to the provider yet


@dataclass(frozen=True)
class UpcomingWorkshop:
    workshop: Workshop
    confirmed: int
    waitlisted: int


@dataclass(frozen=True)
class BackgroundItem:
    kind: str  # "contact_import" or a job kind
    status: str
    url_endpoint: str
    url_args: dict
    label: str  # a file name, a campaign name
    at: datetime


@dataclass
class Attention:
    reviews: list[ReviewItem] = field(default_factory=list)
    sends: list[UpcomingSend] = field(default_factory=list)
    workshops: list[UpcomingWorkshop] = field(default_factory=list)
    background: list[BackgroundItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.reviews or self.sends or self.workshops or self.background)


@dataclass(frozen=True)
class ActiveCampaign:
    campaign_id: int
    name: str
    reached: int
    delivered: int
    unreviewed: int


@dataclass(frozen=True)
class ActiveFigures:
    campaigns: list[ActiveCampaign]
    delivered: int
    delivery_rate: float | None
    opt_outs: int


@dataclass(frozen=True)
class AdminOverview:
    users_by_role: dict[str, int]
    inactive_users: int
    recent_sign_ins: list[User]
    organization: Organization


# --- shared ----------------------------------------------------------------------------------


def report_figures(org: Organization) -> OrganizationFigures:
    """The reports page's organization figures for its default period (all time), from the
    same cache entry the reports page uses."""
    return cached_organization_figures(org, Period(None, None, org.timezone)).value


# --- coordinators ----------------------------------------------------------------------------


def replies_to_review(org_id: int) -> list[ReviewItem]:
    """Replies flagged for review and not yet reviewed, per campaign (most recent first)."""
    i = InboundMessage
    rows = db.session.execute(
        select(Campaign.id, Campaign.name, func.count(i.id), func.max(i.received_at))
        .join(Campaign, Campaign.id == i.campaign_id)
        .where(
            i.organization_id == org_id,
            Campaign.organization_id == org_id,
            i.needs_review.is_(True),
            i.reviewed_at.is_(None),
        )
        .group_by(Campaign.id, Campaign.name)
        .order_by(func.max(i.received_at).desc())
    ).all()
    return [ReviewItem(*row) for row in rows]


def upcoming_sends(org_id: int, *, now: datetime) -> list[UpcomingSend]:
    """Sends with messages due in the next 48 hours, with how many of their messages wait to
    go. Per send, its first due message is one index lookup (send, status, due time) and
    the count comes from its status counters: the page never counts outbox rows."""
    o = OutboxMessage

    def first_of(status):
        # ORDER BY … LIMIT 1 per status reads one index entry; min() over `status IN (…)`
        # reads every pending row of the send (100k for a national send: 7 ms each).
        return (
            select(o.due_at)
            .where(
                o.send_id == OutreachSend.id,
                o.status == status,
                o.due_at >= now,
                o.due_at < now + SEND_WINDOW,
            )
            .order_by(o.due_at)
            .limit(1)
            .correlate(OutreachSend)
            .scalar_subquery()
        )

    firsts = [first_of(status) for status in outbox.PENDING]
    # LEAST ignores NULLs on PostgreSQL; SQLite's min(a, b) would be NULL if either is.
    first_due = func.least(*firsts) if is_postgres() else _least_sqlite(firsts)
    rows = db.session.execute(
        select(OutreachSend.id, Campaign.name, CampaignMessage.label, first_due)
        .join(Campaign, Campaign.id == OutreachSend.campaign_id)
        .join(CampaignMessage, CampaignMessage.id == OutreachSend.message_id)
        .where(OutreachSend.organization_id == org_id, OutreachSend.status == "scheduled")
    ).all()
    soon = sorted((row for row in rows if row[3] is not None), key=lambda r: (r[3], r[0]))
    soon = soon[:LIST_LIMIT]
    counts = outbox.status_counts(org_id, send_ids=[row[0] for row in soon])
    return [
        UpcomingSend(
            send_id,
            name,
            label,
            due,
            sum(counts.get(send_id, {}).get(status, 0) for status in outbox.PENDING),
        )
        for send_id, name, label, due in soon
    ]


def _least_sqlite(values):
    """The smallest non-NULL value (NULL when all are), as PostgreSQL's LEAST."""
    result = values[0]
    for value in values[1:]:
        result = func.min(func.coalesce(result, value), func.coalesce(value, result))
    return result


def upcoming_workshops(org_id: int, *, now: datetime) -> list[UpcomingWorkshop]:
    rows = workshops_between(org_id, now, now + WORKSHOP_WINDOW)
    return [
        UpcomingWorkshop(workshop, int(confirmed), int(waitlisted))
        for workshop, confirmed, waitlisted in rows
        if workshop.status == "scheduled"
    ][:LIST_LIMIT]


def background_work(org_id: int, *, now: datetime) -> list[BackgroundItem]:
    """Contact imports and send fan-outs that are waiting, running, or failed lately, and
    imports previewed but not confirmed yet."""
    since = now - RECENT_FAILURES
    imports = db.session.scalars(
        select(ContactImport)
        .where(
            ContactImport.organization_id == org_id,
            or_(
                ContactImport.status.in_(("queued", "running")),
                (ContactImport.status.in_(("previewed", "failed")))
                & (ContactImport.created_at >= since),
            ),
        )
        .order_by(ContactImport.created_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    items = [
        BackgroundItem(
            "contact_import",
            imp.status,
            "contact_imports.preview" if imp.status == "previewed" else "contact_imports.result",
            {"import_id": imp.id},
            imp.filename,
            imp.created_at,
        )
        for imp in imports
    ]
    jobs = db.session.scalars(
        select(Job)
        .where(
            Job.organization_id == org_id,
            Job.kind.in_(BACKGROUND_KINDS),
            or_(
                Job.status.in_(("queued", "running")),
                (Job.status == "failed") & (Job.created_at >= since),
            ),
        )
        .order_by(Job.created_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    items += [
        BackgroundItem(job.kind, job.status, "jobs.detail", {"job_id": job.id}, "", job.created_at)
        for job in jobs
    ]
    return sorted(items, key=lambda item: item.at, reverse=True)[:LIST_LIMIT]


def attention(org_id: int, *, now: datetime) -> Attention:
    """Everything that needs a coordinator today."""
    return Attention(
        reviews=replies_to_review(org_id),
        sends=upcoming_sends(org_id, now=now),
        workshops=upcoming_workshops(org_id, now=now),
        background=background_work(org_id, now=now),
    )


def active_figures(org: Organization, reviews: list[ReviewItem]) -> ActiveFigures:
    """Headline figures of the organization's active campaigns (the reports' numbers)."""
    unreviewed = {item.campaign_id: item.count for item in reviews}
    active = [s for s in report_figures(org).campaigns if s.status == "active"]
    failed = sum(s.failed + s.undelivered for s in active)
    delivered = sum(s.delivered for s in active)
    return ActiveFigures(
        campaigns=[
            ActiveCampaign(
                s.campaign_id, s.name, s.reached, s.delivered, unreviewed.get(s.campaign_id, 0)
            )
            for s in active
        ],
        delivered=delivered,
        delivery_rate=ratio(delivered, delivered + failed),
        opt_outs=sum(s.opt_outs for s in active),
    )


# --- cases (issue 16) --------------------------------------------------------------------


@dataclass(frozen=True)
class CaseItem:
    case_id: int
    first_name: str | None
    campaign_name: str | None
    assignee: str | None  # the assigned user's e-mail
    age_minutes: int  # since the case needed a person (urgent: since it became urgent)
    due_at: datetime | None  # follow-ups: when the follow-up was due
    url: str  # the conversation thread


@dataclass
class CasesAttention:
    urgent: list[CaseItem] = field(default_factory=list)
    normal_open: int = 0
    follow_ups: list[CaseItem] = field(default_factory=list)
    inbox_url: str = "#"


def safe_url(endpoint: str, **values) -> str:
    """url_for, or "#" while the endpoint does not exist (blueprints built in parallel)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return "#"


def _case_items(org_id: int, cases: list[Case], now: datetime) -> list[CaseItem]:
    """The cases as the coordinator's dashboard lists them: first name, campaign, assignee."""
    if not cases:
        return []
    contacts = dict(
        db.session.execute(
            select(Contact.id, Contact.first_name).where(
                Contact.organization_id == org_id, Contact.id.in_({c.contact_id for c in cases})
            )
        ).all()
    )
    campaign_ids = {c.campaign_id for c in cases if c.campaign_id is not None}
    campaigns = dict(
        db.session.execute(
            select(Campaign.id, Campaign.name).where(
                Campaign.organization_id == org_id, Campaign.id.in_(campaign_ids)
            )
        ).all()
    )
    user_ids = {c.assigned_user_id for c in cases if c.assigned_user_id is not None}
    users = dict(
        db.session.execute(
            select(User.id, User.email).where(User.organization_id == org_id, User.id.in_(user_ids))
        ).all()
    )
    items = []
    for case in cases:
        start = case.urgent_since if case.priority == "urgent" and case.urgent_since else None
        start = start or case.opened_at
        items.append(
            CaseItem(
                case_id=case.id,
                first_name=contacts.get(case.contact_id),
                campaign_name=campaigns.get(case.campaign_id),
                assignee=users.get(case.assigned_user_id),
                age_minutes=max(0, int((now - start).total_seconds() // 60)),
                due_at=case.follow_up_at,
                url=safe_url("conversations.thread", contact_id=case.contact_id),
            )
        )
    return items


def cases_attention(org_id: int, *, now: datetime) -> CasesAttention:
    """Urgent cases nobody has acknowledged yet (oldest first), how many normal cases wait
    for a person, and the referrals whose follow-up is due."""
    urgent = db.session.scalars(
        select(Case)
        .where(Case.organization_id == org_id, Case.priority == "urgent", Case.state == "open")
        .order_by(func.coalesce(Case.urgent_since, Case.opened_at), Case.id)
    ).all()
    normal_open = db.session.scalar(
        select(func.count(Case.id)).where(
            Case.organization_id == org_id, Case.priority == "normal", Case.state == "open"
        )
    )
    due = referrals.follow_ups_due(org_id, now)[:LIST_LIMIT]
    return CasesAttention(
        urgent=_case_items(org_id, list(urgent), now),
        normal_open=int(normal_open or 0),
        follow_ups=_case_items(org_id, due, now),
        inbox_url=safe_url("conversations.inbox"),
    )


def conversation_funnel(org: Organization, threshold: int | None) -> dict | None:
    """The organization's conversation funnel (all time), as the reports page shows it to
    the same viewer: counts only, suppressed for `threshold`."""
    figures = report_figures(org).conversations
    if figures is None:
        return None
    return conversation_cells(figures, threshold).row(OVERALL)


# --- administrators --------------------------------------------------------------------------


def admin_overview(org: Organization) -> AdminOverview:
    """Users per role (active ones), the latest sign-ins and the organization's settings."""
    by_role = dict(
        db.session.execute(
            select(User.role, func.count())
            .where(User.organization_id == org.id, User.active.is_(True))
            .group_by(User.role)
        ).all()
    )
    inactive = (
        db.session.scalar(
            select(func.count()).where(User.organization_id == org.id, User.active.is_(False))
        )
        or 0
    )
    recent = db.session.scalars(
        select(User)
        .where(User.organization_id == org.id, User.last_login_at.is_not(None))
        .order_by(User.last_login_at.desc(), User.id)
        .limit(5)
    ).all()
    return AdminOverview(
        users_by_role={
            role: by_role.get(role, 0) for role in ("admin", "coordinator", "evaluator")
        },
        inactive_users=inactive,
        recent_sign_ins=list(recent),
        organization=org,
    )
