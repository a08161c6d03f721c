"""The API's own authorization matrix, generated from the URL map: every /api/v1 endpoint
× method × key (none, without the scope, with only the scope, another organization's,
evaluator-like) × own/other organization's object. Expected: 401 without a key, 403
without the scope (nothing changes), 404 for another organization's object (nothing
changes, nothing of it shown), 2xx with the scope; never a name or phone to a key with
only evaluator-like scopes, never another organization's data to anyone."""

from collections.abc import Callable
from dataclasses import dataclass

from app.api.models import SCOPES
from app.api.routes import API_BLUEPRINTS
from tests.api.conftest import EVALUATOR_SCOPES
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_experiment,
    make_message,
    make_registration,
    make_survey,
    make_workshop,
)
from tests.security.helpers import changed_tables, fingerprint


@dataclass(frozen=True)
class ApiRoute:
    scope: str
    path: Callable  # objects -> URL
    body: Callable | None = None  # objects -> JSON body (POST)
    owned: bool = False  # the URL names an organization's object


API_ROUTES = {
    ("api_contacts.list_contacts", "GET"): ApiRoute("contacts:read", lambda o: "/api/v1/contacts"),
    ("api_contacts.get_contact", "GET"): ApiRoute(
        "contacts:read", lambda o: f"/api/v1/contacts/{o.contact.id}", owned=True
    ),
    ("api_contacts.upsert_contact", "POST"): ApiRoute(
        "contacts:write",
        lambda o: "/api/v1/contacts",
        lambda o: {"phone": o.contact.phone, "last_name": "Cambiado"},
    ),
    ("api_contacts.bulk_upsert", "POST"): ApiRoute(
        "contacts:write",
        lambda o: "/api/v1/contacts/bulk",
        lambda o: {"contacts": [{"phone": o.contact.phone, "last_name": "Cambiado"}]},
    ),
    ("api_contacts.opt_out", "POST"): ApiRoute(
        "contacts:write", lambda o: f"/api/v1/contacts/{o.contact.id}/opt-out", owned=True
    ),
    ("api_contacts.erase", "POST"): ApiRoute(
        "contacts:write", lambda o: f"/api/v1/contacts/{o.contact.id}/erase", owned=True
    ),
    ("api_audiences.list_audiences", "GET"): ApiRoute(
        "contacts:read", lambda o: "/api/v1/audiences"
    ),
    ("api_audiences.count_audience", "GET"): ApiRoute(
        "contacts:read", lambda o: f"/api/v1/audiences/{o.audience.id}/count", owned=True
    ),
    ("api_campaigns.list_all", "GET"): ApiRoute("campaigns:read", lambda o: "/api/v1/campaigns"),
    ("api_campaigns.get_campaign", "GET"): ApiRoute(
        "campaigns:read", lambda o: f"/api/v1/campaigns/{o.campaign.id}", owned=True
    ),
    ("api_workshops.list_upcoming", "GET"): ApiRoute(
        "campaigns:read", lambda o: "/api/v1/workshops"
    ),
    ("api_workshops.register", "POST"): ApiRoute(
        "workshops:write",
        lambda o: f"/api/v1/workshops/{o.workshop.id}/registrations",
        lambda o: {"contact_id": o.guest.id},
        owned=True,
    ),
    ("api_workshops.cancel", "POST"): ApiRoute(
        "workshops:write",
        lambda o: f"/api/v1/workshops/{o.workshop.id}/registrations/{o.registration.id}/cancel",
        owned=True,
    ),
    ("api_reports.organization_reach", "GET"): ApiRoute(
        "reports:read", lambda o: "/api/v1/reports/reach"
    ),
    ("api_reports.campaign_reach", "GET"): ApiRoute(
        "reports:read", lambda o: f"/api/v1/campaigns/{o.campaign.id}/reach", owned=True
    ),
    ("api_reports.survey_results", "GET"): ApiRoute(
        "reports:read", lambda o: f"/api/v1/surveys/{o.survey.id}/results", owned=True
    ),
    ("api_reports.experiment_results", "GET"): ApiRoute(
        "reports:read", lambda o: f"/api/v1/experiments/{o.experiment.id}/results", owned=True
    ),
    ("api_events.list_events", "GET"): ApiRoute("events:read", lambda o: "/api/v1/events"),
    ("api_events.codebook", "GET"): ApiRoute("events:read", lambda o: "/api/v1/events/codebook"),
}
# erase last: it blanks the contact that other routes (a registration) name
API_ROUTES[("api_contacts.erase", "POST")] = API_ROUTES.pop(("api_contacts.erase", "POST"))


@dataclass
class Objects:
    contact: object
    names: list
    phones: list
    audience: object = None
    campaign: object = None
    workshop: object = None
    registration: object = None
    survey: object = None
    experiment: object = None
    guest: object = None  # registered for the workshop by the API (the contact opts out)


