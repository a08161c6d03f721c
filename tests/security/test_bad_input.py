"""Bad input: oversized uploads, binary and malformed CSVs, malformed webhook bodies,
unknown phone formats, out-of-range dates and numbers, NUL bytes. Each answer is a clear,
translated error (never a 500) and the stored data does not change."""

import io

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.security.helpers import TWILIO_TOKEN, changed_tables, fingerprint, sign_in
from tests.support import csrf_token

LANGS = ("es", "en")


def tr(lang: str, msgid: str, **values) -> str:
    with force_locale(lang):
        return str(escape(gettext(msgid, **values)))


@pytest.fixture
def coordinator(world):
    client = sign_in(world.app, world.users["coordinator"])
    return client


def _lang(client, lang):
    client.get(f"/dashboard?lang={lang}")


def _upload_routes(world):
    return {
        "contact import": (
            "/contacts/imports/new",
            {
                "consent_source": "workshop",
                "duplicate_rule": "update",
                "consent_basis": "Taller escolar",
            },
        ),
        "sign-in sheet": (f"/workshops/{world.a.workshop.id}/attendance/upload", {}),
    }


def _post_file(client, url, extra, content: bytes, filename="lista.csv"):
    # Encoded here, in memory: the test client spools big bodies to a temporary file it
    # never closes (a ResourceWarning, an error under filterwarnings=error).
    boundary, body = encode_multipart(
        {
            "csrf_token": csrf_token(client),
            **extra,
            "file": FileStorage(io.BytesIO(content), filename=filename),
        }
    )
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_oversized_uploads_get_a_translated_413(world, coordinator):
    app = world.app
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    big = b"telefono,nombre\n" + b"6645551234,Ana\n" * 20_000  # ~300 KB
    before = fingerprint()
    for lang in LANGS:
        _lang(coordinator, lang)
        before = fingerprint()
        for name, (url, extra) in _upload_routes(world).items():
            response = _post_file(coordinator, url, extra, big)
            assert response.status_code == 413, name
            body = response.get_data(as_text=True)
            assert tr(lang, "The file is too large") in body, (name, lang)
            assert tr(lang, "Upload a smaller file, or split it into several files.") in body
        # any other form too: the limit is on the whole request
        response = coordinator.post(
            "/contacts/new",
            data={"csrf_token": csrf_token(coordinator), "first_name": "x" * (300 * 1024)},
        )
        assert response.status_code == 413
        assert changed_tables(before, fingerprint()) == []


def test_file_over_the_import_limit_is_a_form_error(world, coordinator):
    app = world.app
    app.config["CONTACT_IMPORT_MAX_BYTES"] = 1024 * 1024
    data = b"telefono,nombre\n" + b"6645551234,Ana\n" * 80_000  # ~1.2 MB
    for lang in LANGS:
        _lang(coordinator, lang)
        before = fingerprint()
        for name, (url, extra) in _upload_routes(world).items():
            response = _post_file(coordinator, url, extra, data)
            assert response.status_code == 400, name
            assert tr(
                lang, "The file is larger than %(mb)d MB. Split it into several files.", mb=1
            ) in response.get_data(as_text=True), (name, lang)
        assert changed_tables(before, fingerprint()) == []


NOT_CSV = (
    "This is not a CSV text file (it looks binary, or its text encoding is not "
    "UTF-8 or Windows-1252). Save it from your spreadsheet as “CSV UTF-8” and "
    "try again."
)
NO_PHONE = "No phone column found. Name the column with the mobile numbers “telefono” or “phone”."
MALFORMED = [
    ("PNG image", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), NOT_CSV, {}),
    ("binary with NUL", b"telefono\n\x00\x01\x02\x03", NOT_CSV, {}),
    ("zip archive", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40, NOT_CSV, {}),
    ("undecodable bytes", b"telefono,nombre\n664555\x81\x8d\x8f\x90\x9d,x\n", NOT_CSV, {}),
    ("bad UTF-8 after BOM", b"\xef\xbb\xbftelefono\n\xff\xfe\n", NOT_CSV, {}),
    ("empty", b"", "The file is empty.", {}),
    ("only blank lines", b"\r\n\r\n  \n", "The file is empty.", {}),
    ("header only", b"telefono,nombre\n", "The file has a header row but no contacts.", {}),
    ("no phone column", b"nombre,edad\nAna,15\n", NO_PHONE, {}),
    (
        "too many columns",
        (",".join(f"c{i}" for i in range(120)) + "\n1\n").encode(),
        "The file has more than %(n)d columns.",
        {"n": 100},
    ),
    (
        "unclosed quote",
        b'telefono,nombre\n6645551234,"Ana\n' + b"x" * (140 * 1024) + b"\n",
        "The file is not valid CSV near line %(line)d (check for an unclosed quote).",
        {"line": 2},
    ),
]


