"""The experiment pages: coordinators design, write variants, pre-register outcomes and
start; evaluators read (never message texts or counts of the audience); bad input changes
nothing; another organization's experiment is a 404."""

from sqlalchemy import func, select

from app.experiments.models import Experiment, ExperimentAssignment, ExperimentVariant
from app.extensions import db
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_experiment,
    make_message,
)
from tests.support import csrf_token, csrf_token_from


def _world(make_org, make_user):
    org = make_org()
    campaign = make_campaign(org)
    message = make_message(campaign)
    audience = make_audience(org, {}, name="Prepas Tijuana")
    contacts = [make_contact(org) for _ in range(12)]
    return (
        org,
        campaign,
        message,
        audience,
        contacts,
        make_user(org, role="coordinator", language="en"),
    )


def _design(experiment) -> list:
    db.session.expire_all()
    return [(a.key, a.weight, a.label) for a in experiment.arms] + [
        experiment.stratify,
        experiment.audience_id,
    ]


def test_a_coordinator_creates_designs_and_starts_an_experiment(client, login, make_org, make_user):
    org, campaign, message, audience, contacts, coordinator = _world(make_org, make_user)
    login(coordinator)
    page = client.get(f"/campaigns/{campaign.id}")
    assert f"/experiments/campaigns/{campaign.id}" in page.get_data(as_text=True)
    none = client.get(f"/experiments/campaigns/{campaign.id}")
    created = client.post(
        f"/experiments/campaigns/{campaign.id}/new", data={"csrf_token": csrf_token_from(none)}
    )
    experiment = db.session.scalar(select(Experiment))
    assert created.headers["Location"].endswith(f"/experiments/{experiment.id}")

    url = f"/experiments/{experiment.id}/design"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(client.get(url)),
            "label_a": "Miedo",
            "weight_a": "45",
            "weight_b": "45",
            "holdout": "y",
            "holdout_weight": "10",
            "stratify": "y",
            "audience": str(audience.id),
        },
    )
    assert response.status_code == 302
    assert _design(experiment) == [
        ("A", 45, "Miedo"),
        ("B", 45, ""),
        ("holdout", 10, ""),
        True,
        audience.id,
    ]

    arm_b = experiment.arms[1]
    url = f"/experiments/{experiment.id}/arms/{arm_b.id}/messages/{message.id}"
    page = client.get(url)
    assert "data-sms-counter" in page.get_data(as_text=True)
    client.post(
        url,
        data={"csrf_token": csrf_token_from(page), "body_es": "Hola B", "body_en": "Hi B"},
    )
    assert db.session.scalar(select(ExperimentVariant.body_es)) == "Hola B"

    url = f"/experiments/{experiment.id}/outcomes"
    saved = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(client.get(url)),
            "kind_0": "rsvp_yes",
            "window_0": "14",
            "kind_1": "attended",
            "window_1": "30",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    detail = client.get(f"/experiments/{experiment.id}").get_data(as_text=True)
    assert "within 14 days" in detail and 'data-table="balance"' in detail
    assert "Hola B" in detail

    started = client.post(
        f"/experiments/{experiment.id}/start", data={"csrf_token": csrf_token(client)}
    )
    assert started.status_code == 302
    db.session.expire_all()
    assert experiment.status == "running"
    assert db.session.scalar(select(func.count()).select_from(ExperimentAssignment)) == 12


def test_bad_design_input_changes_nothing(client, login, make_org, make_user):
    org, campaign, _message, audience, _contacts, coordinator = _world(make_org, make_user)
    experiment = make_experiment(campaign, (1, 1))
    other_audience = make_audience(make_org(), {})
    login(coordinator)
    url = f"/experiments/{experiment.id}/design?lang=es"
    before = _design(experiment)
    token = csrf_token_from(client.get(url))
    for data, expected in (
        ({"weight_a": "0", "weight_b": "1"}, "1"),
        ({"weight_a": "abc", "weight_b": "1"}, "No es un valor entero válido"),
        ({"weight_a": "3"}, None),  # one arm
        ({"weight_a": "1", "weight_b": "1", "holdout": "y"}, None),  # holdout without ratio
        ({"weight_a": "1", "weight_b": "1", "audience": str(other_audience.id)}, None),
        ({"weight_a": "1", "weight_b": "-5"}, None),
    ):
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code == 400, data
        if expected:
            assert expected in response.get_data(as_text=True)
        assert _design(experiment) == before


