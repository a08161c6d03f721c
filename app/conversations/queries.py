"""What the conversation pages read: the organization's inbox (filters, search, order), the
needs-attention count of the navigation, and one contact's thread in time order."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.campaigns.models import Campaign
from app.contacts.models import Contact
from app.contacts.services import fold_sql, full_name_sql
from app.contacts.validation import fold
from app.conversations.models import ACTIVE_STATES, Case, CaseEvent, Conversation
from app.extensions import db
from app.outbox.models import InboundMessage, OutboxMessage

PER_PAGE = 50
FILTERS = ("attention", "urgent", "mine", "unassigned", "waiting", "closed", "all")
DEFAULT_FILTER = "attention"
PREVIEW_CHARS = 80
THREAD_LIMIT = 300  # the most recent messages each way a thread shows


@dataclass
class InboxRow:
    conversation: Conversation
    contact: Contact
    case: Case | None  # the active case, else the last (closed) one
    campaign_name: str | None
    assignee_email: str | None
    preview: str | None

    @property
    def urgent_open(self) -> bool:
        c = self.case
        return bool(c and c.priority == "urgent" and c.state == "open")

    def age_minutes(self, now: datetime) -> int | None:
        c = self.case
        if c is None:
            return None
        since = c.urgent_since or c.opened_at
        return max(0, int((now - since).total_seconds() // 60))


@dataclass
class InboxPage:
    rows: list[InboxRow]
    page: int
    has_next: bool


def _unacknowledged_case():
    return exists().where(
        Case.contact_id == Conversation.contact_id,
        Case.state.in_(ACTIVE_STATES),
        Case.acknowledged_at.is_(None),
    )


def attention_count(organization_id: int) -> int:
    """Conversations someone still has to look at (the navigation's count): one COUNT."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(
                Conversation.organization_id == organization_id,
                or_(Conversation.needs_attention.is_(True), _unacknowledged_case()),
            )
        )
        or 0
    )


def _filter_condition(name: str, active, last, user_id: int):
    conditions = {
        "attention": or_(
            Conversation.needs_attention.is_(True),
            and_(active.id.is_not(None), active.acknowledged_at.is_(None)),
        ),
        "urgent": active.priority == "urgent",
        "mine": active.assigned_user_id == user_id,
        "unassigned": and_(active.id.is_not(None), active.assigned_user_id.is_(None)),
        "waiting": active.state == "waiting",
        "closed": and_(active.id.is_(None), last.state == "closed"),
    }
    return conditions.get(name)


def _search_condition(q: str):
    q = (q or "").strip()
    if not q:
        return None
    digits = "".join(c for c in q if c.isdigit())
    if digits and all(c.isdigit() or c in "+-() ." for c in q):
        return Contact.phone.endswith(digits, autoescape=True)
    folded = fold(q)
    if not folded:
        return false()
    return fold_sql(full_name_sql()).contains(folded, autoescape=True)


def inbox(
    organization_id: int,
    *,
    user_id: int,
    filter_name: str = DEFAULT_FILTER,
    campaign_id: int | None = None,
    language: str | None = None,
    q: str | None = None,
    page: int = 1,
) -> InboxPage:
    """One page of the organization's conversations: urgent unacknowledged cases first
    (oldest first), then by the last message, newest first."""
    active = aliased(Case, name="active_case")
    last = aliased(Case, name="last_case")
    last_ids = (
        select(Case.contact_id, func.max(Case.id).label("case_id"))
        .where(Case.organization_id == organization_id)
        .group_by(Case.contact_id)
        .subquery()
    )
    preview = (
        select(func.substr(InboundMessage.body, 1, PREVIEW_CHARS + 1))
        .where(InboundMessage.contact_id == Conversation.contact_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    urgent_open = and_(active.priority == "urgent", active.state == "open")
    stmt = (
        select(Conversation, Contact, active, last, Campaign.name, User.email, preview)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(
            active,
            and_(active.contact_id == Conversation.contact_id, active.state.in_(ACTIVE_STATES)),
        )
        .outerjoin(last_ids, last_ids.c.contact_id == Conversation.contact_id)
        .outerjoin(last, last.id == last_ids.c.case_id)
        .outerjoin(Campaign, Campaign.id == Conversation.campaign_id)
        .outerjoin(User, User.id == active.assigned_user_id)
        .where(Conversation.organization_id == organization_id, Contact.erased_at.is_(None))
    )
    for condition in (
        _filter_condition(filter_name, active, last, user_id),
        Conversation.campaign_id == campaign_id if campaign_id else None,
        Contact.language == language if language else None,
        _search_condition(q),
    ):
        if condition is not None:
            stmt = stmt.where(condition)
    stmt = stmt.order_by(
        case((urgent_open, 0), else_=1),
        case((urgent_open, active.urgent_since), else_=None).asc(),
        Conversation.last_at.desc(),
        Conversation.id.desc(),
    )
    page = max(1, page)
    result = db.session.execute(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    rows = [
        InboxRow(
            conversation=conv,
            contact=contact,
            case=active_case or last_case,
            campaign_name=campaign_name,
            assignee_email=email,
            preview=_shorten(text),
        )
        for conv, contact, active_case, last_case, campaign_name, email, text in result[:PER_PAGE]
    ]
    return InboxPage(rows=rows, page=page, has_next=len(result) > PER_PAGE)


def _shorten(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


# --- one thread ---------------------------------------------------------------------------


@dataclass
class ThreadItem:
    moment: datetime
    direction: str  # "in" or "out"
    inbound: InboundMessage | None = None
    outbox: OutboxMessage | None = None

    @property
    def campaign_id(self) -> int | None:
        return (self.inbound or self.outbox).campaign_id


def thread(contact_id: int) -> list[ThreadItem]:
    """The contact's messages both ways, oldest first (the most recent THREAD_LIMIT each)."""
    inbound = db.session.scalars(
        select(InboundMessage)
        .where(InboundMessage.contact_id == contact_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(THREAD_LIMIT)
    )
    outbox = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.contact_id == contact_id)
        .order_by(OutboxMessage.id.desc())
        .limit(THREAD_LIMIT)
    )
    items = [ThreadItem(m.received_at, "in", inbound=m) for m in inbound]
    items += [ThreadItem(m.sent_at or m.due_at, "out", outbox=m) for m in outbox]
    return sorted(items, key=lambda item: (item.moment, item.direction == "out"))


def campaign_names(organization_id: int, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(Campaign.id, Campaign.name).where(
                Campaign.organization_id == organization_id, Campaign.id.in_(ids)
            )
        ).all()
    )


def current_case(contact_id: int) -> Case | None:
    """The contact's active case, else its last one."""
    return db.session.scalar(
        select(Case)
        .where(Case.contact_id == contact_id)
        .order_by(case((Case.state.in_(ACTIVE_STATES), 0), else_=1), Case.id.desc())
        .limit(1)
    )


def case_events(case_id: int) -> list[CaseEvent]:
    return list(
        db.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.at, CaseEvent.id)
        )
    )


def staff(organization_id: int) -> list[User]:
    """Active coordinators and administrators: who a case can be assigned to."""
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.organization_id == organization_id,
                User.active.is_(True),
                User.role.in_(("coordinator", "admin")),
            )
            .order_by(User.email)
        )
    )


def user_emails(organization_id: int, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(User.id, User.email).where(
                User.organization_id == organization_id, User.id.in_(ids)
            )
        ).all()
    )
