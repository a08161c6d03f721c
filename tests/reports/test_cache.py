"""Report figures are reused for REPORTS_CACHE_SECONDS per web process, keyed by all they
depend on, and sharing them never leaks one viewer's suppression into another's page."""

from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.participation.services import record_event
from app.reports import cache
from tests.reports.helpers import MARCH_ARGS, cells, page


@pytest.fixture
def caching(app):
    app.config["REPORTS_CACHE_SECONDS"] = 60
    cache.clear()
    yield
    cache.clear()


def _reached(html: str) -> str:
    return cells(html, "Headline figures")[0][1]


def _new_delivery(dataset):
    contact = dataset.contacts["c9"]  # only a failed SMS in March so far
    record_event(
        organization_id=dataset.org.id,
        contact_id=contact.id,
        kind="sms_delivered",
        channel="sms",
        occurred_at=datetime(2026, 3, 20, 18, tzinfo=UTC),
        campaign_id=dataset.c1.id,
    )
    db.session.commit()


def test_figures_are_reused_then_recomputed(app, client, login, make_user, dataset, caching):
    login(make_user(dataset.org, role="coordinator", email="co@example.org", language="en"))
    url = f"/reports/campaigns/{dataset.c1.id}"
    _response, before = page(client, url, **MARCH_ARGS)
    assert _reached(before) == "9" and "Figures as of" in before
    _new_delivery(dataset)
    assert _reached(page(client, url, **MARCH_ARGS)[1]) == "9"  # the same figures, reused
    other_period = {**MARCH_ARGS, "to": "2026-03-30"}
    assert _reached(page(client, url, **other_period)[1]) == "10"  # another key: computed now
    cache.clear()  # what the minute's expiry does
    assert _reached(page(client, url, **MARCH_ARGS)[1]) == "10"


def test_no_caching_when_the_setting_is_zero(app, client, login, make_user, dataset):
    assert app.config["REPORTS_CACHE_SECONDS"] == 0  # the test default
    login(make_user(dataset.org, role="coordinator", email="co@example.org", language="en"))
    url = f"/reports/campaigns/{dataset.c1.id}"
    assert _reached(page(client, url, **MARCH_ARGS)[1]) == "9"
    _new_delivery(dataset)
    assert _reached(page(client, url, **MARCH_ARGS)[1]) == "10"


def test_shared_figures_keep_each_viewers_suppression(
    app, client, login, make_user, dataset, caching
):
    evaluator = make_user(dataset.org, role="evaluator", email="ev@example.org", language="en")
    coordinator = make_user(dataset.org, role="coordinator", email="co@example.org", language="en")
    url = f"/reports/campaigns/{dataset.c1.id}"
    viewers = {user.id: app.test_client() for user in (evaluator, coordinator)}
    for user in (evaluator, coordinator):
        login(user, c=viewers[user.id])
    for user, expected in (
        (evaluator, ["English", "*", "*", "*", "*"]),
        (coordinator, ["English", "2", "22.2%", "1", "14.3%"]),
        (evaluator, ["English", "*", "*", "*", "*"]),
    ):
        html = page(viewers[user.id], url, **MARCH_ARGS)[1]
        assert cells(html, "Reach by language")[1] == expected