def test_bad_variant_and_outcome_input_changes_nothing(client, login, make_org, make_user):
    org, campaign, message, _audience, _contacts, coordinator = _world(make_org, make_user)
    experiment = make_experiment(campaign, (1, 1))
    login(coordinator)
    url = f"/experiments/{experiment.id}/arms/{experiment.arms[0].id}/messages/{message.id}"
    token = csrf_token_from(client.get(url))
    for data in (
        {"body_es": "Solo español", "body_en": ""},
        {"body_es": "Hola {nombre}", "body_en": "Hi {name}"},  # unknown placeholders
        {"body_es": "x" * 1700, "body_en": "y"},
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ExperimentVariant)) == 0
    url = f"/experiments/{experiment.id}/outcomes"
    token = csrf_token_from(client.get(url))
    for data in (
        {"kind_0": "", "kind_1": "attended", "window_1": "30"},  # no primary
        {"kind_0": "attended", "window_0": "0"},
        {"kind_0": "attended", "window_0": "400"},
        {"kind_0": "attended"},  # no window
        {"kind_0": "bogus", "window_0": "3"},
        {"kind_0": "survey_item", "window_0": "3"},  # no question
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 400, data
    db.session.expire_all()
    assert [(o.kind, o.window_days) for o in experiment.outcomes] == [("attended", 30)]


def test_start_refused_with_its_reason(client, login, make_org, make_user):
    org, campaign, _message, _audience, _contacts, coordinator = _world(make_org, make_user)
    experiment = make_experiment(campaign, (1, 1))  # no audience yet
    login(coordinator)
    response = client.post(
        f"/experiments/{experiment.id}/start",
        data={"csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    assert "Choose the audience to randomize." in response.get_data(as_text=True)
    db.session.expire_all()
    assert experiment.status == "draft"


def test_the_sample_size_helper(client, login, make_org, make_user):
    org, campaign, _message, audience, _contacts, coordinator = _world(make_org, make_user)
    experiment = make_experiment(campaign, (1, 1), audience=audience)
    login(coordinator)
    page = client.get(f"/experiments/{experiment.id}?baseline=20&effect=5")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-per-arm="1094"' in html
    assert "Not enough" in html  # 12 contacts
    bad = client.get(f"/experiments/{experiment.id}?baseline=98&effect=5")
    assert bad.status_code == 400
    assert client.get(f"/experiments/{experiment.id}?baseline=abc&effect=5").status_code == 400


def test_evaluators_read_without_texts_or_counts(client, login, make_org, make_user):
    org, campaign, message, audience, _contacts, _coordinator = _world(make_org, make_user)
    experiment = make_experiment(campaign, (1, 1), holdout=1, audience=audience)
    db.session.add(
        ExperimentVariant(
            organization_id=org.id,
            arm_id=experiment.arms[0].id,
            message_id=message.id,
            body_es="Texto secreto",
            body_en="Secret text",
        )
    )
    db.session.commit()
    login(make_user(org, role="evaluator", language="en"))
    page = client.get(f"/experiments/{experiment.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Holdout" in html
    assert "Texto secreto" not in html and "balance" not in html and "Prepas" not in html
    assert client.get(f"/experiments/{experiment.id}/design").status_code == 403
    assert client.post(f"/experiments/{experiment.id}/start").status_code in (400, 403)


def test_another_organizations_experiment_is_not_found(client, login, make_org, make_user):
    org, campaign, message, _audience, _contacts, coordinator = _world(make_org, make_user)
    other_org = make_org()
    other_campaign = make_campaign(other_org)
    other_message = make_message(other_campaign)
    theirs = make_experiment(other_campaign, (1, 1))
    mine = make_experiment(campaign, (1, 1))
    login(coordinator)
    token = csrf_token(client)
    for url in (
        f"/experiments/{theirs.id}",
        f"/experiments/{theirs.id}/design",
        f"/experiments/{theirs.id}/outcomes",
        f"/experiments/campaigns/{other_campaign.id}",
        f"/experiments/{theirs.id}/arms/{theirs.arms[0].id}/messages/{other_message.id}",
        # my experiment with their arm or message
        f"/experiments/{mine.id}/arms/{theirs.arms[0].id}/messages/{message.id}",
        f"/experiments/{mine.id}/arms/{mine.arms[0].id}/messages/{other_message.id}",
    ):
        assert client.get(url).status_code == 404, url
    for action in ("start", "finish", "delete"):
        response = client.post(f"/experiments/{theirs.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404
    db.session.expire_all()
    assert theirs.status == "draft" and db.session.get(Experiment, theirs.id) is not None


def test_a_survey_question_as_the_primary_outcome(client, login, make_org, make_user):
    org, campaign, _message, _audience, _contacts, coordinator = _world(make_org, make_user)
    experiment = make_experiment(campaign, (1, 1))
    login(coordinator)
    url = f"/experiments/{experiment.id}/outcomes"
    page = client.get(url)
    assert 'value="bank:risk_fentanyl_once"' in page.get_data(as_text=True)
    token = csrf_token_from(page)
    data = {"csrf_token": token, "kind_0": "survey_item", "window_0": "60"}
    data["item_0"] = "bank:risk_fentanyl_once"
    assert client.post(url, data={**data, "top_box_0": "cuatro"}).status_code == 400
    assert client.post(url, data={**data, "top_box_0": "4"}).status_code == 302
    db.session.expire_all()
    (outcome,) = experiment.outcomes
    assert (outcome.kind, outcome.survey_bank_code, outcome.top_box) == (
        "survey_item",
        "risk_fentanyl_once",
        [4.0],
    )
    detail = client.get(f"/experiments/{experiment.id}").get_data(as_text=True)
    assert "(counted: 4)" in detail


def _ready(campaign, audience):
    experiment = make_experiment(campaign, (1, 1), holdout=1, audience=audience)
    db.session.commit()
    return experiment


def test_a_large_audience_starts_in_a_worker(app, client, login, make_org, make_user, run_jobs):
    org, campaign, _message, audience, contacts, coordinator = _world(make_org, make_user)
    experiment = _ready(campaign, audience)
    app.config["EXPERIMENT_INLINE_START"] = 5  # 12 contacts: too many for the request
    login(coordinator)
    url = f"/experiments/{experiment.id}/start"
    response = client.post(url, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "a worker is assigning 12 contacts" in page and "Waiting for a worker" in page
    db.session.expire_all()
    assert experiment.status == "draft" and experiment.started_at is None
    # A second click while the job waits: refused with its reason, no second job.
    again = client.post(url, data={"csrf_token": csrf_token(client)}, follow_redirects=True)
    assert "The experiment is being started" in again.get_data(as_text=True)
    assert run_jobs() == 1
    assert experiment.status == "running" and experiment.started_at is not None
    assigned = db.session.scalar(select(func.count()).select_from(ExperimentAssignment))
    assert assigned == len(contacts)
    assert run_jobs() == 0  # nothing else queued


def test_a_queued_start_checks_the_rules_again_when_it_runs(
    app, client, login, make_org, make_user, run_jobs
):
    org, campaign, _message, audience, _contacts, coordinator = _world(make_org, make_user)
    experiment = _ready(campaign, audience)
    app.config["EXPERIMENT_INLINE_START"] = 5
    login(coordinator)
    client.post(f"/experiments/{experiment.id}/start", data={"csrf_token": csrf_token(client)})
    campaign.status = "archived"  # meanwhile
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    assert experiment.status == "draft"
    assert db.session.scalar(select(func.count()).select_from(ExperimentAssignment)) == 0
    from app.jobs.models import Job

    job = db.session.scalar(select(Job).where(Job.kind == "experiment_start"))
    assert job.status == "failed" and job.attempts == 1  # not retried: the rule holds
