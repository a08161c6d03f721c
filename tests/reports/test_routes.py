"""Report pages: access, the period form, suppression, isolation, no personal data."""

import re

import pytest

from tests.reports.helpers import MARCH_ARGS, NAMES, cells, page


@pytest.fixture
def evaluator(dataset, make_user):
    return make_user(dataset.org, role="evaluator", email="eval@example.org", language="en")


@pytest.fixture
def coordinator(dataset, make_user):
    return make_user(dataset.org, role="coordinator", email="coord@example.org", language="en")


def test_reports_need_the_view_reports_permission(client, dataset):
    assert client.get("/reports/").status_code == 302  # to the login page


def test_coordinator_sees_exact_counts(client, login, coordinator, dataset):
    login(coordinator)
    response, html = page(client, f"/reports/campaigns/{dataset.c1.id}", **MARCH_ARGS)
    assert response.status_code == 200
    assert "&lt;5" not in html and "To protect small groups" not in html
    assert cells(html, "Reach by language") == [
        ["Spanish", "7", "77.8%", "6", "85.7%"],
        ["English", "2", "22.2%", "1", "14.3%"],
    ]
    assert ["Total", "9", "100.0%", "7", "100.0%"] in [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", t)]
        for t in re.findall(r"<tfoot>\s*<tr>(.*?)</tr>", html, re.S)
    ]


def test_evaluator_sees_suppressed_breakdowns_and_exact_totals(client, login, evaluator, dataset):
    login(evaluator)
    response, html = page(client, f"/reports/campaigns/{dataset.c1.id}", **MARCH_ARGS)
    assert response.status_code == 200
    assert "To protect small groups" in html
    # Language: en = 2 is small; with the exact total 9 it could be recovered from es = 7,
    # so es is hidden as well; the shares of hidden counts are hidden too. One marker, "*",
    # for both: it does not tell which hidden cell is the small one.
    assert cells(html, "Reach by language") == [
        ["Spanish", "*", "*", "*", "*"],
        ["English", "*", "*", "*", "*"],
    ]
    assert "&lt;5" not in html
    # Age bands: every non-zero count is below 5.
    assert [row[1] for row in cells(html, "Reach by age band")] == ["*"] * 6
    # Gender: "prefers not to say" is 0 and stays 0.
    assert cells(html, "Reach by gender")[3][1:] == ["0", "0.0%", "0", "0.0%"]
    # Funnel no-shows: W1 1 (small), W2 0: the total would be W1's count, so it is hidden
    # too, in the table and in the chart drawn from it.
    funnel = cells(html, "Workshop funnel")
    assert [row[8] for row in funnel] == ["*", "0"]
    funnel = r'<caption><span class="visually-hidden">Workshop funnel.*?<tfoot>(.*?)</tfoot>'
    total = re.search(funnel, html, re.S).group(1)
    assert [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", total)
    ][3:9] == ["5", "*", "*", "*", "*", "*"]
    chart = re.search(r'<svg[^>]*aria-labelledby="chart-funnel-title.*?</svg>', html, re.S)
    assert "Invited · Contacts: 5" in chart.group(0) and "No-shows · Contacts" not in chart.group(0)
    # Reached, reached by SMS and in workshops are on the organization dashboard for every
    # campaign, so "workshop only" (9 - 7 = 2) is known anyway: shown as is, in the
    # headline and as "0 messages" alike.
    assert cells(html, "Headline figures")[0] == ["Reached", "9"]
    assert cells(html, "Headline figures")[2] == ["Reached in workshops only", "2"]
    assert cells(html, "Messages delivered per reached contact")[0][:2] == ["0", "2"]
    assert '<p class="stat">9</p>' in html
    # Failed and undelivered are hidden (1 and 1 would give away the messages' rows); the
    # delivery rate, which follows from the organization dashboard, is not.
    summary = dict(cells(html, "Headline figures"))
    assert (summary["Messages failed"], summary["Messages undelivered"]) == ("*", "*")
    assert summary["Delivery rate"] == "76.9%"


def test_evaluator_pages_contain_no_names_or_phones(client, login, evaluator, dataset):
    login(evaluator)
    urls = [
        "/reports/",
        f"/reports/campaigns/{dataset.c1.id}",
        "/reports/glossary",
        "/reports/codebook",
        f"/reports/campaigns/{dataset.c2.id}",
    ]
    for url in urls:
        for args in ({}, MARCH_ARGS):
            response, html = page(client, url, **args)
            assert response.status_code == 200, url
            for secret in NAMES + dataset.phones + [p[3:] for p in dataset.phones]:
                assert secret not in html, (url, secret)
    for table in ("summary", "age_band", "municipality", "funnel", "messages", "places"):
        body = client.get(
            f"/reports/export/{table}.csv", query_string={"campaign_id": dataset.c1.id}
        ).get_data(as_text=True)
        assert not any(s in body for s in NAMES + dataset.phones)
    events = client.get("/reports/export/events.csv").get_data(as_text=True)
    assert events.count("\n") > 30
    assert not any(s in events for s in NAMES + dataset.phones)


