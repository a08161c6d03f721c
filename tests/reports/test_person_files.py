"""Per-person files for evaluators (issue 18's privacy rule): off by default.

Counting the rows of a per-person file (the participation events, a survey's answers, an
experiment's assignments) gives any count exactly, including those the report pages hide;
so evaluators get them only when an administrator allowed it. Coordinators and
administrators, who see contacts anyway, always get them.
"""

import pytest

from app.extensions import db
from tests.factories import make_experiment
from tests.reports.test_exports import MARCH

MESSAGES = {
    "en": "Your organization does not share per-person files with evaluators.",
    "es": "Tu organización no comparte archivos por persona con quienes evalúan.",
}


def _person_file_urls(dataset) -> list[str]:
    experiment = make_experiment(dataset.c1, (1, 1), holdout=0, primary=None)
    db.session.commit()
    assert experiment.campaign_id == dataset.c1.id
    return [
        "/reports/export/events.csv?from=2026-03-01&to=2026-03-31",
        f"/reports/export/events.csv?campaign_id={dataset.c1.id}&from=2026-03-01&to=2026-03-31",
        f"/reports/experiments/{dataset.c1.id}/assignments.csv",
    ]


@pytest.mark.parametrize("language", ["en", "es"])
def test_evaluators_get_no_per_person_file_by_default(client, login, make_user, dataset, language):
    dataset.org.evaluator_person_files = False
    db.session.commit()
    urls = _person_file_urls(dataset)
    login(make_user(dataset.org, role="evaluator", email="eval@example.org", language=language))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert MESSAGES[language] in response.get_data(as_text=True), url
    # The report pages say so instead of offering the download.
    page = client.get(f"/reports/campaigns/{dataset.c1.id}", query_string=MARCH)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "/reports/export/events.csv" not in text
    assert MESSAGES[language].rstrip(".") in text
    # The tables stay: they are suppressed for evaluators.
    assert client.get("/reports/export/campaigns.csv", query_string=MARCH).status_code == 200


def test_an_administrator_allows_them_and_the_page_follows_at_once(
    client, login, make_user, dataset
):
    dataset.org.evaluator_person_files = False
    db.session.commit()
    login(make_user(dataset.org, role="evaluator", email="eval@example.org", language="en"))
    url = f"/reports/campaigns/{dataset.c1.id}"
    assert "/reports/export/events.csv" not in client.get(url, query_string=MARCH).text
    dataset.org.evaluator_person_files = True
    db.session.commit()
    # The cached page fragment is per "files allowed" too: no stale page.
    assert "/reports/export/events.csv" in client.get(url, query_string=MARCH).text
    response = client.get("/reports/export/events.csv", query_string=MARCH)
    assert response.status_code == 200 and response.text.count("\n") > 1


def test_coordinators_always_get_them(client, login, make_user, dataset):
    dataset.org.evaluator_person_files = False
    db.session.commit()
    urls = _person_file_urls(dataset)
    login(make_user(dataset.org, role="coordinator", email="coord@example.org", language="en"))
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_an_administrator_shares_them_in_settings_and_it_is_audited(
    client, login, make_user, dataset, caplog
):
    from tests.organizations.test_i14_settings import form_data

    org = dataset.org
    org.evaluator_person_files = False
    db.session.commit()
    login(make_user(org, role="admin", email="admin@example.org", language="en"))
    page = client.get("/organization/settings")
    assert "Per-person files for evaluators" in page.text
    caplog.set_level("INFO", logger="alcance.security")
    saved = client.post("/organization/settings", data=form_data(page, evaluator_person_files="1"))
    assert saved.status_code == 302
    db.session.expire_all()
    assert org.evaluator_person_files is True
    audit = [r.getMessage() for r in caplog.records if "evaluator_person_files" in r.getMessage()]
    assert audit and "shared=True" in audit[0] and "org_id=" in audit[0]
    # A form without the field (an older page) keeps what was chosen.
    page = client.get("/organization/settings")
    client.post("/organization/settings", data=form_data(page))
    db.session.expire_all()
    assert org.evaluator_person_files is True
    # A value that is not a choice changes nothing.
    page = client.get("/organization/settings")
    bad = client.post("/organization/settings", data=form_data(page, evaluator_person_files="2"))
    assert bad.status_code == 400
    db.session.expire_all()
    assert org.evaluator_person_files is True
