"""Click-through per message (suppressed like the other counts) and "engaged" in the
campaign report; the glossary defines both."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.participation.services import record_event
from app.reports.campaign import campaign_figures
from app.reports.metrics import METRICS_BY_KEY
from app.reports.period import Period
from app.reports.suppression import Hidden
from app.reports.tables import campaign_tables
from tests.factories import make_campaign, make_contact, make_message
from tests.support import NOW, TODAY

WHEN = NOW - timedelta(days=1)


@pytest.fixture
def campaign(make_org):
    """M1 delivered to c1-c8, clicked by c1-c6 (c1's event twice: people are counted once);
    M2 delivered to c1-c6, clicked by c1; c7 replied; c8 did nothing."""
    org = make_org()
    campaign = make_campaign(org)
    m1 = make_message(campaign, label="Semana 1")
    m2 = make_message(campaign, label="Semana 2")
    contacts = [make_contact(org) for _ in range(8)]

    def event(contact, kind, message, channel="sms"):
        record_event(
            organization_id=org.id,
            contact_id=contact.id,
            kind=kind,
            channel=channel,
            occurred_at=WHEN,
            campaign_id=campaign.id,
            message_id=message.id if message else None,
        )

    for contact in contacts:
        event(contact, "sms_delivered", m1)
    for contact in contacts[:6]:
        event(contact, "sms_delivered", m2)
        event(contact, "clicked", m1, "web")
    event(contacts[0], "clicked", m1, "web")
    event(contacts[0], "clicked", m2, "web")
    event(contacts[6], "reply", None)
    db.session.commit()
    return campaign


def figures_of(campaign):
    return campaign_figures(
        campaign, Period(TODAY - timedelta(days=7), TODAY, "America/Tijuana"), today=TODAY
    )


def test_click_through_per_message_and_engaged(app, campaign):
    figures = figures_of(campaign)
    by_label = {m.label: m for m in figures.messages}
    assert (by_label["Semana 1"].clicked, by_label["Semana 1"].delivered_contacts) == (6, 8)
    assert by_label["Semana 1"].click_through == pytest.approx(6 / 8)
    assert (by_label["Semana 2"].clicked, by_label["Semana 2"].click_through) == (
        1,
        pytest.approx(1 / 6),
    )
    # Engaged: c1-c6 clicked, c7 replied; c8 nothing. 7 of the 8 reached by SMS.
    assert figures.engaged == 7
    assert figures.engagement_rate == pytest.approx(7 / 8)

    tables = campaign_tables(figures, None, "en")
    columns = [c.key for c in tables["messages"].spec.columns]
    rows = {row[1]: dict(zip(columns, row, strict=True)) for row in tables["messages"].rows}
    assert (rows["Semana 1"]["clicked"], rows["Semana 1"]["click_through"]) == (
        6,
        pytest.approx(0.75),
    )
    summary = {row[0]: row[2] for row in tables["summary"].rows}
    assert summary["engaged"] == 7 and summary["engagement_rate"] == pytest.approx(7 / 8)


def test_small_click_counts_are_suppressed_for_evaluators(app, campaign):
    tables = campaign_tables(figures_of(campaign), 5, "en")
    columns = [c.key for c in tables["messages"].spec.columns]
    rows = {row[1]: dict(zip(columns, row, strict=True)) for row in tables["messages"].rows}
    assert rows["Semana 1"]["clicked"] == 6
    assert isinstance(rows["Semana 2"]["clicked"], Hidden)  # 1 click: between 1 and 4
    assert isinstance(rows["Semana 2"]["click_through"], Hidden)


def test_the_glossary_defines_engaged_and_click_through(app, client, make_user, login):
    assert "click on a tracked link" in str(METRICS_BY_KEY["engaged"].definition)
    assert "within 3 seconds" in str(METRICS_BY_KEY["click_through"].definition)
    login(make_user(role="evaluator", language="en"))
    page = client.get("/reports/glossary").get_data(as_text=True)
    assert 'id="engaged"' in page and 'id="click_through"' in page
