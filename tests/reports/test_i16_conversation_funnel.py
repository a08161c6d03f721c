"""Issue 16: the conversation funnel of the reports (replies → cases → acknowledged within
the target → referred) with the minutes to acknowledge, per campaign and per month.

Organization "frontera" (America/Mexico_City, UTC-6; target 15 minutes) runs campaigns A
and B. Each case is one contact's single message; times relative to the frozen NOW
(2026-11-27 18:00 UTC):

    case  campaign  text        opened (UTC)               acknowledged after  referred
    a1    A         crisis      NOW - 2 h                  5 min               yes
    a2    A         needs_help  NOW - 3 h                  30 min
    a3    A         needs_help  NOW - 4 h                  never
    a4    A         crisis      2026-11-01 03:00 (Oct 31   10 min
                                local: October)
    a5    A         needs_help  2026-10-10 18:00           20 min              yes
    b1    B         crisis      NOW - 1 h                  12 min
    b2    B         needs_help  NOW - 5 h                  8 min

Organization "otra" has a crisis case of its own that must never be counted.
"""

import re
from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from app.conversations.models import Case
from app.conversations.referrals import refer
from app.conversations.services import acknowledge
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.reports.conversations import conversation_figures, percentile
from app.reports.period import Period
from tests.factories import make_campaign, make_contact, make_outbox_row
from tests.reports.attacker import (
    Knowledge,
    attack,
    figures_of_tables,
    number,
    page_tables,
)
from tests.support import NOW, utc

CRISIS = "mi amigo no respira"
HELP = "¿dónde me pueden ayudar con el cristal?"
NAMES = {
    "a1": "Xiadani",
    "a2": "Yaretzi",
    "a3": "Zyanya",
    "a4": "Nayeli",
    "a5": "Itzel",
    "b1": "Tonatiuh",
    "b2": "Citlali",
}
_sid = iter(range(1, 1_000_000))
FUNNEL = "Conversation funnel"
BY_CAMPAIGN, BY_MONTH = "Conversation funnel by campaign", "Conversation funnel by month"
COUNTS = (
    "Contacts who replied",
    "Cases",
    "Urgent",
    "Normal",
    "Acknowledged in time",
    "Not acknowledged in time",
    "Referred",
)
CASES = (  # name, campaign, text, opened, minutes to acknowledge, referred
    ("a1", "A", CRISIS, NOW - timedelta(hours=2), 5, True),
    ("a2", "A", HELP, NOW - timedelta(hours=3), 30, False),
    ("a3", "A", HELP, NOW - timedelta(hours=4), None, False),
    ("a4", "A", CRISIS, utc(2026, 11, 1, 3), 10, False),
    ("a5", "A", HELP, utc(2026, 10, 10, 18), 20, True),
    ("b1", "B", CRISIS, NOW - timedelta(hours=1), 12, False),
    ("b2", "B", HELP, NOW - timedelta(hours=5), 8, False),
)


def _open_case(contact, campaign, text, at) -> Case:
    make_outbox_row(
        contact,
        campaign_id=campaign.id,
        purpose="campaign",
        status="sent",
        sent_at=at - timedelta(days=1),
        due_at=at - timedelta(days=1),
    )
    receive_sms(sid=f"SM{next(_sid):032d}", from_number=contact.phone, body=text, now=at)
    db.session.commit()
    return db.session.scalar(select(Case).where(Case.contact_id == contact.id))


@pytest.fixture
def conv(app, make_org, make_user):
    org = make_org(slug="frontera", timezone="America/Mexico_City")  # threshold 5
    other = make_org(slug="otra", timezone="America/Mexico_City")
    coordinator = make_user(org, role="coordinator", email="co@example.org", language="en")
    evaluator = make_user(org, role="evaluator", email="ev@example.org", language="en")
    campaigns = {
        "A": make_campaign(org, name="Rutas Seguras"),
        "B": make_campaign(org, name="Escuela Libre"),
    }
    cases = {}
    for n, (name, key, text, opened, minutes, referred) in enumerate(CASES, start=1):
        contact = make_contact(org, 800 + n, first_name=NAMES[name])
        case = _open_case(contact, campaigns[key], text, opened)
        if minutes is not None:
            acknowledge(case, user=coordinator, now=opened + timedelta(minutes=minutes))
        if referred:
            refer(case, "linea_vida", user=coordinator, now=opened + timedelta(minutes=40))
        db.session.commit()
        cases[name] = case
    foreign = make_contact(other, 900, first_name="Forastera")
    _open_case(
        foreign, make_campaign(other, name="Campaña Ajena"), CRISIS, NOW - timedelta(hours=1)
    )
    return org, campaigns, cases, coordinator, evaluator