@pytest.mark.parametrize("case", [c[0] for c in MALFORMED])
def test_binary_and_malformed_csv_are_refused_clearly(world, coordinator, case):
    _name, content, msgid, values = next(c for c in MALFORMED if c[0] == case)
    for lang in LANGS:
        _lang(coordinator, lang)
        before = fingerprint()
        for name, (url, extra) in _upload_routes(world).items():
            response = _post_file(coordinator, url, extra, content)
            assert response.status_code == 400, (name, response.status_code)
            assert tr(lang, msgid, **values) in response.get_data(as_text=True), (name, lang)
        assert changed_tables(before, fingerprint()) == []


def test_nul_in_a_file_name_is_refused(world, coordinator):
    before = fingerprint()
    for name, (url, extra) in _upload_routes(world).items():
        response = _post_file(coordinator, url, extra, b"telefono\n6645551234\n", "a\x00.csv")
        assert response.status_code == 400, name
    assert changed_tables(before, fingerprint()) == []


# --- webhooks ---------------------------------------------------------------------------------


def _signed(client, path, params, **kw):
    url = "https://alcance.example.org" + path
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature}, **kw)


@pytest.mark.parametrize(
    "path, params",
    [
        ("/webhooks/twilio/status", {}),
        ("/webhooks/twilio/status", {"MessageSid": "SM1"}),
        ("/webhooks/twilio/status", {"MessageStatus": "delivered"}),
        ("/webhooks/twilio/status", {"MessageSid": "", "MessageStatus": ""}),
        ("/webhooks/twilio/inbound", {}),
        ("/webhooks/twilio/inbound", {"Body": "BAJA"}),
        ("/webhooks/twilio/inbound", {"From": "+526647770001", "Body": "BAJA"}),
        ("/webhooks/twilio/inbound", {"MessageSid": "", "From": "+526647770001"}),
    ],
)
def test_malformed_but_signed_webhook_bodies_are_400(world, path, params):
    before = fingerprint()
    response = _signed(world.app.test_client(), path, params)
    assert response.status_code == 400
    assert changed_tables(before, fingerprint()) == []


def test_webhook_bodies_that_are_not_forms(world):
    client = world.app.test_client()
    before = fingerprint()
    for path in ("/webhooks/twilio/status", "/webhooks/twilio/inbound"):
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            "https://alcance.example.org" + path, {}
        )
        for body, content_type in (
            (b'{"MessageSid": "SM1"}', "application/json"),
            (b"\xff\xfe\x00garbage", "application/octet-stream"),
            (b"MessageSid=%ZZ&From=%", "application/x-www-form-urlencoded"),
            (b"--x\r\nbroken multipart", "multipart/form-data; boundary=x"),
        ):
            response = client.post(
                path,
                data=body,
                content_type=content_type,
                headers={"X-Twilio-Signature": signature},
            )
            assert response.status_code in (400, 403), (path, content_type, response.status_code)
    assert changed_tables(before, fingerprint()) == []


@pytest.mark.parametrize(
    "phone",
    [
        "hola",
        "+999 123",
        "12345",
        "0000000000",
        "+44 20 7946 0958",
        "6" * 40,
        "+52 664 555 12345678",
        "+52\u202e6645551234",
    ],
)
def test_inbound_from_unknown_phone_formats_is_ignored(world, phone):
    before = fingerprint()
    response = _signed(
        world.app.test_client(),
        "/webhooks/twilio/inbound",
        {"MessageSid": "SM" + "f" * 32, "From": phone, "Body": "BAJA"},
    )
    assert response.status_code == 200
    assert changed_tables(before, fingerprint()) == []  # unknown senders are not stored


