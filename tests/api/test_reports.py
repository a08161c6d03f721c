"""/api/v1 reports: the CLI's JSON documents (reports.documents) with the evaluator's
small-cell suppression, ETag, tenancy, scope and bad input."""

import json
from datetime import date

from app.extensions import db
from app.participation.services import record_event
from app.reports.documents import experiment_document, reach_tables, survey_document, table_json
from app.reports.period import Period
from tests.factories import make_campaign, make_contact, make_experiment, make_message, make_survey
from tests.support import NOW


def _reached(org, campaign, n: int) -> list:
    message = make_message(campaign)
    contacts = [make_contact(org, first_name=f"Alcanzada {i}") for i in range(n)]
    for contact in contacts:
        for kind in ("sms_sent", "sms_delivered"):
            record_event(
                organization_id=org.id,
                contact_id=contact.id,
                kind=kind,
                channel="sms",
                occurred_at=NOW,
                campaign_id=campaign.id,
                message_id=message.id,
            )
    db.session.commit()
    return contacts


def _summary(document) -> dict:
    return {r["metric"]: r["value"] for r in document["tables"]["summary"]["rows"]}


def test_campaign_reach_is_the_cli_document_suppressed(app, api, make_org, make_key, runner):
    org = make_org(slug="frontera-api")
    campaign = make_campaign(org)
    contacts = _reached(org, campaign, 3)
    reader = api(make_key(org, ["reports:read"]))
    response = reader.get(f"/api/v1/campaigns/{campaign.id}/reach?from=2026-11-01&to=2026-11-30")
    assert response.status_code == 200
    document = response.get_json()
    exact = json.loads(
        runner.invoke(
            args=[
                "reports",
                "reach",
                "--org",
                org.slug,
                "--campaign",
                str(campaign.id),
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
            ]
        ).output
    )
    assert document.keys() == exact.keys() and document["tables"].keys() == exact["tables"].keys()
    assert document["period"] == exact["period"] and document["campaign"] == exact["campaign"]
    assert _summary(exact)["reached"] == _summary(document)["reached"] == 3  # an anchor
    # the breakdowns of 3 people are below the threshold of 5: hidden, as for evaluators
    shown = {r["language"]: r["reached"] for r in document["tables"]["language"]["rows"]}
    exact_languages = {r["language"]: r["reached"] for r in exact["tables"]["language"]["rows"]}
    assert (shown["es"], exact_languages["es"]) == ("*", 3)
    with app.test_request_context():
        _main, about, tables = reach_tables(
            org,
            Period(date(2026, 11, 1), date(2026, 11, 30), org.timezone),
            campaign=campaign,
            today=NOW.date(),
            granularity=None,
            threshold=5,
            language="es",
        )
    assert document["tables"] == {key: table_json(t) for key, t in tables.items()}
    text = response.get_data(as_text=True)
    assert contacts[0].phone[3:] not in text and "Alcanzada" not in text
    assert "fentanilo mata" not in text  # no message text in the reports
    etag = response.headers["ETag"]
    assert (
        reader.get(response.request.full_path, headers={"If-None-Match": etag}).status_code == 304
    )


def test_reach_above_the_threshold_is_exact(app, api, make_org, make_key):
    org = make_org()
    campaign = make_campaign(org)
    _reached(org, campaign, 6)
    document = (
        api(make_key(org, ["reports:read"]))
        .get(f"/api/v1/campaigns/{campaign.id}/reach")
        .get_json()
    )
    assert _summary(document)["reached"] == 6


def test_organization_reach(app, api, make_org, make_key, runner):
    org = make_org()
    campaign = make_campaign(org, name="Campaña uno")
    _reached(org, campaign, 2)
    reader = api(make_key(org, ["reports:read"]))
    document = reader.get("/api/v1/reports/reach").get_json()
    exact = json.loads(runner.invoke(args=["reports", "reach", "--org", org.slug]).output)
    assert document["tables"].keys() == exact["tables"].keys()
    # campaign-level figures are exact for evaluators too (as on the reports page)
    assert document["tables"]["campaigns"] == exact["tables"]["campaigns"]
    assert document["period"] == {"from": None, "to": None, "timezone": org.timezone}


def test_bad_periods_are_refused(app, api, make_org, make_key):
    org = make_org()
    campaign = make_campaign(org)
    reader = api(make_key(org, ["reports:read"]))
    for query in ("from=2026-11-30&to=2026-11-01", "from=1999-01-01", "granularity=month", "x=1"):
        response = reader.get(f"/api/v1/campaigns/{campaign.id}/reach?{query}")
        assert response.status_code == 422, query
        assert response.get_json()["code"] == "validation_failed"
    spanish = reader.get("/api/v1/reports/reach?from=2026-11-30&to=2026-11-01").get_json()
    assert "anterior" in str(spanish["errors"])  # the form's own message, in Spanish
    english = reader.get(
        "/api/v1/reports/reach?from=2026-11-30&to=2026-11-01", headers={"Accept-Language": "en"}
    ).get_json()
    assert "before the start date" in str(english["errors"])


def test_survey_and_experiment_results(app, api, make_org, make_key):
    org = make_org()
    survey = make_survey(org)
    campaign = make_campaign(org)
    experiment = make_experiment(campaign)
    reader = api(make_key(org, ["reports:read"]))
    survey_response = reader.get(f"/api/v1/surveys/{survey.id}/results")
    assert survey_response.status_code == 200
    body = survey_response.get_json()
    with app.test_request_context():
        expected = survey_document(org, survey, threshold=5, language="es")
    assert body == json.loads(json.dumps(expected))
    assert body["survey"] == {"id": survey.id, "title": "Encuesta"}
    english = reader.get(
        f"/api/v1/surveys/{survey.id}/results", headers={"Accept-Language": "en"}
    ).get_json()
    assert english["survey"]["title"] == "Survey"
    experiment_response = reader.get(f"/api/v1/experiments/{experiment.id}/results")
    assert experiment_response.status_code == 200
    body = experiment_response.get_json()
    assert body["experiment"]["id"] == experiment.id and body["campaign"]["id"] == campaign.id
    with app.test_request_context():
        expected = experiment_document(
            org, campaign, experiment, threshold=5, now=NOW, today=NOW.date()
        )
    assert body["tables"] == json.loads(json.dumps(expected["tables"]))
    etag = survey_response.headers["ETag"]
    url = f"/api/v1/surveys/{survey.id}/results"
    assert reader.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_tenancy_and_scope(app, api, make_org, make_key):
    org, other = make_org(), make_org()
    campaign = make_campaign(other, name="Ajena")
    survey = make_survey(other, title_es="Encuesta ajena")
    experiment = make_experiment(campaign)
    client = api(make_key(org))
    for url in (
        f"/api/v1/campaigns/{campaign.id}/reach",
        f"/api/v1/surveys/{survey.id}/results",
        f"/api/v1/experiments/{experiment.id}/results",
        "/api/v1/experiments/4294967296/results",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found", url
        assert "ajena" not in response.get_data(as_text=True).lower()
    assert "Ajena" not in client.get("/api/v1/reports/reach").get_data(as_text=True)
    mine = make_campaign(org)
    denied = api(make_key(org, ["campaigns:read", "events:read", "contacts:read"])).get(
        f"/api/v1/campaigns/{mine.id}/reach"
    )
    assert denied.status_code == 403 and denied.get_json()["scope"] == "reports:read"
