"""Import services: upload check, preview, apply (merge rules, report, atomicity), discard."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.contacts import import_services as services
from app.contacts.csv_import import CsvImportError
from app.contacts.models import Contact, ContactImport, ContactTag
from app.extensions import db
from tests.factories import make_contact

NOW = datetime(2026, 3, 15, 18, tzinfo=UTC)  # 11:00 in Tijuana
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def org(make_org):
    return make_org(slug="frontera", country="MX", timezone="America/Tijuana")


def start(org, data, **options):
    if isinstance(data, str):
        data = data.encode()
    options.setdefault("consent_source", "workshop")
    return services.create_import(org, user_id=None, filename="lista.csv", data=data, **options)


def run(org, data, **options):
    imp = start(org, data, **options)
    return imp, services.apply_import(imp, now=NOW)


def contacts(org) -> dict[str, Contact]:
    return {
        c.phone: c
        for c in db.session.scalars(select(Contact).where(Contact.organization_id == org.id))
    }


def count(model=Contact) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def report_rows(imp) -> list[list[str]]:
    return list(csv.reader(io.StringIO(services.rejected_report(imp))))


GOOD = """telefono,nombre,año_nacimiento,estado,municipio,etiquetas,consentimiento_tutor
664 555 0101,Ana,2009,Baja California,Tijuana,prepa,sí
+52 1 656 555 0102,Luis,2004,Chihuahua,Ciudad Juárez,"deportes, arte",
+1 (619) 555-0103,Joe,2002,CA,San Diego,,
"""


def test_good_file(org):
    imp, result = run(org, GOOD)
    assert (result.created, result.updated, result.skipped, result.rejected) == (3, 0, 0, 0)
    found = contacts(org)
    ana = found["+526645550101"]
    assert (ana.first_name, ana.birth_year, ana.state_code, ana.timezone) == (
        "Ana",
        2009,
        "02",
        "America/Tijuana",
    )
    assert ana.tag_names == ["prepa"]
    assert ana.guardian_consent
    assert ana.guardian_consent_at == datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert ana.consent_source == "workshop" and ana.language == "es"
    assert found["+526565550102"].timezone == "America/Ciudad_Juarez"
    assert found["+526565550102"].tag_names == ["arte", "deportes"]
    joe = found["+16195550103"]  # a +1 number without a country column is a US contact
    assert (joe.country, joe.state_code, joe.timezone) == ("US", "CA", "America/Los_Angeles")
    imp = db.session.get(ContactImport, imp.id)
    assert imp.status == "completed" and imp.upload is None
    assert (imp.total_rows, imp.created_count, imp.rejected_count) == (3, 3, 0)
    assert imp.finished_at == NOW
    assert report_rows(imp) == [
        [
            "Line",
            "telefono",
            "nombre",
            "año_nacimiento",
            "estado",
            "municipio",
            "etiquetas",
            "consentimiento_tutor",
            "Result",
            "Reason",
        ]
    ]


def test_bad_file_imports_nothing_and_reports_every_row(org):
    imp, result = run(
        org,
        """phone,first_name,birth_year,state,consent_date
12345,Ana,2009,BC,
6645550102,Luis,1950,BC,
6645550103,Eva,2009,Narnia,
,Sin teléfono,2009,,
6645550104,Leo,2009,BC,2099-01-01
""",
    )
    # Only the phone rejects a row (issue 14): the other problems are warnings.
    assert (result.created, result.rejected, result.warned) == (3, 2, 3)
    assert count() == 3
    rows = report_rows(imp)
    assert rows[0] == [
        "Line",
        "phone",
        "first_name",
        "birth_year",
        "state",
        "consent_date",
        "Result",
        "Reason",
    ]
    assert [(r[0], r[-2], r[-1]) for r in rows[1:]] == [
        ("2", "Rejected", "Invalid mobile phone number."),
        ("5", "Rejected", "The mobile phone number is missing."),
        ("3", "Imported with warnings", "Impossible birth year for this program: 1950."),
        ("4", "Imported with warnings", "Unknown state: Narnia."),
        (
            "6",
            "Imported with warnings",
            "The consent date is in the future. No consent was recorded for this row.",
        ),
    ]
    assert rows[3][1:-2] == ["6645550102", "Luis", "1950", "BC", ""]  # original values
    assert services.rejected_sample(imp)[0] == ("2", "Invalid mobile phone number.")
    found = contacts(org)
    assert found["+526645550102"].birth_year is None  # left unknown
    assert found["+526645550103"].state_code is None
    assert found["+526645550104"].consent_source is None


def test_mixed_file(org):
    imp, result = run(org, "telefono,nombre\n6645550101,Ana\nnope,Beto\n6645550103,Cris\n")
    assert (result.created, result.rejected, result.total) == (2, 1, 3)
    assert set(contacts(org)) == {"+526645550101", "+526645550103"}
    assert [r[0] for r in report_rows(imp)[1:]] == ["3"]


def test_report_neutralizes_formulas_but_contacts_keep_the_text(org):
    imp, _result = run(
        org,
        """telefono,nombre,notas
