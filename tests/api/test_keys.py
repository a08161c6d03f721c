"""API keys: created by admins (secret shown once, stored hashed), scopes, expiry,
revocation, last use; every refusal is a problem+json 401 and is logged without the key."""

import logging
import re
from datetime import timedelta

from sqlalchemy import select

from app.api.keys import hash_secret
from app.api.models import ApiKey
from app.extensions import db
from tests.support import NOW, csrf_token


def _problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    assert body["title"] and body["type"].endswith(code)
    return body


def test_no_key_unknown_key_and_wrong_scheme_are_401(app, api, make_org, client):
    make_org()
    for headers in ({}, {"Authorization": "Bearer alc_nope"}, {"Authorization": "Basic eDp5"}):
        response = client.get("/api/v1/contacts", headers=headers)
        _problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_keys_are_401(app, api, make_org, make_key, frozen_clock):
    org = make_org()
    revoked = make_key(org)
    expiring = make_key(org, expires_at=NOW + timedelta(hours=1))
    assert api(revoked).get("/api/v1/contacts").status_code == 200
    from app.api.keys import revoke_key

    revoke_key(revoked.key, actor_id=None, now=NOW)
    _problem(api(revoked).get("/api/v1/contacts"), 401, "unauthorized")
    assert api(expiring).get("/api/v1/contacts").status_code == 200
    frozen_clock.shift(timedelta(hours=2))
    _problem(api(expiring).get("/api/v1/contacts"), 401, "unauthorized")


def test_missing_scope_is_403(app, api, make_org, make_key):
    org = make_org()
    reader = api(make_key(org, ["contacts:read"]))
    body = _problem(
        reader.post("/api/v1/contacts", json={"phone": "6645550101"}), 403, "insufficient_scope"
    )
    assert body["scope"] == "contacts:write"
    writer = api(make_key(org, ["contacts:write"]))
    _problem(writer.get("/api/v1/contacts"), 403, "insufficient_scope")


def test_secret_is_stored_hashed_and_never_logged(app, api, make_org, make_key, caplog):
    org = make_org()
    with caplog.at_level(logging.INFO, logger="alcance.security"):
        new = make_key(org, ["contacts:read"])
        api(new).get("/api/v1/contacts")
        api(new).get("/api/v1/contacts?q=Ana")
    row = db.session.scalar(select(ApiKey))
    assert new.secret.startswith("alc_") and len(new.secret) > 40
    assert row.secret_hash == hash_secret(new.secret) and new.secret not in row.secret_hash
    assert new.secret.startswith(row.prefix) and len(row.prefix) < 12
    assert new.secret not in caplog.text and "Ana" not in caplog.text
    assert "security_event=api_request" in caplog.text


def test_last_used_is_recorded(app, api, make_org, make_key):
    org = make_org()
    new = make_key(org, ["contacts:read"])
    assert new.key.last_used_at is None
    api(new).get("/api/v1/contacts")
    db.session.expire_all()
    assert db.session.get(ApiKey, new.key.id).last_used_at is not None


def test_admin_creates_sees_once_and_revokes_keys(app, make_org, make_user, login, client):
    org = make_org()
    admin = make_user(org, role="admin", language="en")
    login(admin)
    page = client.get("/organization/api-keys")
    assert page.status_code == 200
    response = client.post(
        "/organization/api-keys",
        data={
            "csrf_token": csrf_token(client),
            "name": "Formulario escolar",
            "scopes": ["contacts:write", "workshops:write"],
            "expires_on": "2027-06-30",
        },
    )
    assert response.status_code == 200
    secret = re.search(r'id="new-api-key">(alc_[^<]+)<', response.get_data(as_text=True)).group(1)
    key = db.session.scalar(select(ApiKey))
    assert key.scope_list == ["contacts:write", "workshops:write"]
    assert key.expires_at is not None and key.secret_hash == hash_secret(secret)
    again = client.get("/organization/api-keys").get_data(as_text=True)
    assert secret not in again and key.prefix in again
    response = client.post(
        f"/organization/api-keys/{key.id}/revoke", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    assert (
        client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


def test_only_admins_manage_keys_and_only_their_own(
    app, make_org, make_user, make_key, login, client
):
    org, other = make_org(), make_org()
    foreign = make_key(other)
    login(make_user(org, role="coordinator", language="en"))
    assert client.get("/organization/api-keys").status_code == 403
    admin = app.test_client()
    login(make_user(org, role="admin", language="en"), c=admin)
    response = admin.post(
        f"/organization/api-keys/{foreign.key.id}/revoke", data={"csrf_token": csrf_token(admin)}
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiKey, foreign.key.id).revoked_at is None


def test_problem_in_the_requested_language(app, api, make_org, make_key):
    """Accept-Language wins; without it, the key's organization language."""
    org = make_org(default_language="es")
    writer = api(make_key(org, ["contacts:write"]))
    body = writer.post("/api/v1/contacts", json={"phone": "12345"}).get_json()
    assert body["code"] == "validation_failed" and "no válido" in body["detail"]
    body = writer.post(
        "/api/v1/contacts", json={"phone": "12345"}, headers={"Accept-Language": "en"}
    ).get_json()
    assert "no válido" not in body["detail"]
