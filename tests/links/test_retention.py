"""A contact's links go with the contact (deletion cascades, erasure deletes them); expired
links are purged by the maintenance task after a grace period."""

from datetime import timedelta

from sqlalchemy import delete, select

from app import schedule
from app.contacts.models import Contact
from app.contacts.services import erase_contact
from app.extensions import db
from app.links.models import TrackedLink
from app.links.services import PURGE_AFTER_EXPIRY, purge_expired_links
from tests.factories import make_contact, make_tracked_link
from tests.support import NOW, TODAY


def codes() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(TrackedLink.code)))


def test_deleting_a_contact_deletes_its_links(app, make_org):
    org = make_org()
    gone, kept = make_contact(org), make_contact(org)
    make_tracked_link(gone)
    mine = make_tracked_link(kept).code
    db.session.execute(delete(Contact).where(Contact.id == gone.id))
    db.session.commit()
    assert codes() == {mine}


def test_erasing_a_contact_deletes_its_links(app, make_org):
    org = make_org()
    erased, kept = make_contact(org), make_contact(org)
    make_tracked_link(erased)
    mine = make_tracked_link(kept).code
    erase_contact(erased, today=TODAY, now=NOW)
    assert codes() == {mine}


def test_expired_links_are_purged_after_the_grace_period(app, make_org):
    contact = make_contact(make_org())
    make_tracked_link(contact, expires_at=NOW - PURGE_AFTER_EXPIRY - timedelta(hours=1))
    recent = make_tracked_link(contact, expires_at=NOW - timedelta(days=1)).code
    live = make_tracked_link(contact).code
    assert purge_expired_links(now=NOW) == 1
    assert codes() == {recent, live}


def test_the_purge_is_a_maintenance_task(app):
    names = [task.name for task in schedule.maintenance_tasks(app.config)]
    assert "purge_expired_links" in names
