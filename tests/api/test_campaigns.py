"""/api/v1/campaigns: list by status (the campaigns page's filters), detail with targets,
places and message texts per language, ETag, tenancy, scope and bad input."""

from app.campaigns.models import CampaignPlace
from app.extensions import db
from tests.api.conftest import EVALUATOR_SCOPES
from tests.factories import make_campaign, make_contact, make_message


def test_list_filters_by_status(app, api, make_org, make_key):
    org = make_org()
    active = make_campaign(org, name="Activa")
    make_message(active)
    make_campaign(org, name="Borrador", status="draft")
    make_campaign(org, name="Vieja", status="archived")
    reader = api(make_key(org, ["campaigns:read"]))
    body = reader.get("/api/v1/campaigns").get_json()
    assert [c["name"] for c in body["data"]] == ["Activa", "Borrador"]  # live first
    assert body["data"][0]["messages"] == 1
    assert body["counts"]["all"] == 3 and body["counts"]["current"] == 2
    drafts = reader.get("/api/v1/campaigns?status=draft").get_json()["data"]
    assert [c["name"] for c in drafts] == ["Borrador"]
    every = reader.get("/api/v1/campaigns?status=all").get_json()["data"]
    assert len(every) == 3
    bad = reader.get("/api/v1/campaigns?status=borrador")
    assert bad.status_code == 422 and bad.get_json()["code"] == "validation_failed"
    assert "status" in str(bad.get_json()["errors"])


def test_detail_has_targets_places_and_texts(app, api, make_org, make_key):
    org = make_org()
    campaign = make_campaign(org, target_age_min=15, target_age_max=24, target_population=900)
    db.session.add(
        CampaignPlace(campaign_id=campaign.id, country="MX", state_code="02", target_population=9)
    )
    db.session.commit()
    message = make_message(campaign)
    reader = api(make_key(org, EVALUATOR_SCOPES))
    response = reader.get(f"/api/v1/campaigns/{campaign.id}")
    body = response.get_json()
    assert body["targets"] == {"age_min": 15, "age_max": 24, "population": 900}
    assert body["places"] == [
        {"country": "MX", "state": "02", "municipality": None, "target_population": 9}
    ]
    assert body["messages"][0]["id"] == message.id
    assert body["messages"][0]["texts"] == {"es": message.body_es, "en": message.body_en}
    assert body["status"] == "active"
    etag = response.headers["ETag"]
    url = f"/api/v1/campaigns/{campaign.id}"
    assert reader.get(url, headers={"If-None-Match": etag}).status_code == 304
    campaign.name = "Otra"
    db.session.commit()
    assert reader.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_tenancy_and_scope(app, api, make_org, make_key):
    org, other = make_org(), make_org()
    make_contact(org, first_name="Secreta")
    theirs = make_campaign(other, name="Ajena")
    client = api(make_key(org))
    assert client.get("/api/v1/campaigns?status=all").get_json()["data"] == []
    for url in (f"/api/v1/campaigns/{theirs.id}", "/api/v1/campaigns/0"):
        response = client.get(url)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
        assert "Ajena" not in response.get_data(as_text=True)
    denied = api(make_key(org, ["contacts:read", "reports:read"])).get("/api/v1/campaigns")
    assert denied.status_code == 403 and denied.get_json()["scope"] == "campaigns:read"
    spanish = api(make_key(org, ["reports:read"])).get("/api/v1/campaigns")
    assert "campaigns:read" in spanish.get_json()["detail"]