=cmd|' /C calc'!A0,Ana,x
6645550102,=HYPERLINK("http://evil"),@SUM(1)
+52 664 555 0103,-Eva,ok
6645550104,Ana,"=1+1"
""",
        consent_source="imported_list",
        consent_basis="Hoja firmada",
    )
    rows = report_rows(imp)
    assert rows[1] == [
        "2",
        "'=cmd|' /C calc'!A0",
        "Ana",
        "x",
        "Rejected",
        "Invalid mobile phone number.",
    ]
    found = contacts(org)
    assert found["+526645550102"].first_name == '=HYPERLINK("http://evil")'  # stored as text
    assert found["+526645550103"].first_name == "-Eva"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_rejected_report_truncates_overlong_cells(org):
    imp, result = run(org, "telefono,nombre\n6645550101," + "x" * 5000 + "\n" + "1" * 1200 + ",y\n")
    # A long optional cell is left out with a warning; a long phone rejects its row.
    assert (result.created, result.warned, result.rejected) == (1, 1, 1)
    assert contacts(org)["+526645550101"].first_name is None
    rejected, warned = report_rows(imp)[1:]
    assert len(rejected[1]) == 1001 and rejected[1].endswith("…")
    assert rejected[-1] == "A cell is longer than 1000 characters."
    assert len(warned[2]) == 1001 and warned[-1] == "A cell is longer than 1000 characters."


def test_latin1_semicolon_file(org):
    data = FIXTURES.joinpath("excel_es_cp1252.csv").read_bytes()
    imp = start(org, data)
    assert (imp.encoding, imp.delimiter) == ("cp1252", ";")
    services.apply_import(imp, now=NOW)
    found = contacts(org)
    assert found["+526645550101"].first_name == "Begoña"
    assert found["+525555550102"].first_name == "José Ángel"
    assert found["+525555550102"].state_code == "09"
    assert found["+528185550103"].municipality == "San Nicolás de los Garza"
    assert found["+528185550103"].state_code == "19"


def test_utf8_bom_file(org):
    data = "\ufeffTeléfono,Nombre,Idioma\n6645550101,Zoë,inglés\n".encode()
    imp, result = run(org, data)
    assert imp.encoding == "utf-8-sig" and result.created == 1
    contact = contacts(org)["+526645550101"]
    assert (contact.first_name, contact.language) == ("Zoë", "en")


def test_duplicates_in_the_file_update_rule(org):
    _imp, result = run(
        org,
        """telefono,nombre,año_nacimiento,etiquetas
