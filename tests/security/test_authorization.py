"""Authorization matrix generated from the URL map: every route × method × role ×
own/other organization, with the expected status; zero cross-organization leaks.

Expected:
    anonymous                         302 to /login (token routes: 401/404; webhooks: 403)
    a role without the permission     403, and nothing changes
    another organization's object     404 (never 200, never its data), and nothing changes
    own object, sufficient role       GET 2xx/3xx; POST passes the authorization layer
Every response to organization A's users is searched for organization B's names and
phone numbers; every page an evaluator can open, for the names and phones of A's contacts.
"""

from urllib.parse import urlsplit

from .conftest import (
    MARKER_A,
    METRICS_TOKEN,
    PHONES_A,
    build_url,
    changed_tables,
    clients_by_role,
    csrf_token,
    fingerprint,
    leaks,
    pii,
    sign_in,
)
from .routes import ROLES, ROUTES, build_objects, least_privileged, required_roles

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
METHODS = ("GET", *STATE_CHANGING)


def route_methods(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods & set(METHODS)):
            yield rule, method


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


def test_authorization_matrix(world, capsys):
    app = world.app
    clients = clients_by_role(world)
    tokens = {role: csrf_token(client) for role, client in clients.items()}
    m = Matrix(world)
    baseline = fingerprint()
    denied_posts = 0

    for rule, method in route_methods(app):
        spec = ROUTES.get(rule.endpoint)
        if spec is None:
            continue  # reported by test_every_route_is_in_the_table
        own_urls = [build_url(app, rule.endpoint, v) for v in spec.urls(world.a)]
        other_urls = [build_url(app, rule.endpoint, v) for v in spec.urls(world.b)]
        allowed = required_roles(spec.permission)
        for role in ROLES:
            client = clients[role]
            for org, urls in (("own", own_urls), ("other", other_urls)):
                for index, url in enumerate(urls):
                    if org == "other" and (not spec.owned or url == own_urls[index]):
                        continue  # no foreign object in this URL: "own" covers it
                    what = f"{method} {url} [{rule.endpoint}] as {role} ({org} org)"
                    data = None
                    if method != "GET":
                        data = {"csrf_token": tokens[role]}
                    # -- special routes ------------------------------------------------
                    if spec.permission == "webhook":
                        response = client.open(url, method=method, data={"MessageSid": "SMx"})
                        if response.status_code != 403:
                            m.fail(what, response, "403 without a Twilio signature")
                        denied_posts += 1
                    elif spec.permission == "token":
                        response = _check_token_route(m, client, rule.endpoint, url, what)
                    elif role == "anonymous" and spec.permission != "public":
                        response = client.open(url, method=method, data=data)
                        if not _is_login_redirect(response):
                            m.fail(what, response, "302 to /login")
                        denied_posts += method != "GET"
                    elif role not in allowed:
                        response = client.open(url, method=method, data=data)
                        expected = {403} if org == "own" else {403, 404}
                        if response.status_code not in expected:
                            m.fail(what, response, " or ".join(map(str, sorted(expected))))
                        denied_posts += method != "GET"
                    elif org == "other":
                        response = client.open(url, method=method, data=data)
                        if response.status_code != 404:
                            m.fail(what, response, "404 (another organization's object)")
                        denied_posts += method != "GET"
                    elif method == "GET":
                        response = client.get(url)
                        if not 200 <= response.status_code < 400:
                            m.fail(what, response, "2xx/3xx")
                        if (
                            role != "anonymous"
                            and _is_login_redirect(response)
                            and rule.endpoint != "auth.login"
                        ):
                            m.fail(what, response, "no redirect to login")
                    elif spec.permission == "public":
                        response = client.open(url, method=method, data=data)
                        if (
                            response.status_code in (401, 403, 404, 405)
                            or response.status_code >= 500
                        ):
                            m.fail(what, response, "a public route to answer")
                    else:
                        continue  # authorized POST: phase 2 below (fresh objects)
                    m.checked += 1
                    m.cells.add((rule.endpoint, method, role, org))
                    m.scan(what, role, response)
                    response.close()
                    if method != "GET":  # every refused state-changing request: no change
                        baseline = _unchanged(m, baseline, what)
        if method == "GET":  # GET is safe: nothing changed, whoever asked
            baseline = _unchanged(m, baseline, f"GET {rule.endpoint}")

    authorized_posts = _authorized_posts(world, m)
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    with capsys.disabled():
        print(
            f"\n[authorization matrix] {len(routes)} routes, "
            f"{len({(e, mt) for e, mt, _r, _o in m.cells})} route×method pairs, "
            f"{len(ROLES)} roles × 2 organizations: {len(m.cells)} cells, "
            f"{m.checked} requests ({denied_posts} denied state-changing requests, "
            f"{authorized_posts} authorized POSTs with fresh objects)"
        )
    assert not m.failures, "\n".join(m.failures)


def _unchanged(m: Matrix, baseline: dict, what: str) -> dict:
    after = fingerprint()
    changed = changed_tables(baseline, after)
    if changed:
        m.failures.append(f"{what}: changed {changed}")
    return after


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
        if method == "GET" or spec is None or spec.permission in ("webhook", "token", "public"):
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
