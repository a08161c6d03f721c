"""Import pages: upload → preview → confirm → result → report; discard; permissions;
organization isolation; refused uploads."""

import csv
import io

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from app.contacts.models import Contact, ContactImport
from app.extensions import db
from tests.support import csrf_token_from

URL = "/contacts/imports/"
NEW = "/contacts/imports/new"
FILE = """\ufeffTeléfono;Nombre;Año_nacimiento;Estado;Notas
664 555 0101;Begoña;2009;BC;=cmd|' /C calc'!A0
+52 1 664 555 0101;Begoña Ruiz;;;
12345;Malo;2009;BC;@SUM(A1)
656 555 0102;Luis;2004;Chihuahua;
""".encode()


def count(model=Contact) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(make_user, org, login, client):
    user = make_user(org, role="coordinator")
    login(user)
    client.get("/?lang=en")
    return user


def upload(client, data=FILE, filename="lista.csv", **fields):
    values = {
        "csrf_token": csrf_token_from(client.get(NEW)),
        "duplicate_rule": "update",
        "consent_source": "school",
        "consent_basis": "",
        "file": (io.BytesIO(data), filename),
    }
    values.update(fields)
    return client.post(
        NEW,
        data={k: v for k, v in values.items() if v is not None},
        content_type="multipart/form-data",
    )


def post(client, url):
    return client.post(url, data={"csrf_token": csrf_token_from(client.get(URL))})


def test_upload_preview_confirm_result_and_report(client, coordinator, run_jobs):
    assert "No imports yet." in client.get(URL).get_data(as_text=True)
    page = client.get(NEW)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and "año_nacimiento" in html

    response = upload(client)
    assert response.status_code == 302
    imp = db.session.scalar(select(ContactImport))
    assert response.headers["Location"].endswith(f"/contacts/imports/{imp.id}/preview")
    assert (imp.status, imp.user_id, imp.filename) == ("previewed", coordinator.id, "lista.csv")

    html = client.get(f"{URL}{imp.id}/preview").get_data(as_text=True)
    assert "UTF-8 with BOM" in html and "semicolon (;)" in html
    assert "<code>Teléfono</code>" in html and "<code>Notas</code>" in html
    assert "Ignored" in html and "Birth year" in html
    assert "Invalid mobile phone number." in html
    assert "Same phone as line 2." in html and "New contact" in html
    assert "Import 2 contacts" in html  # the dry run's count: 2 new, 2 rejected
    assert "=cmd|&#39; /C calc&#39;!A0" not in html  # ignored columns are not shown
    assert count() == 0  # the preview wrote nothing

    response = post(client, f"{URL}{imp.id}/confirm")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/contacts/imports/{imp.id}")
    # The web request only queues the work; a worker process applies it.
    queued = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Import started." in queued and "<progress" in queued and count() == 0
    assert run_jobs() == 1
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>2</strong> New contacts" in html and "<strong>2</strong> Rejected" in html
    assert "Invalid mobile phone number." in html
    assert count() == 2
    begona = db.session.scalar(select(Contact).where(Contact.phone == "+526645550101"))
    assert begona.first_name == "Begoña" and begona.birth_year == 2009  # the first row wins

    report = client.get(f"{URL}{imp.id}/rejected.csv")
    assert report.status_code == 200
    assert report.mimetype == "text/csv" and report.headers["Cache-Control"] == "no-store"
    assert report.headers["Content-Disposition"] == (
        f'attachment; filename="rejected-rows-{imp.id}.csv"'
    )
    text = report.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows == [
        ["Line", "Teléfono", "Nombre", "Año_nacimiento", "Estado", "Notas", "Result", "Reason"],
        [
            "3",
            "'+52 1 664 555 0101",
            "Begoña Ruiz",
            "",
            "",
            "",
            "Rejected",
            "Same phone as line 2.",
        ],
        [
            "4",
            "12345",
            "Malo",
            "2009",
            "BC",
            "'@SUM(A1)",
            "Rejected",
            "Invalid mobile phone number.",
        ],
    ]

    # the preview of an applied import leads to its result; it cannot be applied twice
    assert client.get(f"{URL}{imp.id}/preview").status_code == 302
    again = post(client, f"{URL}{imp.id}/confirm")
    assert again.status_code == 302 and count() == 2
    listing = client.get(URL).get_data(as_text=True)
    assert "lista.csv" in listing and "Completed" in listing


def test_discard(client, coordinator):
    upload(client)
    imp = db.session.scalar(select(ContactImport))
    response = post(client, f"{URL}{imp.id}/discard")
    assert response.status_code == 302 and response.headers["Location"].endswith(URL)
    assert count(ContactImport) == 0 and count() == 0
    assert client.get(f"{URL}{imp.id}/preview").status_code == 404


def test_report_only_after_applying(client, coordinator):
    upload(client)
    imp = db.session.scalar(select(ContactImport))
    assert client.get(f"{URL}{imp.id}/rejected.csv").status_code == 404
    assert client.get(f"{URL}{imp.id}").status_code == 302  # to the preview


