"""Issue 15: on PostgreSQL each batch's COPYs run on a thread while the next batch is
checked (`import_services._Copier`); an error on either side still lands nothing."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.contacts import import_services as services
from app.contacts.models import Contact, ContactImport, ContactTag
from app.extensions import db
from tests.factories import make_contact

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
FILE = (
    "telefono,nombre,etiquetas\n"
    "664 555 0101,Ana,prepa\n"
    '664 555 0102,Luis,"deportes, arte"\n'
    "664 555 0103,Joe,\n"
    "664 555 0104,Eva,arte\n"
    "664 555 0105,Iñaki,prepa\n"
)


@pytest.fixture
def org(make_org):
    return make_org(slug="frontera", country="MX", timezone="America/Tijuana")


def _start(org):
    return services.create_import(
        org, user_id=None, filename="lista.csv", data=FILE.encode(), consent_source="workshop"
    )


def _count(model=Contact) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_batches_copied_on_the_thread_land_with_their_tags(org, postgres_only, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    submitted = []
    real = services._Copier.submit

    def counting(self, contacts, tags):
        submitted.append((len(contacts), len(tags)))
        return real(self, contacts, tags)

    monkeypatch.setattr(services._Copier, "submit", counting)
    result = services.apply_import(_start(org), now=NOW)
    assert result.created == 5 and submitted == [(2, 3), (2, 1), (1, 1)]
    tags = db.session.execute(
        select(Contact.phone, ContactTag.name).join(ContactTag).order_by(ContactTag.id)
    ).all()
    assert tags == [
        ("+526645550101", "prepa"),
        ("+526645550102", "arte"),
        ("+526645550102", "deportes"),
        ("+526645550104", "arte"),
        ("+526645550105", "prepa"),
    ]


def test_a_failed_copy_lands_nothing_and_the_import_can_be_retried(org, postgres_only, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    taken = make_contact(org, phone="+526645559999").id
    db.session.commit()
    real = services._next_contact_ids
    monkeypatch.setattr(services, "_next_contact_ids", lambda count: [taken] * count)
    imp = _start(org)
    with pytest.raises(services.ContactImportError, match="nothing was imported"):
        services.apply_import(imp, now=NOW)
    assert _count() == 1 and _count(ContactTag) == 0
    imp = db.session.get(ContactImport, imp.id)
    assert imp.status == "failed" and imp.error.startswith("UniqueViolation")
    monkeypatch.setattr(services, "_next_contact_ids", real)
    assert services.apply_import(imp, now=NOW).created == 5
    assert _count() == 6 and _count(ContactTag) == 5


def test_an_error_while_a_copy_is_pending_lands_nothing(org, postgres_only, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    real = services._Applier._known_states
    calls = []

    def flaky(self, rows):
        calls.append(len(rows))
        if len(calls) == 3:  # the second batch's COPY is still pending, or just done
            raise RuntimeError("disk full")
        return real(self, rows)

    monkeypatch.setattr(services._Applier, "_known_states", flaky)
    imp = _start(org)
    with pytest.raises(services.ContactImportError, match="nothing was imported"):
        services.apply_import(imp, now=NOW)
    assert _count() == 0 and _count(ContactTag) == 0
    assert db.session.get(ContactImport, imp.id).error == "RuntimeError: disk full"
