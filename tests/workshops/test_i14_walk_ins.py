"""Issue 14, at the door: a walk-in whose phone is already a contact uses that contact (an
adult is never asked for a guardian's consent), and the young person's own consent is an
explicit, required checkbox."""

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from app.contacts.models import Contact
from app.contacts.services import ContactInvalid
from app.extensions import db
from app.participation.models import ParticipationEvent
from app.timeutil import utcnow
from app.workshops import walk_ins
from app.workshops.models import WorkshopRegistration
from tests.factories import make_contact, make_workshop
from tests.support import csrf_token_from

STARTS = datetime(2026, 3, 14, 17, tzinfo=UTC)
NOW = STARTS + timedelta(minutes=20)
ADULT = NOW.year - 22
MINOR = NOW.year - 15
CONSENT_ERROR = (
    "Check that the young person agrees to receive messages: without their consent they "
    "cannot be registered."
)
GUARDIAN_ERROR = "A parent or guardian must consent for someone who may be under 18."


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def raw(**overrides) -> dict:
    """The walk-in form as a coordinator fills it for someone already known: the phone,
    and the young person's consent; everything else blank."""
    values = dict(
        phone="664 555 0101",
        first_name="",
        language="es",
        birth_year="",
        age_band="",
        gender="",
        state="",
        municipality="",
        guardian_consent="no",
        consent="yes",
    )
    values.update(overrides)
    return values


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a", name="Jóvenes Libres")


@pytest.fixture
def user(make_user, org):
    return make_user(org, role="coordinator")


@pytest.fixture
def workshop(org):
    return make_workshop(org, starts_at=STARTS, code="4821")


def walk_in(workshop, user, **overrides):
    return walk_ins.register_walk_in(workshop, raw(**overrides), user_id=user.id, now=NOW)


# -- an existing contact ------------------------------------------------------------------


def test_an_existing_adult_contact_is_never_asked_for_guardian_consent(org, user, workshop):
    known = make_contact(
        org, phone="+526645550101", first_name="Begoña", birth_year=ADULT, guardian_consent=False
    )
    result = walk_in(workshop, user)  # blank age: the contact's own birth year counts
    assert not result.contact_created and result.contact.id == known.id
    assert result.outcome == "walk_in"
    assert not db.session.get(Contact, known.id).guardian_consent  # nothing invented
    assert count(Contact) == 1 and count(WorkshopRegistration) == 1


def test_an_existing_adult_by_age_band_is_not_asked_either(org, user, workshop):
    make_contact(org, phone="+526645550101", birth_year=None, age_band="18-24")
    assert walk_in(workshop, user).outcome == "walk_in"


def test_an_existing_contact_of_unknown_age_may_be_a_minor(org, user, workshop):
    make_contact(org, phone="+526645550101", birth_year=None, age_band=None)
    with pytest.raises(ContactInvalid) as error:
        walk_in(workshop, user)
    assert list(error.value.field_errors) == ["guardian_consent"]
    assert GUARDIAN_ERROR in error.value.field_errors["guardian_consent"][0]
    assert count(WorkshopRegistration) == 0
    # ...and the age typed at the door completes it: an adult is then let in.
    assert walk_in(workshop, user, birth_year=str(ADULT)).outcome == "walk_in"


def test_a_known_minor_with_guardian_consent_on_file_is_not_asked_again(org, user, workshop):
    make_contact(org, phone="+526645550101", birth_year=MINOR, guardian_consent=True)
    assert walk_in(workshop, user).outcome == "walk_in"


def test_a_known_minor_without_guardian_consent_is_asked(org, user, workshop):
    known = make_contact(org, phone="+526645550101", birth_year=MINOR, guardian_consent=False)
    # an adult birth year typed at the door does not overwrite the known one
    with pytest.raises(ContactInvalid) as error:
        walk_in(workshop, user, birth_year=str(ADULT))
    assert list(error.value.field_errors) == ["guardian_consent"]
    result = walk_in(workshop, user, guardian_consent="yes")
    assert result.contact.id == known.id
    assert db.session.get(Contact, known.id).guardian_consent


def test_a_new_person_of_unknown_age_is_still_asked(org, user, workshop):
    with pytest.raises(ContactInvalid) as error:
        walk_in(workshop, user, phone="664 555 0199", first_name="Nuevo")
    assert list(error.value.field_errors) == ["guardian_consent"]
    assert count(Contact) == 0