def _client(app, login, user):
    client = app.test_client()
    login(user, c=client)
    return client


def _html(client, url, **args) -> str:
    response = client.get(url, query_string=args)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _rows(tables, caption) -> dict:
    columns, rows, total = tables[caption]
    found = {row[0]: dict(zip(columns[1:], row[1:], strict=True)) for row in rows}
    if total:
        found["Total"] = dict(zip(columns[1:], total[1:], strict=True))
    return found


def _counts(row) -> list[str]:
    return [row[c] for c in COUNTS]


# --- exact figures ---------------------------------------------------------------------------


def test_the_dataset_opens_the_cases_it_describes(conv):
    _org, _campaigns, cases, _c, _e = conv
    assert {n: (c.priority, c.state) for n, c in cases.items()} == {
        "a1": ("urgent", "referred"),
        "a2": ("normal", "acknowledged"),
        "a3": ("normal", "open"),
        "a4": ("urgent", "acknowledged"),
        "a5": ("normal", "referred"),
        "b1": ("urgent", "acknowledged"),
        "b2": ("normal", "acknowledged"),
    }


def test_figures_are_exact_per_campaign_month_and_overall(conv):
    org, campaigns, _cases, _c, _e = conv
    f = conversation_figures(org.id, Period(None, None, org.timezone), 15)
    a, b = campaigns["A"].id, campaigns["B"].id
    assert f.months == ["2026-10", "2026-11"]  # a4 (1 November, UTC) is October locally
    assert f.cells[(a, "2026-10")] == {
        "replies": 2,
        "cases": 2,
        "urgent": 1,
        "normal": 1,
        "within_target": 1,
        "not_within_target": 1,
        "referred": 1,
    }
    assert f.cells[(a, "2026-11")]["not_within_target"] == 2  # late (30 min) and never
    assert f.cells[(b, "2026-11")]["within_target"] == 2
    assert f.campaign_replies == {a: 5, b: 2} and f.total_replies == 7
    assert f.minutes(a) == [5, 10, 20, 30]
    assert (percentile(f.minutes(a), 0.5), percentile(f.minutes(a), 0.9)) == (15, 27)
    assert (percentile(f.minutes(b), 0.5), percentile(f.minutes(b), 0.9)) == (10, 11.6)
    assert f.minutes() == [5, 8, 10, 12, 20, 30]  # a3, never acknowledged, has no duration
    assert (percentile(f.minutes(), 0.5), percentile(f.minutes(), 0.9)) == (11, 25)
    # A period of November only (local days) leaves October's cases out.
    november = conversation_figures(org.id, Period(utc(2026, 11, 1).date(), None, org.timezone), 15)
    assert november.months == ["2026-11"] and len(november.minutes()) == 4


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 20], 0.9) == 19


