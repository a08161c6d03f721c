"""`flask contacts import`: summary in the operator's language; bad input changes nothing."""

import csv

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from app.contacts.models import Contact, ContactImport
from app.extensions import db

FILE = """telefono;nombre;notas
664 555 0101;Ana;=1+1
12345;Malo;=cmd|' /C calc'!A0
+52 1 664 555 0101;Ana Sofía;
656 555 0102;Luis;
"""


def count(model=Contact) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return gettext(msgid, **values)


@pytest.fixture
def org(make_org):
    return make_org(slug="frontera")


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "lista.csv"
    path.write_text(FILE, encoding="cp1252")
    return path


def invoke(runner, *args):
    return runner.invoke(args=["contacts", "import", *map(str, args)])


def test_import_with_report(runner, org, csv_file, tmp_path, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    report = tmp_path / "rechazados.csv"
    result = invoke(
        runner,
        "--org",
        "frontera",
        csv_file,
        "--consent-source",
        "imported_list",
        "--consent-basis",
        "Registro de la feria",
        "--report",
        report,
    )
    assert result.exit_code == 0, result.output
    assert "Read 4 rows (Windows-1252 (Latin-1), semicolon (;))." in result.output
    assert (
        "Import finished: 2 created, 0 updated, 0 skipped (duplicates), 2 rejected."
        in result.output
    )
    assert "Line 3: Invalid mobile phone number." in result.output
    assert "Line 4: Same phone as line 2." in result.output  # the first row wins
    assert f"Rejected rows written to {report}." in result.output
    with open(report, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1] == [
        "3",
        "12345",
        "Malo",
        "'=cmd|' /C calc'!A0",
        "Rejected",
        "Invalid mobile phone number.",
    ]
    ana = db.session.scalar(select(Contact).where(Contact.phone == "+526645550101"))
    assert ana.first_name == "Ana"
    assert (ana.consent_source, ana.consent_basis) == ("imported_list", "Registro de la feria")
    imp = db.session.scalar(select(ContactImport))
    assert (imp.status, imp.user_id, imp.filename) == ("completed", None, "lista.csv")

    again = invoke(runner, "--org", "frontera", csv_file, "--on-duplicate", "skip")
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 2 skipped (duplicates), 2 rejected." in again.output
    assert count() == 2


def test_summary_in_spanish(runner, org, csv_file, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "es")
    result = invoke(runner, "--org", "frontera", csv_file)
    assert result.exit_code == 0, result.output
    assert (
        es(
            "Import finished: %(created)d created, %(updated)d updated, %(skipped)d "
            "skipped (duplicates), %(rejected)d rejected.",
            created=2,
            updated=0,
            skipped=0,
            rejected=2,
        )
        in result.output
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--org", "nadie", "{file}"], "No existe una organización con el nombre corto «nadie»."),
        (["--org", "frontera", "{file}", "--on-duplicate", "merge"], "Opción inválida"),
        (["--org", "frontera", "{file}", "--consent-source", "rumor"], "Opción inválida"),
    ],
)
def test_bad_arguments_in_spanish_change_nothing(runner, org, csv_file, monkeypatch, args, message):
    monkeypatch.setenv("ALCANCE_LANG", "es")
    result = invoke(runner, *[a.format(file=csv_file) for a in args])
    assert result.exit_code == 2
    assert message in result.output, result.output
    assert count() == 0 and count(ContactImport) == 0


@pytest.mark.parametrize(
    "make_args, msgid",
    [
        (
            lambda f, tmp: ["--org", "frontera", tmp / "no-existe.csv"],
            "Cannot read the file %(path)s.",
        ),
        (lambda f, tmp: ["--org", "frontera", tmp], "Cannot read the file %(path)s."),
        (lambda f, tmp: [f], "Give the organization with --org SLUG."),
        (lambda f, tmp: ["--org", "frontera"], "Give the CSV file to import."),
        (
            lambda f, tmp: ["--org", "frontera", f, "--consent-source", "imported_list"],
            "State on what basis the people on this list agreed to be contacted.",
        ),
        (
            lambda f, tmp: ["--org", "frontera", f, "--report", tmp / "no" / "dir.csv"],
            "Cannot write the report to %(path)s.",
        ),
    ],
)
def test_bad_input_changes_nothing(runner, org, csv_file, tmp_path, monkeypatch, make_args, msgid):
    monkeypatch.setenv("ALCANCE_LANG", "es")
    args = make_args(csv_file, tmp_path)
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.output
    expected = es(msgid, path=str(args[-1]))
    assert expected in result.output, result.output
    assert count() == 0 and count(ContactImport) == 0


@pytest.mark.parametrize(
    "content, msgid",
    [
        (b"", "The file is empty."),
        (b"\x00\x01binary\x00", "This is not a CSV text file"),
        (b"nombre\nAna\n", "No phone column found."),
    ],
)
def test_bad_files_change_nothing(runner, org, tmp_path, monkeypatch, content, msgid):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    path = tmp_path / "malo.csv"
    path.write_bytes(content)
    result = invoke(runner, "--org", "frontera", path)
    assert result.exit_code == 2
    assert msgid in result.output
    assert count(ContactImport) == 0


def test_file_size_limit_applies_to_the_cli(runner, org, tmp_path, app, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    app.config["CONTACT_IMPORT_MAX_BYTES"] = 1024 * 1024
    path = tmp_path / "grande.csv"
    path.write_bytes(b"telefono\n" + b"6645550101\n" * 100_000)
    result = invoke(runner, "--org", "frontera", path)
    assert result.exit_code == 2
    assert "The file is larger than 1 MB. Split it into several files." in result.output
    assert count(ContactImport) == 0


def test_many_rejections_point_to_the_report(runner, org, tmp_path, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    path = tmp_path / "malos.csv"
    path.write_text("telefono\n" + "1\n" * 15)
    result = invoke(runner, "--org", "frontera", path)
    assert result.exit_code == 0
    assert result.output.count("Invalid mobile phone number.") == 10
    assert "5 more rejected rows: use --report PATH to save them all." in result.output


def test_cli_warns_about_rows_in_another_encoding(runner, org, tmp_path, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    path = tmp_path / "mezcla.csv"
    path.write_bytes(
        "telefono;nombre\n6645550101;José\n".encode("cp1252") + "6645550102;José\n".encode()
    )
    result = invoke(runner, "--org", "frontera", path)
    assert result.exit_code == 0, result.output
    assert "1 line looks garbled" in result.output and "Check line 3 before" in result.output
    assert "2 created" in result.output  # warned, not refused
    monkeypatch.setenv("ALCANCE_LANG", "es")
    result = invoke(runner, "--org", "frontera", path, "--on-duplicate", "skip")
    assert "1 línea se ve con caracteres extraños" in result.output


def test_cli_says_nothing_about_encodings_of_a_clean_file(runner, org, csv_file, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    assert "garbled" not in invoke(runner, "--org", "frontera", csv_file).output
