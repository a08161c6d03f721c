"""Issue 14: the figures shown before a send is confirmed (recipients, SMS segments,
estimated cost), computed by the fan-out's own rules."""

import os
import subprocess
import sys
from datetime import date, time
from decimal import Decimal

from app.extensions import db
from app.outbox.encoding import analyze
from app.outbox.models import OutboxMessage
from app.outbox.text import opt_out_notice
from app.outreach.services import review_send, schedule_send
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_message,
    make_org,
    make_outbox_row,
)
from tests.support import NOW

GSM_ES = (  # GSM-7 (é is in it), 1 SMS; 2 SMS once a name makes it UCS-2
    "Hola {first_name}, el fentanilo mata. Si tienes dudas, pregunta en el centro comunitario."
)


def _review(org, message, audience=None, **schedule):
    schedule = {"local_date": date(2026, 12, 1), "local_time": time(17, 0), **schedule}
    return review_send(
        message.campaign,
        message=message,
        audience=audience or make_audience(org, {}),
        kind=schedule.pop("kind", "once"),
        user_id=None,
        now=NOW,
        **schedule,
    )


def test_segments_follow_each_recipients_real_text(app):
    org = make_org()
    message = make_message(make_campaign(org), body_es=GSM_ES)
    for name in ("Joven", "María"):  # í is not GSM-7: María's text is UCS-2
        contact = make_contact(org, first_name=name)
        # Messaged before, so no opt-out line (its Spanish wording may not be GSM-7 itself).
        make_outbox_row(contact, status="delivered", prepared_at=NOW, send_started_at=NOW)
    estimate = _review(org, message).estimate
    expected = [analyze(GSM_ES.replace("{first_name}", n)) for n in ("Joven", "María")]
    assert [info.encoding for info in expected] == ["GSM-7", "UCS-2"]
    assert estimate.recipients == 2
    assert estimate.segments == sum(info.segments for info in expected) == 1 + 2
    (spanish,) = estimate.versions
    assert spanish.language == "es" and spanish.is_unicode and spanish.with_notice == 0
    assert (spanish.segments_min, spanish.segments_max) == (1, 2)
    price = Decimal(app.config["SMS_PRICE_PER_SEGMENT"]["MX"])
    assert estimate.cost == price * 3
    assert estimate.currency == "USD"


def test_segments_count_the_name_the_fan_out_writes(app):
    # "Joven Ánimo" would make the text UCS-2, but {first_name} is only "Joven".
    org = make_org()
    message = make_message(make_campaign(org), body_es=GSM_ES)
    contact = make_contact(org, first_name="Joven Ánimo", last_name="Pérez")
    make_outbox_row(contact, status="delivered", prepared_at=NOW, send_started_at=NOW)
    estimate = _review(org, message).estimate
    assert estimate.segments == 1
    assert not estimate.versions[0].is_unicode


def test_opt_out_line_only_counted_for_a_first_message(app):
    org = make_org()
    message = make_message(make_campaign(org), body_es=GSM_ES)
    newcomer = make_contact(org, first_name="Ana")
    known = make_contact(org, first_name="Ana")
    make_outbox_row(known, status="delivered", prepared_at=NOW, send_started_at=NOW)
    estimate = _review(org, message).estimate
    with_line = analyze(GSM_ES.replace("{first_name}", "Ana") + "\n" + opt_out_notice("es"))
    without = analyze(GSM_ES.replace("{first_name}", "Ana"))
    assert estimate.versions[0].with_notice == 1
    assert estimate.segments == with_line.segments + without.segments
    assert newcomer.id != known.id


def test_each_language_version_is_counted_and_recurring_multiplies(app):
    org = make_org()
    english_text = "Hi {first_name} " + "x" * 200
    message = make_message(make_campaign(org), body_es=GSM_ES, body_en=english_text)
    make_contact(org, first_name="Ana")
    make_contact(
        org,
        first_name="Ann",
        language="en",
        country="US",
        state_code="CA",
        timezone="America/Los_Angeles",
        phone="+16195550101",
    )
    estimate = _review(org, message, kind="recurring", weekdays=[0, 2], weeks=2).estimate
    assert estimate.occurrences == 4 and estimate.messages == 8
    assert [v.language for v in estimate.versions] == ["es", "en"]
    english = estimate.versions[1]
    first = analyze("Hi Ann " + "x" * 200 + "\n" + opt_out_notice("en")).segments
    rest = analyze("Hi Ann " + "x" * 200).segments
    spanish_first = analyze(GSM_ES.replace("{first_name}", "Ana") + "\n" + opt_out_notice("es"))
    spanish_rest = analyze(GSM_ES.replace("{first_name}", "Ana"))
    assert english.segments_max == first and english.segments_min == rest
    spanish = spanish_first.segments + 3 * spanish_rest.segments
    assert estimate.segments == first + 3 * rest + spanish
    prices = app.config["SMS_PRICE_PER_SEGMENT"]
    assert estimate.cost == Decimal(prices["US"]) * (first + 3 * rest) + Decimal(prices["MX"]) * (
        spanish_first.segments + 3 * spanish_rest.segments
    )


def test_recipients_are_the_ones_the_fan_out_messages(app):
    org = make_org()
    campaign = make_campaign(org)
    message = make_message(campaign)
    audience = make_audience(org, {})
    for _ in range(3):
        make_contact(org)
    make_contact(org, opted_out_at=NOW)
    make_contact(org, consent_source=None, consent_at=None)
    make_contact(org, birth_year=2012)  # a minor without guardian consent
    review = _review(org, message, audience)
    assert review.estimate.recipients == 3
    assert db.session.query(OutboxMessage).count() == 0  # a review creates nothing
    _, created = schedule_send(
        campaign,
        message=message,
        audience=audience,
        kind="once",
        user_id=None,
        now=NOW,
        local_date=date(2026, 12, 1),
        local_time=time(17, 0),
    )
    assert created == review.estimate.recipients


def test_unpriced_countries_are_left_out_and_said(app):
    app.config["SMS_PRICE_PER_SEGMENT"] = {"MX": "0.5"}
    org = make_org()
    message = make_message(make_campaign(org), body_es="Hola", body_en="Hi")
    make_contact(org, first_name="")
    make_contact(
        org,
        language="en",
        country="US",
        state_code="CA",
        timezone="America/Los_Angeles",
        phone="+16195550102",
    )
    estimate = _review(org, message).estimate
    assert estimate.unpriced_recipients == 1
    mx_segments = analyze("Hola\n" + opt_out_notice("es")).segments
    assert estimate.cost == Decimal("0.5") * mx_segments
    app.config["SMS_PRICE_PER_SEGMENT"] = {}
    assert _review(org, message).estimate.cost is None


def test_prices_come_from_the_environment():
    env = {**os.environ, "SMS_PRICE_MX": "0.2", "SMS_PRICE_CURRENCY": "MXN"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import config; c = config.Config; p = c.SMS_PRICE_PER_SEGMENT; "
            "print(p['MX'], p['US'], c.SMS_PRICE_CURRENCY)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "0.2" and out[2] == "MXN" and Decimal(out[1]) > 0