def test_other_organizations_campaign_is_404(client, login, coordinator, dataset):
    login(coordinator)
    other = dataset.other_campaign.id
    assert client.get(f"/reports/campaigns/{other}").status_code == 404
    assert (
        client.get("/reports/export/summary.csv", query_string={"campaign_id": other}).status_code
        == 404
    )
    assert (
        client.get("/reports/export/events.csv", query_string={"campaign_id": other}).status_code
        == 404
    )
    html = client.get("/reports/").get_data(as_text=True)
    assert "Sin Fentanilo B" not in html


def test_organization_dashboard(client, login, evaluator, dataset):
    login(evaluator)
    response, html = page(client, "/reports/", **MARCH_ARGS)
    assert response.status_code == 200
    campaigns = cells(html, "Campaigns")
    # Campaign-level figures are each campaign's own totals: exact, even for evaluators.
    assert campaigns[0][:3] == ["Escuela sin Vapeo", "Active", "Prevention education"]
    assert campaigns[1][:6] == [
        "Sin Fentanilo",
        "Active",
        "Information dissemination",
        "Universal",
        "9",
        "7",
    ]
    assert f"/reports/campaigns/{dataset.c1.id}?from=2026-03-01" in html
    assert cells(html, "By prevention strategy (CSAP)") == [
        ["Information dissemination", "1", "9", "7", "5", "10"],
        ["Prevention education", "1", "2", "2", "0", "2"],
    ]


def test_spanish_locale_formats_numbers_and_dates(client, login, coordinator, dataset):
    login(coordinator)
    _, html = page(client, f"/reports/campaigns/{dataset.c1.id}", lang="es", **MARCH_ARGS)
    assert "1 de marzo de 2026" in html  # the period, in Spanish
    assert "77.8\xa0%" in html or "77.8%" in html  # es_MX: a decimal point, as in Mexico
    assert "77,8" not in html


@pytest.mark.parametrize(
    "args, message",
    [
        ({"from": "2026-13-01"}, "Not a valid date value"),
        ({"from": "1999-12-31"}, "Choose a date between"),
        ({"to": "2999-01-01"}, "Choose a date between"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "must not be before the start date"),
        ({"from": "2024-01-01", "to": "2026-03-01", "granularity": "day"}, "Daily points cover"),
        ({"granularity": "hour"}, "Not a valid choice"),
    ],
)
def test_bad_periods_are_refused_with_a_message(client, login, coordinator, dataset, args, message):
    login(coordinator)
    for url in ("/reports/", f"/reports/campaigns/{dataset.c1.id}"):
        response, html = page(client, url, **args)
        assert response.status_code == 400
        assert message in html
        assert 'aria-invalid="true"' in html
    assert (
        client.get(
            "/reports/export/summary.csv", query_string={"campaign_id": dataset.c1.id, **args}
        ).status_code
        == 400
    )


def test_bad_period_message_in_spanish(client, login, coordinator, dataset):
    login(coordinator)
    _, html = page(client, "/reports/", lang="es", **{"from": "2026-13-01"})
    assert "No es una fecha válida" in html


def test_charts_are_accessible_svg_without_inline_styles(client, login, coordinator, dataset):
    login(coordinator)
    _, html = page(client, f"/reports/campaigns/{dataset.c1.id}", **MARCH_ARGS)
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 5
    for svg in svgs:
        chart_id = re.search(r'aria-labelledby="([^ "]+)-title', svg).group(1)
        assert f'<title id="{chart_id}-title">' in svg and f'<desc id="{chart_id}-desc">' in svg
        assert "style=" not in svg
    assert "<script>" not in html and " style=" not in html


def test_glossary_and_codebook_pages(client, login, evaluator, dataset):
    login(evaluator)
    html = client.get("/reports/glossary").get_data(as_text=True)
    assert 'id="reached"' in html and "Reach proportion" in html
    assert "Your role sees suppressed counts." in html
    html = client.get("/reports/codebook").get_data(as_text=True)
    assert "<code>contact</code>" in html and "Pseudonymous contact ID" in html
    assert client.get("/reports/codebook?export=nope").status_code == 404
