import os

import pytest
from sqlalchemy.exc import OperationalError

from app import create_app
from config import DEFAULT_SECRET_KEY, ProductionConfig


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    redis = "ok" if os.environ.get("TEST_REDIS_URL") else "not_configured"
    assert response.json == {"status": "ok", "database": "ok", "redis": redis}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_reports_unreachable_redis_as_degraded_but_keeps_200(app, client):
    from app.ratelimit import rate_limits

    app.config["REDIS_URL"] = "redis://127.0.0.1:6390/0"  # nothing listens there
    rate_limits.init_app(app)
    response = client.get("/healthz")
    # 200: the web process still serves (sign-in falls back to per-process limits), so a
    # load balancer must keep it; monitoring reads "degraded".
    assert response.status_code == 200
    assert response.json == {"status": "degraded", "database": "ok", "redis": "unreachable"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_503_when_database_down(client, monkeypatch):
    from app.extensions import db

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unavailable" and response.json["status"] == "error"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("secret", [None, "", DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_missing_or_default_secret(secret):
    class Prod(ProductionConfig):
        SECRET_KEY = secret
        SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://u@localhost/x"

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Prod)


def test_production_config_hardens_cookies_and_hsts():
    class Prod(ProductionConfig):
        SECRET_KEY = "x" * 64
        SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://u@localhost/x"

    app = create_app(Prod)
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-alcance_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie


def test_production_refuses_sqlite_unless_allowed(monkeypatch):
    class Prod(ProductionConfig):
        SECRET_KEY = "x" * 64
        SQLALCHEMY_DATABASE_URI = "sqlite:////tmp/x.db"

    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        create_app(Prod)
    monkeypatch.setenv("ALLOW_SQLITE_IN_PRODUCTION", "1")
    create_app(Prod)


def test_security_headers_on_html(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # development/testing
    assert "<script>" not in response.get_data(as_text=True)  # no inline scripts


def test_404_page_is_translated(client):
    es = client.get("/no-such-page", headers={"Accept-Language": "es"})
    assert es.status_code == 404
    assert "Página no encontrada" in es.get_data(as_text=True)
    en = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert "Page not found" in en.get_data(as_text=True)
    assert '<html lang="en-US">' in en.get_data(as_text=True)


def test_500_page_is_friendly(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = client.get("/boom", headers={"Accept-Language": "es"})
    assert response.status_code == 500
    assert "Algo falló de nuestro lado" in response.get_data(as_text=True)


def test_upload_limit_is_set(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    response = client.post(
        "/login",
        data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
        content_type="application/octet-stream",
    )
    assert response.status_code == 413
