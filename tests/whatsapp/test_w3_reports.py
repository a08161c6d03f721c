"""Issue 19, reports: reach by channel (SMS only / WhatsApp only / both / workshop only),
read rates per message and channel, small-cell suppression for evaluators, spend."""

from datetime import timedelta
from decimal import Decimal

from app.extensions import db
from app.organizations.prices import save_prices
from app.participation.services import record_event
from app.reports.campaign import campaign_figures
from app.reports.period import Period
from app.reports.suppression import Hidden
from app.reports.tables import campaign_tables
from tests.factories import (
    make_campaign,
    make_contact,
    make_message,
    make_org,
    make_outbox_row,
    make_user,
)
from tests.reports.helpers import cells
from tests.support import NOW

DAY = NOW - timedelta(days=3)


def _deliver(contact, message, channel, *, read=False, at=DAY, segments=1, price=None):
    row = make_outbox_row(
        contact,
        campaign_id=message.campaign_id,
        message_id=message.id,
        channel=channel,
        status="delivered",
        sent_at=at,
        final_at=at,
        read_at=at + timedelta(minutes=5) if read else None,
        segments=segments if channel == "sms" else None,
        price=price,
        price_unit="USD" if price is not None else None,
    )
    # What the status callback records today (the event's channel stays "sms").
    record_event(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        kind="sms_delivered",
        channel="sms",
        occurred_at=at,
        campaign_id=message.campaign_id,
        message_id=message.id,
        outbox_id=row.id,
    )
    db.session.commit()
    return row


def _attend(contact, campaign, at=DAY):
    record_event(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        kind="attended",
        channel="workshop",
        occurred_at=at,
        campaign_id=campaign.id,
    )
    db.session.commit()


def _fixture():
    """c1 SMS; c2 WhatsApp (read); c3 WhatsApp (read) then SMS; c4 workshop only;
    c5 WhatsApp (unread) and a workshop; c6 two SMS. By hand: SMS only 2 (c1, c6),
    WhatsApp only 2 (c2, c5), both 1 (c3), workshop only 1 (c4); reached 6.
    Message 1 on WhatsApp: delivered 3, read 2; on SMS: delivered 2. Message 2: SMS 2."""
    org = make_org()
    campaign = make_campaign(org)
    m1 = make_message(campaign, label="Dato")
    m2 = make_message(campaign, label="Ayuda")
    c = [make_contact(org) for _ in range(6)]
    _deliver(c[0], m1, "sms")
    _deliver(c[1], m1, "whatsapp", read=True)
    _deliver(c[2], m1, "whatsapp", read=True)
    _deliver(c[2], m2, "sms")
    _attend(c[3], campaign)
    _deliver(c[4], m1, "whatsapp")
    _attend(c[4], campaign)
    _deliver(c[5], m1, "sms")
    _deliver(c[5], m2, "sms")
    return org, campaign, m1, m2


def _figures(campaign, period=None, **kw):
    return campaign_figures(campaign, period or Period(), today=NOW.date(), **kw)


def test_reach_by_channel_equals_the_hand_count(app):
    org, campaign, m1, m2 = _fixture()
    f = _figures(campaign)
    assert f.reached == 6
    assert f.by_channel.reach == {
        "sms_only": 2,
        "whatsapp_only": 2,
        "sms_and_whatsapp": 1,
        "workshop_only": 1,
    }
    # Same split from the raw events (the reference path) and for a period with bounds.
    assert _figures(campaign, from_rollups=False).by_channel.reach == f.by_channel.reach
    week = Period(DAY.date() - timedelta(days=1), DAY.date() + timedelta(days=1), "UTC")
    assert _figures(campaign, week).by_channel.reach == f.by_channel.reach
    later = Period(NOW.date(), NOW.date(), "UTC")
    assert sum(_figures(campaign, later).by_channel.reach.values()) == 0


def test_read_rates_per_message_and_channel(app):
    org, campaign, m1, m2 = _fixture()
    rows = {(m.message_id, m.channel): m for m in _figures(campaign).by_channel.messages}
    assert set(rows) == {(m1.id, "sms"), (m1.id, "whatsapp"), (m2.id, "sms")}
    whatsapp = rows[(m1.id, "whatsapp")]
    assert (whatsapp.delivered, whatsapp.read) == (3, 2)
    assert abs(whatsapp.read_rate - 2 / 3) < 1e-9
    assert (rows[(m1.id, "sms")].delivered, rows[(m1.id, "sms")].read) == (2, None)
    assert rows[(m1.id, "sms")].read_rate is None  # SMS has no read receipts


