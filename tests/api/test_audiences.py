"""/api/v1/audiences: list with cursor and ETag, count with exclusions by reason (the
audience page's figures), tenancy, scope and bad input."""

from app.contacts.audiences import audience_summary
from app.contacts.services import local_today
from tests.factories import make_audience, make_contact
from tests.support import NOW


def test_list_pages_newest_first_with_etag(app, api, make_org, make_key):
    org = make_org()
    ids = [make_audience(org, name=f"A{n}").id for n in range(3)]
    reader = api(make_key(org, ["contacts:read"]))
    first = reader.get("/api/v1/audiences?limit=2")
    body = first.get_json()
    assert [a["id"] for a in body["data"]] == sorted(ids, reverse=True)[:2]
    rest = reader.get(f"/api/v1/audiences?limit=2&cursor={body['next_cursor']}").get_json()
    assert [a["id"] for a in rest["data"]] == [min(ids)] and rest["next_cursor"] is None
    again = reader.get(
        "/api/v1/audiences?limit=2", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    bad = reader.get("/api/v1/audiences?cursor=Yzox")  # a contacts cursor ("c:1")
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid_cursor"
    assert reader.get("/api/v1/audiences?limit=0").status_code == 422


def test_count_matches_the_audience_page(app, api, make_org, make_key):
    org = make_org()
    audience = make_audience(org, {"languages": ["es"]})
    make_contact(org)
    make_contact(org)
    make_contact(org, opted_out_at=NOW)
    make_contact(org, consent_source=None)
    make_contact(org, birth_year=2012)  # a minor without guardian consent
    make_contact(org, language="en")  # not matched
    reader = api(make_key(org, ["contacts:read"]))
    response = reader.get(f"/api/v1/audiences/{audience.id}/count")
    body = response.get_json()
    assert (body["eligible"], body["matched"], body["excluded_total"]) == (2, 5, 3)
    assert [(e["reason"], e["count"]) for e in body["excluded"]] == [
        ("no_consent", 1),
        ("opted_out", 1),
        ("no_guardian_consent", 1),
    ]
    summary = audience_summary(org.id, audience.filters, today=local_today(org, NOW))
    assert body["eligible"] == summary.eligible and body["matched"] == summary.matched
    etag = response.headers["ETag"]
    assert reader.get(response.request.path, headers={"If-None-Match": etag}).status_code == 304
    make_contact(org)
    assert reader.get(response.request.path, headers={"If-None-Match": etag}).status_code == 200


def test_labels_follow_the_request_language(app, api, make_org, make_key):
    org = make_org()
    audience = make_audience(org)
    make_contact(org, opted_out_at=NOW)
    reader = api(make_key(org, ["contacts:read"]))
    url = f"/api/v1/audiences/{audience.id}/count"
    spanish = reader.get(url).get_json()["excluded"][0]["label"]
    english = reader.get(url, headers={"Accept-Language": "en"}).get_json()["excluded"][0]["label"]
    assert english == "Opted out" and spanish != english


def test_tenancy_scope_and_missing(app, api, make_org, make_key):
    org, other = make_org(), make_org()
    theirs = make_audience(other, name="Ajena")
    client = api(make_key(org))
    assert client.get("/api/v1/audiences").get_json()["data"] == []
    for url in (f"/api/v1/audiences/{theirs.id}/count", "/api/v1/audiences/99999999999/count"):
        response = client.get(url)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
        assert "Ajena" not in response.get_data(as_text=True)
    denied = api(make_key(org, ["campaigns:read", "reports:read", "events:read"])).get(
        "/api/v1/audiences"
    )
    assert denied.status_code == 403 and denied.get_json()["code"] == "insufficient_scope"
    unknown = client.get("/api/v1/audiences?nombre=x")
    assert unknown.status_code == 422 and "nombre" in str(unknown.get_json()["errors"])