# --- phones, dates and numbers in forms ----------------------------------------------------------


CONTACT = dict(
    first_name="Valeria",
    language="es",
    birth_year="2000",
    age_band="",
    gender="female",
    country="MX",
    state="02",
    municipality="Tijuana",
    timezone="",
    tags="",
    consent_source="school",
    consent_basis="",
    consent_date="",
    guardian_consent="y",
)


def wtf(lang: str, message: str) -> str:
    """WTForms' own message in `lang` (its catalogs, not the app's)."""
    from wtforms.i18n import get_translations

    return str(escape(get_translations([lang]).gettext(message)))


BAD_PHONES = [
    "12345",
    "hola",
    "+999 123 4567",
    "+44 20 7946 0958",
    "664-555",
    "1" * 30,
    "+52 (664) 555-12-34-56-78",
    "☎ 664 555 1234 ☎ 999",
]


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_phone_formats_are_refused_clearly(world, coordinator, lang):
    _lang(coordinator, lang)
    expected = (
        tr(lang, "Invalid mobile phone number."),
        tr(lang, "Only Mexican (+52) and US (+1) numbers are supported."),
    )
    forms = {
        "/contacts/new": CONTACT,
        f"/workshops/{world.a.workshop.id}/attendance/walk-in": CONTACT,
    }
    before = fingerprint()
    for url, data in forms.items():
        for phone in BAD_PHONES:
            response = coordinator.post(
                url, data={"csrf_token": csrf_token(coordinator), **data, "phone": phone}
            )
            assert response.status_code == 400, (url, phone)
            body = response.get_data(as_text=True)
            assert any(e in body for e in expected), (url, phone)
    assert changed_tables(before, fingerprint()) == []


def _campaign_data(**changes):
    data = {
        "name": "Fechas",
        "topic": "fentanyl",
        "strategy": "education",
        "level": "universal",
        "target_age_min": "12",
        "target_age_max": "29",
        "default_language": "es",
    }
    data.update(changes)
    return data


