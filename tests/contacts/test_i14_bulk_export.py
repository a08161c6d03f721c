"""Exporting a selection of the contact list to CSV (issue 14): coordinators only, every
cell formula-safe, streamed in batches for "every contact matching", within the
organization, and logged without personal data."""

import csv
import io
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape

from app.contacts import bulk
from app.contacts.models import ContactTag
from app.extensions import db
from tests.factories import make_contact
from tests.support import csrf_token, csrf_token_from

WHEN = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(make_user, org, login):
    user = make_user(org, role="coordinator")
    login(user)
    return user


def export(client, **data):
    data.setdefault("csrf_token", csrf_token_from(client.get("/contacts/")))
    return client.post("/contacts/bulk", data=dict(data, action="export"))


def read_csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the accents as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_export_of_the_checked_contacts(client, org, coordinator):
    a = make_contact(
        org,
        1,
        first_name="Ana María",
        last_name="López Peña",
        guardian_consent=True,
        opted_out_at=WHEN,
        opt_out_channel="sms",
    )
    a.tags.extend([ContactTag(name="futbol"), ContactTag(name="liga")])
    db.session.commit()
    make_contact(org, 2, first_name="Sin exportar")
    response = export(client, scope="selected", ids=[a.id])
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="alcance-')
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == list(bulk.EXPORT_COLUMNS)
    # A leading "+" is a formula to a spreadsheet: the phone is neutralized like any cell.
    assert row["phone"] == "'+526640000001" and row["first_name"] == "Ana María"
    assert row["last_name"] == "López Peña" and row["tags"] == "futbol, liga"
    assert row["state"] == "02" and row["consent_source"] == "workshop"
    assert row["consent_date"] == "2026-01-15" and row["guardian_consent"] == "yes"
    assert row["contact_id"] == str(a.id) and row["opted_out_at_utc"].startswith("2026-01-05T17")
    assert row["opt_out_channel"] == "sms" and row["undeliverable"] == "no"


def test_export_cells_cannot_run_as_formulas(client, org, coordinator):
    evil = make_contact(
        org,
        1,
        first_name='=HYPERLINK("http://x.example","clic")',
        last_name="+SUM(A1:A9)",
        municipality="@cmd",
        consent_source="imported_list",
        consent_basis="-2+3",
    )
    row = read_csv(export(client, scope="selected", ids=[evil.id]))[0]
    assert row["first_name"] == '\'=HYPERLINK("http://x.example","clic")'
    assert row["last_name"] == "'+SUM(A1:A9)"
    assert row["municipality"] == "'@cmd" and row["consent_basis"] == "'-2+3"


def test_export_of_every_contact_matching_streams_in_batches(
    client, org, coordinator, make_org, monkeypatch
):
    monkeypatch.setattr(bulk, "EXPORT_BATCH", 2)  # five contacts: three batches
    english = [make_contact(org, n, language="en") for n in range(1, 6)]
    make_contact(org, 6, language="es")
    make_contact(org, 7, language="en", erased_at=WHEN, phone=None)
    make_contact(make_org(), 8, language="en")
    response = export(client, scope="all", **{"f-language": "en"})
    assert response.is_streamed
    rows = read_csv(response)
    assert [r["contact_id"] for r in rows] == [str(c.id) for c in english]


def test_export_logs_who_exported_how_many_without_personal_data(client, org, coordinator, caplog):
    a = make_contact(org, 1, first_name="Valeria", last_name="Gómez")
    b = make_contact(org, 2)
    caplog.clear()
    export(client, scope="selected", ids=[a.id, b.id]).get_data()
    logged = [r.getMessage() for r in caplog.records if r.name == "alcance.security"]
    line = next(m for m in logged if "security_event=contacts_exported" in m)
    assert "count=2" in line and f"user_id={coordinator.id}" in line and "scope=checked" in line
    assert "Valeria" not in line and "Gómez" not in line and a.phone not in line


def test_export_with_another_organizations_contact_downloads_nothing(
    client, org, coordinator, make_org
):
    mine = make_contact(org, 1)
    theirs = make_contact(make_org(), 2)
    response = export(client, scope="selected", ids=[mine.id, theirs.id])
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        es(
            "Some of the selected contacts are no longer in your list. Reload the page and "
            "select them again."
        )
        in html
    )


def test_evaluators_get_no_export(client, org, make_user, login, caplog):
    a = make_contact(org, 1)
    login(make_user(org, role="evaluator"))
    response = client.post(
        "/contacts/bulk",
        data=dict(csrf_token=csrf_token(client), scope="selected", ids=[a.id], action="export"),
    )
    assert response.status_code == 403 and response.mimetype != "text/csv"
    assert a.phone not in response.get_data(as_text=True)
    assert "security_event=permission_denied" in caplog.text
