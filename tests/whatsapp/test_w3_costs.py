"""Issue 19, costs: prices per SMS segment and per WhatsApp message by country (the
organization's own, else the estimates), the estimate per channel (GSM-7 vs UCS-2
segments, WhatsApp per message), the send confirmation's table and both locales' formats."""

from datetime import date, time
from decimal import Decimal

import pytest
from flask_babel import force_locale

from app.campaigns.costs import message_cost, message_cost_view
from app.extensions import db
from app.organizations.prices import WHATSAPP_DEFAULTS, ChannelPrice, money, price_list, save_prices
from app.outbox.encoding import analyze
from app.outreach.services import review_send
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_message,
    make_org,
    make_user,
)
from tests.support import NOW, csrf_token_from

GSM = "Hola, el fentanilo mata. Si tienes dudas, pregunta en el centro comunitario de tu barrio."
UCS = "¿Cómo estás? El fentanilo mata: infórmate."  # ó, á: not GSM-7


def _prices(org):
    save_prices(
        org.id,
        {
            ("sms", "MX"): Decimal("0.1"),
            ("sms", "US"): Decimal("0.01"),
            ("whatsapp", "MX"): Decimal("0.04"),
            ("whatsapp", "US"): Decimal("0.03"),
        },
    )
    return price_list(org.id)


def _whatsapp_contact(org, **kw):
    return make_contact(
        org,
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=NOW,
        whatsapp_opt_in_source="form",
        **kw,
    )


def test_prices_default_to_labelled_estimates_and_the_organizations_own_win(app):
    org = make_org()
    defaults = price_list(org.id)
    assert defaults.price("sms", "MX") == Decimal(app.config["SMS_PRICE_PER_SEGMENT"]["MX"])
    assert defaults.price("whatsapp", "mx") == Decimal(WHATSAPP_DEFAULTS["MX"])
    assert ("whatsapp", "US") in defaults.defaults
    own = _prices(org)
    assert own.price("whatsapp", "US") == Decimal("0.03") and not own.defaults
    save_prices(org.id, {("whatsapp", "US"): None})  # blank: back to the estimate
    assert price_list(org.id).price("whatsapp", "US") == Decimal(WHATSAPP_DEFAULTS["US"])
    # Organization data never crosses organizations.
    assert price_list(make_org().id).price("sms", "MX") == defaults.price("sms", "MX")
    assert db.session.query(ChannelPrice).count() == 3


def test_sms_is_segments_times_price_and_whatsapp_one_message(app):
    prices = _prices(make_org())
    long_gsm = GSM * 2  # 180 GSM-7 characters: 2 segments (153 each)
    assert analyze(long_gsm).encoding == "GSM-7" and analyze(long_gsm).segments == 2
    assert message_cost("sms", GSM, "MX", prices).cost == Decimal("0.1")
    assert message_cost("sms", long_gsm, "MX", prices).cost == Decimal("0.2")
    long_ucs = UCS * 2  # UCS-2, 86 characters: 2 segments of 67
    cost = message_cost("sms", long_ucs, "US", prices)
    assert (cost.encoding, cost.units, cost.cost) == ("UCS-2", 2, Decimal("0.02"))
    # WhatsApp: one message whatever its length or encoding.
    for text in (GSM, long_gsm, long_ucs):
        whatsapp = message_cost("whatsapp", text, "MX", prices)
        assert (whatsapp.units, whatsapp.cost) == (1, Decimal("0.04"))
    assert message_cost("sms", GSM, "GT", prices).cost is None  # no price for Guatemala


def test_send_estimate_per_channel(app):
    org = make_org()
    _prices(org)
    campaign = make_campaign(org)
    message = make_message(campaign, body_es=GSM + " {first_name}")
    for _ in range(2):
        make_contact(org, first_name="Ana")
    _whatsapp_contact(org, first_name="María")
    _whatsapp_contact(org, first_name="Luis", country="US", state_code="CA")
    estimate = review_send(
        campaign,
        message=message,
        audience=make_audience(org, {}),
        kind="once",
        user_id=None,
        now=NOW,
        local_date=date(2026, 12, 1),
        local_time=time(17, 0),
    ).estimate
    sms, whatsapp = estimate.channels
    assert (sms.channel, sms.recipients, whatsapp.channel, whatsapp.recipients) == (
        "sms",
        2,
        "whatsapp",
        2,
    )
    per_sms = analyze(f"{GSM} Ana\n" + _notice()).segments
    assert sms.segments == 2 * per_sms and estimate.segments == sms.segments
    assert sms.cost == Decimal("0.1") * sms.segments
    assert whatsapp.segments == 0 and whatsapp.cost == Decimal("0.04") + Decimal("0.03")
    assert estimate.cost == sms.cost + whatsapp.cost
    assert estimate.recipients == 4