def _objects(org, marker: str, n: int) -> Objects:
    contact = make_contact(
        org,
        n,
        phone=f"+52664555{n:04d}",
        first_name=f"{marker} Persona",
        last_name=f"{marker} Apellido",
    )
    # per-person event rows are shared (the events route answers); see test_events.py
    org.evaluator_person_files = True
    campaign = make_campaign(org, name=f"{marker} campaña")
    make_message(campaign)
    workshop = make_workshop(org, campaign=campaign)
    other = make_contact(org, first_name=f"{marker} Persona")
    guest = make_contact(org, first_name=f"{marker} Persona")
    return Objects(
        contact,
        [f"{marker} Persona", f"{marker} Apellido"],
        [contact.phone[3:], other.phone[3:], guest.phone[3:]],
        audience=make_audience(org),
        campaign=campaign,
        workshop=workshop,
        registration=make_registration(workshop, other),
        survey=make_survey(org),
        experiment=make_experiment(campaign),
        guest=guest,
    )


def _api_endpoints(app):
    names = {bp.name for bp in API_BLUEPRINTS}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in names:
            for method in sorted(rule.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
                yield rule.endpoint, method


# Endpoints with their own matrix: /api/v1/sends reads accept either of two scopes
# (tests/api/test_sends_matrix.py, which also checks it covers all of them).
OWN_MATRIX = ("api_sends.",)


def test_every_api_route_is_in_the_matrix(app):
    endpoints = {e for e in _api_endpoints(app) if not e[0].startswith(OWN_MATRIX)}
    assert endpoints == set(API_ROUTES), (
        f"missing: {sorted(endpoints - set(API_ROUTES))}, stale: "
        f"{sorted(set(API_ROUTES) - endpoints)}"
    )


class Matrix:
    def __init__(self, a: Objects, b: Objects):
        self.a, self.b = a, b
        self.failures: list[str] = []
        self.checked = 0

    def scan(self, what, response, *, identified: bool, own_b: bool) -> None:
        text = response.get_data(as_text=True)
        secrets = [] if own_b else self.b.names + self.b.phones
        if not identified:
            secrets += self.a.names + self.a.phones
        for secret in secrets:
            if secret in text:
                self.failures.append(f"{what}: shows {secret!r}")

    def expect(
        self,
        what,
        client,
        method,
        url,
        body,
        statuses,
        *,
        identified=True,
        unchanged=True,
        own_b=False,
    ) -> None:
        before = fingerprint()
        response = client.open(url, method=method, json=body if method != "GET" else None)
        self.checked += 1
        if response.status_code not in statuses:
            self.failures.append(f"{what}: got {response.status_code}, expected {statuses}")
        elif response.status_code >= 400 and response.mimetype != "application/problem+json":
            self.failures.append(f"{what}: error without problem details")
        # api_keys: last_used_at is bookkeeping of the request itself
        changed = set(changed_tables(before, fingerprint())) - {"api_keys"}
        if unchanged and changed:
            self.failures.append(f"{what}: changed {sorted(changed)}")
        self.scan(what, response, identified=identified, own_b=own_b)


def test_api_matrix(app, api, make_org, make_key):
    org_a, org_b = make_org(), make_org()
    a, b = _objects(org_a, "ALFAKEY", 7101), _objects(org_b, "BETAKEY", 7102)
    evaluator = api(make_key(org_a, EVALUATOR_SCOPES))
    foreign = api(make_key(org_b, SCOPES))
    anonymous = api(None)
    m = Matrix(a, b)
    for (endpoint, method), route in API_ROUTES.items():
        url, body = route.path(a), route.body(a) if route.body else None
        what = f"{method} {url} [{endpoint}]"
        others = [s for s in SCOPES if s != route.scope]
        m.expect(f"{what} no key", anonymous, method, url, body, {401})
        m.expect(
            f"{what} without {route.scope}",
            api(make_key(org_a, others)),
            method,
            url,
            body,
            {403},
        )
        m.expect(
            f"{what} evaluator-like key",
            evaluator,
            method,
            url,
            body,
            {200} if route.scope in EVALUATOR_SCOPES else {403},
            identified=False,
        )
        if route.owned:
            m.expect(f"{what} organization B's key", foreign, method, url, body, {404})
            other_url = route.path(b)
            m.expect(
                f"{method} {other_url} [{endpoint}] B's object",
                api(make_key(org_a, SCOPES)),
                method,
                other_url,
                body,
                {404},
            )
        else:  # the same request by organization B's key touches B's own data only
            m.expect(
                f"{what} organization B's key",
                foreign,
                method,
                url,
                body,
                {200, 201},
                unchanged=False,
                own_b=True,
            )
        m.expect(
            f"{what} with only {route.scope}",
            api(make_key(org_a, [route.scope])),
            method,
            url,
            body,
            {200, 201},
            identified=route.scope == "contacts:read",
            unchanged=False,
        )
    assert m.checked >= 6 * 5
    assert not m.failures, "\n".join(m.failures)
