"""Fan-out: one outbox row per recipient and occurrence, in local time, within quiet hours."""

from datetime import date, time, timedelta

from sqlalchemy import select

from app.extensions import db
from app.outbox.models import OutboxMessage
from app.outreach.services import enroll_late_joiners, schedule_send
from tests.factories import make_audience, make_campaign, make_contact, make_message
from tests.outreach.helpers import schedule_once
from tests.support import NOW, utc


def rows(**filters):
    stmt = (
        select(OutboxMessage)
        .filter_by(**filters)
        .order_by(OutboxMessage.contact_id, OutboxMessage.occurrence)
    )
    return db.session.scalars(stmt).all()


def test_local_time_means_each_recipients_local_time(app, make_org):
    org = make_org()
    tijuana = make_contact(org, timezone="America/Tijuana")
    merida = make_contact(org, timezone="America/Merida", state_code="31", municipality="Mérida")
    send, created = schedule_once(org, now=NOW, at=time(17, 0))
    assert created == 2
    due = {r.contact_id: r.due_at for r in rows(send_id=send.id)}
    assert due[tijuana.id] == utc(2026, 12, 2, 1, 0)  # 17:00 PST (UTC-8)
    assert due[merida.id] == utc(2026, 12, 1, 23, 0)  # 17:00 in Mérida (UTC-6)


def test_fixed_instant_is_the_same_moment_for_everybody_within_quiet_hours(app, make_org):
    org = make_org()
    make_contact(org, timezone="America/Tijuana")
    make_contact(org, timezone="America/Cancun", state_code="23")
    send, _ = schedule_once(org, now=NOW, fixed_at=utc(2026, 12, 1, 20, 0))
    # 12:00 in Tijuana, 15:00 in Cancún: both inside 08:00-21:00.
    assert {r.due_at for r in rows(send_id=send.id)} == {utc(2026, 12, 1, 20, 0)}


def test_quiet_hours_move_early_sends_to_the_window_start(app, make_org):
    org = make_org()
    make_contact(org, timezone="America/Mexico_City", state_code="09")
    send, _ = schedule_once(org, now=NOW, at=time(6, 30))
    # Mexico's allowed hours start at 09:00 (issue 14; app/outbox/timing.py).
    assert rows(send_id=send.id)[0].due_at == utc(2026, 12, 1, 15, 0)  # 09:00 CDMX


def test_florida_window_ends_at_twenty(app, make_org):
    org = make_org(country="US", timezone="America/New_York")
    make_contact(
        org,
        phone="+13055550123",
        country="US",
        state_code="FL",
        municipality="Miami",
        timezone="America/New_York",
    )
    send, _ = schedule_once(org, now=NOW, at=time(20, 30))
    assert rows(send_id=send.id)[0].due_at == utc(2026, 12, 2, 13, 0)  # next day 08:00 EST


def test_language_choice_and_first_name(app, make_org):
    org = make_org()
    es = make_contact(org, language="es", first_name="Lupita")
    en = make_contact(org, language="en", first_name="Mike")
    send, _ = schedule_once(org, now=NOW)
    body = {r.contact_id: (r.language, r.body) for r in rows(send_id=send.id)}
    assert body[es.id] == ("es", "Hola Lupita, el fentanilo mata. Infórmate.")
    assert body[en.id] == ("en", "Hi Mike, fentanyl kills. Learn more.")


def test_first_name_is_the_first_given_name_only(app, make_org):
    org = make_org()
    two = make_contact(org, language="es", first_name="María Fernanda", last_name="Peña López")
    spaced = make_contact(org, language="en", first_name="  José   Ángel ", last_name="Ruiz")
    send, _ = schedule_once(org, now=NOW)
    body = {r.contact_id: r.body for r in rows(send_id=send.id)}
    assert body[two.id] == "Hola María, el fentanilo mata. Infórmate."
    assert body[spaced.id] == "Hi José, fentanyl kills. Learn more."