def _send_data(world, **changes):
    data = {
        "message": str(world.a.message.id),
        "audience": str(world.a.audience.id),
        "kind": "once",
        "timing": "local",
        "local_date": "2027-01-15",
        "local_time": "17:00",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("lang", LANGS)
def test_out_of_range_dates_and_numbers_are_refused_clearly(world, coordinator, lang):
    _lang(coordinator, lang)
    a = world.a
    invalid_date = wtf(lang, "Not a valid date value.")
    cases = [
        # (url, data, a message the page must show)
        ("/campaigns/new", _campaign_data(start_date="2026-02-30"), invalid_date),
        ("/campaigns/new", _campaign_data(start_date="10000-01-01"), invalid_date),
        ("/campaigns/new", _campaign_data(start_date="0000-00-00"), invalid_date),
        ("/campaigns/new", _campaign_data(target_age_min="-5"), None),
        ("/campaigns/new", _campaign_data(target_population="99999999999999999999"), None),
        (
            f"/campaigns/{a.campaign.id}/sends/new",
            _send_data(world, local_date="9999-12-31"),
            tr(lang, "The date is too far in the future."),
        ),
        (
            f"/campaigns/{a.campaign.id}/sends/new",
            _send_data(world, kind="recurring", local_date="9999-12-25", weekdays="0", weeks="52"),
            tr(lang, "The date is too far in the future."),
        ),
        (
            f"/campaigns/{a.campaign.id}/sends/new",
            _send_data(world, local_date="1900-01-01"),
            tr(lang, "The date is too far in the past."),
        ),
        (
            f"/campaigns/{a.campaign.id}/sends/new",
            _send_data(world, kind="sequence", day_offset="99999999999"),
            None,
        ),
        (f"/campaigns/{a.campaign.id}/sends/new", _send_data(world, local_time="25:61"), None),
        (
            f"/workshops/{a.workshop.id}/reschedule",
            {"local_date": "1999-01-01", "start_time": "10:00", "end_time": "11:00"},
            None,
        ),
        (
            f"/workshops/{a.workshop.id}/reschedule",
            {"local_date": "2027-02-30", "start_time": "10:00", "end_time": "11:00"},
            None,
        ),
        (
            "/contacts/new",
            {**CONTACT, "phone": "664 555 0101", "birth_year": "99999999999999999999"},
            None,
        ),
        ("/contacts/new", {**CONTACT, "phone": "664 555 0102", "birth_year": "3000"}, None),
        (
            "/contacts/new",
            {**CONTACT, "phone": "664 555 0103", "consent_date": "2999-01-01"},
            tr(lang, "The consent date is in the future."),
        ),
        ("/contacts/new", {**CONTACT, "phone": "664 555 0104", "consent_date": "1800-13-01"}, None),
        (
            "/organization/settings",
            {
                "name": "ONG",
                "timezone": "America/Tijuana",
                "default_language": "es",
                "quiet_start": "08:00",
                "quiet_end": "21:00",
                "cap_messages": "99999999999999999999",
                "cap_days": "7",
                "opt_out_notice": "first",
            },
            None,
        ),
        (
            "/audiences/new",
            {"name": "Edades", "age_min": "99999999999999999999", "submit": "1"},
            None,
        ),
    ]
    admin = sign_in(world.app, world.users["admin"])
    _lang(admin, lang)
    before = fingerprint()
    for url, data, message in cases:
        client = admin if url.startswith("/organization") else coordinator
        response = client.post(url, data={"csrf_token": csrf_token(client), **data})
        assert response.status_code == 400, (url, data, response.status_code)
        if message:
            assert message in response.get_data(as_text=True), (url, data)
        assert changed_tables(before, fingerprint()) == [], (url, data)


@pytest.mark.parametrize(
    "url",
    [
        "/contacts/?q=a%00b",
        "/contacts/?after=99999999999999999999999",
        "/sends/{send}?status=a%00b",
        "/sends/{send}?after=99999999999999999999999",
        "/sends/{send}?after=-1",
        "/workshops/?week=2026-W99",
        "/workshops/?week=%00",
        "/workshops/{workshop}/attendance?q=a%00",
        "/reports/?from=9999-12-31&to=0001-01-01",
        "/reports/?from=2026-13-45",
        "/reports/campaigns/{campaign}?from=0001-01-01&to=9999-12-31&granularity=day",
        "/reports/export/events.csv?campaign_id=99999999999999999999999",
        "/reports/export/events.csv?from=nope",
        "/audiences/preview?age_min=99999999999999999999999",
        "/audiences/preview?municipalities=a%00b",
        "/campaigns/99999999999999999999999",
        "/contacts/2147483648",
    ],
)
def test_hostile_query_strings_never_500(world, coordinator, url):
    a = world.a
    url = url.format(send=a.send.id, workshop=a.workshop.id, campaign=a.campaign.id)
    before = fingerprint()
    response = coordinator.get(url)
    assert response.status_code < 500
    if response.status_code >= 400 and response.mimetype == "text/html":
        body = response.get_data(as_text=True)  # the error page, or the form with its errors
        assert "Error 4" in body or "field--error" in body or "aria-invalid" in body, body[:300]
    assert changed_tables(before, fingerprint()) == []


@pytest.mark.parametrize(
    "url, field",
    [
        ("/contacts/new", "first_name"),
        ("/campaigns/new", "name"),
        ("/simulator/{contact}", "body"),
        ("/organization/settings", "name"),
        ("/audiences/new", "name"),
        ("/users", "email"),
        ("/workshops/{workshop}/attendance/walk-in", "first_name"),
    ],
)
def test_nul_bytes_in_forms_are_a_400_not_a_500(world, url, field):
    client = sign_in(world.app, world.users["admin"])
    url = url.format(contact=world.a.contact.id, workshop=world.a.workshop.id)
    before = fingerprint()
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client),
            field: "a\x00b",
            "phone": "664 555 0190",
            "submit": "1",
        },
    )
    assert response.status_code == 400
    assert changed_tables(before, fingerprint()) == []
