"""The security suite's shared checks: its constants, signed-in clients per role, URLs, a
fingerprint of the database, HTML hygiene and the search for leaked data (the `world`
fixture these work on is in conftest.py; CSRF tokens come from tests/support.py)."""

import hashlib
import re
from html.parser import HTMLParser

from flask import url_for
from sqlalchemy import select

from app.extensions import db
from tests.support import STRONG_PASSWORD, log_in

METRICS_TOKEN = "metrics-token-0123456789abcdef-security"
TWILIO_TOKEN = "test-auth-token-0123456789abcdef"
MARKER_A, MARKER_B = "Xalfaorg", "Zqbetaorg"
PHONES_A, PHONES_B = "+52664777", "+52664888"
# Columns a request may legitimately touch without changing anything the user owns.
VOLATILE = {
    ("users", "last_login_at"),
    ("users", "password_hash"),
    ("tracked_links", "previews"),  # a link preview's visit (app/links/clicks.py)
}


# --- clients ---------------------------------------------------------------------------------


def sign_in(app, user, password=STRONG_PASSWORD):
    """A new client signed in as `user` through the real login form, English UI."""
    client = app.test_client()
    log_in(client, user, password)
    client.get("/?lang=en")
    return client


def clients_by_role(world) -> dict:
    clients = {"anonymous": world.app.test_client()}
    for role, user in world.users.items():
        clients[role] = sign_in(world.app, user)
    return clients


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
