"""/api/v1/events: the evaluator's de-identified event export as a cursor-paged stream,
only when the organization shares per-person files; its codebook; tenancy, scope, ETag
and bad input."""

from datetime import timedelta

from app.extensions import db
from app.participation.services import record_event
from app.reports.event_columns import event_columns
from app.reports.exports import event_rows
from app.reports.period import Period
from tests.factories import make_campaign, make_contact
from tests.support import NOW


def _events(org, campaign, n: int) -> list:
    contacts = [make_contact(org, first_name=f"Persona {i}") for i in range(n)]
    for i, contact in enumerate(contacts):
        for kind in ("sms_sent", "sms_delivered"):
            record_event(
                organization_id=org.id,
                contact_id=contact.id,
                kind=kind,
                channel="sms",
                occurred_at=NOW - timedelta(hours=i),
                campaign_id=campaign.id,
            )
    db.session.commit()
    return contacts


def _sharing(make_org):
    org = make_org()
    org.evaluator_person_files = True
    db.session.commit()
    return org


def test_off_by_default_answers_person_files_off(app, api, make_org, make_key):
    org = make_org()
    _events(org, make_campaign(org), 6)
    reader = api(make_key(org, ["events:read"]))
    response = reader.get("/api/v1/events")
    body = response.get_json()
    assert response.status_code == 403 and body["code"] == "person_files_off"
    assert "archivos por persona" in body["detail"] and "data" not in body
    english = reader.get("/api/v1/events", headers={"Accept-Language": "en"}).get_json()
    assert "does not share per-person files" in english["detail"]
    assert reader.get("/api/v1/events/codebook").status_code == 200  # the codebook is not


def test_pages_are_the_evaluator_export(app, api, make_org, make_key):
    org = _sharing(make_org)
    campaign = make_campaign(org)
    contacts = _events(org, campaign, 6)
    reader = api(make_key(org, ["events:read"]))
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/events?limit=5" + (f"&cursor={cursor}" if cursor else "")
        body = reader.get(url).get_json()
        seen += body["data"]
        cursor, pages = body["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 12
    with app.test_request_context():
        rows = list(
            event_rows(
                org.id,
                campaign_id=None,
                period=Period(None, None, org.timezone),
                secret_key=app.config["SECRET_KEY"],
                threshold=5,
            )
        )
    header = rows[0]
    assert header == [c.key for c in event_columns(5)] and "week_utc" in header
    assert seen == [dict(zip(header, row, strict=True)) for row in rows[1:]]
    text = str(seen)
    for contact in contacts:
        assert contact.phone[3:] not in text and contact.first_name not in text
    first = reader.get("/api/v1/events?limit=5")
    etag = first.headers["ETag"]
    assert reader.get("/api/v1/events?limit=5", headers={"If-None-Match": etag}).status_code == 304


def test_too_few_contacts_leave_the_stream_empty(app, api, make_org, make_key):
    org = _sharing(make_org)
    _events(org, make_campaign(org), 2)  # fewer than the threshold of 5
    body = api(make_key(org, ["events:read"])).get("/api/v1/events").get_json()
    assert body == {"data": [], "next_cursor": None}


def test_campaign_filter_tenancy_and_bad_input(app, api, make_org, make_key):
    org, other = _sharing(make_org), _sharing(make_org)
    mine, theirs = make_campaign(org), make_campaign(other, name="Ajena")
    _events(org, mine, 5)
    _events(other, theirs, 5)
    reader = api(make_key(org, ["events:read"]))
    own = reader.get(f"/api/v1/events?campaign_id={mine.id}").get_json()["data"]
    assert len(own) == 10 and {row["campaign_id"] for row in own} == {mine.id}
    everything = reader.get("/api/v1/events").get_json()["data"]
    assert "Ajena" not in str(everything) and len(everything) == 10
    foreign = reader.get(f"/api/v1/events?campaign_id={theirs.id}")
    assert foreign.status_code == 404 and foreign.get_json()["code"] == "not_found"
    bad = reader.get("/api/v1/events?cursor=YTox")  # an audiences cursor ("a:1")
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid_cursor"
    for query in ("limit=0", "limit=5001", "campaign_id=x", "kind=sms"):
        response = reader.get(f"/api/v1/events?{query}")
        assert response.status_code == 422 and response.get_json()["code"] == "validation_failed"
    denied = api(make_key(org, ["reports:read", "campaigns:read"])).get("/api/v1/events")
    assert denied.status_code == 403 and denied.get_json()["code"] == "insufficient_scope"


def test_codebook(app, api, make_org, make_key):
    org = make_org()
    reader = api(make_key(org, ["events:read"]))
    response = reader.get("/api/v1/events/codebook")
    body = response.get_json()
    assert body["threshold"] == 5
    assert [c["column"] for c in body["columns"]] == [c.key for c in event_columns(5)]
    english = reader.get("/api/v1/events/codebook", headers={"Accept-Language": "en"}).get_json()
    assert english["columns"][0]["meaning"] != body["columns"][0]["meaning"]
    assert "Pseudonymous" in english["columns"][0]["meaning"]
    etag = response.headers["ETag"]
    assert reader.get("/api/v1/events/codebook", headers={"If-None-Match": etag}).status_code == 304
    denied = api(make_key(org, ["reports:read"])).get("/api/v1/events/codebook")
    assert denied.status_code == 403