def _notice():
    from app.outbox.text import opt_out_notice

    return opt_out_notice("es")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("es_MX", "USD0.04"), ("en_US", "$0.04")],
)
def test_money_in_both_locales(app, language, expected):
    with app.test_request_context(), force_locale(language):
        assert money(Decimal("0.04"), "USD") == expected
        assert money(Decimal("1234.5"), "USD").endswith("1,234.50")
        assert "0.0355" in money(Decimal("0.0355"), "USD", exact=True)


def test_editor_view_per_language_and_country(app):
    org = make_org()
    _prices(org)
    with app.test_request_context(), force_locale("en_US"):
        rows = message_cost_view({"es": UCS, "en": "Hi, fentanyl kills."}, org.id)
    spanish_mx = next(r for r in rows if r["language"] == "es" and r["country"] == "MX")
    assert spanish_mx == {
        "language": "es",
        "country": "MX",
        "segments": 1,
        "encoding": "UCS-2",
        "sms": "$0.10",
        "whatsapp": "$0.04",
    }
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("Estimated cost per channel", "WhatsApp", "est. $0.04")),
        ("es", ("Destinatarios", "WhatsApp")),
    ],
)
def test_send_confirmation_shows_the_cost_per_channel(app, client, login, lang, words):
    org = make_org()
    _prices(org)
    user = make_user(org, role="coordinator", language="en")
    campaign = make_campaign(org)
    message = make_message(campaign)
    make_contact(org)
    _whatsapp_contact(org)
    audience = make_audience(org, {})
    login(user)
    url = f"/campaigns/{campaign.id}/sends/new"
    page = client.post(
        f"{url}?lang={lang}",
        data={
            "csrf_token": csrf_token_from(client.get(url)),
            "message": message.id,
            "audience": audience.id,
            "kind": "once",
            "timing": "local",
            "local_date": "2026-12-01",
            "local_time": "17:00",
            "submit": "1",
        },
    ).get_data(as_text=True)
    for word in words:
        assert word in page


def test_prices_page_saves_and_clears(app, client, login):
    org = make_org()
    admin = make_user(org, role="admin", language="en")
    login(admin)
    page = client.get("/organization/prices").get_data(as_text=True)
    assert "Default estimate" in page and "WhatsApp to Mexico, per message" in page
    response = client.post(
        "/organization/prices",
        data={
            "csrf_token": csrf_token_from(client.get("/organization/prices")),
            "sms_mx": "0.12",
            "whatsapp_mx": "0.05",
            "sms_us": "",
            "whatsapp_us": "",
        },
    )
    assert response.status_code == 302
    prices = price_list(org.id)
    assert prices.price("whatsapp", "MX") == Decimal("0.05")
    assert prices.price("sms", "MX") == Decimal("0.12")
    assert ("sms", "US") in prices.defaults
    bad = client.post(
        "/organization/prices",
        data={"csrf_token": csrf_token_from(client.get("/organization/prices")), "sms_mx": "-1"},
    )
    assert bad.status_code == 400  # form_status: invalid input
    assert price_list(org.id).price("sms", "MX") == Decimal("0.12")
    coordinator = make_user(org, role="coordinator", language="en")
    other = app.test_client()
    login(coordinator, c=other)
    assert other.get("/organization/prices").status_code == 403


def test_message_editor_shows_what_one_message_costs(app, client, login):
    org = make_org()
    _prices(org)
    user = make_user(org, role="coordinator", language="en")
    campaign = make_campaign(org)
    message = make_message(campaign)
    login(user)
    page = client.get(f"/campaigns/{campaign.id}/messages/{message.id}/edit").get_data(as_text=True)
    assert "What one message costs per recipient (estimate)" in page
    assert "data-message-costs" in page and "$0.04" in page  # WhatsApp per message
    assert "Mexico" in page and "Spanish" in page  # labels, not codes
