"""The sends endpoints' authorization matrix (as tests/api/test_api_matrix.py does for the
API's other routes): every /api/v1/sends endpoint × key (none, without its scopes, with
only one of them, evaluator-like, another organization's) × own/other organization's send.
Expected: 401 without a key; 403 without the scope, nothing changed; 404 (or a 422 naming
the unknown campaign) for another organization's objects, nothing changed; 2xx with the
scope. No answer carries a contact's name or phone, nor another organization's data."""

from collections.abc import Callable
from dataclasses import dataclass

from app.api import sends
from app.api.models import SCOPES
from app.outreach.services import schedule_send
from tests.api.conftest import EVALUATOR_SCOPES
from tests.factories import make_audience, make_campaign, make_contact, make_message
from tests.security.helpers import changed_tables, fingerprint
from tests.support import NOW

READ = sends.READ_SCOPES


@dataclass(frozen=True)
class Route:
    scopes: tuple  # any one of them suffices
    path: Callable  # objects -> URL
    body: Callable | None = None  # objects -> JSON body (POST)
    owned: bool = False  # the URL names an organization's object


ROUTES = {
    ("api_sends.list_sends", "GET"): Route(
        READ, lambda o: f"/api/v1/sends?campaign_id={o.campaign.id}", owned=True
    ),
    ("api_sends.get_send", "GET"): Route(READ, lambda o: f"/api/v1/sends/{o.send.id}", owned=True),
    ("api_sends.schedule", "POST"): Route(
        ("sends:write",),
        lambda o: "/api/v1/sends",
        lambda o: {
            "campaign_id": o.campaign.id,
            "message_id": o.message.id,
            "audience_id": o.audience.id,
            "send_now": True,
        },
    ),
    # last: it cancels the send
    ("api_sends.cancel", "POST"): Route(
        ("sends:write",), lambda o: f"/api/v1/sends/{o.send.id}/cancel", owned=True
    ),
}


@dataclass
class Objects:
    campaign: object
    message: object
    audience: object
    send: object
    secrets: list  # names and phone digits of its contacts


def _objects(org, marker: str, n: int) -> Objects:
    contact = make_contact(org, n, first_name=f"{marker} Persona", last_name=f"{marker} Apellido")
    campaign = make_campaign(org, name=f"{marker} Campaña")
    message = make_message(campaign, body_es=f"{marker} texto", body_en=f"{marker} text")
    audience = make_audience(org, {})
    send, _created = schedule_send(
        campaign,
        message=message,
        audience=audience,
        kind="once",
        user_id=None,
        now=NOW,
        fixed_at=NOW,
    )
    secrets = [f"{marker} Persona", f"{marker} Apellido", f"{marker} text", contact.phone[3:]]
    return Objects(campaign, message, audience, send, secrets)


def test_every_sends_route_is_in_the_matrix(app):
    endpoints = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(f"{sends.blp.name}.")
        for method in rule.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"}
    }
    assert endpoints == set(ROUTES)


def test_sends_matrix(app, api, make_org, make_key):
    org_a, org_b = make_org(), make_org()
    a, b = _objects(org_a, "ALFASEND", 7201), _objects(org_b, "BETASEND", 7202)
    anonymous, foreign = api(None), api(make_key(org_b, SCOPES))
    evaluator = api(make_key(org_a, EVALUATOR_SCOPES))
    failures, checked = [], 0

    def expect(what, client, method, url, body, statuses, *, unchanged=True):
        nonlocal checked
        checked += 1
        before = fingerprint()
        response = client.open(url, method=method, json=body if method != "GET" else None)
        if response.status_code not in statuses:
            failures.append(f"{what}: got {response.status_code}, expected {statuses}")
        elif response.status_code >= 400 and response.mimetype != "application/problem+json":
            failures.append(f"{what}: error without problem details")
        changed = set(changed_tables(before, fingerprint())) - {"api_keys"}
        if unchanged and changed:
            failures.append(f"{what}: changed {sorted(changed)}")
        text = response.get_data(as_text=True)
        failures.extend(f"{what}: shows {s!r}" for s in a.secrets + b.secrets if s in text)

    for (endpoint, method), route in ROUTES.items():
        url, body = route.path(a), route.body(a) if route.body else None
        what = f"{method} {url} [{endpoint}]"
        writes = method != "GET"
        expect(f"{what} no key", anonymous, method, url, body, {401})
        others = [s for s in SCOPES if s not in route.scopes]
        expect(f"{what} without its scopes", api(make_key(org_a, others)), method, url, body, {403})
        expect(
            f"{what} evaluator-like key",
            evaluator,
            method,
            url,
            body,
            {403} if writes else {200},
        )
        # another organization's key: 404 for A's send or campaign, 422 for A's ids in a body
        expect(f"{what} organization B's key", foreign, method, url, body, {404, 422})
        if route.owned:
            expect(
                f"{method} {route.path(b)} [{endpoint}] B's object",
                api(make_key(org_a, SCOPES)),
                method,
                route.path(b),
                route.body(b) if route.body else None,
                {404},
            )
        for scope in route.scopes:
            expect(
                f"{what} with only {scope}",
                api(make_key(org_a, [scope])),
                method,
                url,
                body,
                {200, 201},
                unchanged=not writes,
            )
    assert checked >= 4 * 6
    assert not failures, "\n".join(failures)
