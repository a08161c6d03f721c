"""Opt-out is one state change: however many STOPs arrive, and however they interleave,
the contact is opted out once, with one `opt_out` event and one confirmation."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.contacts import services
from app.contacts.models import Contact
from app.errors import DomainError
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage, OutboxMessage
from app.outbox.status import flag_contact_from_error
from app.participation.models import ParticipationEvent
from tests.factories import make_contact
from tests.support import NOW


def opt_out_events(contact_id) -> int:
    return db.session.scalar(
        select(func.count()).where(
            ParticipationEvent.contact_id == contact_id, ParticipationEvent.kind == "opt_out"
        )
    )


def confirmations(contact_id) -> int:
    return db.session.scalar(
        select(func.count()).where(
            OutboxMessage.contact_id == contact_id, OutboxMessage.purpose == "system"
        )
    )


def test_repeated_stops_record_one_opt_out(app, make_org):
    contact = make_contact(make_org())
    for n, word in enumerate(("STOP", "BAJA", "stop")):
        outcome = receive_sms(
            sid=f"SM{n:032d}", from_number=contact.phone, body=word, now=NOW + timedelta(seconds=n)
        )
        assert outcome == "opted_out"
    db.session.expire_all()
    assert opt_out_events(contact.id) == 1 and confirmations(contact.id) == 1
    assert db.session.get(Contact, contact.id).opted_out_at == NOW  # the first one counts


def test_stop_read_before_another_request_opted_out_changes_nothing(app, make_org):
    """The race, replayed in one session: this request read the contact before another
    one opted it out and committed. The state change must be decided by the database."""
    contact = make_contact(make_org())
    contact_id, phone = contact.id, contact.phone
    assert contact.opted_out_at is None  # loaded: this copy is about to become stale
    db.session.execute(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(opted_out_at=NOW - timedelta(seconds=1), opt_out_channel="sms")
        .execution_options(synchronize_session=False)
    )
    assert receive_sms(sid="SM" + "1" * 32, from_number=phone, body="STOP", now=NOW) == (
        "opted_out"
    )
    db.session.expire_all()
    assert opt_out_events(contact_id) == 0 and confirmations(contact_id) == 0
    assert db.session.get(Contact, contact_id).opted_out_at == NOW - timedelta(seconds=1)


def test_carrier_opt_out_of_a_contact_already_opted_out_records_nothing(app, make_org):
    org = make_org()
    contact = make_contact(org)
    assert contact.opted_out_at is None  # a stale copy, as in a concurrent callback
    db.session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(opted_out_at=NOW, opt_out_channel="sms")
        .execution_options(synchronize_session=False)
    )
    flag_contact_from_error(contact, "21610", now=NOW + timedelta(minutes=1))
    db.session.commit()
    assert opt_out_events(contact.id) == 0
    assert (contact.opted_out_at, contact.opt_out_channel) == (NOW, "sms")
    fresh = make_contact(org)
    flag_contact_from_error(fresh, "21610", now=NOW)
    flag_contact_from_error(fresh, "21610", now=NOW + timedelta(minutes=1))
    db.session.commit()
    assert opt_out_events(fresh.id) == 1 and fresh.opt_out_channel == "carrier"


def test_mark_opted_out_changes_the_state_once(app, make_org):
    contact = make_contact(make_org())
    assert services.mark_opted_out(contact, channel="sms", now=NOW) is True
    assert (contact.opted_out_at, contact.opt_out_channel) == (NOW, "sms")
    later = NOW + timedelta(minutes=1)
    assert services.mark_opted_out(contact, channel="carrier", now=later) is False
    db.session.commit()
    db.session.expire_all()
    assert (contact.opted_out_at, contact.opt_out_channel) == (NOW, "sms")


def test_coordinator_opt_out_after_a_stop_is_refused(app, make_org):
    contact = make_contact(make_org())
    db.session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(opted_out_at=NOW, opt_out_channel="sms")
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(DomainError):
        services.opt_out_contact(contact, now=NOW + timedelta(minutes=1))
    db.session.expire_all()
    assert (contact.opted_out_at, contact.opt_out_channel) == (NOW, "sms")


def test_concurrent_stops_record_one_opt_out(app, make_org, postgres_only):
    contact = make_contact(make_org())
    contact_id, phone = contact.id, contact.phone
    n = 5
    barrier, outcomes = threading.Barrier(n), []

    def stop(i):
        with app.app_context():
            barrier.wait()
            outcomes.append(receive_sms(sid=f"SM{i:032d}", from_number=phone, body="STOP", now=NOW))
            db.session.remove()

    threads = [threading.Thread(target=stop, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["opted_out"] * n
    db.session.expire_all()
    assert (
        db.session.scalar(select(func.count()).where(InboundMessage.contact_id == contact_id)) == n
    )  # every STOP is kept
    assert opt_out_events(contact_id) == 1 and confirmations(contact_id) == 1
