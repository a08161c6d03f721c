"""Retention: inactive contacts lose their personal data; counts stay."""

from datetime import timedelta

from sqlalchemy import func, select

from app.contacts.models import Contact, ContactTag
from app.contacts.retention import purge_inactive_contacts
from app.extensions import db
from app.participation.services import record_event
from tests.factories import make_contact
from tests.support import utc

NOW = utc(2026, 11, 27)
OLD = NOW - timedelta(days=500)


def test_purge_erases_only_inactive_contacts(app, make_org):
    org = make_org()
    stale = make_contact(org, birth_year=2008, created_at=OLD, updated_at=OLD, gender="female")
    db.session.add(ContactTag(contact_id=stale.id, name="prepa"))
    record_event(
        organization_id=org.id,
        contact_id=stale.id,
        kind="sms_delivered",
        channel="sms",
        occurred_at=OLD,
    )
    recent_event = make_contact(org, created_at=OLD, updated_at=OLD)
    record_event(
        organization_id=org.id,
        contact_id=recent_event.id,
        kind="attended",
        channel="workshop",
        occurred_at=NOW - timedelta(days=10),
    )
    new = make_contact(org)
    db.session.commit()

    assert purge_inactive_contacts(months=0, now=NOW) == 0  # off by default
    assert purge_inactive_contacts(months=12, now=NOW) == 1
    db.session.expire_all()
    stale = db.session.get(Contact, stale.id)
    assert stale.erased_at == NOW and stale.phone is None and stale.first_name is None
    assert (stale.birth_year, stale.age_band, stale.gender) == (None, "18-24", "female")
    assert db.session.scalar(select(func.count()).select_from(ContactTag)) == 0
    assert db.session.get(Contact, recent_event.id).erased_at is None
    assert db.session.get(Contact, new.id).erased_at is None
    # The de-identified event still counts.
    assert (
        db.session.scalar(select(func.count()).where(func.coalesce(Contact.erased_at, NOW) == NOW))
        == 3
    )
