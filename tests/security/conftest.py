"""Security suite fixtures: two organizations full of objects, a signed-in client per role,
and the checks every suite shares (state fingerprint, HTML hygiene, leak search)."""

import hashlib
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from flask import url_for
from sqlalchemy import select

from app.extensions import db
from app.messaging.simulator import SimulatorGateway
from tests.conftest import STRONG_PASSWORD

from .routes import build_objects

METRICS_TOKEN = "metrics-token-0123456789abcdef-security"
TWILIO_TOKEN = "test-auth-token-0123456789abcdef"
MARKER_A, MARKER_B = "Xalfaorg", "Zqbetaorg"
PHONES_A, PHONES_B = "+52664777", "+52664888"
# Columns a request may legitimately touch without changing anything the user owns.
VOLATILE = {("users", "last_login_at"), ("users", "password_hash")}


@pytest.fixture
def world(app, make_org, make_user, run_jobs):
    """Organization A (users of every role) and organization B, each with one of every
    object a URL can name. Simulator SMS backend (its pages exist), /metrics enabled."""
    app.extensions["sms_gateway"] = SimulatorGateway()
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    app.config["TWILIO_AUTH_TOKEN"] = TWILIO_TOKEN
    org_a = make_org(slug="alfa", name=f"{MARKER_A} ONG")
    org_b = make_org(slug="beta", name=f"{MARKER_B} ONG")
    users = {
        role: make_user(org_a, role=role, email=f"{role}@alfa.example.org", language="en")
        for role in ("evaluator", "coordinator", "admin")
    }
    extra_a = make_user(org_a, role="coordinator", email="otra-persona@alfa.example.org")
    admin_b = make_user(org_b, role="admin", email="admin@beta.example.org")
    b_user = make_user(org_b, role="coordinator", email=f"{MARKER_B.lower()}@beta.example.org")
    a = build_objects(
        org_a,
        marker=MARKER_A,
        phone_prefix=PHONES_A,
        users={"other_user": extra_a},
        run_jobs=run_jobs,
    )
    b = build_objects(
        org_b,
        marker=MARKER_B,
        phone_prefix=PHONES_B,
        users={"other_user": b_user},
        run_jobs=run_jobs,
    )
    return SimpleNamespace(
        app=app,
        a=a,
        b=b,
        users=users,
        admin_b=admin_b,
        org_a=org_a,
        org_b=org_b,
        make_user=make_user,
        run_jobs=run_jobs,
    )


# --- clients ---------------------------------------------------------------------------------


def sign_in(app, user, password=STRONG_PASSWORD):
    """A new client signed in as `user` through the real login form."""
    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        response = client.post("/login", data={"email": user.email, "password": password})
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    client.get("/?lang=en")
    return client


def clients_by_role(world) -> dict:
    clients = {"anonymous": world.app.test_client()}
    for role, user in world.users.items():
        clients[role] = sign_in(world.app, user)
    return clients


_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client) -> str:
    """A valid CSRF token for this client's session (from a page with a form)."""
    for path in ("/dashboard", "/login"):
        response = client.get(path)
        match = _TOKEN.search(response.get_data(as_text=True))
        if match:
            return match.group(1)
    raise AssertionError("no page with a CSRF token")


def build_url(app, endpoint: str, values: dict) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


# --- state ---------------------------------------------------------------------------------------


def fingerprint() -> dict:
    """A digest of every table's rows (volatile columns left out)."""
    db.session.expire_all()
    digests = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
        rows = db.session.execute(select(*columns)).all()
        text = "\n".join(sorted(repr(tuple(r)) for r in rows))
        digests[table.name] = hashlib.sha256(text.encode()).hexdigest()
    db.session.rollback()
    return digests


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


# --- HTML hygiene ---------------------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data"}


class _Inspector(HTMLParser):
    """Finds inline scripts, inline event handlers, javascript: URLs and inline styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.script_depth = 0
        self.script_has_src = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            self.script_depth += 1
            self.script_has_src = bool(names.get("src"))
            if not self.script_has_src:
                self.problems.append("inline <script> block")
        if tag == "style":
            self.problems.append("inline <style> block")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline event handler <{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"inline style attribute on <{tag}>")
            if (
                name in URL_ATTRIBUTES
                and value
                and re.sub(r"[\s\x00-\x1f]", "", value)
                .lower()
                .startswith(("javascript:", "vbscript:", "data:text/html"))
            ):
                self.problems.append(f"script URL <{tag} {name}={value[:40]!r}>")
        if tag in ("iframe", "object", "embed", "base"):
            self.problems.append(f"<{tag}> element")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "script" and self.script_depth:
            self.script_depth -= 1

    def handle_data(self, data):
        if self.script_depth and self.script_has_src and data.strip():
            self.problems.append("<script src> with inline content")


def html_problems(body: str) -> list[str]:
    inspector = _Inspector()
    inspector.feed(body)
    inspector.close()
    return inspector.problems


def leaks(body: str, objs) -> list[str]:
    """Another organization's names or phone numbers found in `body`."""
    found = []
    if objs.marker.lower() in body.lower():
        found.append(objs.marker)
    digits = re.sub(r"[\s\-().]", "", body)
    for phone in objs.phones:
        if phone and phone[3:] in digits:  # national number, however it is formatted
            found.append(phone)
    return found


def pii(body: str, objs) -> list[str]:
    """Names or phone numbers of `objs`' young people found in `body` (evaluator pages)."""
    found = [name for name in objs.names if name and name in body]
    digits = re.sub(r"[\s\-().]", "", body)
    found += [phone for phone in objs.phones if phone and phone[3:] in digits]
    return found