def test_a_new_person_needs_a_first_name_a_known_one_does_not(org, user, workshop):
    with pytest.raises(ContactInvalid) as error:
        walk_in(workshop, user, phone="664 555 0199", birth_year=str(ADULT))
    assert list(error.value.field_errors) == ["first_name"]
    make_contact(org, phone="+526645550101", first_name="Luis", birth_year=ADULT)
    assert walk_in(workshop, user).contact.first_name == "Luis"


# -- the young person's own consent ---------------------------------------------------------


@pytest.mark.parametrize("consent", ["no", "", None])
def test_without_the_consent_checkbox_nothing_is_written(org, user, workshop, consent):
    known = make_contact(org, phone="+526645550101", birth_year=ADULT)
    with pytest.raises(ContactInvalid) as error:
        walk_in(workshop, user, consent=consent)
    assert list(error.value.field_errors) == ["consent"]
    assert error.value.field_errors["consent"] == [CONSENT_ERROR]
    with pytest.raises(ContactInvalid):
        walk_in(
            workshop,
            user,
            phone="664 555 0199",
            first_name="Ana",
            birth_year=str(ADULT),
            consent=consent,
        )
    assert count(Contact) == 1 and count(WorkshopRegistration) == 0
    assert count(ParticipationEvent) == 0
    assert db.session.get(Contact, known.id).updated_at == known.updated_at


# -- the page -------------------------------------------------------------------------------


@pytest.fixture
def door(client, login, user):
    login(user)
    return client


def door_workshop(org):
    return make_workshop(org, starts_at=utcnow() - timedelta(minutes=30), code="5555")


def post_walk_in(client, workshop, **fields):
    url = f"/workshops/{workshop.id}/attendance/walk-in"
    data = {"csrf_token": csrf_token_from(client.get(url)), **raw(), **fields}
    data = {k: v for k, v in data.items() if v is not None}
    if data.get("consent") == "yes":
        data["consent"] = "y"
    if data.get("guardian_consent") == "no":
        del data["guardian_consent"]
    return client.post(url, data=data)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_page_asks_for_the_consent_with_a_translated_label(door, org, lang):
    workshop = door_workshop(org)
    html = door.get(f"/workshops/{workshop.id}/attendance/walk-in?lang={lang}").get_data(
        as_text=True
    )
    with force_locale(lang):
        label = gettext(
            "The young person agrees to receive SMS from %(org)s about this program, and knows "
            "they can stop them at any time by replying STOP or BAJA.",
            org="Jóvenes Libres",
        )
    assert str(escape(label)) in html
    assert 'type="checkbox"' in html and 'id="consent"' in html and "required" in html
    if lang == "es":
        assert "Jóvenes Libres" in label and "SMS" in label and label.startswith("La persona")


def test_the_page_refuses_a_walk_in_without_consent_in_spanish(door, org):
    workshop = door_workshop(org)
    make_contact(org, phone="+526645550101", first_name="Begoña", birth_year=ADULT)
    door.get("/?lang=es")
    response = post_walk_in(door, workshop, consent=None)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    with force_locale("es"):
        assert str(escape(gettext(CONSENT_ERROR))) in html
        assert (
            str(
                escape(
                    gettext(GUARDIAN_ERROR + " For an adult, record the birth year or age band.")
                )
            )
            not in html
        )
    assert count(WorkshopRegistration) == 0

    response = post_walk_in(door, workshop)  # with the box checked
    assert response.status_code == 302
    registration = db.session.scalar(select(WorkshopRegistration))
    assert registration.walk_in and registration.attended_at is not None


def test_a_known_us_contact_is_not_refused_over_the_venues_state(org, user, workshop):
    known = make_contact(
        org, phone="+16195550123", country="US", state_code="CA", timezone="America/Los_Angeles"
    )
    result = walk_in(workshop, user, phone="+1 619 555 0123", state="02")
    assert result.contact.id == known.id
    assert db.session.get(Contact, known.id).state_code == "CA"


def test_a_known_contact_of_another_country_without_a_state_is_not_refused(org, user, workshop):
    # Guam has no state in the list: a US contact without one, at a Mexican venue, keeps
    # their place (the venue's state belongs to another country).
    known = make_contact(
        org,
        phone="+12125550150",
        country="US",
        state_code=None,
        municipality="Hagåtña",
        timezone="Pacific/Guam",
    )
    result = walk_in(workshop, user, phone="+1 212 555 0150", state="02", municipality="Tijuana")
    assert result.contact.id == known.id
    stored = db.session.get(Contact, known.id)
    assert (stored.country, stored.state_code, stored.municipality) == ("US", None, "Hagåtña")
