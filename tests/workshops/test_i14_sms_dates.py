"""Issue 14: dates and times in SMS use Babel's (CLDR) formats for the recipient's language
and country, at the venue's local time."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outbox.encoding import analyze
from app.outbox.models import OutboxMessage
from app.outbox.text import sms_date, sms_locale, sms_time
from app.workshops.reminders import queue_notice, queue_reminders
from app.workshops.texts import workshop_values
from tests.factories import make_contact, make_workshop
from tests.support import NOW, utc

SATURDAY = date(2026, 12, 5)
# Saturday 5 December 2026, 17:00 in Tijuana (UTC-8).
START = utc(2026, 12, 6, 1, 0)


@pytest.mark.parametrize(
    "language, country, expected",
    [
        ("es", "MX", "es_MX"),
        ("es", "US", "es_US"),
        ("en", "US", "en_US"),
        ("en", "MX", "en"),  # CLDR has no en_MX: English formats
        ("es", None, "es_MX"),
        ("en", None, "en_US"),
        ("es", "mx", "es_MX"),
    ],
)
def test_locale_from_language_and_country(language, country, expected):
    assert str(sms_locale(language, country)) == expected


@pytest.mark.parametrize(
    "language, country, day, clock",
    [
        ("es", "MX", "sábado 5 de diciembre", "17:00"),
        ("es", "US", "sábado 5 de diciembre", "17:00"),
        ("en", "US", "Saturday, December 5", "5:00 PM"),
        ("en", "MX", "Saturday, December 5", "5:00 PM"),
        ("es", "ES", "sábado 5 de diciembre", "17:00"),
    ],
)
def test_sms_date_and_time(language, country, day, clock):
    assert sms_date(SATURDAY, language, country) == day
    assert sms_time(time(17, 0), language, country) == clock


def test_month_and_weekday_are_spelled_out_without_year():
    assert sms_date(date(2026, 12, 2), "es", "MX") == "miércoles 2 de diciembre"
    assert sms_date(date(2027, 1, 4), "en", "US") == "Monday, January 4"


def test_time_has_no_unicode_spaces():
    for language, country in (("es", "MX"), ("en", "US")):
        assert analyze(sms_time(time(9, 30), language, country)).is_gsm


def test_workshop_values_use_the_venue_time_and_the_recipient_formats(app, make_org):
    workshop = make_workshop(make_org(), starts_at=START)
    es = workshop_values(workshop, "es", "MX")
    en = workshop_values(workshop, "en", "US")
    assert (es["workshop_date"], es["workshop_time"]) == ("sábado 5 de diciembre", "17:00")
    assert (en["workshop_date"], en["workshop_time"]) == ("Saturday, December 5", "5:00 PM")


def _bodies(purpose):
    db.session.expire_all()
    return [
        r.body
        for r in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == purpose).order_by(OutboxMessage.id)
        )
    ]


def test_reminders_and_notices_carry_natural_dates(app, make_org):
    org = make_org()
    workshop = make_workshop(org, starts_at=START)
    es = make_contact(org)
    en = make_contact(
        org, language="en", country="US", state_code="CA", timezone="America/Los_Angeles"
    )
    for contact in (es, en):
        queue_reminders(contact, workshop, org, now=NOW)
        queue_notice(contact, workshop, org, "workshop_rescheduled", now=NOW)
    db.session.commit()
    reminders = _bodies("reminder")
    assert reminders[0].startswith(
        "Recordatorio: Decide tú, sábado 5 de diciembre a las 17:00, Casa de la Cultura."
    )
    assert reminders[-1].startswith(
        "Reminder: Your call, Saturday, December 5 at 5:00 PM, Casa de la Cultura."
    )
    notices = _bodies("workshop_notice")
    assert "ahora es el sábado 5 de diciembre a las 17:00" in notices[0]
    assert "is now Saturday, December 5 at 5:00 PM" in notices[1]


def test_morning_times():
    assert sms_time(time(9, 30), "es", "MX") == "09:30"
    assert sms_time(time(9, 30), "en", "US") == "9:30 AM"


def test_only_a_saturday_date_makes_a_spanish_text_ucs2():
    """The trade-off, measured: "sábado" has an "á" (not GSM-7); the other weekdays and
    every month are GSM-7 ("miércoles" has é, which is)."""
    week = [date(2026, 11, 30) + timedelta(days=i) for i in range(7)]
    ucs2 = [d.weekday() for d in week if not analyze(sms_date(d, "es", "MX")).is_gsm]
    assert ucs2 == [5]
    months = [date(2027, m, 1) for m in range(1, 13)]
    assert all(analyze(sms_date(d, "es", "MX")).is_gsm for d in months if d.weekday() != 5)
