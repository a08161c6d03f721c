"""Attendance services: check-in/undo, walk-ins, sign-in sheets, completion, the funnel."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from app.contacts.csv_import import CsvImportError
from app.contacts.models import Contact
from app.contacts.services import ContactInvalid
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.participation.models import ParticipationEvent
from app.workshops import attendance, completion, sign_in_sheet, walk_ins
from app.workshops import funnel as funnels_of
from app.workshops.models import Workshop, WorkshopRegistration
from tests.factories import make_contact, make_registration, make_workshop

STARTS = datetime(2026, 3, 14, 17, tzinfo=UTC)  # 10:00 in Tijuana
NOW = STARTS + timedelta(minutes=20)
ADULT = str(NOW.year - 20)
MINOR = str(NOW.year - 15)


def events(contact=None, kind=None) -> list[str]:
    stmt = select(ParticipationEvent).order_by(ParticipationEvent.id)
    if contact is not None:
        stmt = stmt.where(ParticipationEvent.contact_id == contact.id)
    if kind is not None:
        stmt = stmt.where(ParticipationEvent.kind == kind)
    return [e.kind for e in db.session.scalars(stmt)]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def walk_in_raw(**overrides) -> dict:
    raw = dict(
        phone="664 555 0177",
        first_name="Itzel",
        language="es",
        birth_year=ADULT,
        age_band="",
        gender="female",
        state="02",
        municipality="Tijuana",
        guardian_consent="no",
        consent="yes",  # the young person's own consent (issue 14)
    )
    raw.update(overrides)
    return raw


@pytest.fixture
def org(make_org):
    return make_org(slug="frontera", country="MX", timezone="America/Tijuana")


@pytest.fixture
def user(make_user, org):
    return make_user(org)


@pytest.fixture
def workshop(org):
    return make_workshop(
        org,
        code="4821",
        starts_at=STARTS,
        title_es="Taller: el fentanilo mata",
        title_en="Workshop: fentanyl kills",
        venue_name="Centro Comunitario Otay",
    )


# -- check-in and undo -----------------------------------------------------------------


def test_check_in_is_idempotent_and_records_one_attended_event(org, user, workshop):
    contact = make_contact(org)
    registration = make_registration(workshop, contact)
    assert attendance.check_in(registration, user_id=user.id, now=NOW) is True
    assert (
        attendance.check_in(registration, user_id=user.id, now=NOW + timedelta(minutes=1)) is False
    )
    registration = db.session.get(WorkshopRegistration, registration.id)
    assert registration.attended_at == NOW and registration.checked_in_by == user.id
    assert not registration.walk_in and registration.status == "confirmed"
    event = db.session.scalar(select(ParticipationEvent))
    assert (event.kind, event.channel, event.workshop_id, event.campaign_id, event.occurred_at) == (
        "attended",
        "workshop",
        workshop.id,
        workshop.campaign_id,
        NOW,
    )
    assert events() == ["attended"]


def test_undo_removes_the_attended_event_and_is_idempotent(org, user, workshop):
    contact = make_contact(org)
    registration = make_registration(workshop, contact)
    attendance.check_in(registration, user_id=user.id, now=NOW)
    assert attendance.undo_check_in(registration, now=NOW) is True
    assert attendance.undo_check_in(registration, now=NOW) is False
    registration = db.session.get(WorkshopRegistration, registration.id)
    assert registration.attended_at is None and registration.checked_in_by is None
    assert events() == []  # reports cannot count an undone attendance
    assert funnels_of.workshop_funnel(workshop)["attended"] == 0

    attendance.check_in(registration, user_id=user.id, now=NOW)  # checked in again
    assert events() == ["attended"]
    assert funnels_of.workshop_funnel(workshop)["attended"] == 1


def test_an_invited_person_who_comes_is_a_walk_in(org, user, workshop):
    contact = make_contact(org)
    registration = make_registration(workshop, contact, status="invited")
    attendance.check_in(registration, user_id=user.id, now=NOW)
    registration = db.session.get(WorkshopRegistration, registration.id)
    assert registration.walk_in and registration.status == "invited"  # the RSVP is kept
    assert sorted(events()) == ["attended", "walk_in"]
    attendance.undo_check_in(registration, now=NOW)
    assert events() == []


def test_check_in_refused_for_a_canceled_workshop(org, user):
    workshop = make_workshop(org, starts_at=STARTS, status="canceled")
    registration = make_registration(workshop, make_contact(org))
    with pytest.raises(attendance.AttendanceError):
        attendance.check_in(registration, user_id=user.id, now=NOW)
    assert (
        events() == [] and db.session.get(WorkshopRegistration, registration.id).attended_at is None
    )


def test_roster_lists_and_searches(org, workshop):
    ana = make_contact(org, first_name="Ana Sofía", phone="+526645550101")
    jose = make_contact(org, first_name="José", phone="+526645550102")
    wait = make_contact(org, first_name="Begoña", phone="+526645550103")
    said_no = make_contact(org, first_name="Daniel", phone="+526645550104")
    invited = make_contact(org, first_name="Érika", phone="+526645550105")
    erased = make_contact(org, first_name=None, phone=None, erased_at=NOW)
    make_registration(workshop, ana)
    make_registration(workshop, jose)
    make_registration(workshop, wait, status="waitlisted")
    make_registration(workshop, said_no, status="declined")
    make_registration(workshop, invited, status="invited")
    make_registration(workshop, erased)
    other = make_workshop(org, starts_at=STARTS, code="1111")
    make_registration(other, make_contact(org, first_name="Otra"))

    names = [e.name for e in attendance.roster(workshop)]
    assert names == ["Ana Sofía", "Begoña", "Érika", "José"]
    assert [e.name for e in attendance.roster(workshop, q="jose")] == ["José"]
    assert [e.name for e in attendance.roster(workshop, q="ERIKA")] == ["Érika"]
    assert [e.name for e in attendance.roster(workshop, q="sofía")] == ["Ana Sofía"]
    assert [e.name for e in attendance.roster(workshop, q="0103")] == ["Begoña"]
    assert attendance.roster(workshop, q="%") == []
    entry = attendance.roster(workshop, q="ana")[0]
    assert (entry.phone_end, entry.search_name, entry.status) == ("0101", "ana sofia", "confirmed")


# -- walk-ins --------------------------------------------------------------------------


def test_walk_in_creates_a_consented_contact_and_registration(org, user, workshop):
    result = walk_ins.register_walk_in(workshop, walk_in_raw(), user_id=user.id, now=NOW)
    assert result.contact_created and result.outcome == "walk_in"
    contact = db.session.get(Contact, result.contact.id)
    assert (
        contact.phone,
        contact.first_name,
        contact.birth_year,
        contact.state_code,
        contact.municipality,
        contact.timezone,
    ) == ("+526645550177", "Itzel", int(ADULT), "02", "Tijuana", "America/Tijuana")
    assert (contact.consent_source, contact.consent_at) == ("workshop", NOW)
    registration = db.session.get(WorkshopRegistration, result.registration.id)
    assert (
        registration.status,
        registration.walk_in,
        registration.attended_at,
        registration.checked_in_by,
        registration.invited_at,
    ) == ("confirmed", True, NOW, user.id, None)
    assert sorted(events(contact)) == ["attended", "walk_in"]
    funnel = funnels_of.workshop_funnel(workshop)
    assert (funnel["confirmed"], funnel["attended"], funnel["walk_ins"]) == (0, 1, 1)


def test_minor_walk_in_needs_guardian_consent(org, user, workshop):
    with pytest.raises(ContactInvalid) as error:
        walk_ins.register_walk_in(workshop, walk_in_raw(birth_year=MINOR), user_id=user.id, now=NOW)
    assert list(error.value.field_errors) == ["guardian_consent"]
    # an unknown age may be a minor's
    with pytest.raises(ContactInvalid):
        walk_ins.register_walk_in(workshop, walk_in_raw(birth_year=""), user_id=user.id, now=NOW)
    with pytest.raises(ContactInvalid):
        walk_ins.register_walk_in(
            workshop, walk_in_raw(birth_year="", age_band="15-17"), user_id=user.id, now=NOW
        )
    assert count(Contact) == 0 and count(WorkshopRegistration) == 0 and events() == []

    result = walk_ins.register_walk_in(
        workshop, walk_in_raw(birth_year=MINOR, guardian_consent="yes"), user_id=user.id, now=NOW
    )
    contact = db.session.get(Contact, result.contact.id)
    assert contact.guardian_consent and contact.guardian_consent_at == NOW
    adult = walk_ins.register_walk_in(
        workshop,
        walk_in_raw(phone="664 555 0178", birth_year="", age_band="18-24"),
        user_id=user.id,
        now=NOW,
    )
    assert adult.outcome == "walk_in"


def test_walk_in_bad_input_changes_nothing(org, user, workshop):
    with pytest.raises(ContactInvalid) as error:
        walk_ins.register_walk_in(
            workshop,
            walk_in_raw(phone="12345", first_name="", birth_year="1850"),
            user_id=user.id,
            now=NOW,
        )
    fields = error.value.field_errors
    assert fields["phone"] == ["Invalid mobile phone number."]
    assert "first_name" in fields and "birth_year" in fields
    assert count(Contact) == 0 and count(WorkshopRegistration) == 0 and events() == []


def test_walk_in_matches_an_old_mexican_form_and_fills_blanks_only(org, user, workshop):
    known = make_contact(
        org,
        phone="+526645550101",
        first_name="Begoña",
        birth_year=None,
        gender=None,
        language="en",
        consent_source=None,
        consent_at=None,
    )
    result = walk_ins.register_walk_in(
        workshop,
        walk_in_raw(phone="044 664 555 0101", first_name="Bego", language="es"),
        user_id=user.id,
        now=NOW,
    )
    assert not result.contact_created and result.contact.id == known.id
    assert count(Contact) == 1
    known = db.session.get(Contact, known.id)
    assert (known.first_name, known.language) == ("Begoña", "en")  # never overwritten
    assert (known.birth_year, known.gender) == (int(ADULT), "female")  # blanks completed
    assert (known.consent_source, known.consent_at) == ("workshop", NOW)
    assert sorted(events(known)) == ["attended", "walk_in"]


def test_walk_in_of_a_registered_person_is_a_plain_check_in(org, user, workshop):
    contact = make_contact(org, phone="+526645550101", birth_year=int(ADULT))
    registration = make_registration(workshop, contact)
    result = walk_ins.register_walk_in(
        workshop, walk_in_raw(phone="+52 1 664 555 0101"), user_id=user.id, now=NOW
    )
    assert result.outcome == "checked_in" and result.registration.id == registration.id
    again = walk_ins.register_walk_in(
        workshop, walk_in_raw(phone="6645550101"), user_id=user.id, now=NOW
    )
    assert again.outcome == "already"
    assert events(contact) == ["attended"]
    assert not db.session.get(WorkshopRegistration, registration.id).walk_in


def test_walk_in_of_an_invited_contact_keeps_one_registration(org, user, workshop):
    contact = make_contact(org, phone="+526645550101", birth_year=int(ADULT))
    registration = make_registration(workshop, contact, status="declined")
    result = walk_ins.register_walk_in(
        workshop, walk_in_raw(phone="664 555 0101"), user_id=user.id, now=NOW
    )
    assert result.outcome == "walk_in" and result.registration.id == registration.id
    assert count(WorkshopRegistration) == 1
    assert db.session.get(WorkshopRegistration, registration.id).walk_in


def test_walk_in_for_a_canceled_workshop_is_refused(org, user):
    workshop = make_workshop(org, starts_at=STARTS, status="canceled")
    with pytest.raises(attendance.AttendanceError):
        walk_ins.register_walk_in(workshop, walk_in_raw(), user_id=user.id, now=NOW)
    assert count(Contact) == 0


# -- sign-in sheets --------------------------------------------------------------------


def sheet(text: str, encoding="utf-8") -> bytes:
    return text.encode(encoding)


def report_rows(result) -> list[list[str]]:
    return list(csv.reader(io.StringIO(result.report_csv())))


def test_sheet_good_file(org, user, workshop):
    registered = make_contact(org, phone="+526645550101")
    known = make_contact(org, phone="+526645550102")
    make_registration(workshop, registered)
    data = sheet("telefono\n664 555 0101\n044 664 555 0102\n")
    result = sign_in_sheet.import_sign_in_sheet(
        workshop, data=data, filename="lista.csv", user_id=user.id, now=NOW
    )
    assert (
        result.total_rows,
        result.checked_in,
        result.walk_ins,
        result.already,
        result.duplicates,
        result.rejected,
    ) == (2, 1, 1, 0, 0, [])
    assert events(registered) == ["attended"]
    assert sorted(events(known)) == ["attended", "walk_in"]
    walk_in = db.session.scalar(
        select(WorkshopRegistration).where(WorkshopRegistration.contact_id == known.id)
    )
    assert (walk_in.walk_in, walk_in.attended_at, walk_in.checked_in_by) == (True, NOW, user.id)


def test_sheet_bad_rows_and_duplicates_semicolon_latin1(org, user, workshop):
    make_contact(org, phone="+526645550101", first_name="Begoña")
    data = sheet(
        "Nombre;Teléfono;Firma\n"
        "Begoña;664 555 0101;=cmd|' /C calc'!A0\n"
        "Begoña Ruiz;+52 1 664 555 0101;\n"
        "Desconocida;664 555 0199;\n"
        "Malo;12345;@SUM(A1)\n"
        "Sin teléfono;;\n",
        "cp1252",
    )
    result = sign_in_sheet.import_sign_in_sheet(
        workshop, data=data, filename="firmas.csv", user_id=user.id, now=NOW
    )
    assert (result.total_rows, result.walk_ins, result.duplicates, len(result.rejected)) == (
        5,
        1,
        1,
        3,
    )
    assert report_rows(result) == [
        ["Line", "Nombre", "Teléfono", "Firma", "Reason"],
        [
            "4",
            "Desconocida",
            "664 555 0199",
            "",
            "Not a contact of your organization: register them as a walk-in.",
        ],
        ["5", "Malo", "12345", "'@SUM(A1)", "Invalid mobile phone number."],
        ["6", "Sin teléfono", "", "", "The mobile phone number is missing."],
    ]
    assert events(kind="attended") == ["attended"]


def test_sheet_reupload_is_idempotent(org, user, workshop):
    contact = make_contact(org, phone="+526645550101")
    make_registration(workshop, contact)
    data = sheet("phone,name\n6645550101,Ana\n")
    sign_in_sheet.import_sign_in_sheet(
        workshop, data=data, filename="a.csv", user_id=user.id, now=NOW
    )
    again = sign_in_sheet.import_sign_in_sheet(
        workshop, data=data, filename="a.csv", user_id=user.id, now=NOW + timedelta(hours=1)
    )
    assert (again.checked_in, again.walk_ins, again.already) == (0, 0, 1)
    assert events() == ["attended"] and count(WorkshopRegistration) == 1


def test_sheet_with_a_walk_in_registered_at_the_door_meanwhile_changes_nothing(
    org, user, workshop, monkeypatch
):
    registered = make_contact(org, phone="+526645550101")
    walk_in = make_contact(org, phone="+526645550102")
    make_registration(workshop, registered)
    mark_many = sign_in_sheet.mark_attended_many

    def door_registers_the_walk_in_first(*args, **kwargs):
        claimed = mark_many(*args, **kwargs)
        # Another request (the door) registers the same person before the sheet does.
        db.session.execute(
            insert(WorkshopRegistration).values(
                organization_id=org.id,
                workshop_id=workshop.id,
                contact_id=walk_in.id,
                status="confirmed",
                walk_in=True,
                no_show=False,
                created_at=NOW,
            )
        )
        return claimed

    monkeypatch.setattr(sign_in_sheet, "mark_attended_many", door_registers_the_walk_in_first)
    with pytest.raises(attendance.AttendanceError) as error:
        sign_in_sheet.import_sign_in_sheet(
            workshop,
            data=sheet("telefono\n6645550101\n6645550102\n"),
            filename="a.csv",
            user_id=user.id,
            now=NOW,
        )
    assert "at the same moment" in str(error.value)
    assert events() == [] and count(WorkshopRegistration) == 1  # the whole sheet rolled back


def test_a_large_sheet_is_recorded_in_a_few_statements(org, user, workshop):
    """Set-based: the statement count does not grow with the number of rows."""
    from sqlalchemy import event

    people = [make_contact(org, phone=f"+52664555{n:04d}") for n in range(40)]
    for person in people[:20]:
        make_registration(workshop, person)
    data = sheet("telefono\n" + "".join(f"{p.phone}\n" for p in people))
    statements = []

    def count_statement(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        result = sign_in_sheet.import_sign_in_sheet(
            workshop, data=data, filename="a.csv", user_id=user.id, now=NOW
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count_statement)
    assert (result.checked_in, result.walk_ins) == (20, 20)
    assert len(statements) < 20  # not one per row
    assert sorted(events(kind="attended")) == ["attended"] * 40


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\x00\x01binary\x00", "This is not a CSV text file"),
        (b"nombre,firma\nAna,x\n", "No phone column found."),
        (b"telefono\n", "The file has a header row but no contacts."),
    ],
)
def test_sheet_refused_files_change_nothing(org, user, workshop, data, message):
    with pytest.raises(CsvImportError) as error:
        sign_in_sheet.import_sign_in_sheet(
            workshop, data=data, filename="x.csv", user_id=user.id, now=NOW
        )
    assert str(error.value).startswith(message)
    assert count(WorkshopRegistration) == 0


def test_sheet_size_limit(app, org, user, workshop):
    app.config["CONTACT_IMPORT_MAX_BYTES"] = 1024 * 1024
    data = b"telefono\n" + b"6645550101\n" * 100_000
    with pytest.raises(CsvImportError, match="larger than 1 MB"):
        sign_in_sheet.import_sign_in_sheet(
            workshop, data=data, filename="x.csv", user_id=user.id, now=NOW
        )


def test_report_token_is_bound_to_its_workshop(org, user, workshop):
    data = sheet("telefono\n12345\n")
    result = sign_in_sheet.import_sign_in_sheet(
        workshop, data=data, filename="x.csv", user_id=user.id, now=NOW
    )
    token = sign_in_sheet.report_token(workshop, result)
    assert sign_in_sheet.report_from_token(workshop, token) == result.report_csv()
    other = make_workshop(org, starts_at=STARTS, code="9999")
    assert sign_in_sheet.report_from_token(other, token) is None
    tampered = token[:-2] + ("yy" if token.endswith("xx") else "xx")  # never the token itself
    assert sign_in_sheet.report_from_token(workshop, tampered) is None


# -- completion ------------------------------------------------------------------------


def test_complete_marks_no_shows_and_queues_thank_yous(org, user, workshop):
    came = make_contact(org, first_name="Ana", language="en")
    missed = make_contact(org, first_name="Luis")
    waitlisted = make_contact(org, first_name="Eva")
    opted_out = make_contact(org, first_name="Sol", opted_out_at=NOW - timedelta(days=1))
    for contact in (came, opted_out):
        attendance.check_in(make_registration(workshop, contact), user_id=user.id, now=NOW)
    make_registration(workshop, missed)
    make_registration(workshop, waitlisted, status="waitlisted")
    walk_in = walk_ins.register_walk_in(workshop, walk_in_raw(), user_id=user.id, now=NOW)

    done = STARTS + timedelta(hours=2)
    result = completion.complete_workshop(workshop, send_thank_you=True, now=done)
    assert (result.no_shows, result.thank_yous, result.not_messageable) == (1, 2, 1)
    assert db.session.get(Workshop, workshop.id).status == "completed"
    assert events(missed) == ["no_show"] and events(waitlisted) == []

    rows = {m.contact_id: m for m in db.session.scalars(select(OutboxMessage))}
    assert set(rows) == {came.id, walk_in.contact.id}
    english = rows[came.id]
    assert (
        english.purpose,
        english.workshop_id,
        english.campaign_id,
        english.language,
        english.due_at,
        english.status,
    ) == ("thank_you", workshop.id, workshop.campaign_id, "en", done, "scheduled")
    assert "Workshop: fentanyl kills" in english.body
    spanish = rows[walk_in.contact.id]
    assert spanish.language == "es" and "Taller: el fentanilo mata" in spanish.body
    assert spanish.body != english.body

    funnel = funnels_of.workshop_funnel(workshop)
    assert funnel == {
        "invited": 4,
        "confirmed": 3,
        "waitlisted": 1,
        "declined": 0,
        "attended": 3,
        "walk_ins": 1,
        "no_shows": 1,
    }

    with pytest.raises(attendance.AttendanceError):  # no second completion, no second SMS
        completion.complete_workshop(workshop, send_thank_you=True, now=done)
    assert count(OutboxMessage) == 2


def test_complete_without_thank_yous_and_before_the_start(org, user, workshop):
    make_registration(workshop, make_contact(org))
    with pytest.raises(attendance.AttendanceError):
        completion.complete_workshop(
            workshop, send_thank_you=True, now=STARTS - timedelta(minutes=1)
        )
    assert db.session.get(Workshop, workshop.id).status == "scheduled" and events() == []
    result = completion.complete_workshop(
        workshop,
        send_thank_you=False,
        now=STARTS,
        early_confirmed=True,  # before the end
    )
    assert (result.no_shows, result.thank_yous) == (1, 0) and count(OutboxMessage) == 0


def test_late_check_in_and_undo_after_completion_keep_no_shows_right(org, user, workshop):
    contact = make_contact(org)
    registration = make_registration(workshop, contact)
    completion.complete_workshop(workshop, send_thank_you=False, now=NOW, early_confirmed=True)
    assert events(contact) == ["no_show"]

    attendance.check_in(registration, user_id=user.id, now=NOW)
    assert events(contact) == ["attended"]
    assert not db.session.get(WorkshopRegistration, registration.id).no_show

    attendance.undo_check_in(registration, now=NOW)
    assert events(contact) == ["no_show"]
    funnel = funnels_of.workshop_funnel(workshop)
    assert (funnel["attended"], funnel["no_shows"]) == (0, 1)


def test_funnel_counts_in_sql(org, workshop):
    for status in ("invited", "invited", "confirmed", "waitlisted", "declined", "canceled"):
        make_registration(workshop, make_contact(org), status=status)
    assert funnels_of.workshop_funnel(workshop) == {
        "invited": 6,
        "confirmed": 1,
        "waitlisted": 1,
        "declined": 2,
        "attended": 0,
        "walk_ins": 0,
        "no_shows": 0,
    }
    empty = make_workshop(org, starts_at=STARTS, code="0000")
    assert funnels_of.workshop_funnel(empty) == dict.fromkeys(funnels_of.FUNNEL_KEYS, 0)
    funnels = funnels_of.workshop_funnels(org.id, [workshop.id, empty.id])
    assert funnels[workshop.id]["invited"] == 6 and funnels[empty.id]["invited"] == 0


def test_simultaneous_check_ins_record_one_attendance(app, org, user, workshop, postgres_only):
    import threading

    registrations = [make_registration(workshop, make_contact(org)).id for _ in range(5)]
    results, barrier = [], threading.Barrier(4)

    def tap():
        with app.app_context():
            barrier.wait()
            for registration_id in registrations:  # four doors, the same five people
                registration = db.session.get(WorkshopRegistration, registration_id)
                results.append(attendance.check_in(registration, user_id=user.id, now=NOW))
            db.session.remove()

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5 and len(results) == 20
    assert events() == ["attended"] * 5
