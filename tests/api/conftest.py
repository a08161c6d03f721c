"""API test fixtures: organizations with keys, and a client that sends a key."""

import pytest

from app.api import keys
from app.api.models import SCOPES
from app.timeutil import utcnow

EVALUATOR_SCOPES = ("reports:read", "events:read", "campaigns:read")


class ApiClient:
    """The test client with `Authorization: Bearer <secret>` on every request."""

    def __init__(self, client, secret: str | None):
        self.client, self.secret = client, secret

    def _headers(self, headers):
        out = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        out.update(headers or {})
        return out

    def get(self, url, headers=None, **kwargs):
        return self.client.get(url, headers=self._headers(headers), **kwargs)

    def post(self, url, json=None, headers=None, **kwargs):
        return self.client.post(url, json=json, headers=self._headers(headers), **kwargs)

    def open(self, url, method="GET", **kwargs):
        kwargs["headers"] = self._headers(kwargs.get("headers"))
        return self.client.open(url, method=method, **kwargs)


@pytest.fixture
def make_key(app):
    def make(org, scopes=SCOPES, *, expires_at=None, name="Sistema escolar"):
        return keys.create_key(
            org.id,
            name=name,
            scopes=list(scopes),
            expires_at=expires_at,
            actor_id=None,
            now=utcnow(),
        )

    return make


@pytest.fixture
def api(client):
    """api(new_key) -> an ApiClient using that key's secret (None: no header)."""

    def build(new_key=None):
        return ApiClient(client, new_key.secret if new_key is not None else None)

    return build