def test_the_form_requires_a_consent_source_and_a_basis_for_lists(client, coordinator):
    response = upload(client, consent_source="")
    assert response.status_code == 400
    assert 'id="consent_source-error"' in response.get_data(as_text=True)
    response = upload(client, consent_source="imported_list", consent_basis=" ")
    assert response.status_code == 400
    assert "State on what basis" in response.get_data(as_text=True)
    response = upload(client, file=None)
    assert response.status_code == 400 and 'id="file-error"' in response.get_data(as_text=True)
    assert count(ContactImport) == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "This is not a CSV text file"),
        (b"nombre,estado\nAna,BC\n", "No phone column found."),
        (b"telefono\n", "The file has a header row but no contacts."),
    ],
)
def test_refused_files_show_the_reason_and_store_nothing(client, coordinator, data, message):
    response = upload(client, data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="file-error"' in html and message in html
    assert count(ContactImport) == 0


def test_upload_over_the_request_limit_gets_413(client, coordinator, app):
    # A prebuilt body: the test client would otherwise spool it to a temp file it never closes.
    token = csrf_token_from(client.get(NEW)).encode()
    body = b"".join(
        [
            b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
            token,
            b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n',
            b"Content-Type: text/csv\r\n\r\ntelefono\n",
            b"6645550101\n" * (app.config["MAX_CONTENT_LENGTH"] // 11 + 10),
            b"\r\n--b--\r\n",
        ]
    )
    response = client.post(NEW, data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    assert count(ContactImport) == 0


def test_file_name_is_only_displayed(client, coordinator):
    upload(client, filename="../../etc/<script>.csv")
    imp = db.session.scalar(select(ContactImport))
    assert imp.filename == "<script>.csv"
    html = client.get(f"{URL}{imp.id}/preview").get_data(as_text=True)
    assert "&lt;script&gt;.csv" in html and "<script>.csv" not in html


def test_other_organizations_get_404(
    client, coordinator, make_org, make_user, login, app, run_jobs
):
    upload(client)
    imp = db.session.scalar(select(ContactImport))
    post(client, f"{URL}{imp.id}/confirm")
    run_jobs()
    pending = upload(client, data=FILE.replace(b"0102", b"0109"))
    pending_id = int(pending.headers["Location"].split("/")[-2])

    intruder = make_user(make_org(slug="ong-b"), role="admin")
    other = app.test_client()
    login(intruder, c=other)
    for url in (f"{URL}{imp.id}", f"{URL}{imp.id}/rejected.csv", f"{URL}{pending_id}/preview"):
        assert other.get(url).status_code == 404, url
    token = csrf_token_from(other.get(URL))
    for url in (f"{URL}{pending_id}/confirm", f"{URL}{pending_id}/discard"):
        assert other.post(url, data={"csrf_token": token}).status_code == 404, url
    assert "lista.csv" not in other.get(URL).get_data(as_text=True)
    assert db.session.get(ContactImport, pending_id).status == "previewed"
    assert count() == 2


def test_evaluators_get_403(client, make_user, org, login):
    login(make_user(org, role="evaluator"))
    assert client.get(URL).status_code == 403
    assert client.get(NEW).status_code == 403
    token = csrf_token_from(client.get("/dashboard"))
    assert client.post(f"{URL}1/confirm", data={"csrf_token": token}).status_code == 403
    assert client.get(f"{URL}1/rejected.csv").status_code == 403


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_pages_in_spanish(client, coordinator):
    upload(client)
    imp = db.session.scalar(select(ContactImport))
    html = client.get(f"{URL}{imp.id}/preview?lang=es").get_data(as_text=True)
    assert es("First rows") in html and es("Discard") in html
    assert 'lang="es"' in html


def mixed_encodings(utf8_lines, total) -> bytes:
    """A Windows-1252 list with some rows pasted in as UTF-8 ("JosÃ©" when read)."""
    out = ["teléfono;nombre\n".encode("cp1252")]
    for line in range(2, total + 2):
        out.append(f"664555{line:04d};José\n".encode("utf-8" if line in utf8_lines else "cp1252"))
    return b"".join(out)


def test_preview_warns_about_rows_in_another_encoding(client, coordinator):
    upload(client, data=mixed_encodings({3, 6}, total=6))
    imp = db.session.scalar(select(ContactImport))
    assert (imp.status, imp.encoding, imp.total_rows) == ("previewed", "cp1252", 6)
    html = client.get(f"{URL}{imp.id}/preview").get_data(as_text=True)
    assert "2 lines look garbled" in html and "Check lines 3, 6 before importing" in html
    html = client.get(f"{URL}{imp.id}/preview?lang=es").get_data(as_text=True)
    assert "2 líneas se ven con caracteres extraños" in html
    assert "Revisa las líneas 3, 6 antes de importar" in html
    assert "Import 6 contacts" not in html and "Importar 6 contactos" in html  # not refused


def test_garbled_line_list_is_capped(client, coordinator):
    upload(client, data=mixed_encodings(set(range(2, 32)), total=40))
    imp = db.session.scalar(select(ContactImport))
    html = client.get(f"{URL}{imp.id}/preview").get_data(as_text=True)
    assert "30 lines look garbled" in html
    assert "Check lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 … before importing" in html


def test_preview_of_a_clean_file_has_no_encoding_warning(client, coordinator):
    upload(client)
    imp = db.session.scalar(select(ContactImport))
    assert "garbled" not in client.get(f"{URL}{imp.id}/preview").get_data(as_text=True)
