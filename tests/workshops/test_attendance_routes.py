"""Attendance pages: door roster (with and without JavaScript), walk-ins, sign-in sheets,
completion; organization isolation and permissions."""

import csv
import io
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from app.contacts.models import Contact
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.participation.models import ParticipationEvent
from app.timeutil import utcnow
from app.workshops.models import Workshop, WorkshopRegistration
from tests.factories import make_contact, make_registration, make_workshop
from tests.support import csrf_token_from

JSON = {"Accept": "application/json"}


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


def kinds(contact=None) -> list[str]:
    stmt = select(ParticipationEvent.kind).order_by(ParticipationEvent.id)
    if contact is not None:
        stmt = stmt.where(ParticipationEvent.contact_id == contact.id)
    return list(db.session.scalars(stmt))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a", name="Jóvenes Libres")


@pytest.fixture
def coordinator(make_user, org, login, client):
    user = make_user(org, role="coordinator")
    login(user)
    client.get("/?lang=en")
    return user


@pytest.fixture
def workshop(org):
    starts = utcnow().replace(microsecond=0) - timedelta(minutes=30)
    return make_workshop(
        org,
        code="4821",
        starts_at=starts,
        title_es="Taller: el fentanilo mata",
        title_en="Workshop: fentanyl kills",
        venue_name="Centro Comunitario Otay",
    )


def url(workshop, path=""):
    return f"/workshops/{workshop.id}/attendance{path}"


def token(client, workshop) -> str:
    return csrf_token_from(client.get(url(workshop)))


# -- the roster --------------------------------------------------------------------------


def test_roster_page_works_on_a_phone(client, coordinator, org, workshop):
    ana = make_contact(org, first_name="Ana", phone="+526645550101")
    make_registration(workshop, ana)
    make_registration(workshop, make_contact(org, first_name="Eva"), status="waitlisted")
    make_registration(workshop, make_contact(org, first_name="Iván"), status="invited")
    make_registration(workshop, make_contact(org, first_name="Nadie"), status="declined")
    response = client.get(url(workshop))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "/static/js/roster.js" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # CSP: no inline scripts
    assert " style=" not in html and "<style" not in html  # ...nor inline styles
    assert html.count('class="button button--primary roster-checkin"') == 3
    assert 'aria-label="Check in Ana"' in html and "Phone ending in 0101" in html
    assert "Nadie" not in html  # declined people are not expected at the door
    assert 'data-name="ivan"' in html and 'data-phone="526645550101"' in html
    assert 'type="search"' in html and "data-roster-filter" in html
    assert '<dd data-count="confirmed">1</dd>' in html
    assert '<dd data-count="attended">0</dd>' in html
    assert "<dd>30</dd>" in html  # capacity
    assert "Register a walk-in" in html and "Upload a sign-in sheet" in html
    assert "Complete the workshop" in html
    assert 'id="send_thank_you"' in html and ' checked id="send_thank_you"' not in html


def test_roster_search_without_javascript(client, coordinator, org, workshop):
    make_registration(workshop, make_contact(org, first_name="José Luis", phone="+526645550101"))
    make_registration(workshop, make_contact(org, first_name="Ana", phone="+526645550102"))
    html = client.get(url(workshop) + "?q=jose").get_data(as_text=True)
    assert "José Luis" in html and ">Ana<" not in html and "Show everyone" in html
    html = client.get(url(workshop) + "?q=0102").get_data(as_text=True)
    assert ">Ana<" in html and "José Luis" not in html
    html = client.get(url(workshop) + "?q=zzz").get_data(as_text=True)
    assert "Nobody on the list matches “zzz”." in html


