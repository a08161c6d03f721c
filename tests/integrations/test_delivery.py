"""The worker's side: signed POSTs to a real local receiver, retries with backoff on an
injected clock (no sleeping), giving up after 24 hours, disabling an endpoint that keeps
failing, leases after a crash, and two workers on PostgreSQL never sending one row twice."""

import hashlib
import hmac
import json
import logging
import threading
from datetime import timedelta

from sqlalchemy import select, update

from app.contacts.services import opt_out_contact
from app.extensions import db
from app.integrations import delivery
from app.integrations.delivery import deliver_due
from app.integrations.models import WebhookDelivery, WebhookEndpoint
from app.organizations.events import emit
from tests.factories import make_contact
from tests.support import NOW

TOLERANCE = 300  # seconds a receiver accepts between the signature's time and its clock


def verify(secret: str, header: str, body: str, *, now: int) -> bool:
    """A receiver's check, written from the documentation (not the app's code)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, received = int(parts["t"]), parts["v1"]
    if abs(now - timestamp) > TOLERANCE:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


def fresh(delivery_id) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)


def one_event(org, n=1, *, at=NOW):
    emit("case.opened", organization_id=org.id, key=str(n), occurred_at=at, data={"case_id": n})
    db.session.commit()
    return db.session.scalar(
        select(WebhookDelivery.id).where(WebhookDelivery.event_key == f"case.opened:{n}")
    )


def test_delivery_is_signed_and_marked_delivered(app, make_org, make_endpoint, receiver):
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    delivery_id = one_event(org)
    assert deliver_due(now=NOW) == 1
    (request,) = receiver.requests
    row = fresh(delivery_id)
    assert row.status == "delivered" and row.attempts == 1 and row.last_status_code == 200
    assert request.headers["X-Alcance-Event"] == "case.opened"
    assert request.headers["X-Alcance-Delivery"] == row.uid
    assert request.headers["Content-Type"] == "application/json"
    signature = request.headers["X-Alcance-Signature"]
    assert verify(endpoint.secret, signature, request.body, now=int(NOW.timestamp()))
    assert not verify("whsec_other", signature, request.body, now=int(NOW.timestamp()))
    assert not verify(endpoint.secret, signature, request.body + " ", now=int(NOW.timestamp()))
    body = json.loads(request.body)
    assert body["id"] == row.uid and body["type"] == "case.opened"
    assert body["data"] == {"case_id": 1}
    assert deliver_due(now=NOW + timedelta(minutes=5)) == 0  # nothing twice
    assert len(receiver.requests) == 1


def test_rotated_secret_signs_from_then_on(app, make_org, make_endpoint, receiver):
    from app.integrations.services import rotate_secret

    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    old = endpoint.secret
    new = rotate_secret(endpoint, actor_id=None)
    assert new != old
    one_event(org)
    deliver_due(now=NOW)
    (request,) = receiver.requests
    header = request.headers["X-Alcance-Signature"]
    assert verify(new, header, request.body, now=int(NOW.timestamp()))
    assert not verify(old, header, request.body, now=int(NOW.timestamp()))


def test_phone_and_name_only_for_the_organizations_own_system(
    app, make_org, make_endpoint, receiver
):
    org = make_org()
    partner = make_endpoint(org, receiver.url, ["contact.opted_out"])
    own = make_endpoint(org, receiver.url, ["contact.opted_out"], own_system=True)
    contact = make_contact(org, first_name="Ana", last_name="Pérez")
    opt_out_contact(contact, now=NOW)
    assert deliver_due(now=NOW) == 2
    bodies = {r.headers["X-Alcance-Delivery"]: r.body for r in receiver.requests}
    by_endpoint = {
        d.endpoint_id: bodies[d.uid] for d in db.session.scalars(select(WebhookDelivery))
    }
    assert contact.phone not in by_endpoint[partner.id] and "Ana" not in by_endpoint[partner.id]
    assert json.loads(by_endpoint[partner.id])["data"] == {
        "contact_id": contact.id,
        "channel": "coordinator",
    }
    mine = json.loads(by_endpoint[own.id])["data"]["contact"]
    assert mine == {
        "id": contact.id,
        "phone": contact.phone,
        "first_name": "Ana",
        "last_name": "Pérez",
    }
    # The stored payload (and so the delivery log) never holds them.
    for row in db.session.scalars(select(WebhookDelivery)):
        assert contact.phone not in json.dumps(row.payload)


def test_retries_with_backoff_then_delivered(app, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url)
    delivery_id = one_event(org)
    receiver.codes = [500, 503, 404]
    now = NOW
    assert deliver_due(now=now) == 1
    row = fresh(delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    assert row.last_error == "HTTP 500" and row.next_attempt_at == now + timedelta(minutes=1)
    assert deliver_due(now=now + timedelta(seconds=59)) == 0  # not due yet
    waits = []
    for _ in range(3):
        now = fresh(delivery_id).next_attempt_at
        waits.append(now - fresh(delivery_id).last_attempt_at)
        assert deliver_due(now=now) == 1
    assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15)]
    row = fresh(delivery_id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (
        "delivered",
        4,
        200,
        None,
    )
    assert len({r.headers["X-Alcance-Delivery"] for r in receiver.requests}) == 1
    assert len(receiver.requests) == 4
    endpoint = db.session.get(WebhookEndpoint, row.endpoint_id)
    assert endpoint.consecutive_failures == 0 and endpoint.enabled


def test_unreachable_endpoint_is_retried_until_24_hours_then_failed(
    app, make_org, make_endpoint, receiver
):
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    endpoint.url = "http://127.0.0.1:9/closed"  # nothing listens on the discard port
    db.session.commit()
    delivery_id = one_event(org)
    now, attempts = NOW, 0
    while fresh(delivery_id).status == "pending":
        assert deliver_due(now=now) == 1
        attempts += 1
        now = fresh(delivery_id).next_attempt_at
    row = fresh(delivery_id)
    assert row.status == "failed" and row.last_error == "ConnectionError"
    assert row.last_status_code is None
    # 1, 5, 15 min, 1 h, 3 h, then every 6 h, and a last attempt at 24 h.
    assert attempts == 10
    assert row.last_attempt_at == NOW + timedelta(hours=24)


def test_endpoint_failing_20_times_in_a_row_is_disabled_with_a_notice(
    app, make_org, make_user, make_endpoint, receiver, login, client, caplog
):
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    receiver.codes = [500] * 25
    for n in range(20):
        one_event(org, n)
    with caplog.at_level(logging.INFO, logger="alcance.security"):
        assert deliver_due(now=NOW) == 20
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"
    assert endpoint.notice_pending and endpoint.consecutive_failures == 20
    assert "security_event=webhook_endpoint_auto_disabled" in caplog.text
    # Nothing more goes to it (new events add nothing either).
    one_event(org, 99)
    assert deliver_due(now=NOW + timedelta(hours=1)) == 0
    assert len(receiver.requests) == 20
    login(make_user(org, role="admin", language="en"))
    page = client.get("/organization/settings").get_data(as_text=True)
    assert "kept failing and was disabled" in page and endpoint.url in page


def test_endpoint_failing_for_24_hours_is_disabled(app, make_org, make_endpoint, receiver):
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    receiver.codes = [500] * 3
    one_event(org, 1)
    deliver_due(now=NOW)
    one_event(org, 2, at=NOW + timedelta(hours=24))
    deliver_due(now=NOW + timedelta(hours=24))
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"
    assert endpoint.consecutive_failures < delivery.DISABLE_AFTER_FAILURES


def test_a_crash_mid_send_is_retried_after_the_lease_with_the_same_id(
    app, make_org, make_endpoint, receiver
):
    org = make_org()
    make_endpoint(org, receiver.url)
    delivery_id = one_event(org)
    assert delivery._claim(NOW) == delivery_id  # claimed, then the worker died
    assert deliver_due(now=NOW + timedelta(seconds=30)) == 0  # still leased
    assert deliver_due(now=NOW + delivery.LEASE) == 1
    row = fresh(delivery_id)
    assert row.status == "delivered" and row.attempts == 2
    assert receiver.requests[0].headers["X-Alcance-Delivery"] == row.uid


def test_pending_for_a_disabled_endpoint_expire_after_24_hours(
    app, make_org, make_endpoint, receiver
):
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    delivery_id = one_event(org)
    db.session.execute(update(WebhookEndpoint).values(enabled=False))
    db.session.commit()
    assert deliver_due(now=NOW + timedelta(hours=23)) == 0
    assert fresh(delivery_id).status == "pending"
    deliver_due(now=NOW + timedelta(hours=24, seconds=1))
    assert fresh(delivery_id).status == "failed" and fresh(delivery_id).last_error == "expired"
    assert receiver.requests == [] and endpoint.id


def test_two_workers_never_send_the_same_row(app, postgres_only, make_org, make_endpoint, receiver):
    org = make_org()
    make_endpoint(org, receiver.url)
    ids = {one_event(org, n) for n in range(30)}
    barrier = threading.Barrier(2)
    counts = []

    def worker():
        with app.app_context():
            barrier.wait()
            counts.append(deliver_due(now=NOW + timedelta(seconds=1), budget_seconds=60))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [r.headers["X-Alcance-Delivery"] for r in receiver.requests]
    assert len(sent) == len(set(sent)) == 30
    assert sum(counts) == 30
    db.session.expire_all()
    rows = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}


def test_the_log_keeps_30_days_and_never_drops_pending(app, make_org, make_endpoint, receiver):
    from app.integrations.delivery import purge_old_deliveries

    org = make_org()
    make_endpoint(org, receiver.url)
    sent = one_event(org, 1)
    deliver_due(now=NOW)
    pending = one_event(org, 2)
    db.session.execute(update(WebhookEndpoint).values(enabled=False))
    db.session.commit()
    assert purge_old_deliveries(NOW + timedelta(days=29)) == 0
    later = NOW + timedelta(days=31)
    db.session.execute(  # as if the expiry never ran
        update(WebhookDelivery).where(WebhookDelivery.id == pending).values(status="pending")
    )
    db.session.commit()
    assert purge_old_deliveries(later) == 1
    assert fresh(sent) is None and fresh(pending) is not None


def test_a_name_that_resolves_to_a_private_address_is_not_called(
    app, make_org, make_endpoint, receiver, monkeypatch
):
    """The form refuses private IP addresses; a host name is checked when the worker
    sends, against what it resolves to then (a name can be repointed after it was saved)."""
    import socket

    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    endpoint.url = "https://hooks.example.org/alcance"
    db.session.commit()
    resolved = []

    def fake_getaddrinfo(host, *args, **kwargs):
        resolved.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]

    monkeypatch.setattr(delivery.socket, "getaddrinfo", fake_getaddrinfo)
    posted = []
    monkeypatch.setattr(delivery, "public_session", lambda *a: posted.append(a))
    delivery_id = one_event(org)
    assert deliver_due(now=NOW) == 1
    row = fresh(delivery_id)
    assert resolved == ["hooks.example.org"] and posted == []
    assert row.status == "pending" and row.last_error == "private address"
    assert row.last_status_code is None and row.next_attempt_at > NOW


def test_a_name_repointed_inside_between_the_check_and_the_connection_is_not_posted_to(
    app, make_org, make_endpoint, receiver, monkeypatch
):
    """DNS rebinding: the name resolves to a public address for the worker's check and to
    127.0.0.1 for the connection a moment later. The connection's own peer address is
    checked, so nothing reaches the local receiver."""
    import socket

    org = make_org()
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint = make_endpoint(org, receiver.url)
    endpoint.url = f"http://hooks.example.org:{port}/hook"
    db.session.commit()
    real_getaddrinfo = socket.getaddrinfo
    answers = []

    def rebinding_dns(host, *args, **kwargs):
        if host != "hooks.example.org":
            return real_getaddrinfo(host, *args, **kwargs)
        address = "93.184.216.34" if not answers else "127.0.0.1"  # public first, then inside
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    delivery_id = one_event(org)
    assert deliver_due(now=NOW) == 1
    row = fresh(delivery_id)
    assert answers[:2] == ["93.184.216.34", "127.0.0.1"]  # checked, then connected inside
    assert receiver.requests == []
    assert row.status == "pending" and row.last_error == "private address"