664 555 0101,Ana,2009,prepa
+52 1 664 555 0101,Ana Sofía,,feria
0446645550101,,2010,
""",
    )
    # Issue 14: the first row wins; the later ones are rejected, never merged over it.
    imp = db.session.get(ContactImport, _imp.id)
    assert (result.created, result.updated, result.skipped, result.rejected) == (1, 0, 0, 2)
    (ana,) = contacts(org).values()
    assert (ana.first_name, ana.birth_year) == ("Ana", 2009)
    assert ana.tag_names == ["prepa"]
    assert [(r[0], r[-1]) for r in report_rows(imp)[1:]] == [
        ("3", "Same phone as line 2."),
        ("4", "Same phone as line 2."),
    ]


def test_duplicates_in_the_file_skip_rule(org):
    _imp, result = run(
        org,
        "telefono,nombre,etiquetas\n6645550101,Ana,a\n6645550101,Otra,b\n",
        duplicate_rule="skip",
    )
    assert (result.created, result.updated, result.skipped, result.rejected) == (1, 0, 0, 1)
    (ana,) = contacts(org).values()
    assert ana.first_name == "Ana" and ana.tag_names == ["a"]


def test_duplicates_across_batches(org, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    rows = "".join(f"66455501{n:02d},N{n},t{n % 3}\n" for n in range(7))
    _imp, result = run(org, "telefono,nombre,etiquetas\n" + rows + "6645550100,Último,t9\n")
    assert (result.created, result.updated, result.rejected) == (7, 0, 1)
    first = contacts(org)["+526645550100"]
    assert first.first_name == "N0" and first.tag_names == ["t0"]
    assert result.rejected_sample == [(9, "Same phone as line 2.")]
    assert count() == 7


def test_existing_contacts_update_rule(org):
    existing = make_contact(
        org,
        phone="+526645550101",
        first_name="Vieja",
        birth_year=2005,
        gender="female",
        consent_source="school",
        opted_out_at=datetime(2026, 1, 2, tzinfo=UTC),
        opt_out_channel="sms",
    )
    db.session.add(ContactTag(contact_id=existing.id, name="antigua"))
    db.session.commit()
    _imp, result = run(
        org,
        "telefono,nombre,estado,municipio,etiquetas,genero\n"
        '664-555-0101,Nueva,Sonora,Hermosillo,"antigua, nueva",\n',
    )
    assert (result.created, result.updated) == (0, 1)
    db.session.expire_all()
    contact = db.session.get(Contact, existing.id)
    assert contact.first_name == "Nueva"
    assert (contact.state_code, contact.municipality, contact.timezone) == (
        "26",
        "Hermosillo",
        "America/Hermosillo",
    )
    assert contact.birth_year == 2005 and contact.gender == "female"  # not in the row / blank
    assert contact.consent_source == "school"  # the list default never replaces consent
    assert contact.opted_out_at is not None  # an import never re-subscribes anyone
    assert contact.tag_names == ["antigua", "nueva"]
    assert count() == 1


def test_existing_contacts_skip_rule(org):
    existing = make_contact(org, phone="+526645550101", first_name="Vieja")
    _imp, result = run(
        org, "telefono,nombre\n6645550101,Nueva\n6645550102,Otra\n", duplicate_rule="skip"
    )
    assert (result.created, result.updated, result.skipped) == (1, 0, 1)
    db.session.expire_all()
    assert db.session.get(Contact, existing.id).first_name == "Vieja"


def test_list_consent_fills_contacts_without_consent(org):
    existing = make_contact(org, phone="+526645550101", consent_source=None, consent_at=None)
    run(
        org,
        "telefono,consentimiento\n6645550101,\n6645550102,escuela\n6645550103,\n",
        consent_source="imported_list",
        consent_basis="Registro de la feria 2026",
    )
    found = contacts(org)
    db.session.refresh(existing)
    assert (existing.consent_source, existing.consent_basis) == (
        "imported_list",
        "Registro de la feria 2026",
    )
    assert found["+526645550102"].consent_source == "school"
    assert found["+526645550102"].consent_basis is None
    assert found["+526645550103"].consent_at == datetime(2026, 3, 15, 12, tzinfo=UTC)


def test_without_a_list_consent_rows_keep_no_consent(org):
    run(org, "telefono\n6645550101\n", consent_source=None)
    assert contacts(org)["+526645550101"].consent_source is None


def test_reimport_is_idempotent(org):
    data = GOOD
    run(org, data)
    before = {p: _snapshot(c) for p, c in contacts(org).items()}
    later = datetime(2026, 4, 20, 18, tzinfo=UTC)
    imp = start(org, data)
    result = services.apply_import(imp, now=later)
    assert (result.created, result.updated) == (0, 3)
    db.session.expire_all()
    assert {p: _snapshot(c) for p, c in contacts(org).items()} == before
    assert count(ContactTag) == 3
    skip = start(org, data, duplicate_rule="skip")
    assert services.apply_import(skip, now=later).skipped == 3
    assert count() == 3


def _snapshot(contact: Contact) -> tuple:
    return (
        contact.id,
        contact.first_name,
        contact.birth_year,
        contact.state_code,
        contact.timezone,
        contact.consent_source,
        contact.consent_at,
        contact.guardian_consent,
        contact.guardian_consent_at,
        contact.updated_at,
        tuple(contact.tag_names),
    )


def test_preview_writes_no_contacts(org):
    existing = make_contact(org, phone="+526645550102")
    imp = start(
        org,
        "telefono,nombre,notas\n6645550101,Ana,x\n6645550102,Luis,y\n"
        "bad,Eva,z\n6645550101,Ana otra vez,w\n",
    )
    preview = services.preview_import(imp, now=NOW)
    assert [c.field for c in preview.layout.columns] == ["phone", "first_name", None]
    assert preview.fields == ["phone", "first_name"]
    assert [(r.line, r.outcome) for r in preview.rows] == [
        (2, "created"),
        (3, "updated"),
        (4, "rejected"),
        (5, "rejected"),
    ]
    assert preview.rows[2].reasons == ["Invalid mobile phone number."]
    assert preview.rows[3].reasons == ["Same phone as line 2."]
    assert preview.rows[0].cells == {"phone": "6645550101", "first_name": "Ana"}
    assert preview.previous is None
    assert count() == 1 and existing.first_name != "Ana"
    assert db.session.get(ContactImport, imp.id).status == "previewed"


def test_preview_shows_only_the_first_rows_and_notices_a_previous_import(org):
    data = "telefono\n" + "".join(f"66455501{n:02d}\n" for n in range(25))
    run(org, data)
    imp = start(org, data)
    preview = services.preview_import(imp, now=NOW)
    assert len(preview.rows) == 10 and preview.layout.total_rows == 25
    assert preview.previous is not None


def test_discard_deletes_the_upload(org):
    imp = start(org, GOOD)
    services.discard_import(imp)
    assert count(ContactImport) == 0 and count() == 0


def test_applied_import_cannot_be_discarded_or_applied_again(org):
    imp, _result = run(org, GOOD)
    with pytest.raises(services.ContactImportError):
        services.discard_import(imp)
    with pytest.raises(services.ContactImportError, match="already applied"):
        services.apply_import(imp, now=NOW)
    assert count() == 3


def test_unexpected_error_lands_nothing_and_marks_the_import_failed(org, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    real = services._Applier.apply_batch
    calls = []

    def flaky(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(self, rows)

    monkeypatch.setattr(services._Applier, "apply_batch", flaky)
    imp = start(org, GOOD)
    with pytest.raises(services.ContactImportError, match="nothing was imported"):
        services.apply_import(imp, now=NOW)
    assert count() == 0 and count(ContactTag) == 0
    imp = db.session.get(ContactImport, imp.id)
    assert imp.status == "failed" and imp.error == "RuntimeError: disk full"
    assert imp.created_count == 0 and imp.rejected_report is None
    # the file is kept: the coordinator can retry (or discard)
    monkeypatch.setattr(services._Applier, "apply_batch", real)
    assert services.apply_import(imp, now=NOW).created == 3
    assert db.session.get(ContactImport, imp.id).status == "completed"


def test_database_error_is_recorded_without_parameters(org, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    def boom(self, rows):
        raise IntegrityError(
            "INSERT INTO contacts ... secret", {"phone": "+52..."}, Exception("duplicate key")
        )

    monkeypatch.setattr(services._Applier, "apply_batch", boom)
    imp = start(org, GOOD)
    with pytest.raises(services.ContactImportError):
        services.apply_import(imp, now=NOW)
    assert db.session.get(ContactImport, imp.id).error == "Exception: duplicate key"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary", "not a CSV text file"),
        (b"telefono\n", "no contacts"),
        (b"nombre\nAna\n", "No phone column"),
    ],
)
def test_bad_files_store_nothing(org, data, message):
    with pytest.raises(CsvImportError, match=message):
        start(org, data)
    assert count(ContactImport) == 0 and count() == 0


def test_file_size_limit(org, app):
    app.config["CONTACT_IMPORT_MAX_BYTES"] = 1024 * 1024
    data = b"telefono\n" + b"6645550101\n" * (1024 * 1024 // 11 + 1)
    with pytest.raises(CsvImportError, match="larger than 1 MB"):
        start(org, data)
    with pytest.raises(CsvImportError, match="larger than 1 MB"):
        services.read_limited(io.BytesIO(data))
    assert count(ContactImport) == 0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"duplicate_rule": "merge"}, "update or skip"),
        ({"consent_source": "rumor"}, "Unknown consent source"),
        ({"consent_source": "imported_list", "consent_basis": "  "}, "stated basis"),
    ],
)
def test_bad_options(org, options, message):
    with pytest.raises(services.ContactImportError, match=message):
        start(org, GOOD, **options)
    assert count(ContactImport) == 0


def test_imports_are_per_organization(org, make_org):
    other = make_org(slug="otra")
    make_contact(other, phone="+526645550101", first_name="De la otra")
    _imp, result = run(org, GOOD)
    assert result.created == 3  # the same phone in another organization is another contact
    assert (
        db.session.scalar(select(Contact.first_name).where(Contact.organization_id == other.id))
        == "De la otra"
    )


@pytest.mark.parametrize(
    "header, cell, expected",
    [
        ("estado", "Sonora", ("MX", "26", None, "America/Hermosillo")),
        ("municipio", "Mexicali", ("MX", "02", "Mexicali", "America/Tijuana")),
        ("pais", "México", ("MX", "02", "Tijuana", "America/Tijuana")),  # unchanged
        ("pais", "US", ("US", None, None, "America/New_York")),
        ("zona_horaria", "America/Mexico_City", ("MX", "02", "Tijuana", "America/Mexico_City")),
    ],
)
def test_place_fields_change_together(org, header, cell, expected):
    existing = make_contact(
        org,
        phone="+526645550101",
        country="MX",
        state_code="02",
        municipality="Tijuana",
        timezone="America/Tijuana",
    )
    run(org, f"telefono,{header}\n+526645550101,{cell}\n")
    db.session.refresh(existing)
    place = (existing.country, existing.state_code, existing.municipality, existing.timezone)
    assert place == expected


def test_guardian_consent_is_dated_when_given_and_cleared_when_withdrawn(org):
    existing = make_contact(org, phone="+526645550101", birth_year=2011)
    run(org, "telefono,consentimiento_tutor\n6645550101,sí\n")
    db.session.refresh(existing)
    assert existing.guardian_consent
    assert existing.guardian_consent_at == datetime(2026, 3, 15, 12, tzinfo=UTC)
    run(org, "telefono,consentimiento_tutor\n6645550101,\n")  # blank: unchanged
    db.session.refresh(existing)
    assert existing.guardian_consent
    run(org, "telefono,consentimiento_tutor\n6645550101,no\n")
    db.session.refresh(existing)
    assert not existing.guardian_consent and existing.guardian_consent_at is None


def test_concurrent_confirmations_apply_once(app, org, postgres_only, monkeypatch):
    import threading
    import time

    real = services._Applier.apply_batch

    def slow(self, rows):
        time.sleep(0.3)  # keep the first transaction open while the second one arrives
        return real(self, rows)

    monkeypatch.setattr(services._Applier, "apply_batch", slow)
    imp_id = start(org, GOOD).id
    outcomes = []

    def confirm():
        with app.app_context():
            try:
                imp = db.session.get(ContactImport, imp_id)
                outcomes.append(services.apply_import(imp, now=NOW).created)
            except services.ContactImportError as error:
                outcomes.append(str(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes, key=str) == [3, "This import was already applied or discarded."]
    assert count() == 3


def test_reimport_with_repeated_phones_writes_nothing(org):
    data = "telefono,nombre\n6645550101,Ana\n6645550101,Ana Sofía\n"
    run(org, data)
    (before,) = [_snapshot(c) for c in contacts(org).values()]
    imp = start(org, data)
    result = services.apply_import(imp, now=datetime(2026, 5, 1, tzinfo=UTC))
    assert (result.updated, result.rejected) == (1, 1)
    db.session.expire_all()
    (after,) = [_snapshot(c) for c in contacts(org).values()]
    assert after == before and after[1] == "Ana"  # updated_at included


def test_consent_from_the_row_replaces_the_old_one_and_keeps_the_date_when_unchanged(org):
    existing = make_contact(
        org,
        phone="+526645550101",
        consent_source="school",
        consent_basis="Convenio con la secundaria 12",
    )
    first_at = existing.consent_at
    run(org, "telefono,consentimiento\n6645550101,escuela\n")
    db.session.refresh(existing)
    assert (existing.consent_source, existing.consent_basis, existing.consent_at) == (
        "school",
        "Convenio con la secundaria 12",
        first_at,
    )
    run(org, "telefono,consentimiento,fecha_consentimiento\n6645550101,taller,2026-03-01\n")
    db.session.refresh(existing)
    assert (existing.consent_source, existing.consent_basis, existing.consent_at) == (
        "workshop",
        None,
        datetime(2026, 3, 1, 12, tzinfo=UTC),
    )
