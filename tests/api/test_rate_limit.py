"""Per-key rate limits: 429 problem with Retry-After; with Redis the count is shared by
every process (two app instances here), as the sign-in limits are."""

import os

import pytest

from app import create_app
from app.api.models import ApiKey
from app.extensions import db
from app.organizations.models import Organization
from app.ratelimit import rate_limits
from tests.support import ON_POSTGRES


def test_over_the_limit_is_429_with_retry_after(app, api, make_org, make_key):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    org = make_org()
    first, second = api(make_key(org, ["contacts:read"])), api(make_key(org, ["contacts:read"]))
    assert [first.get("/api/v1/contacts").status_code for _ in range(3)] == [200] * 3
    refused = first.get("/api/v1/contacts")
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited"
    assert refused.mimetype == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert second.get("/api/v1/contacts").status_code == 200  # per key, not per organization


def test_the_limit_is_shared_by_processes_through_redis(app, test_config, make_org, make_key):
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    app.config["API_RATE_LIMIT"] = "4 per minute"
    org = make_org()
    new = make_key(org, ["contacts:read"])
    other = create_app(test_config)  # a second process: its own limiter, the same Redis
    other.config["API_RATE_LIMIT"] = "4 per minute"
    other.config["RATELIMIT_KEY_PREFIX"] = app.config["RATELIMIT_KEY_PREFIX"]
    rate_limits.init_app(other)
    if not ON_POSTGRES:  # in-memory SQLite: give the second app the same key row
        key_row = {c.name: getattr(new.key, c.name) for c in ApiKey.__table__.columns}
        org_row = {c.name: getattr(org, c.name) for c in Organization.__table__.columns}
        with other.app_context():
            db.create_all()
            db.session.add(Organization(**org_row))
            db.session.flush()
            db.session.add(ApiKey(**key_row))
            db.session.commit()
    headers = {"Authorization": f"Bearer {new.secret}"}
    clients = [app.test_client(), other.test_client()]
    statuses = [
        clients[i % 2].get("/api/v1/contacts", headers=headers).status_code for i in range(6)
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    with other.app_context():
        assert other.extensions["rate_limits"].status().shared
        if not ON_POSTGRES:
            db.drop_all()
        db.engine.dispose()
