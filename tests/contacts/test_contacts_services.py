"""Contact services: create/edit through clean_contact, duplicates, opt-out/in, erasure, list."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.contacts import services
from app.contacts.models import Contact, ContactTag
from app.errors import DomainError
from app.extensions import db
from tests.factories import make_contact

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 18, 0, tzinfo=UTC)


def raw(**overrides) -> dict:
    values = dict(
        phone="664 123 4567",
        first_name="Ana",
        language="es",
        birth_year="2005",
        age_band="",
        gender="female",
        country="MX",
        state="02",
        municipality="Tijuana",
        timezone="",
        tags="escuela-12, futbol",
        consent_source="workshop",
        consent_basis="",
        consent_date="2026-03-01",
        guardian_consent="no",
    )
    values.update(overrides)
    return values


def count_contacts() -> int:
    return db.session.scalar(select(func.count()).select_from(Contact))


@pytest.fixture
def org(make_org):
    return make_org()


def test_create_contact_stores_canonical_values(org):
    contact = services.create_contact(org, raw(), today=TODAY, now=NOW)
    assert contact.phone == "+526641234567"
    assert (contact.state_code, contact.timezone) == ("02", "America/Tijuana")
    assert contact.tag_names == ["escuela-12", "futbol"]
    assert contact.consent_at.date() == date(2026, 3, 1)
    assert contact.created_at == NOW and contact.organization_id == org.id


def test_guardian_consent_is_dated(org):
    contact = services.create_contact(
        org, raw(birth_year="2012", guardian_consent="yes"), today=TODAY, now=NOW
    )
    assert contact.guardian_consent and contact.guardian_consent_at == NOW


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"phone": "12"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"birth_year": "1950"}, "birth_year"),
        ({"birth_year": "20x5"}, "birth_year"),
        ({"state": "Atlantis"}, "state"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"tags": "ok, <script>"}, "tags"),
        ({"consent_source": "imported_list", "consent_basis": ""}, "consent_source"),
        ({"consent_date": "2030-01-01"}, "consent_date"),
        ({"consent_date": "yesterday"}, "consent_date"),
        ({"first_name": "x" * 81}, "first_name"),
    ],
)
def test_invalid_input_maps_errors_to_fields_and_changes_nothing(org, overrides, field):
    with pytest.raises(services.ContactInvalid) as caught:
        services.create_contact(org, raw(**overrides), today=TODAY, now=NOW)
    assert field in caught.value.field_errors, caught.value.field_errors
    assert count_contacts() == 0


def test_several_errors_each_on_its_field(org):
    with pytest.raises(services.ContactInvalid) as caught:
        services.create_contact(org, raw(phone="1", birth_year="1900", state="Narnia"), today=TODAY)
    assert set(caught.value.field_errors) == {"phone", "birth_year", "state"}


def test_wrong_country_for_a_national_number_is_a_phone_error(org):
    # 664 numbers are Mexican: read as a US number they are invalid.
    with pytest.raises(services.ContactInvalid) as caught:
        services.create_contact(org, raw(country="US", state="CA"), today=TODAY)
    assert "phone" in caught.value.field_errors


def test_duplicate_phone_in_the_organization_is_refused(org):
    services.create_contact(org, raw(), today=TODAY)
    with pytest.raises(DomainError) as caught:
        services.create_contact(
            org, raw(phone="+52 1 664 123 4567", first_name="Otra"), today=TODAY
        )
    assert caught.value.field == "phone"
    assert count_contacts() == 1


def test_same_phone_in_another_organization_is_fine(org, make_org):
    services.create_contact(org, raw(), today=TODAY)
    services.create_contact(make_org(), raw(), today=TODAY)
    assert count_contacts() == 2


def test_update_changes_fields_and_tags(org):
    contact = services.create_contact(org, raw(), today=TODAY, now=NOW)
    later = datetime(2026, 6, 20, tzinfo=UTC)
    services.update_contact(
        contact,
        raw(
            first_name="Ana María",
            tags="futbol, teatro",
            state="Chihuahua",
            municipality="Cd. Juárez",
        ),
        org=org,
        today=TODAY,
        now=later,
    )
    db.session.refresh(contact)
    assert contact.first_name == "Ana María"
    assert contact.tag_names == ["futbol", "teatro"]
    assert (contact.state_code, contact.timezone) == ("08", "America/Ciudad_Juarez")
    assert contact.updated_at == later
    assert db.session.scalar(select(func.count()).select_from(ContactTag)) == 2


def test_update_keeps_the_consent_time_when_the_date_is_unchanged(org):
    contact = services.create_contact(org, raw(), today=TODAY, now=NOW)
    signed = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    contact.consent_at = signed
    db.session.commit()
    services.update_contact(contact, raw(first_name="Ana"), org=org, today=TODAY)
    assert contact.consent_at == signed
    services.update_contact(contact, raw(consent_date="2026-03-02"), org=org, today=TODAY)
    assert contact.consent_at.date() == date(2026, 3, 2)


def test_update_to_another_contacts_phone_changes_nothing(org):
    services.create_contact(org, raw(), today=TODAY)
    other = services.create_contact(org, raw(phone="6649876543", first_name="Luis"), today=TODAY)
    with pytest.raises(DomainError):
        services.update_contact(
            other, raw(phone="6641234567", first_name="Changed"), org=org, today=TODAY
        )
    db.session.rollback()
    db.session.refresh(other)
    assert (other.phone, other.first_name) == ("+526649876543", "Luis")


def test_update_with_bad_input_changes_nothing(org):
    contact = services.create_contact(org, raw(), today=TODAY)
    with pytest.raises(services.ContactInvalid):
        services.update_contact(
            contact, raw(first_name="Nuevo", birth_year="1800"), org=org, today=TODAY
        )
    db.session.rollback()
    db.session.refresh(contact)
    assert contact.first_name == "Ana" and contact.birth_year == 2005


def test_opt_out_and_back_in(org):
    contact = services.create_contact(org, raw(), today=TODAY, now=NOW)
    services.opt_out_contact(contact, now=NOW)
    assert (contact.opted_out_at, contact.opt_out_channel) == (NOW, "coordinator")
    with pytest.raises(DomainError):
        services.opt_out_contact(contact, now=NOW)
    with pytest.raises(DomainError):
        services.opt_in_contact(contact, consent_confirmed=False, now=NOW)
    assert contact.opted_out_at == NOW
    later = datetime(2026, 7, 1, tzinfo=UTC)
    services.opt_in_contact(contact, consent_confirmed=True, now=later)
    assert contact.opted_out_at is None and contact.opt_out_channel is None
    assert contact.consent_at == later


def test_erase_keeps_a_de_identified_countable_row(org):
    contact = services.create_contact(org, raw(birth_year="2010", gender="male"), today=TODAY)
    contact_id = contact.id
    services.erase_contact(contact, today=TODAY, now=NOW)
    db.session.expire_all()
    erased = db.session.get(Contact, contact_id)
    assert erased is not None and erased.erased_at == NOW
    assert (erased.phone, erased.first_name, erased.birth_year, erased.consent_basis) == (
        None,
        None,
        None,
        None,
    )
    assert erased.age_band == "15-17"  # 2026 - 2010 = 16
    assert (erased.gender, erased.state_code, erased.municipality) == ("male", "02", "Tijuana")
    assert erased.tag_names == []
    assert db.session.scalar(select(func.count()).select_from(ContactTag)) == 0
    with pytest.raises(DomainError):
        services.erase_contact(erased, today=TODAY)
    with pytest.raises(DomainError):
        services.update_contact(erased, raw(), org=org, today=TODAY)
    # The phone is free again, e.g. if the person signs up anew later.
    services.create_contact(org, raw(birth_year="2010"), today=TODAY)


@pytest.mark.parametrize(
    "year, band",
    [
        (2014, "12-14"),
        (2009, "15-17"),
        (2008, "18-24"),
        (2001, "25-29"),
        (1996, None),
        (2016, None),
    ],
)
def test_age_band_for(year, band):
    assert services.age_band_for(year, 2026) == band


def test_format_phone():
    assert services.format_phone("+526641234567", country="MX") == "664 123 4567"
    assert services.format_phone("+16195550123", country="MX") == "+1 619-555-0123"
    assert services.format_phone("+16195550123", country="US") == "(619) 555-0123"
    assert services.format_phone(None) == ""


def test_local_today_uses_the_organization_zone(org):
    # 03:00 UTC on Jan 1 is still Dec 31 in Tijuana.
    new_year_utc = datetime(2027, 1, 1, 3, tzinfo=UTC)
    assert services.local_today(org, new_year_utc) == date(2026, 12, 31)


# --- the list ---------------------------------------------------------------------------


def test_search_by_name_ignores_case_and_accents(org):
    make_contact(org, 1, first_name="José Ángel")
    make_contact(org, 2, first_name="MARÍA")
    make_contact(org, 3, first_name="Juan")
    db.session.commit()

    def names(q):
        page = services.list_contacts(org.id, {"q": q}, today=TODAY)
        return sorted(c.first_name for c in page.contacts)

    assert names("jose angel") == ["José Ángel"]
    assert names("ÁNG") == ["José Ángel"]
    assert names("maria") == ["MARÍA"]
    assert names("Marí") == ["MARÍA"]
    assert names("j") == ["José Ángel", "Juan"]
    assert names("%") == []  # LIKE wildcards are literal


def test_search_by_partial_phone_and_tag(org):
    a = make_contact(org, 1, phone="+526641112233")
    b = make_contact(org, 2, phone="+526649998877")
    b.tags.append(ContactTag(name="futbol"))
    db.session.commit()

    def ids(**filters):
        return [c.id for c in services.list_contacts(org.id, filters, today=TODAY).contacts]

    assert ids(q="111 22") == [a.id]
    assert ids(q="(664)") == [b.id, a.id]
    assert ids(tag="Futbol") == [b.id]


def test_filters_by_code_and_eligibility(org):
    ok = make_contact(org, 1)
    out = make_contact(org, 2, opted_out_at=NOW, language="en")
    minor = make_contact(org, 3, birth_year=2012, state_code="14", consent_source="school")
    db.session.commit()

    def ids(**filters):
        return [c.id for c in services.list_contacts(org.id, filters, today=TODAY).contacts]

    assert ids(eligibility="eligible") == [ok.id]
    assert ids(eligibility="opted_out") == [out.id]
    assert ids(eligibility="no_guardian_consent") == [minor.id]
    assert ids(language="en") == [out.id]
    assert ids(state="14") == [minor.id]
    assert ids(consent_source="school") == [minor.id]


def test_erased_and_other_organizations_contacts_are_not_listed(org, make_org):
    kept = make_contact(org, 1)
    make_contact(org, 2, erased_at=NOW, phone=None, first_name=None)
    make_contact(make_org(), 3)
    db.session.commit()
    page = services.list_contacts(org.id, {}, today=TODAY)
    assert [c.id for c in page.contacts] == [kept.id] and page.matches == 1


def test_keyset_pagination_walks_forward_and_back(org):
    for n in range(1, 8):
        make_contact(org, n)
    db.session.commit()
    ids = sorted(db.session.scalars(select(Contact.id)).all(), reverse=True)

    first = services.list_contacts(org.id, {}, today=TODAY, per_page=3)
    assert [c.id for c in first.contacts] == ids[:3]
    assert first.prev_cursor is None and first.next_cursor == ids[2]
    second = services.list_contacts(org.id, {}, today=TODAY, after=first.next_cursor, per_page=3)
    assert [c.id for c in second.contacts] == ids[3:6]
    assert second.prev_cursor == ids[3] and second.next_cursor == ids[5]
    last = services.list_contacts(org.id, {}, today=TODAY, after=second.next_cursor, per_page=3)
    assert [c.id for c in last.contacts] == ids[6:] and last.next_cursor is None
    back = services.list_contacts(org.id, {}, today=TODAY, before=second.prev_cursor, per_page=3)
    assert [c.id for c in back.contacts] == ids[:3] and back.prev_cursor is None
    assert back.next_cursor == ids[2]


def test_match_count_is_capped(org, monkeypatch):
    monkeypatch.setattr(services, "COUNT_CAP", 4)
    for n in range(1, 7):
        make_contact(org, n, first_name=f"Persona {n}")
    db.session.commit()
    page = services.list_contacts(org.id, {}, today=TODAY, per_page=2)
    assert page.capped and page.matches == 4
    assert not services.list_contacts(org.id, {"q": "Persona 1"}, today=TODAY).capped
