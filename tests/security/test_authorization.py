"""Authorization matrix generated from the URL map: every route × method × role ×
own/other organization, with the expected status; zero cross-organization leaks.

Expected:
    anonymous                         302 to /login (token routes: 401/404; webhooks: 403)
    /api/v1 with a session (any role) 401 problem details: only API keys open it
    a role without the permission     403, and nothing changes
    another organization's object     404 (never 200, never its data), and nothing changes
    own object, sufficient role       GET 2xx/3xx; POST passes the authorization layer
Every response to organization A's users is searched for organization B's names and
phone numbers; every page an evaluator can open, for the names and phones of A's contacts.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.security.helpers import (
    MARKER_A,
    METRICS_TOKEN,
    PHONES_A,
    build_url,
    changed_tables,
    clients_by_role,
    fingerprint,
    leaks,
    pii,
    sign_in,
)
from tests.security.routes import (
    ROLES,
    ROUTES,
    build_objects,
    least_privileged,
    required_roles,
    route_methods,
)
from tests.support import csrf_token


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - ROUTES.keys())
    stale = sorted(ROUTES.keys() - endpoints)
    assert not missing, (
        "routes without an entry in tests/security/routes.py (say which permission they "
        "need and how to build their URL):\n  " + "\n  ".join(missing)
    )
    assert not stale, "entries for routes that no longer exist:\n  " + "\n  ".join(stale)


def _is_login_redirect(response) -> bool:
    return (
        response.status_code == 302
        and urlsplit(response.headers.get("Location", "")).path == "/login"
    )


class Matrix:
    def __init__(self, world):
        self.world = world
        self.failures: list[str] = []
        self.checked = 0
        self.cells: set[tuple] = set()
        self.denied_posts = 0
        self.baseline: dict = {}

    def fail(self, what: str, response, expected: str) -> None:
        self.failures.append(
            f"{what}: got {response.status_code} "
            f"{response.headers.get('Location', '')}, expected {expected}"
        )

    def scan(self, what: str, role: str, response) -> None:
        if response.status_code >= 400 or response.direct_passthrough:
            return
        body = response.get_data(as_text=True)
        if role != "anonymous":
            found = leaks(body, self.world.b)
            if found:
                self.failures.append(f"{what}: LEAK of organization B data {found}")
        if role == "evaluator":
            found = pii(body, self.world.a)
            if found:
                self.failures.append(f"{what}: evaluator sees names/phones {found}")

    def unchanged(self, what: str) -> None:
        """Nothing changed since the last check (the new state is the next baseline)."""
        after = fingerprint()
        changed = changed_tables(self.baseline, after)
        if changed:
            self.failures.append(f"{what}: changed {changed}")
        self.baseline = after


@dataclass(frozen=True)
class Cell:
    """One request of the matrix: a route and method, as a role, on an organization's URL."""

    endpoint: str
    method: str
    spec: object  # the route's entry in ROUTES
    allowed: set  # the roles its permission lets through
    role: str
    org: str  # "own" or "other"
    url: str
    token: str  # the role's CSRF token

    @property
    def what(self) -> str:
        return f"{self.method} {self.url} [{self.endpoint}] as {self.role} ({self.org} org)"

    @property
    def data(self) -> dict | None:
        return None if self.method == "GET" else {"csrf_token": self.token}


def test_authorization_matrix(world, capsys):
    app = world.app
    clients = clients_by_role(world)
    tokens = {role: csrf_token(client) for role, client in clients.items()}
    m = Matrix(world)
    m.baseline = fingerprint()

    for rule, method in route_methods(app):
        spec = ROUTES.get(rule.endpoint)
        if spec is None:
            continue  # reported by test_every_route_is_in_the_table
        for cell in _cells(world, rule, method, spec, tokens):
            _check(m, clients[cell.role], cell)
        if method == "GET":  # GET is safe: nothing changed, whoever asked
            m.unchanged(f"GET {rule.endpoint}")

    authorized_posts = _authorized_posts(world, m)
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    with capsys.disabled():
        print(
            f"\n[authorization matrix] {len(routes)} routes, "
            f"{len({(e, mt) for e, mt, _r, _o in m.cells})} route×method pairs, "
            f"{len(ROLES)} roles × 2 organizations: {len(m.cells)} cells, "
            f"{m.checked} requests ({m.denied_posts} denied state-changing requests, "
            f"{authorized_posts} authorized POSTs with fresh objects)"
        )
    assert not m.failures, "\n".join(m.failures)


def _cells(world, rule, method, spec, tokens):
    """Every role × organization × URL of one route and method, in a stable order."""
    own_urls = [build_url(world.app, rule.endpoint, v) for v in spec.urls(world.a)]
    other_urls = [build_url(world.app, rule.endpoint, v) for v in spec.urls(world.b)]
    allowed = required_roles(spec.permission)
    for role in ROLES:
        for org, urls in (("own", own_urls), ("other", other_urls)):
            for index, url in enumerate(urls):
                if org == "other" and (not spec.owned or url == own_urls[index]):
                    continue  # no foreign object in this URL: "own" covers it
                yield Cell(rule.endpoint, method, spec, allowed, role, org, url, tokens[role])


def _check(m: Matrix, client, cell: Cell) -> None:
    response = _request(m, client, cell)
    if response is None:
        return  # authorized POST: phase 2 below (fresh objects)
    m.checked += 1
    m.cells.add((cell.endpoint, cell.method, cell.role, cell.org))
    m.scan(cell.what, cell.role, response)
    response.close()
    if cell.method != "GET":  # every refused state-changing request: no change
        m.unchanged(cell.what)


