"""Report figures and their rendered tables and charts are reused for
REPORTS_CACHE_SECONDS, keyed by all they depend on: shared by every process through Redis
when REDIS_URL is set (one copy per key, the first stored), per process otherwise or when
Redis does not answer; sharing never leaks one viewer's suppression into another's page."""

import os
from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.participation.services import record_event
from app.reports import cache, routes
from tests.reports.helpers import MARCH_ARGS, cells, page

needs_redis = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"), reason="needs Redis (TEST_REDIS_URL)"
)


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


def _forget_this_process() -> None:
    """What another web process looks like: none of this process's copies."""
    with cache._lock:
        for copies in cache._caches.values():
            copies.clear()


def test_tables_and_charts_are_rendered_once_per_figures_and_viewer(
    app, client, login, make_user, dataset, caching, monkeypatch
):
    rendered = []
    real = routes.campaign_tables

    def counting(figures, threshold, language):
        rendered.append((threshold, language))
        return real(figures, threshold, language)

    monkeypatch.setattr(routes, "campaign_tables", counting)
    login(make_user(dataset.org, role="coordinator", email="co@example.org", language="en"))
    url = f"/reports/campaigns/{dataset.c1.id}"
    first = page(client, url, **MARCH_ARGS)[1]
    assert page(client, url, **MARCH_ARGS)[1] == first  # the same HTML, not rebuilt
    assert rendered == [(None, "en")]
    assert "Cifras" in page(client, url, **MARCH_ARGS, lang="es")[1]  # another variant
    assert rendered == [(None, "en"), (None, "es")]
    _new_delivery(dataset)
    cache.clear()  # new figures: new HTML beside them
    assert _reached(page(client, url, **MARCH_ARGS, lang="en")[1]) == "10"
    assert len(rendered) == 3


def test_organization_tables_are_cached_beside_their_figures(
    app, client, login, make_user, dataset, caching, monkeypatch
):
    rendered = []
    real = routes.organization_tables
    monkeypatch.setattr(
        routes, "organization_tables", lambda figures: rendered.append(1) or real(figures)
    )
    login(make_user(dataset.org, role="coordinator", email="co@example.org", language="en"))
    first = page(client, "/reports/", **MARCH_ARGS)[1]
    assert page(client, "/reports/", **MARCH_ARGS)[1] == first
    assert rendered == [1]


@needs_redis
def test_every_process_serves_the_same_shared_copy(app, client, login, make_user, dataset, caching):
    assert app.config["REDIS_URL"]
    login(make_user(dataset.org, role="coordinator", email="co@example.org", language="en"))
    url = f"/reports/campaigns/{dataset.c1.id}"
    before = page(client, url, **MARCH_ARGS)[1]
    assert _reached(before) == "9"
    _new_delivery(dataset)
    _forget_this_process()
    # Another process answers with the copy the first one stored, "as of" the same time.
    assert page(client, url, **MARCH_ARGS)[1] == before
    # Two processes computing one key at once: both show the copy stored first.
    key = ("test", dataset.org.id)
    with app.test_request_context():
        first = cache.cached(key, lambda: "first")
        _forget_this_process()
        second = cache.cached(key, lambda: "second")
    assert second == first and second.value == "first"


def test_per_process_copies_when_redis_does_not_answer(
    app, client, login, make_user, dataset, caching
):
    app.config["REDIS_URL"] = "redis://127.0.0.1:6390/0"  # nothing listens there
    login(make_user(dataset.org, role="coordinator", email="co@example.org", language="en"))
    url = f"/reports/campaigns/{dataset.c1.id}"
    assert _reached(page(client, url, **MARCH_ARGS)[1]) == "9"
    _new_delivery(dataset)
    assert _reached(page(client, url, **MARCH_ARGS)[1]) == "9"  # this process's copy


def _slow(calls: list, value, started=None, release=None):
    def compute():
        calls.append(value)
        if started is not None:
            started.set()
        if release is not None:
            release.wait(5)
        return value

    return compute


def _in_threads(app, functions) -> list:
    import threading

    results = [None] * len(functions)

    def run(i, function):
        with app.app_context():
            results[i] = function()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_a_key_nobody_has_yet_is_computed_once_however_many_ask(app, caching):
    """50 users opening a cold dashboard at once: one computes, the others wait for it."""
    import threading

    calls, release = [], threading.Event()
    compute = _slow(calls, "figures", release=release)
    threading.Timer(0.3, release.set).start()
    results = _in_threads(app, [lambda: cache.cached(("k",), compute).value] * 8)
    assert results == ["figures"] * 8
    assert calls == ["figures"]


def test_an_expired_copy_is_shown_while_one_request_recomputes_it(app, caching):
    import threading
    import time

    app.config["REPORTS_CACHE_SECONDS"] = 1  # a short "minute" (Redis counts whole seconds)
    assert cache.cached(("k",), lambda: "old").value == "old"
    time.sleep(1.1)
    calls, started, release = [], threading.Event(), threading.Event()
    refresher = threading.Thread(
        target=lambda: _in_threads(
            app, [lambda: cache.cached(("k",), _slow(calls, "new", started, release))]
        )
    )
    refresher.start()
    assert started.wait(5)
    # Meanwhile everyone else gets the last copy at once, and nobody else recomputes.
    assert (
        _in_threads(app, [lambda: cache.cached(("k",), lambda: "again").value] * 4) == ["old"] * 4
    )
    release.set()
    refresher.join(5)
    assert calls == ["new"]
    assert cache.cached(("k",), lambda: "again").value == "new"