def test_tables_exact_for_coordinators_and_suppressed_for_evaluators(app):
    org, campaign, m1, m2 = _fixture()
    f = _figures(campaign)
    exact = campaign_tables(f, None, "en")
    reach = {row[0]: row[2] for row in exact["reach_channel"].rows}
    assert reach == {"sms_only": 2, "whatsapp_only": 2, "sms_and_whatsapp": 1, "workshop_only": 1}
    assert exact["reach_channel"].total[2] == 6
    read = {(r[0], r[2]): (r[4], r[5], r[6]) for r in exact["message_channels"].rows}
    assert read[(m1.id, "whatsapp")][:2] == (3, 2)
    assert read[(m1.id, "sms")] == (2, None, None)
    # Evaluators (threshold 5): the message channels (1 or 2 each) are hidden; workshop
    # only follows from the anchors (reached minus reached by messages) and is public.
    hidden = campaign_tables(f, 5, "en")
    *by_message, workshop_only = hidden["reach_channel"].rows
    for row in by_message:
        assert isinstance(row[2], Hidden) and isinstance(row[3], Hidden)
    assert workshop_only[2] == 1
    assert hidden["reach_channel"].total[2] == 6
    for row in hidden["message_channels"].rows:
        assert isinstance(row[4], Hidden)
        assert row[5] is None or isinstance(row[5], Hidden)


def test_report_page_shows_channels_and_spend(app, client, login):
    org, campaign, m1, m2 = _fixture()
    save_prices(org.id, {("sms", "MX"): Decimal("0.1"), ("whatsapp", "MX"): Decimal("0.05")})
    coordinator = make_user(org, "coordinator", language="en")
    login(coordinator)
    html = client.get(f"/reports/campaigns/{campaign.id}").get_data(as_text=True)
    rows = cells(html, "Reach by channel")
    assert [r[:2] for r in rows] == [
        ["Messages by SMS only", "2"],
        ["Messages by WhatsApp only", "2"],
        ["Messages by SMS and WhatsApp", "1"],
        ["Workshops only", "1"],
    ]
    read = cells(html, "Read rates by message and channel")
    assert ["Dato", "WhatsApp", "3", "2", "66.7%"] in read
    assert ["Dato", "SMS", "2", "—", "—"] in read
    # Spend: 4 SMS of one segment at 0.10, 3 WhatsApp at 0.05 = 0.55 (estimates).
    spend = cells(html, "Estimated spend")
    assert spend == [["SMS", "4", "$0.40"], ["WhatsApp", "3", "$0.15"]]
    assert "$0.55" in html


def test_spend_uses_twilio_price_when_reported(app):
    org = make_org()
    campaign = make_campaign(org)
    m = make_message(campaign)
    save_prices(org.id, {("sms", "MX"): Decimal("0.1"), ("whatsapp", "MX"): Decimal("0.05")})
    _deliver(make_contact(org), m, "sms", segments=2)  # estimate 0.20
    _deliver(make_contact(org), m, "sms", segments=2, price=Decimal("0.0123"))  # reported
    _deliver(make_contact(org), m, "whatsapp", price=Decimal("0.0311"))  # reported
    _deliver(make_contact(org), m, "whatsapp")  # estimate 0.05
    spend = {s.channel: s for s in _figures(campaign).by_channel.spend}
    assert spend["sms"].reported == Decimal("0.0123") and spend["sms"].estimated == Decimal("0.2")
    assert spend["whatsapp"].total == Decimal("0.0811")
    assert spend["sms"].messages == spend["whatsapp"].messages == 2


def test_evaluator_page_gets_suppressed_counts_and_total_spend_only(app, client, login):
    org, campaign, m1, m2 = _fixture()
    evaluator = make_user(org, "evaluator", language="en")
    login(evaluator)
    html = client.get(f"/reports/campaigns/{campaign.id}").get_data(as_text=True)
    rows = cells(html, "Reach by channel")
    assert [r[1] for r in rows] == ["*", "*", "*", "1"]
    assert "Messages charged" not in html  # no per-channel spend
    assert "Estimated spend" in html