def _request(m: Matrix, client, cell: Cell):
    """Send one request of the matrix and check its status; None for an authorized POST
    (phase 2 sends those, with fresh objects)."""
    permission = cell.spec.permission
    if permission == "webhook":
        response = client.open(cell.url, method=cell.method, data={"MessageSid": "SMx"})
        if response.status_code != 403:
            m.fail(cell.what, response, "403 without a Twilio signature")
        m.denied_posts += 1
        return response
    if permission == "token":
        return _check_token_route(m, client, cell.endpoint, cell.url, cell.what)
    if permission == "api":  # a session (any role) never opens the API: 401 problem
        response = client.open(cell.url, method=cell.method, data=cell.data)
        if response.status_code != 401 or response.mimetype != "application/problem+json":
            m.fail(cell.what, response, "401 problem+json without an API key")
        m.denied_posts += cell.method != "GET"
        return response
    if cell.role == "anonymous" and permission != "public":
        return _refused(m, client, cell, _is_login_redirect, "302 to /login")
    if cell.role not in cell.allowed:
        expected = {403} if cell.org == "own" else {403, 404}
        return _refused(
            m,
            client,
            cell,
            lambda response: response.status_code in expected,
            " or ".join(map(str, sorted(expected))),
        )
    if cell.org == "other":
        return _refused(
            m,
            client,
            cell,
            lambda response: response.status_code == 404,
            "404 (another organization's object)",
        )
    if cell.method == "GET":
        return _allowed_get(m, client, cell)
    if permission == "public":
        response = client.open(cell.url, method=cell.method, data=cell.data)
        if response.status_code in (401, 403, 404, 405) or response.status_code >= 500:
            m.fail(cell.what, response, "a public route to answer")
        return response
    return None


def _refused(m: Matrix, client, cell: Cell, refused, expected: str):
    """A request that must be refused: `refused(response)` says whether it was."""
    response = client.open(cell.url, method=cell.method, data=cell.data)
    if not refused(response):
        m.fail(cell.what, response, expected)
    m.denied_posts += cell.method != "GET"
    return response


def _allowed_get(m: Matrix, client, cell: Cell):
    response = client.get(cell.url)
    if not 200 <= response.status_code < 400:
        m.fail(cell.what, response, "2xx/3xx")
    if cell.role != "anonymous" and _is_login_redirect(response) and cell.endpoint != "auth.login":
        m.fail(cell.what, response, "no redirect to login")
    return response


def _check_token_route(m: Matrix, client, endpoint: str, url: str, what: str):
    """Token routes ignore the session: the secret alone opens them."""
    if endpoint == "main.metrics":
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic " + METRICS_TOKEN},
        ):
            response = client.get(url, headers=headers)
            if response.status_code != 401:
                m.fail(f"{what} {headers}", response, "401")
        response = client.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        if response.status_code != 200:
            m.fail(what, response, "200 with the bearer token")
        body = response.get_data(as_text=True)
        if MARKER_A in body or PHONES_A[3:] in body:
            m.failures.append(f"{what}: metrics expose personal data")
        return response
    # calendar feed: a wrong or another format of token is a 404; the right one, the feed
    token = m.world.a.org.calendar_token
    off_by_one = token[:-1] + ("B" if token.endswith("A") else "A")  # never the token itself
    for bad in ("x" * 43, "", off_by_one):
        bad_url = f"/workshops/calendar/{bad}.ics"
        response = client.get(bad_url)
        if response.status_code != 404:
            m.fail(f"{what} token={bad!r}", response, "404")
    response = client.get(url)
    if response.status_code != 200 or response.mimetype != "text/calendar":
        m.fail(what, response, "200 text/calendar")
    return response


def _authorized_posts(world, m: Matrix) -> int:
    """Phase 2: each state-changing route, as the least privileged role allowed to use it,
    on fresh objects of its own organization. The authorization layer lets it through:
    no 401/403/404/405, no 500 (the denials above are therefore not an accident)."""
    app = world.app
    count = 0
    for rule, method in route_methods(app):
        spec = ROUTES.get(rule.endpoint)
        if (
            method == "GET"
            or spec is None
            or spec.permission in ("webhook", "token", "public", "api")
        ):
            continue
        # The least privileged role allowed (the others hold a superset of its permissions).
        for role in [least_privileged(spec.permission)]:
            objs = world.a
            if spec.owned:  # an earlier request may have deleted or changed world.a's
                objs = build_objects(
                    world.org_a,
                    marker=MARKER_A,
                    phone_prefix=PHONES_A,
                    users={"other_user": world.users["evaluator"]},
                    run_jobs=world.run_jobs,
                )
            client = sign_in(app, world.users[role])
            data = {"csrf_token": csrf_token(client), **(spec.data(objs) if spec.data else {})}
            url = build_url(app, rule.endpoint, spec.urls(objs)[0])
            what = f"{method} {url} [{rule.endpoint}] as {role} (own org, authorized)"
            response = client.open(url, method=method, data=data)
            count += 1
            m.cells.add((rule.endpoint, method, role, "own"))
            if response.status_code in (401, 403, 404, 405) or response.status_code >= 500:
                m.fail(what, response, "to pass the authorization layer")
            elif _is_login_redirect(response) and rule.endpoint != "auth.logout":
                m.fail(what, response, "no redirect to login")
            m.scan(what, role, response)
            response.close()
    return count
