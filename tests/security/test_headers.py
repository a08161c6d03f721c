"""Security headers and cookie flags on every HTML response: every GET route each role can
render, and every error page; HSTS and hardened cookies in production only; no inline
scripts, event handlers, javascript: URLs or inline styles in any rendered HTML."""

import pytest

from app import create_app
from app.extensions import db
from config import DevelopmentConfig, ProductionConfig
from tests.security.helpers import build_url, clients_by_role, html_problems
from tests.security.routes import ROUTES, required_roles
from tests.support import STRONG_PASSWORD, csrf_token, csrf_token_in

REQUIRED_CSP = (
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
)


def header_problems(response, *, production: bool) -> list[str]:
    problems = []
    headers = response.headers
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    hsts = headers.get("Strict-Transport-Security", "")
    if production and not (
        hsts.startswith("max-age=") and int(hsts.split("=", 1)[1].split(";")[0]) >= 31536000
    ):
        problems.append(f"HSTS missing or short in production: {hsts!r}")
    if not production and hsts:
        problems.append("HSTS outside production")
    if response.mimetype == "text/html":
        csp = headers.get("Content-Security-Policy", "")
        directives = {d.strip() for d in csp.split(";")}
        problems += [f"CSP lacks {d}" for d in REQUIRED_CSP if d not in directives]
        if "unsafe-inline" in csp or "unsafe-eval" in csp or "*" in csp:
            problems.append(f"weak CSP {csp!r}")
        if headers.get("X-Frame-Options") != "DENY":
            problems.append("no X-Frame-Options: DENY")
        if "no-store" not in headers.get("Cache-Control", ""):
            problems.append("HTML page cacheable")
        problems += html_problems(response.get_data(as_text=True))
    for cookie in headers.getlist("Set-Cookie"):
        flags = [f.strip().lower() for f in cookie.split(";")]
        if "httponly" not in flags:
            problems.append(f"cookie without HttpOnly: {cookie[:40]}")
        if "samesite=lax" not in flags and "samesite=strict" not in flags:
            problems.append(f"cookie without SameSite: {cookie[:40]}")
        if production and (
            "secure" not in flags
            or not cookie.startswith("__Host-")
            or "path=/" not in flags
            or any(f.startswith("domain=") for f in flags)
        ):
            problems.append(f"production cookie not Secure/__Host-: {cookie[:60]}")
    return problems


def test_headers_on_every_page_of_every_role(world, capsys):
    app = world.app
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/__security-test-boom")
    def boom():
        raise RuntimeError("boom")

    clients = clients_by_role(world)
    failures, pages, html = [], 0, 0
    for endpoint, spec in sorted(ROUTES.items()):
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        if "GET" not in rule.methods or spec.permission == "webhook":
            continue
        for role in ("anonymous", "evaluator", "coordinator", "admin"):
            for values in spec.urls(world.a):
                url = build_url(app, endpoint, values)
                headers = {"Authorization": f"Bearer {app.config['METRICS_TOKEN']}"}
                for lang in ("es", "en"):
                    response = clients[role].get(url, headers={**headers, "Accept-Language": lang})
                    pages += 1
                    html += response.mimetype == "text/html"
                    for problem in header_problems(response, production=False):
                        failures.append(f"GET {url} as {role} ({response.status_code}): {problem}")
                    response.close()
                if role not in required_roles(spec.permission):
                    break  # one URL is enough to see the refusal page
    # error pages: 400 (CSRF), 403, 404, 405, 413, 500
    coordinator, evaluator = clients["coordinator"], clients["evaluator"]
    errors = {
        400: coordinator.post("/contacts/new", data={"first_name": "x"}),
        403: evaluator.get("/campaigns/"),
        404: coordinator.get("/no-such-page"),
        405: coordinator.get("/logout"),
        413: coordinator.post(
            "/contacts/new",
            data={"csrf_token": csrf_token(coordinator), "first_name": "x" * (128 * 1024)},
        ),
        500: coordinator.get("/__security-test-boom"),
    }
    for code, response in errors.items():
        assert response.status_code == code, (code, response.status_code)
        assert response.mimetype == "text/html"
        html += 1
        failures += [f"error page {code}: {p}" for p in header_problems(response, production=False)]
    with capsys.disabled():
        print(
            f"\n[headers] {pages} responses checked ({html} HTML pages, es and en, 4 roles) "
            f"+ {len(errors)} error pages"
        )
    assert not failures, "\n".join(failures)


@pytest.fixture
def production_app(monkeypatch, test_config):
    monkeypatch.setenv("ALLOW_SQLITE_IN_PRODUCTION", "1")

    class Prod(ProductionConfig):
        SECRET_KEY = "a-strong-production-secret-key-0123456789-abcdef"
        SQLALCHEMY_DATABASE_URI = "sqlite://"
        BABEL_TRANSLATION_DIRECTORIES = test_config.BABEL_TRANSLATION_DIRECTORIES
        PASSWORD_HASH_TIME_COST = 1
        PASSWORD_HASH_MEMORY_KIB = 1024
        SMS_BACKEND = "fake"

    app = create_app(Prod)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_production_headers_and_cookies(production_app):
    from app.auth.services import create_user
    from app.organizations.services import create_organization

    app = production_app
    org = create_organization(
        slug="prod",
        name="Producción",
        country="MX",
        timezone="America/Tijuana",
        default_language="es",
    )
    user = create_user(org, email="admin@prod.example.org", role="admin", password=STRONG_PASSWORD)
    client = app.test_client()
    base = "https://alcance.example.org"
    login_page = client.get("/login", base_url=base)
    assert header_problems(login_page, production=True) == []
    assert login_page.headers["Set-Cookie"].startswith("__Host-alcance_session=")
    token = csrf_token_in(login_page.get_data(as_text=True))
    data = {"csrf_token": token, "email": user.email, "password": STRONG_PASSWORD}
    # Over HTTPS, Flask-WTF also wants a same-origin Referer (login CSRF from elsewhere fails)
    assert (
        client.post(
            "/login", base_url=base, data=data, headers={"Referer": "https://evil.example/login"}
        ).status_code
        == 400
    )
    response = client.post("/login", base_url=base, data=data, headers={"Referer": base + "/login"})
    assert response.status_code == 302
    assert header_problems(response, production=True) == []
    for path in (
        "/dashboard",
        "/contacts/",
        "/campaigns/",
        "/workshops/",
        "/reports/",
        "/users",
        "/organization/settings",
        "/no-such-page",
        "/healthz",
    ):
        page = client.get(path, base_url=base)
        assert page.status_code in (200, 404), (path, page.status_code)
        assert header_problems(page, production=True) == [], path


def test_development_has_no_hsts_and_plain_cookie(monkeypatch, tmp_path):
    class Dev(DevelopmentConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'dev.sqlite3'}"

    app = create_app(Dev)
    response = app.test_client().get("/login")
    assert header_problems(response, production=False) == []
    assert "Strict-Transport-Security" not in response.headers
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("alcance_session=") and "Secure" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
