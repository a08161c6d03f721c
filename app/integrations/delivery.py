"""The worker's side of the webhook outbox: claim a due delivery, POST it signed, record
the outcome; retry with backoff for up to 24 hours after the event; disable an endpoint
that keeps failing.

Exactly once, as far as a network allows: a claimed row carries a lease (PostgreSQL:
claimed with FOR UPDATE SKIP LOCKED, so two workers never take the same row; SQLite: one
claimer at a time). A worker that dies between the POST and recording it leaves the row
to be sent again after the lease; the receiver drops the repeat by its X-Alcance-Delivery
id, which every attempt of a delivery shares.
"""

import hashlib
import hmac
import json
import socket
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from sqlalchemy import and_, delete, func, or_, select, update

from app.contacts.models import Contact
from app.db_dialect import claimable
from app.extensions import db
from app.integrations.models import WebhookDelivery, WebhookEndpoint
from app.integrations.public_http import is_public, private_peer, public_session
from app.integrations.services import LOCAL_HOSTS, local_allowed
from app.security_log import security_event

# Wait before attempt 2, 3, 4…; the last step repeats until 24 hours after the event.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
)
GIVE_UP_AFTER = timedelta(hours=24)
LEASE = timedelta(seconds=60)  # longer than one POST can take
TIMEOUT = (5, 10)  # seconds: connect, read
# An endpoint is disabled after this many failed attempts in a row, or failing this long.
DISABLE_AFTER_FAILURES = 20
DISABLE_AFTER = timedelta(hours=24)
ERROR_CHARS = 200
USER_AGENT = "Alcance-Webhooks/1"


def sign(secret: str, timestamp: int, body: str) -> str:
    """The X-Alcance-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def next_attempt(attempts: int, *, occurred_at: datetime, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None: give up."""
    deadline = occurred_at + GIVE_UP_AFTER
    if now >= deadline:
        return None
    return min(now + BACKOFF[min(attempts, len(BACKOFF)) - 1], deadline)


def body_of(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> str:
    """The JSON body: the stored (de-identified) payload; for the organization's own system,
    plus the contact's phone and name as they are now (none once erased)."""
    payload = json.loads(json.dumps(delivery.payload))
    if endpoint.own_system and delivery.contact_id is not None:
        contact = db.session.get(Contact, delivery.contact_id)
        if contact is not None:
            payload["data"]["contact"] = {
                "id": contact.id,
                "phone": contact.phone,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
            }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _claim(now: datetime) -> int | None:
    """Take the next due delivery of an enabled endpoint: lease it, count the attempt."""
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
            WebhookDelivery.endpoint_id.in_(
                select(WebhookEndpoint.id).where(WebhookEndpoint.enabled.is_(True))
            ),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
    )
    delivery_id = db.session.scalar(claimable(due))
    if delivery_id is not None:
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                lease_until=now + LEASE,
                attempts=WebhookDelivery.attempts + 1,
                last_attempt_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return delivery_id


def _resolves_inside(url: str) -> bool:
    """The endpoint's host resolves (now) to an address of this machine or a private
    network. The form refuses such IP addresses; a host name could point inside, or be
    repointed there after it was saved. (http://localhost in testing and debug passes, as
    the form allows it.)"""
    host = urlsplit(url).hostname or ""
    if host in LOCAL_HOSTS and local_allowed():
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False  # requests fails on its own, with its own error
    return any(not is_public(info[4][0]) for info in infos)


def _post(url: str, body: str, headers: dict) -> tuple[int | None, str | None]:
    """(status code, error): the code when the endpoint answered, else a short error.
    The response body is never read into the log (it may hold personal data)."""
    if _resolves_inside(url):
        return None, "private address"
    # The check above gives the clear error; the session checks the address the connection
    # really reached (a host name can be repointed in between: `public_http`).
    session = public_session(LOCAL_HOSTS if local_allowed() else ())
    try:
        response = session.post(
            url, data=body.encode(), headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as error:
        return None, "private address" if private_peer(error) else type(error).__name__
    finally:
        session.close()
    response.close()
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _send(delivery_id: int, now: datetime) -> bool:
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    body = body_of(delivery, endpoint)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Alcance-Event": delivery.event_type,
        "X-Alcance-Delivery": delivery.uid,
        "X-Alcance-Signature": sign(endpoint.secret, int(now.timestamp()), body),
    }
    url, attempts, occurred_at = endpoint.url, delivery.attempts, delivery.occurred_at
    db.session.rollback()  # no transaction held open during the network call
    code, error = _post(url, body, headers)
    mine = and_(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
    if error is None:
        db.session.execute(
            update(WebhookDelivery)
            .where(mine)
            .values(
                status="delivered",
                delivered_at=now,
                lease_until=None,
                last_status_code=code,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id)
            .values(consecutive_failures=0, failing_since=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return True
    retry_at = next_attempt(attempts, occurred_at=occurred_at, now=now)
    db.session.execute(
        update(WebhookDelivery)
        .where(mine)
        .values(
            status="pending" if retry_at else "failed",
            next_attempt_at=retry_at or now,
            lease_until=None,
            last_status_code=code,
            last_error=error[:ERROR_CHARS],
        )
        .execution_options(synchronize_session=False)
    )
    _note_failure(endpoint.id, endpoint.organization_id, now=now)
    db.session.commit()
    return False


def _note_failure(endpoint_id: int, org_id: int, *, now: datetime) -> None:
    """Count the failure; disable the endpoint when it keeps failing (admins are told on
    the settings page and in the security log)."""
    db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(
            consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
            failing_since=func.coalesce(WebhookEndpoint.failing_since, now),
        )
        .execution_options(synchronize_session=False)
    )
    disabled = db.session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.enabled.is_(True),
            or_(
                WebhookEndpoint.consecutive_failures >= DISABLE_AFTER_FAILURES,
                WebhookEndpoint.failing_since <= now - DISABLE_AFTER,
            ),
        )
        .values(enabled=False, disabled_reason="failing", disabled_at=now, notice_pending=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    if disabled:
        security_event("webhook_endpoint_auto_disabled", endpoint_id=endpoint_id, org_id=org_id)


def expire_old(now: datetime) -> int:
    """Pending deliveries more than 24 hours after their event (e.g. while their endpoint
    was disabled) fail without being sent."""
    count = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.occurred_at < now - GIVE_UP_AFTER,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
        )
        .values(
            status="failed",
            lease_until=None,
            last_error="expired",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count


KEEP_LOG = timedelta(days=30)


def purge_old_deliveries(now: datetime) -> int:
    """The delivery log keeps 30 days of delivered and failed rows."""
    count = db.session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status != "pending", WebhookDelivery.occurred_at < now - KEEP_LOG
        )
    ).rowcount
    db.session.commit()
    return count


def deliver_due(
    *, now: datetime, limit: int = 50, budget_seconds: float = 20.0, clock=time.monotonic
) -> int:
    """One pass of the worker: send due deliveries one at a time, at most `limit` or for
    about `budget_seconds` (a slow endpoint must not hold up the SMS worker). Returns how
    many were attempted."""
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now
    )
    if db.session.scalar(due.limit(1)) is None:  # the usual pass: no lock taken
        db.session.rollback()
        return 0
    expire_old(now)
    started, attempted = clock(), 0
    while attempted < limit and clock() - started < budget_seconds:
        delivery_id = _claim(now)
        if delivery_id is None:
            break
        _send(delivery_id, now)
        attempted += 1
    return attempted
