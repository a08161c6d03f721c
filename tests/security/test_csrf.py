"""CSRF: every state-changing route refuses a request without a valid token (400, nothing
changes), for a signed-in user whose role allows the action; Twilio's webhooks (the only
exempt routes) refuse a missing or wrong X-Twilio-Signature (403) and accept a correct one."""

import pytest
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.contacts.models import Contact
from app.extensions import db
from app.main.routes import render_error
from app.outbox.models import InboundMessage, OutboxMessage
from tests.security.helpers import TWILIO_TOKEN, build_url, changed_tables, fingerprint, sign_in
from tests.security.routes import ROUTES, STATE_CHANGING, least_privileged, route_methods
from tests.support import csrf_token

WEBHOOKS = {"webhooks.inbound", "webhooks.status"}


def _client_for(world, permission):
    role = least_privileged(permission)
    if role == "anonymous":
        client = world.app.test_client()
        client.get("/login")
        return role, client
    return role, sign_in(world.app, world.users[role])


def test_state_changing_routes_require_a_csrf_token(world, capsys):
    app = world.app
    failures, checked, routes = [], 0, set()
    refusals = []  # CSRFError descriptions: the 400s below must be CSRF's, not a form's

    def record(error):
        refusals.append(error.description)
        return render_error(error)

    app.register_error_handler(CSRFError, record)
    # A token that is valid, but for another session (another browser of the same user).
    foreign_token = csrf_token(sign_in(app, world.users["admin"]))
    baseline = fingerprint()
    for rule, method in route_methods(app):
        if method not in STATE_CHANGING or rule.endpoint in WEBHOOKS:
            continue
        spec = ROUTES[rule.endpoint]
        if spec.permission == "api":  # API keys, no cookies: nothing to forge
            continue
        role, client = _client_for(world, spec.permission)
        url = build_url(app, rule.endpoint, spec.urls(world.a)[0])
        data = spec.data(world.a) if spec.data else {}
        if rule.endpoint == "auth.login":
            data = {
                "email": world.users["admin"].email,
                "password": "Prevencion-Juvenil-Tijuana-26",
            }
        for case, token in (
            ("missing", None),
            ("wrong", "not-a-token"),
            ("another session's", foreign_token),
            ("empty", ""),
        ):
            sent = dict(data)
            if token is not None:
                sent["csrf_token"] = token
            refusals.clear()
            response = client.open(url, method=method, data=sent)
            checked += 1
            routes.add((rule.endpoint, method))
            what = f"{method} {url} [{rule.endpoint}] as {role}, {case} token"
            if response.status_code != 400 or not refusals:
                failures.append(
                    f"{what}: got {response.status_code} {refusals}, expected a "
                    "400 from the CSRF check"
                )
            after = fingerprint()
            if changed_tables(baseline, after):
                failures.append(f"{what}: changed {changed_tables(baseline, after)}")
                baseline = after
        # The same request with the session's own token is not refused by CSRF: the
        # refusals above were the token's doing.
        if rule.endpoint not in ("auth.logout",):
            refusals.clear()
            response = client.open(
                url, method=method, data={**data, "csrf_token": csrf_token(client)}
            )
            if refusals or response.status_code >= 500:
                failures.append(f"{method} {url}: refused even with a valid token {refusals}")
            baseline = fingerprint()
    with capsys.disabled():
        print(
            f"\n[csrf] {len(routes)} state-changing route×method pairs × 4 bad tokens: "
            f"{checked} refused requests (webhooks checked separately)"
        )
    assert not failures, "\n".join(failures)


def test_only_the_webhooks_and_the_api_are_exempt(app):
    """Twilio signs its webhooks; /api/v1 takes API keys in a header, never a cookie."""
    from app.api.routes import API_BLUEPRINTS
    from app.extensions import csrf

    assert app.config.get("WTF_CSRF_ENABLED", True) and app.config.get(
        "WTF_CSRF_CHECK_DEFAULT", True
    )
    assert not csrf._exempt_views
    api = {bp.name for bp in API_BLUEPRINTS}
    assert {bp.name for bp in csrf._exempt_blueprints} == {"webhooks", *api}
    assert {e for e in app.view_functions if e.startswith("webhooks.")} == WEBHOOKS


# --- Twilio webhooks -------------------------------------------------------------------------


def _sign(url, params, token=TWILIO_TOKEN):
    return RequestValidator(token).compute_signature(url, params)


def _status_params(sid, status="delivered"):
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+526647770001",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }


def _inbound_params(phone, body, sid="SM" + "d" * 32):
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }


@pytest.fixture
def sent_row(world):
    row = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.organization_id == world.org_a.id).limit(1)
    )
    row.status, row.twilio_sid = "sent", "SM" + "e" * 32
    db.session.commit()
    return row


@pytest.mark.parametrize("endpoint", sorted(WEBHOOKS))
def test_webhooks_check_the_twilio_signature(world, sent_row, endpoint):
    app = world.app
    client = app.test_client()
    path = build_url(app, endpoint, {})
    public = app.config["PUBLIC_BASE_URL"] + path
    if endpoint == "webhooks.status":
        params = _status_params(sent_row.twilio_sid)
    else:
        params = _inbound_params(world.a.contact.phone, "AYUDA")
    good = _sign(public, params)
    bad_cases = {
        "missing": {},
        "empty": {"X-Twilio-Signature": ""},
        "garbage": {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        "wrong token": {"X-Twilio-Signature": _sign(public, params, "another-token-000")},
        "wrong URL": {"X-Twilio-Signature": _sign("https://evil.example" + path, params)},
        "internal URL": {"X-Twilio-Signature": _sign("http://localhost" + path, params)},
        "other params": {
            "X-Twilio-Signature": _sign(public, {**params, "Body": "x", "MessageStatus": "failed"})
        },
    }
    baseline = fingerprint()
    for case, headers in bad_cases.items():
        response = client.post(path, data=params, headers=headers)
        assert response.status_code == 403, case
        assert not changed_tables(baseline, fingerprint()), case
    # A signed-in user's session is no substitute for the signature.
    coordinator = sign_in(app, world.users["coordinator"])
    response = coordinator.post(path, data={**params, "csrf_token": csrf_token(coordinator)})
    assert response.status_code == 403
    assert not changed_tables(baseline, fingerprint())
    # Tampering with a signed request: one parameter changed after signing.
    tampered = dict(params, Body="BAJA", MessageStatus="failed")
    assert client.post(path, data=tampered, headers={"X-Twilio-Signature": good}).status_code == 403
    assert not changed_tables(baseline, fingerprint())
    # Without a configured auth token nothing is accepted, not even "signed" requests.
    app.config["TWILIO_AUTH_TOKEN"] = ""
    assert (
        client.post(
            path, data=params, headers={"X-Twilio-Signature": _sign(public, params, "")}
        ).status_code
        == 403
    )
    app.config["TWILIO_AUTH_TOKEN"] = TWILIO_TOKEN
    # The correct signature is accepted, and does its work.
    response = client.post(path, data=params, headers={"X-Twilio-Signature": good})
    assert response.status_code in (200, 204)
    db.session.expire_all()
    if endpoint == "webhooks.status":
        assert db.session.get(OutboxMessage, sent_row.id).status == "delivered"
    else:
        assert (
            db.session.scalar(
                select(InboundMessage).where(InboundMessage.twilio_sid == params["MessageSid"])
            )
            is not None
        )
        assert db.session.get(Contact, world.a.contact.id).opted_out_at is None