def test_missing_first_name_uses_the_fallback(app, make_org):
    from app.outbox.placeholders import render

    org = make_org()
    contact = make_contact(org, first_name=None)
    campaign = make_campaign(org)
    message = make_message(campaign)
    send, _ = schedule_once(org, now=NOW, campaign=campaign, message=message)
    expected = render(message.body_es, {"campaign": campaign.name, "org": org.name}, language="es")
    assert rows(send_id=send.id)[0].body == expected
    assert "{first_name}" not in expected and contact.id


def test_ineligible_contacts_get_nothing(app, make_org):
    org = make_org()
    make_contact(org)
    make_contact(org, opted_out_at=NOW)
    make_contact(org, consent_source=None)
    make_contact(org, birth_year=2012)  # a minor without guardian consent
    make_contact(org, birth_year=2012, guardian_consent=True)
    _, created = schedule_once(org, now=NOW)
    assert created == 2


def test_fan_out_is_idempotent(app, make_org):
    from app.outreach.fanout import fan_out

    org = make_org()
    make_contact(org)
    send, created = schedule_once(org, now=NOW)
    assert created == 1
    assert fan_out(send, today=NOW.date(), now=NOW) == 0


def test_recurring_every_monday_for_six_weeks_keeps_local_time_across_dst(app, make_org):
    org = make_org()
    make_contact(org, timezone="America/Tijuana")
    campaign = make_campaign(org)
    send, created = schedule_send(
        campaign,
        message=make_message(campaign),
        audience=make_audience(org),
        kind="recurring",
        user_id=None,
        now=utc(2026, 10, 1),
        local_date=date(2026, 10, 19),
        local_time=time(17, 0),
        weekdays=[0],
        weeks=6,
    )
    assert created == 6
    dues = [r.due_at for r in rows(send_id=send.id)]
    # 17:00 PDT (UTC-7) before 1 November, 17:00 PST (UTC-8) after.
    assert dues[0] == utc(2026, 10, 20, 0, 0) and dues[1] == utc(2026, 10, 27, 0, 0)
    assert dues[2] == utc(2026, 11, 3, 1, 0) and dues[-1] == utc(2026, 11, 24, 1, 0)


def test_sequence_relative_to_enrolment_and_late_joiners(app, make_org):
    org = make_org()
    first = make_contact(org, timezone="America/Mexico_City", state_code="09")
    campaign = make_campaign(org)
    audience = make_audience(org, {"state_codes": ["09"]})
    sends = []
    for day, label in ((0, "d0"), (3, "d3"), (7, "d7")):
        message = make_message(campaign, label=label)
        sends.append(
            schedule_send(
                campaign,
                message=message,
                audience=audience,
                kind="sequence",
                user_id=None,
                now=NOW,
                local_time=time(10, 0),
                day_offset=day,
            )[0]
        )
    # Joined 2026-11-27 12:00 CDMX: day 0 at 10:00 already passed → now; day 3 and day 7 at 10:00.
    dues = [rows(send_id=s.id, contact_id=first.id)[0].due_at for s in sends]
    assert dues == [NOW, utc(2026, 11, 30, 16, 0), utc(2026, 12, 4, 16, 0)]

    later = NOW + timedelta(days=2)
    joiner = make_contact(org, timezone="America/Mexico_City", state_code="09")
    assert enroll_late_joiners(now=later) == 3
    dues = [rows(send_id=s.id, contact_id=joiner.id)[0].due_at for s in sends]
    assert dues == [later, utc(2026, 12, 2, 16, 0), utc(2026, 12, 6, 16, 0)]
    assert enroll_late_joiners(now=later) == 0


def test_scheduling_needs_an_active_campaign(app, make_org):
    import pytest

    from app.errors import DomainError

    org = make_org()
    with pytest.raises(DomainError):
        schedule_once(org, now=NOW, campaign=make_campaign(org, status="draft"))
    assert rows() == []
