"""RSVP by SMS: grammar in both languages, capacity and waitlist (also under concurrency on
PostgreSQL), promotion on cancel, replies in the contact's language, isolation."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from app.workshops.models import WorkshopRegistration
from tests.factories import WORKSHOP_START, make_contact, make_registration, make_workshop
from tests.support import NOW

_sid = iter(range(1, 1_000_000))


def sms(contact, body, *, now=NOW, **kwargs) -> str:
    return receive_sms(
        sid=f"SMrsvp{next(_sid):026d}", from_number=contact.phone, body=body, now=now, **kwargs
    )


def replies(contact) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage.body)
        .where(OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "system")
        .order_by(OutboxMessage.id)
    ).all()


def status_of(workshop, contact) -> str | None:
    db.session.expire_all()
    return db.session.scalar(
        select(WorkshopRegistration.status).where(
            WorkshopRegistration.workshop_id == workshop.id,
            WorkshopRegistration.contact_id == contact.id,
        )
    )


def events(contact=None) -> list[tuple[str, str | None]]:
    stmt = select(ParticipationEvent.kind, ParticipationEvent.detail).order_by(
        ParticipationEvent.id
    )
    if contact is not None:
        stmt = stmt.where(ParticipationEvent.contact_id == contact.id)
    return [tuple(row) for row in db.session.execute(stmt)]


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def workshop(org):
    return make_workshop(org, code="4821")


# --- Grammar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "SI 4821",
        "si 4821",
        "Sí 4821",
        "SÍ 4821",
        "sí4821",
        "sí #4821",
        "Si, 4821",
        " si 4821. ",
        "YES 4821",
        "yes 4821",
        "Yes, 4821",
        "Y 4821",
    ],
)
def test_yes_with_code_confirms_in_both_languages(app, org, workshop, body):
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    assert sms(contact, body) == "rsvp_confirmed"
    assert status_of(workshop, contact) == "confirmed"
    (reply,) = replies(contact)
    assert "Decide tú" in reply and "sábado 5 de diciembre" in reply and "4821" in reply
    assert events(contact) == [("rsvp_yes", None)]


def test_reply_in_the_contacts_language(app, org, workshop):
    contact = make_contact(org, language="en")
    make_registration(workshop, contact, "invited")
    sms(contact, "YES 4821")
    (reply,) = replies(contact)
    assert reply.startswith("Your spot is saved: Your call, Saturday, December 5 at 5:00 PM")
    assert "Reply NO 4821" in reply


@pytest.mark.parametrize("body", ["SI", "sí", "Sí.", "yes", "Y"])
def test_bare_yes_with_one_open_invitation(app, org, workshop, body):
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    make_workshop(org, code="1111", starts_at=NOW - timedelta(days=3))  # past: not open
    assert sms(contact, body) == "rsvp_confirmed"
    assert status_of(workshop, contact) == "confirmed"


@pytest.mark.parametrize("body, yes", [("SI", True), ("No", False)])
def test_bare_reply_with_several_open_invitations_asks_which(app, org, workshop, body, yes):
    other = make_workshop(
        org,
        code="1234",
        title_es="Vapeo: la neta",
        title_en="Vaping: the truth",
        starts_at=WORKSHOP_START + timedelta(days=2),
    )
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    make_registration(other, contact, "confirmed")
    assert sms(contact, body) == "rsvp_ambiguous"
    (reply,) = replies(contact)
    assert "4821 Decide tú (sáb 5 dic)" in reply and "1234 Vapeo: la neta (lun 7 dic)" in reply
    assert (status_of(workshop, contact), status_of(other, contact)) == ("invited", "confirmed")
    assert events(contact) == []


def test_bare_reply_without_open_invitations(app, org, workshop):
    contact = make_contact(org)
    assert sms(contact, "si") == "rsvp_no_invitation"
    assert len(replies(contact)) == 1
    assert status_of(workshop, contact) is None
    assert events(contact) == [("reply", None)]


def test_unknown_code(app, org, workshop):
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    assert sms(contact, "SI 9999") == "rsvp_unknown_code"
    (reply,) = replies(contact)
    assert "9999" in reply
    assert status_of(workshop, contact) == "invited"


@pytest.mark.parametrize("state", ["canceled", "past"])
def test_codes_of_canceled_or_past_workshops_are_unknown(app, org, state):
    if state == "canceled":
        workshop = make_workshop(org, code="4821", status="canceled")
    else:
        workshop = make_workshop(org, code="4821", starts_at=NOW - timedelta(hours=1))
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    assert sms(contact, "SI 4821") == "rsvp_unknown_code"
    assert status_of(workshop, contact) == "invited"


def test_another_organizations_code_is_unknown(app, org, workshop, make_org):
    stranger = make_contact(make_org())
    assert sms(stranger, "SI 4821") == "rsvp_unknown_code"
    assert db.session.query(WorkshopRegistration).count() == 0
    assert "4821" in replies(stranger)[0]


def test_no_with_code_declines_an_invitation(app, org, workshop):
    contact = make_contact(org)
    make_registration(workshop, contact, "invited")
    assert sms(contact, "no 4821") == "rsvp_declined"
    assert status_of(workshop, contact) == "declined"
    assert events(contact) == [("rsvp_no", "declined")]
    assert sms(contact, "NO 4821") == "rsvp_already_declined"
    assert len(replies(contact)) == 2 and events(contact) == [("rsvp_no", "declined")]
    assert sms(contact, "Sí 4821") == "rsvp_confirmed"  # changed their mind


def test_a_code_works_without_an_invitation(app, org, workshop):
    contact = make_contact(org)  # a friend passed the code on
    assert sms(contact, "SI 4821") == "rsvp_confirmed"
    registration = db.session.scalar(select(WorkshopRegistration))
    assert registration.status == "confirmed" and registration.invited_at is None


def test_yes_twice_confirms_once(app, org, workshop):
    contact = make_contact(org)
    sms(contact, "SI 4821")
    assert sms(contact, "si 4821") == "rsvp_already_confirmed"
    assert len(replies(contact)) == 2
    assert events(contact) == [("rsvp_yes", None)]
    assert (
        len(
            db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.purpose == "reminder")
            ).all()
        )
        == 2
    )


def test_inbound_message_is_stored_with_intent_and_the_workshops_campaign(app, org, workshop):
    contact = make_contact(org)
    sms(contact, "Sí 4821")
    inbound = db.session.scalar(select(InboundMessage))
    assert inbound.intent == "rsvp_yes" and inbound.body == "Sí 4821"
    assert inbound.campaign_id == workshop.campaign_id
    reply = db.session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "system"))
    assert reply.campaign_id == workshop.campaign_id and reply.language == "es"


def test_duplicate_webhook_is_processed_once(app, org, workshop):
    contact = make_contact(org)
    receive_sms(sid="SMsame", from_number=contact.phone, body="SI 4821", now=NOW)
    assert (
        receive_sms(sid="SMsame", from_number=contact.phone, body="SI 4821", now=NOW) == "duplicate"
    )
    assert len(replies(contact)) == 1


# --- Opted-out contacts --------------------------------------------------------------------------


def test_bare_yes_from_an_opted_out_contact_is_an_opt_in(app, org, workshop):
    contact = make_contact(org, opted_out_at=NOW - timedelta(days=1))
    make_registration(workshop, contact, "invited")
    assert sms(contact, "YES") == "opted_in"
    db.session.refresh(contact)
    assert contact.opted_out_at is None
    assert status_of(workshop, contact) == "invited"  # an opt-in, not an RSVP
    assert db.session.scalar(select(InboundMessage.intent)) == "opt_in"


def test_opted_out_contact_with_a_code_is_not_registered(app, org, workshop):
    contact = make_contact(org, opted_out_at=NOW - timedelta(days=1))
    assert sms(contact, "SI 4821") == "stored"
    assert status_of(workshop, contact) is None and replies(contact) == []


# --- Capacity, waitlist, promotion ---------------------------------------------------------------


def test_full_workshop_puts_people_on_the_waitlist_in_order(app, org):
    make_workshop(org, code="4821", capacity=1)
    first, second, third = (make_contact(org) for _ in range(3))
    en = make_contact(org, language="en")
    assert sms(first, "SI 4821") == "rsvp_confirmed"
    assert sms(second, "SI 4821", now=NOW + timedelta(minutes=1)) == "rsvp_waitlisted"
    assert sms(third, "SI 4821", now=NOW + timedelta(minutes=2)) == "rsvp_waitlisted"
    assert sms(en, "YES 4821", now=NOW + timedelta(minutes=3)) == "rsvp_waitlisted"
    assert "2" in replies(third)[0]
    assert replies(en)[0].startswith("Your call is full. You are number 3 on the waitlist")
    assert events(second) == [("waitlisted", None)]
    assert sms(third, "si", now=NOW + timedelta(minutes=4)) == "rsvp_already_waitlisted"
    assert "2" in replies(third)[1]


def test_cancel_promotes_the_first_on_the_waitlist(app, org):
    workshop = make_workshop(org, code="4821", capacity=1)
    seated, first, second = (make_contact(org) for _ in range(3))
    sms(seated, "SI 4821")
    sms(first, "SI 4821", now=NOW + timedelta(minutes=1))
    sms(second, "SI 4821", now=NOW + timedelta(minutes=2))
    assert sms(seated, "NO 4821", now=NOW + timedelta(hours=1)) == "rsvp_canceled"
    assert status_of(workshop, seated) == "canceled"
    assert (status_of(workshop, first), status_of(workshop, second)) == ("confirmed", "waitlisted")
    # The seated contact's reminders are canceled; the promoted one gets reminders and an SMS.
    reminders = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.purpose == "reminder")
    ).all()
    assert {r.status for r in reminders if r.contact_id == seated.id} == {"canceled"}
    assert {r.status for r in reminders if r.contact_id == first.id} == {"scheduled"}
    (notice,) = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.purpose == "workshop_notice")
    ).all()
    assert notice.contact_id == first.id and "Decide tú" in notice.body
    assert events(seated) == [("rsvp_yes", None), ("rsvp_no", "canceled")]
    assert events(first) == [("waitlisted", None), ("rsvp_yes", "promoted")]


def test_promotion_passes_over_contacts_who_cannot_be_told(app, org):
    workshop = make_workshop(org, code="4821", capacity=1)
    seated = make_contact(org)
    opted_out, next_one = make_contact(org), make_contact(org)
    sms(seated, "SI 4821")
    sms(opted_out, "SI 4821", now=NOW + timedelta(minutes=1))
    sms(next_one, "SI 4821", now=NOW + timedelta(minutes=2))
    sms(opted_out, "BAJA", now=NOW + timedelta(minutes=3))
    sms(seated, "NO 4821", now=NOW + timedelta(hours=1))
    assert status_of(workshop, next_one) == "confirmed"
    assert status_of(workshop, opted_out) == "waitlisted"


def test_leaving_the_waitlist(app, org):
    workshop = make_workshop(org, code="4821", capacity=1)
    seated, waiting = make_contact(org), make_contact(org)
    sms(seated, "SI 4821")
    sms(waiting, "SI 4821")
    assert sms(waiting, "NO") == "rsvp_left_waitlist"
    assert status_of(workshop, waiting) == "canceled"
    assert events(waiting) == [("waitlisted", None), ("rsvp_no", "left_waitlist")]


def test_concurrent_rsvps_for_the_last_seat(app, make_org, postgres_only):
    org = make_org()
    workshop = make_workshop(org, code="4821", capacity=3)
    for _ in range(2):
        make_registration(workshop, make_contact(org))
    contacts = [make_contact(org) for _ in range(8)]
    phones = [c.phone for c in contacts]
    barrier, outcomes, errors = threading.Barrier(len(phones)), [], []

    def reply(i, phone):
        with app.app_context():
            try:
                barrier.wait()
                outcomes.append(
                    receive_sms(sid=f"SMconc{i:028d}", from_number=phone, body="Sí 4821", now=NOW)
                )
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=reply, args=(i, p)) for i, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Counter(outcomes) == {"rsvp_confirmed": 1, "rsvp_waitlisted": 7}
    db.session.expire_all()
    statuses = Counter(
        db.session.scalars(
            select(WorkshopRegistration.status).where(
                WorkshopRegistration.workshop_id == workshop.id
            )
        )
    )
    assert statuses == {"confirmed": 3, "waitlisted": 7}
    waiting = db.session.scalars(
        select(WorkshopRegistration).where(WorkshopRegistration.status == "waitlisted")
    ).all()
    from app.workshops.rsvp import waitlist_position

    assert sorted(waitlist_position(r) for r in waiting) == list(range(1, 8))


def test_concurrent_cancel_and_rsvp_keep_capacity(app, make_org, postgres_only):
    """A seat freed by NO and a new YES at the same moment: never more than capacity."""
    org = make_org()
    workshop = make_workshop(org, code="4821", capacity=2)
    leaving = make_contact(org)
    make_registration(workshop, leaving)
    make_registration(workshop, make_contact(org))
    waiting = make_contact(org)
    make_registration(workshop, waiting, "waitlisted")
    newcomers = [make_contact(org) for _ in range(4)]
    barrier = threading.Barrier(1 + len(newcomers))

    def send(i, phone, body):
        with app.app_context():
            barrier.wait()
            receive_sms(sid=f"SMmix{i:029d}", from_number=phone, body=body, now=NOW)
            db.session.remove()

    jobs = [(0, leaving.phone, "NO 4821")] + [
        (i + 1, c.phone, "SI 4821") for i, c in enumerate(newcomers)
    ]
    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.expire_all()
    statuses = Counter(
        db.session.scalars(
            select(WorkshopRegistration.status).where(
                WorkshopRegistration.workshop_id == workshop.id
            )
        )
    )
    assert statuses["confirmed"] == 2 and statuses["waitlisted"] == 4
    # The one who waited longest got the freed seat, whatever the order of arrival.
    assert status_of(workshop, waiting) == "confirmed"
