"""On-call rotation: coordinators mark themselves on call for time ranges; an urgent case
opened meanwhile is theirs, and they get the first alert if nobody acknowledges it."""

from datetime import datetime

from sqlalchemy import select

from app.auth.models import User
from app.conversations.models import OnCallShift
from app.extensions import db

ON_CALL_ROLES = ("coordinator", "admin")


def on_call(organization_id: int, now: datetime) -> list[User]:
    """Who is on call now, the shift that started first first (active coordinators only)."""
    return list(
        db.session.scalars(
            select(User)
            .join(OnCallShift, OnCallShift.user_id == User.id)
            .where(
                OnCallShift.organization_id == organization_id,
                OnCallShift.starts_at <= now,
                OnCallShift.ends_at > now,
                User.active.is_(True),
                User.role.in_(ON_CALL_ROLES),
            )
            .order_by(OnCallShift.starts_at, OnCallShift.id)
        ).unique()
    )


def assign_on_call(case, *, now: datetime) -> None:
    """A new case goes to whoever is on call (else it stays unassigned, for everyone)."""
    people = on_call(case.organization_id, now)
    if people and case.assigned_user_id is None:
        case.assigned_user_id = people[0].id


def add_shift(user: User, starts_at: datetime, ends_at: datetime, *, now: datetime):
    if ends_at <= starts_at:
        raise ValueError("ends_before_start")
    if ends_at <= now:
        raise ValueError("in_the_past")
    shift = OnCallShift(
        organization_id=user.organization_id,
        user_id=user.id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=now,
    )
    db.session.add(shift)
    return shift


def upcoming_shifts(organization_id: int, now: datetime) -> list[OnCallShift]:
    return list(
        db.session.scalars(
            select(OnCallShift)
            .where(OnCallShift.organization_id == organization_id, OnCallShift.ends_at > now)
            .order_by(OnCallShift.starts_at, OnCallShift.id)
        )
    )
