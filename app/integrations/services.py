"""Webhook endpoints: what admins do with them, and the listener that turns every
organization event into one delivery row per subscribed endpoint, in the event's own
transaction."""

import ipaddress
import secrets
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from app.db_dialect import insert_ignoring_duplicates
from app.errors import DomainError
from app.extensions import db
from app.integrations.models import WebhookDelivery, WebhookEndpoint
from app.organizations.events import EVENT_TYPES, OrgEvent
from app.security_log import security_event

SECRET_PREFIX = "whsec_"
MAX_URL = 500
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
DELIVERY_LOG_ROWS = 50  # shown on the endpoint's page


def local_allowed() -> bool:
    return bool(current_app.config.get("TESTING") or current_app.config.get("DEBUG"))


def check_url(url: str) -> str:
    """The URL, stripped, when deliveries may go to it: https:// with a host and no user
    or password; http:// only to this machine, and only in testing or debug mode.

    Raises:
        DomainError: (field "url") otherwise.
    """
    url = (url or "").strip()
    problem = _l("Enter a full https:// address, for example https://example.org/alcance.")
    if not url or len(url) > MAX_URL or any(c.isspace() for c in url):
        raise DomainError(problem, field="url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise DomainError(problem, field="url") from None
    if not host or parts.username or parts.password or parts.fragment:
        raise DomainError(problem, field="url")
    if parts.scheme == "https" and not _internal_address(host):
        return url
    if parts.scheme == "http" and host in LOCAL_HOSTS and local_allowed():
        return url
    raise DomainError(problem, field="url")


def _internal_address(host: str) -> bool:
    """An IP address of this machine or a private network: refused (an admin must not be
    able to make the worker call the installation's internal services). Host names are
    not resolved here."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.lower() in ("localhost",) or host.lower().endswith(".localhost")
    return not address.is_global


def _check_events(events) -> str:
    chosen = [e for e in EVENT_TYPES if e in set(events or ())]
    if not chosen or len(chosen) != len(set(events)):
        raise DomainError(_l("Choose at least one event from the list."), field="events")
    return " ".join(chosen)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def create_endpoint(
    org_id: int,
    *,
    url: str,
    events,
    description: str | None,
    own_system: bool,
    actor_id: int | None,
    now: datetime,
) -> WebhookEndpoint:
    """Register an endpoint (enabled, with a new secret the caller shows once)."""
    endpoint = WebhookEndpoint(
        organization_id=org_id,
        url=check_url(url),
        events=_check_events(events),
        description=" ".join((description or "").split())[:120] or None,
        own_system=bool(own_system),
        secret=new_secret(),
        enabled=True,
        consecutive_failures=0,
        created_by_id=actor_id,
        created_at=now,
    )
    db.session.add(endpoint)
    db.session.commit()
    security_event(
        "webhook_endpoint_created",
        endpoint_id=endpoint.id,
        org_id=org_id,
        user_id=actor_id,
        events=endpoint.events,
        own_system=endpoint.own_system,
    )
    return endpoint


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, *, actor_id, now: datetime) -> None:
    """Enable or disable (by an admin). Enabling starts the failure count afresh; what is
    still pending and under 24 hours old goes out again."""
    if endpoint.enabled == enabled:
        raise DomainError(
            _l("This endpoint is already enabled.")
            if enabled
            else _l("This endpoint is already disabled.")
        )
    endpoint.enabled = enabled
    endpoint.notice_pending = False
    if enabled:
        endpoint.disabled_reason = endpoint.disabled_at = None
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
    else:
        endpoint.disabled_reason, endpoint.disabled_at = "admin", now
    db.session.commit()
    security_event(
        "webhook_endpoint_enabled" if enabled else "webhook_endpoint_disabled",
        endpoint_id=endpoint.id,
        org_id=endpoint.organization_id,
        user_id=actor_id,
    )


def rotate_secret(endpoint: WebhookEndpoint, *, actor_id) -> str:
    """A new secret (returned once); deliveries are signed with it from now on."""
    endpoint.secret = new_secret()
    db.session.commit()
    security_event(
        "webhook_secret_rotated",
        endpoint_id=endpoint.id,
        org_id=endpoint.organization_id,
        user_id=actor_id,
    )
    return endpoint.secret


def delete_endpoint(endpoint: WebhookEndpoint, *, actor_id) -> None:
    """Delete the endpoint and its delivery log (what is pending never goes)."""
    endpoint_id, org_id = endpoint.id, endpoint.organization_id
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    db.session.delete(endpoint)
    db.session.commit()
    security_event(
        "webhook_endpoint_deleted", endpoint_id=endpoint_id, org_id=org_id, user_id=actor_id
    )


def dismiss_notice(endpoint: WebhookEndpoint) -> None:
    endpoint.notice_pending = False
    db.session.commit()


def org_endpoints(org_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == org_id)
            .order_by(WebhookEndpoint.id.desc())
        )
    )


def pending_counts(org_id: int) -> dict[int, int]:
    rows = db.session.execute(
        select(WebhookDelivery.endpoint_id, func.count())
        .where(WebhookDelivery.organization_id == org_id, WebhookDelivery.status == "pending")
        .group_by(WebhookDelivery.endpoint_id)
    )
    return {endpoint_id: count for endpoint_id, count in rows}


def delivery_log(endpoint: WebhookEndpoint, *, limit: int = DELIVERY_LOG_ROWS) -> list:
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.organization_id == endpoint.organization_id,
            )
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def disabled_notices(org_id: int) -> list:
    """The settings page's notices: endpoints disabled for failing, not yet acknowledged."""
    urls = db.session.scalars(
        select(WebhookEndpoint.url).where(
            WebhookEndpoint.organization_id == org_id, WebhookEndpoint.notice_pending.is_(True)
        )
    )
    return [
        _l(
            "The webhook endpoint %(url)s kept failing and was disabled: nothing is sent to it"
            " until an administrator enables it again.",
            url=url,
        )
        for url in urls
    ]


# --- The listener: one delivery per subscribed endpoint, in the event's transaction ------


def subscribed(organization_id: int, event_type: str) -> bool:
    """An enabled endpoint of the organization chose this event type."""
    return any(
        event_type in types.split()
        for types in db.session.scalars(
            select(WebhookEndpoint.events).where(
                WebhookEndpoint.organization_id == organization_id,
                WebhookEndpoint.enabled.is_(True),
            )
        )
    )


def record_deliveries(events: list[OrgEvent]) -> int:
    """Add a pending delivery of each event for every enabled endpoint of its organization
    that chose its type (one query for the endpoints, one INSERT). A repeated event key
    adds nothing (unique per endpoint)."""
    subscribed: dict[tuple[int, str], list[int]] = {}
    for endpoint_id, org_id, types in db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.organization_id, WebhookEndpoint.events).where(
            WebhookEndpoint.organization_id.in_({e.organization_id for e in events}),
            WebhookEndpoint.enabled.is_(True),
        )
    ):
        for event_type in types.split():
            subscribed.setdefault((org_id, event_type), []).append(endpoint_id)
    rows = [
        _row(event, endpoint_id)
        for event in events
        for endpoint_id in subscribed.get((event.organization_id, event.type), ())
    ]
    if not rows:
        return 0
    for start in range(0, len(rows), 500):
        statement = insert_ignoring_duplicates(WebhookDelivery).values(rows[start : start + 500])
        db.session.execute(
            statement.on_conflict_do_nothing(index_elements=["endpoint_id", "event_key"])
        )
    return len(rows)


def _row(event: OrgEvent, endpoint_id: int) -> dict:
    uid = str(uuid.uuid4())
    return dict(
        organization_id=event.organization_id,
        uid=uid,
        endpoint_id=endpoint_id,
        event_type=event.type,
        event_key=event.key[:160],
        payload={
            "id": uid,
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat(),
            "organization_id": event.organization_id,
            "data": event.data,
        },
        contact_id=event.contact_id,
        status="pending",
        occurred_at=event.occurred_at,
        created_at=event.occurred_at,
        next_attempt_at=event.occurred_at,
        attempts=0,
    )