def test_check_in_and_undo_without_javascript(client, coordinator, org, workshop):
    ana = make_contact(org, first_name="Ana")
    registration = make_registration(workshop, ana)
    csrf = token(client, workshop)
    response = client.post(
        url(workshop, f"/{registration.id}/check-in"), data={"csrf_token": csrf, "q": "an"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/workshops/{workshop.id}/attendance?q=an#reg-{registration.id}"
    )
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ana is checked in." in html and "Checked in at" in html
    assert '<dd data-count="attended">1</dd>' in html
    assert kinds(ana) == ["attended"]

    again = client.post(url(workshop, f"/{registration.id}/check-in"), data={"csrf_token": csrf})
    assert "Ana was already checked in." in client.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert kinds(ana) == ["attended"]

    response = client.post(url(workshop, f"/{registration.id}/undo"), data={"csrf_token": csrf})
    assert response.status_code == 302
    assert "Check-in of Ana undone." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert (
        kinds(ana) == []
        and db.session.get(WorkshopRegistration, registration.id).attended_at is None
    )


def test_check_in_and_undo_with_javascript(client, coordinator, org, workshop):
    ana = make_contact(org, first_name="Ana")
    registration = make_registration(workshop, ana)
    csrf = token(client, workshop)
    response = client.post(
        url(workshop, f"/{registration.id}/check-in"), data={"csrf_token": csrf}, headers=JSON
    )
    assert response.status_code == 200 and response.is_json
    data = response.get_json()
    assert data["message"] == "Ana is checked in."
    assert data["counts"]["attended"] == 1 and data["counts"]["confirmed"] == 1
    assert (
        data["html"]
        .lstrip()
        .startswith(f'<li class="roster-row roster-row--in" id="reg-{registration.id}"')
    )
    assert f"/{registration.id}/undo" in data["html"] and 'name="csrf_token"' in data["html"]

    data = client.post(
        url(workshop, f"/{registration.id}/undo"), data={"csrf_token": csrf}, headers=JSON
    ).get_json()
    assert data["counts"]["attended"] == 0 and "roster-checkin" in data["html"]
    assert kinds(ana) == []


def test_check_in_error_as_json_for_a_canceled_workshop(client, coordinator, org):
    workshop = make_workshop(org, status="canceled")
    registration = make_registration(workshop, make_contact(org))
    csrf = token(client, workshop)
    response = client.post(
        url(workshop, f"/{registration.id}/check-in"), data={"csrf_token": csrf}, headers=JSON
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == (
        "This workshop was canceled: attendance cannot be recorded."
    )
    assert kinds() == []


def test_posts_need_the_csrf_token(client, coordinator, org, workshop):
    registration = make_registration(workshop, make_contact(org))
    for path in (
        f"/{registration.id}/check-in",
        f"/{registration.id}/undo",
        "/complete",
        "/rejected.csv",
    ):
        assert client.post(url(workshop, path), data={}).status_code == 400, path
    assert kinds() == []


# -- walk-ins --------------------------------------------------------------------------


def walk_in_form(client, workshop, **fields):
    values = {
        "csrf_token": csrf_token_from(client.get(url(workshop, "/walk-in"))),
        "phone": "664 555 0177",
        "first_name": "Itzel",
        "language": "es",
        "birth_year": str(utcnow().year - 20),
        "age_band": "",
        "gender": "",
        "state": "02",
        "municipality": "Tijuana",
        "consent": "y",  # the young person's own consent (issue 14)
    }
    values.update(fields)
    return client.post(
        url(workshop, "/walk-in"), data={k: v for k, v in values.items() if v is not None}
    )


def test_walk_in_form_defaults_to_the_workshop(client, coordinator, workshop):
    html = client.get(url(workshop, "/walk-in")).get_data(as_text=True)
    assert '<option selected value="02">' in html
    assert 'value="Tijuana"' in html and 'type="tel"' in html
    assert "Register and check in" in html


def test_walk_in_adult(client, coordinator, org, workshop):
    response = walk_in_form(client, workshop)
    assert response.status_code == 302
    contact = db.session.scalar(select(Contact))
    registration = db.session.scalar(select(WorkshopRegistration))
    assert response.headers["Location"].endswith(f"#reg-{registration.id}")
    assert (contact.phone, contact.consent_source) == ("+526645550177", "workshop")
    assert registration.walk_in and registration.checked_in_by == coordinator.id
    assert sorted(kinds(contact)) == ["attended", "walk_in"]
    html = client.get(url(workshop)).get_data(as_text=True)
    assert "Itzel is registered as a walk-in and checked in." in html
    assert '<dd data-count="walk_ins">1</dd>' in html


def test_walk_in_minor_without_guardian_consent_is_rejected(client, coordinator, workshop):
    response = walk_in_form(client, workshop, birth_year=str(utcnow().year - 15))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "A parent or guardian must consent for someone who may be under 18." in html
    assert count(Contact) == 0 and count(WorkshopRegistration) == 0 and kinds() == []

    response = walk_in_form(
        client, workshop, birth_year=str(utcnow().year - 15), guardian_consent="y"
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Contact)).guardian_consent


def test_walk_in_errors_are_translated(client, coordinator, workshop):
    client.get("/?lang=es")
    response = walk_in_form(client, workshop, phone="12345")
    assert response.status_code == 400
    assert es("Invalid mobile phone number.") in response.get_data(as_text=True)
    assert count(Contact) == 0


def test_walk_in_matches_a_contact_written_with_044(client, coordinator, org, workshop):
    known = make_contact(org, phone="+526645550101", first_name="Begoña")
    response = walk_in_form(client, workshop, phone="044 664 555 0101", first_name="Bego")
    assert response.status_code == 302
    assert count(Contact) == 1
    registration = db.session.scalar(select(WorkshopRegistration))
    assert registration.contact_id == known.id and registration.walk_in
    html = client.get(url(workshop)).get_data(as_text=True)
    assert "Begoña is registered as a walk-in and checked in." in html
    assert "The phone number matched an existing contact" in html


# -- sign-in sheets --------------------------------------------------------------------

MIXED = (
    "Nombre;Teléfono;Notas\n"
    "Begoña;664 555 0101;=cmd|' /C calc'!A0\n"
    "Begoña;+52 1 664 555 0101;\n"
    "Luis;656 555 0102;\n"
    "Desconocido;664 555 0199;\n"
    "Malo;12345;@SUM(A1)\n"
).encode("cp1252")


def upload(client, workshop, data, filename="firmas.csv"):
    csrf = csrf_token_from(client.get(url(workshop, "/upload")))
    return client.post(
        url(workshop, "/upload"),
        data={"csrf_token": csrf, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_upload_mixed_sheet_report_and_reupload(client, coordinator, org, workshop):
    begona = make_contact(org, phone="+526645550101", first_name="Begoña")
    luis = make_contact(org, phone="+526565550102", first_name="Luis")
    make_registration(workshop, begona)
    page = client.get(url(workshop, "/upload")).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and "<code>telefono</code>" in page

    response = upload(client, workshop, MIXED)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sign-in sheet firmas.csv" in html and "5 rows read." in html
    stats = re.findall(r'<p class="stat">(\d+)</p>', html)
    assert stats == ["1", "1", "0", "1", "2"]  # checked in, walk-ins, already, repeated, rejected
    assert "Not a contact of your organization: register them as a walk-in." in html
    assert "Invalid mobile phone number." in html
    assert kinds(begona) == ["attended"] and sorted(kinds(luis)) == ["attended", "walk_in"]

    report_token = re.search(r'name="report" value="([^"]+)"', html).group(1)
    report = client.post(
        url(workshop, "/rejected.csv"),
        data={"csrf_token": csrf_token_from(response), "report": report_token},
    )
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert report.headers["Cache-Control"] == "no-store"
    assert report.headers["Content-Disposition"] == (
        f'attachment; filename="sign-in-sheet-rejected-rows-{workshop.id}.csv"'
    )
    text = report.get_data(as_text=True)
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["Line", "Nombre", "Teléfono", "Notas", "Reason"],
        [
            "5",
            "Desconocido",
            "664 555 0199",
            "",
            "Not a contact of your organization: register them as a walk-in.",
        ],
        ["6", "Malo", "12345", "'@SUM(A1)", "Invalid mobile phone number."],
    ]

    html = upload(client, workshop, MIXED).get_data(as_text=True)  # the same sheet again
    assert re.findall(r'<p class="stat">(\d+)</p>', html) == ["0", "0", "2", "1", "2"]
    assert kinds(begona) == ["attended"] and sorted(kinds(luis)) == ["attended", "walk_in"]
    assert count(WorkshopRegistration) == 2


def test_upload_good_sheet_with_english_headers(client, coordinator, org, workshop):
    ana = make_contact(org, phone="+526645550101", first_name="Ana")
    make_registration(workshop, ana)
    html = upload(client, workshop, b"\xef\xbb\xbfName,Phone\nAna,(664) 555-0101\n").get_data(
        as_text=True
    )
    assert re.findall(r'<p class="stat">(\d+)</p>', html) == ["1", "0", "0", "0", "0"]
    assert "Download the rejected rows" not in html
    assert kinds(ana) == ["attended"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "This is not a CSV text file"),
        (b"nombre\nAna\n", "No phone column found."),
    ],
)
def test_upload_refused_files(client, coordinator, workshop, data, message):
    response = upload(client, workshop, data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(WorkshopRegistration) == 0


def test_upload_too_large(client, coordinator, workshop, app):
    app.config["CONTACT_IMPORT_MAX_BYTES"] = 1024 * 1024
    # A prebuilt body: the test client would otherwise spool it to a temp file it never closes.
    csrf = csrf_token_from(client.get(url(workshop, "/upload"))).encode()
    body = b"".join(
        [
            b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
            csrf,
            b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n',
            b"Content-Type: text/csv\r\n\r\ntelefono\n",
            b"6645550101\n" * 100_000,
            b"\r\n--b--\r\n",
        ]
    )
    response = client.post(
        url(workshop, "/upload"), data=body, content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == 400
    assert "The file is larger than 1 MB." in response.get_data(as_text=True)


def test_forged_report_token_is_refused(client, coordinator, workshop):
    response = client.post(
        url(workshop, "/rejected.csv"),
        data={"csrf_token": token(client, workshop), "report": "forged"},
    )
    assert response.status_code == 404


# -- completion ------------------------------------------------------------------------


def test_complete_marks_no_shows_and_queues_thank_yous(client, coordinator, org, workshop):
    org.thank_you_sms = True
    db.session.commit()
    came = make_contact(org, first_name="Ana", language="en")
    missed = make_contact(org, first_name="Luis")
    client.post(
        url(workshop, f"/{make_registration(workshop, came).id}/check-in"),
        data={"csrf_token": token(client, workshop)},
    )
    make_registration(workshop, missed)
    html = client.get(url(workshop)).get_data(as_text=True)
    assert ' checked id="send_thank_you"' in html  # the organization's default

    response = client.post(
        url(workshop, "/complete"),
        # before the scheduled end: confirmed (issue 14)
        data={"csrf_token": token(client, workshop), "send_thank_you": "y", "early": "y"},
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The workshop is completed." in html
    assert "1 confirmed participant who was not checked in is now a no-show." in html
    assert "1 thank-you SMS queued." in html
    assert "Complete the workshop" not in html and "No-show" in html
    assert db.session.get(Workshop, workshop.id).status == "completed"
    assert kinds(missed) == ["no_show"]
    message = db.session.scalar(select(OutboxMessage))
    assert (message.contact_id, message.purpose, message.language, message.workshop_id) == (
        came.id,
        "thank_you",
        "en",
        workshop.id,
    )
    assert message.body == (
        "Jóvenes Libres: thank you for coming to Workshop: fentanyl kills! "
        "We hope to see you again soon."
    )

    again = client.post(url(workshop, "/complete"), data={"csrf_token": token(client, workshop)})
    assert "This workshop is already completed." in client.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert count(OutboxMessage) == 1


def test_complete_without_the_checkbox_sends_nothing(client, coordinator, org, workshop):
    org.thank_you_sms = True
    db.session.commit()
    attended = make_registration(workshop, make_contact(org))
    client.post(
        url(workshop, f"/{attended.id}/check-in"), data={"csrf_token": token(client, workshop)}
    )
    client.post(
        url(workshop, "/complete"), data={"csrf_token": token(client, workshop), "early": "y"}
    )
    assert db.session.get(Workshop, workshop.id).status == "completed"
    assert count(OutboxMessage) == 0


def test_a_workshop_cannot_be_completed_before_it_starts(client, coordinator, org):
    starts = utcnow() + timedelta(days=1)
    workshop = make_workshop(org, starts_at=starts, ends_at=starts + timedelta(hours=2))
    html = client.get(url(workshop)).get_data(as_text=True)
    assert "You can complete the workshop once it has started." in html
    response = client.post(url(workshop, "/complete"), data={"csrf_token": token(client, workshop)})
    assert "A workshop can be completed only once it has started." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert db.session.get(Workshop, workshop.id).status == "scheduled"


# -- isolation and permissions ---------------------------------------------------------


def test_other_organizations_get_404_everywhere(
    client, coordinator, org, workshop, app, make_org, make_user, login
):
    registration = make_registration(workshop, make_contact(org))
    intruder_org = make_org(slug="ong-b")
    own = make_workshop(intruder_org, code="1234")
    own_registration = make_registration(own, make_contact(intruder_org))

    other = app.test_client()
    login(make_user(intruder_org, role="admin"), c=other)
    csrf = csrf_token_from(other.get(url(own)))
    for path in ("", "/walk-in", "/upload"):
        assert other.get(url(workshop, path)).status_code == 404, path
    for path in (
        f"/{registration.id}/check-in",
        f"/{registration.id}/undo",
        "/walk-in",
        "/upload",
        "/rejected.csv",
        "/complete",
    ):
        assert other.post(url(workshop, path), data={"csrf_token": csrf}).status_code == 404, path
    # another organization's registration through one's own workshop
    for path in (f"/{registration.id}/check-in", f"/{registration.id}/undo"):
        assert other.post(url(own, path), data={"csrf_token": csrf}).status_code == 404, path
    assert kinds() == [] and db.session.get(Workshop, workshop.id).status == "scheduled"

    # the coordinator cannot reach the intruder's registration through their own workshop
    csrf = token(client, workshop)
    assert (
        client.post(
            url(workshop, f"/{own_registration.id}/check-in"), data={"csrf_token": csrf}
        ).status_code
        == 404
    )


def test_registration_of_another_workshop_is_404(client, coordinator, org, workshop):
    second = make_workshop(org, code="7777")
    registration = make_registration(second, make_contact(org))
    response = client.post(
        url(workshop, f"/{registration.id}/check-in"), data={"csrf_token": token(client, workshop)}
    )
    assert response.status_code == 404 and kinds() == []


def test_evaluators_get_403(client, make_user, org, login, workshop):
    registration = make_registration(workshop, make_contact(org))
    login(make_user(org, role="evaluator"))
    for path in ("", "/walk-in", "/upload"):
        assert client.get(url(workshop, path)).status_code == 403, path
    csrf = csrf_token_from(client.get("/dashboard"))
    for path in (
        f"/{registration.id}/check-in",
        f"/{registration.id}/undo",
        "/walk-in",
        "/upload",
        "/rejected.csv",
        "/complete",
    ):
        assert client.post(url(workshop, path), data={"csrf_token": csrf}).status_code == 403, path
    assert kinds() == []


def test_anonymous_users_are_sent_to_sign_in(client, workshop):
    response = client.get(url(workshop))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_roster_in_spanish(client, coordinator, org, workshop):
    make_registration(workshop, make_contact(org, first_name="Ana"))
    html = client.get(url(workshop) + "?lang=es").get_data(as_text=True)
    assert 'lang="es"' in html and "Taller: el fentanilo mata" in html