def test_the_coordinator_sees_exact_figures_on_both_reports(app, login, conv):
    _org, campaigns, _cases, coordinator, _e = conv
    client = _client(app, login, coordinator)
    tables = page_tables(_html(client, "/reports/"))
    by_campaign = _rows(tables, BY_CAMPAIGN)
    assert _counts(by_campaign["Rutas Seguras"]) == ["5", "5", "2", "3", "2", "3", "2"]
    assert _counts(by_campaign["Escuela Libre"]) == ["2", "2", "1", "1", "2", "0", "0"]
    assert _counts(by_campaign["Total"]) == ["7", "7", "3", "4", "4", "3", "2"]
    assert by_campaign["Rutas Seguras"]["Median minutes to acknowledge"] == "15.0"
    assert by_campaign["Rutas Seguras"]["90th percentile, minutes"] == "27.0"
    assert by_campaign["Escuela Libre"]["90th percentile, minutes"] == "11.6"
    assert by_campaign["Total"]["Median minutes to acknowledge"] == "11.0"
    by_month = _rows(tables, BY_MONTH)
    assert _counts(by_month["October 2026"]) == ["2", "2", "1", "1", "1", "1", "1"]
    assert _counts(by_month["November 2026"]) == ["5", "5", "2", "3", "3", "2", "1"]
    assert by_month["November 2026"]["90th percentile, minutes"] == "24.6"
    assert "Campaña Ajena" not in _html(client, "/reports/")  # the other organization

    html = _html(client, f"/reports/campaigns/{campaigns['A'].id}")
    funnel = _rows(page_tables(html), FUNNEL)
    assert _counts(funnel["October 2026"]) == ["2", "2", "1", "1", "1", "1", "1"]
    assert _counts(funnel["November 2026"]) == ["3", "3", "1", "2", "1", "2", "1"]
    assert _counts(funnel["Total"]) == ["5", "5", "2", "3", "2", "3", "2"]

    csv = client.get("/reports/export/conversations.csv").get_data(as_text=True)
    header, *lines = csv.lstrip("\ufeff").splitlines()
    assert header.startswith("campaign_id,campaign,replies,cases,urgent,normal,within_target")
    assert f"{campaigns['A'].id},Rutas Seguras,5,5,2,3,2,3,2,15.00,27.00" in lines
    assert lines[-1] == "Total,,7,7,3,4,4,3,2,11.00,25.00"


def test_the_reach_cli_json_carries_the_funnel(app, conv):
    org, campaigns, _cases, _c, _e = conv
    import json

    result = app.test_cli_runner().invoke(args=["reports", "reach", "--org", org.slug])
    document = json.loads(result.output)
    total = document["tables"]["conversations"]["total"]
    assert (total["cases"], total["within_target"], total["ack_p90_minutes"]) == (7, 4, 25.0)
    result = app.test_cli_runner().invoke(
        args=["reports", "reach", "--org", org.slug, "--campaign", str(campaigns["B"].id)]
    )
    rows = json.loads(result.output)["tables"]["conversation_funnel"]["rows"]
    assert [(r["month"], r["cases"]) for r in rows] == [("2026-11", 2)]


# --- evaluators ---------------------------------------------------------------------------


def _views(app, login, user, campaigns) -> dict:
    client = _client(app, login, user)
    views = {"org": _html(client, "/reports/")}
    for key, campaign in campaigns.items():
        views[key] = _html(client, f"/reports/campaigns/{campaign.id}")
    views["dashboard"] = _html(client, "/dashboard")
    files = [
        client.get("/reports/export/conversations.csv").get_data(as_text=True),
        client.get("/reports/export/conversations_by_month.csv").get_data(as_text=True),
    ]
    for campaign in campaigns.values():
        files.append(
            client.get(
                "/reports/export/conversation_funnel.csv",
                query_string={"campaign_id": campaign.id},
            ).get_data(as_text=True)
        )
    views["files"] = "\n".join(files)
    return views


def _funnel_figures(views: dict) -> dict:
    """The funnel's figures of the organization page and of every campaign page."""
    figures = {}
    org = page_tables(views["org"])
    figures.update(figures_of_tables({c: org[c] for c in (BY_CAMPAIGN, BY_MONTH)}))
    for key in ("A", "B"):
        tables = page_tables(views[key])
        for (caption, label, column), value in figures_of_tables({FUNNEL: tables[FUNNEL]}).items():
            figures[(f"{caption} {key}", label, column)] = value
    return figures


