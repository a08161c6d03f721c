"""What the health check and the admin status page report about the app's dependencies."""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.outbox import api as outbox
from app.outbox.models import OutboxMessage
from app.ratelimit import LimitStatus, rate_limits
from app.webhooks.signature import Rejections, rejections

QUEUE_STATUSES = ("scheduled", "claimed", "unknown")


def health() -> tuple[dict, int]:
    """The /healthz answer and its HTTP status.

    503 only when the database does not answer: without it nothing works. An unreachable
    Redis is "degraded" with 200, so a load balancer keeps the web process in rotation:
    sign-in still works on per-process limits, and workers hold sends until Redis answers."""
    body, code = {"status": "ok", "database": "ok"}, 200
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        body, code = {"status": "error", "database": "unavailable"}, 503
    body["redis"] = rate_limits.redis_state()
    if body["redis"] == "unreachable" and code == 200:
        body["status"] = "degraded"
    return body, code


@dataclass(frozen=True)
class SystemStatus:
    public_base_url: str
    inbound_url: str
    status_url: str
    redis: str  # "ok", "unreachable" or "not_configured"
    login_limits: LimitStatus
    rejections: Rejections
    queue: dict  # this organization's outbox rows not yet final, by status
    due: int  # of which scheduled and already due (the backlog)


def system_status(organization_id: int, *, now: datetime) -> SystemStatus:
    """Installation-wide settings and dependencies, plus the organization's own queue (other
    organizations' volumes are not shown)."""
    base = current_app.config["PUBLIC_BASE_URL"]
    org_rows = OutboxMessage.organization_id == organization_id
    counts = outbox.status_counts(organization_id)  # the counters, not a scan of the rows
    queue = {status: counts.get(status, 0) for status in QUEUE_STATUSES}
    due = (
        db.session.scalar(
            select(func.count()).where(
                org_rows, OutboxMessage.status == "scheduled", OutboxMessage.due_at <= now
            )
        )
        or 0
    )
    return SystemStatus(
        public_base_url=base,
        inbound_url=base + "/webhooks/twilio/inbound",
        status_url=base + "/webhooks/twilio/status",
        redis=rate_limits.redis_state(),
        login_limits=rate_limits.status(),
        rejections=rejections(),
        queue=queue,
        due=due,
    )
