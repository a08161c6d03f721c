"""Escalation of urgent cases nobody acknowledged: after the organization's setting (default
15 minutes) the on-call coordinator gets an SMS on their own phone; after as long again,
every coordinator. Run by the worker's maintenance (app.schedule) with its clock.

The alert says only that an urgent case waits and where to look: never the young person's
name, phone or words (it goes to a staff phone, which may be shared or seen by others)."""

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from app.auth.models import User
from app.conversations.models import Case, CaseEvent
from app.conversations.oncall import on_call
from app.conversations.queries import staff
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.text import sms_text

logger = logging.getLogger("alcance.conversations")
LAST_LEVEL = 2


def _overdue(now: datetime):
    return db.session.scalars(
        select(Case)
        .where(
            Case.priority == "urgent",
            Case.state == "open",
            Case.acknowledged_at.is_(None),
            Case.escalation_level < LAST_LEVEL,
        )
        .order_by(Case.id)
        .with_for_update(skip_locked=True)
    ).all()


def _alert(case: Case, users: list[User], org: Organization, *, minutes: int, now: datetime):
    sent = 0
    for user in users:
        if not user.staff_phone:
            continue
        language = user.preferred_language or org.default_language
        outbox.enqueue_staff_alert(
            organization_id=org.id,
            user_id=user.id,
            language=language,
            body=sms_text("staff_alert", language, org=org.name, minutes=minutes, case=case.id),
            now=now,
        )
        sent += 1
    db.session.add(
        CaseEvent(
            organization_id=case.organization_id,
            case_id=case.id,
            action="alerted",
            detail=f"level {case.escalation_level}: {sent}",
            at=now,
        )
    )


def escalate(now: datetime) -> int:
    """Alert for every overdue urgent case; returns how many alerts were raised."""
    raised = 0
    for case in _overdue(now):
        org = db.session.get(Organization, case.organization_id)
        wait = timedelta(minutes=org.case_ack_minutes)
        since = case.escalated_at if case.escalation_level else case.urgent_since
        if since is None or now - since < wait:
            continue
        minutes = int((now - case.urgent_since).total_seconds() // 60)
        people = on_call(org.id, now) if case.escalation_level == 0 else []
        # Nobody on call (or nobody with a phone): straight to every coordinator.
        if not any(u.staff_phone for u in people):
            people, case.escalation_level = staff(org.id), LAST_LEVEL - 1
        case.escalation_level += 1
        case.escalated_at = now
        _alert(case, people, org, minutes=minutes, now=now)
        raised += 1
    if raised:
        logger.warning("urgent cases escalated: %d", raised)
    db.session.commit()
    return raised