def _knowledge(figures: dict, names: dict) -> Knowledge:
    """What a reader knows from the definitions: rows add up to their totals (contacts who
    replied in several months count in each), cases are urgent + normal and acknowledged
    in time + not, a campaign page's total is its row on the organization page, and a
    month of the organization is the months of its campaigns."""
    k = Knowledge(figures)
    tables = [BY_CAMPAIGN, BY_MONTH] + [f"{FUNNEL} {key}" for key in names]
    for caption in tables:
        labels = {key[1] for key in figures if key[0] == caption}
        for column in COUNTS:
            slack = column == COUNTS[0] and caption != BY_CAMPAIGN
            k.sum((caption, "Total", column), k.rows(caption, column), slack=slack)
        for label in labels:
            k.sum(
                (caption, label, "Cases"), [(caption, label, "Urgent"), (caption, label, "Normal")]
            )
            k.sum(
                (caption, label, "Cases"),
                [
                    (caption, label, "Acknowledged in time"),
                    (caption, label, "Not acknowledged in time"),
                ],
            )
    for key, name in names.items():
        for column in COUNTS:
            k.equal((f"{FUNNEL} {key}", "Total", column), (BY_CAMPAIGN, name, column))
    months = {key[1] for key in figures if key[0] == BY_MONTH and key[1] != "Total"}
    for month in months:
        for column in COUNTS:
            k.sum(
                (BY_MONTH, month, column),
                [(f"{FUNNEL} {key}", month, column) for key in names],
            )
    return k


def test_evaluators_get_small_counts_hidden_and_nothing_recoverable(app, login, conv):
    _org, campaigns, _cases, coordinator, evaluator = conv
    shown = _funnel_figures(_views(app, login, evaluator, campaigns))
    truth = _funnel_figures(_views(app, login, coordinator, campaigns))
    assert shown.keys() == truth.keys()
    hidden = [key for key, value in shown.items() if isinstance(value, tuple)]
    # Every count of cases from 1 to 4 is hidden ("*"), wherever it is shown. Contacts
    # who replied to a campaign (in the period, or a month of it) are the campaign
    # report's own exact figure ("Contacts who replied"): anchors, shown as they are.
    for key, value in truth.items():
        if key[2] in COUNTS[1:] and isinstance(value, Fraction) and 0 < value < 5:
            assert key in hidden, key
    assert (BY_CAMPAIGN, "Rutas Seguras", "Urgent") in hidden
    # Times need at least 5 acknowledged cases: campaign A has 4, the organization 6.
    assert (BY_CAMPAIGN, "Rutas Seguras", "Median minutes to acknowledge") in hidden
    assert shown[(BY_CAMPAIGN, "Total", "Median minutes to acknowledge")] == 11
    # The contacts who replied to a campaign are the campaign report's own exact figure.
    assert shown[(BY_CAMPAIGN, "Rutas Seguras", "Contacts who replied")] == 5
    names = {"A": "Rutas Seguras", "B": "Escuela Libre"}
    pinned = attack(_knowledge(shown, names))
    leaks = {key: v for key, v in pinned.items() if truth.get(key) == v and key[2] in COUNTS}
    assert not leaks, leaks
    # The check has teeth: the exact page with one small cell hidden gives it away.
    teeth = dict(truth)
    teeth[(BY_CAMPAIGN, "Escuela Libre", "Urgent")] = ("hidden", "*")
    assert (BY_CAMPAIGN, "Escuela Libre", "Urgent") in attack(_knowledge(teeth, names))


def test_evaluator_pages_and_files_show_no_message_text_nor_names(app, login, conv):
    _org, campaigns, _cases, _c, evaluator = conv
    views = _views(app, login, evaluator, campaigns)
    for where, text in views.items():
        for secret in (*NAMES.values(), "Forastera", "no respira", "cristal", "Campaña Ajena"):
            assert secret not in text, (where, secret)
    assert "*" in views["files"]
    # The evaluator's dashboard: the funnel's counts only, suppressed the same way.
    dashboard = views["dashboard"]
    assert "Conversations" in dashboard and "Urgent cases" not in dashboard
    shown = dict(
        re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", dashboard.split('id="funnel-heading"')[1])
    )
    assert number(shown["Cases"]) == 7 and number(shown["Urgent"]) == ("hidden", "*")
