"""Issue 14: a phone repeated inside one file keeps its first row (the later rows are
rejected with the line of the first), and the preview's counts come from a dry run of the
same code, so they equal what applying the import reports."""

import csv
import io

import pytest
from sqlalchemy import func, select

from app.contacts import import_services as services
from app.contacts.models import Contact, ContactImport
from app.extensions import db
from tests.factories import make_contact
from tests.support import NOW


@pytest.fixture
def org(make_org):
    return make_org(country="MX", timezone="America/Tijuana")


def start(org, text, **options):
    options.setdefault("consent_source", "workshop")
    return services.create_import(
        org, user_id=None, filename="lista.csv", data=text.encode(), **options
    )


def counts(result) -> tuple:
    return (result.created, result.updated, result.skipped, result.rejected, result.warned)


def preview_then_apply(org, text, **options):
    imp = start(org, text, **options)
    preview = services.preview_import(imp, now=NOW)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == before(org)
    result = services.apply_import(imp, now=NOW)
    return imp, preview, result


def before(org) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.organization_id == org.id)
    )


def test_the_first_row_wins_and_later_ones_name_its_line(org):
    imp, preview, result = preview_then_apply(
        org,
        "telefono,nombre,genero\n"
        "664 555 0101,Ana,F\n"
        "6645550102,Beto,H\n"
        "+52 664 555 0101,Ana María,F\n"  # the same phone written another way
        "+52 1 664 555 0101,Anita,F\n"
        "52 664 555 0102,Roberto,H\n",
    )
    assert counts(result) == (2, 0, 0, 3, 0)
    assert counts(preview.counts) == counts(result)
    phones = {c.phone: c.first_name for c in db.session.scalars(select(Contact))}
    assert phones == {"+526645550101": "Ana", "+526645550102": "Beto"}
    rows = list(csv.reader(io.StringIO(services.rejected_report(imp))))
    assert [(r[0], r[-2], r[-1]) for r in rows[1:]] == [
        ("4", "Rejected", "Same phone as line 2."),
        ("5", "Rejected", "Same phone as line 2."),
        ("6", "Rejected", "Same phone as line 3."),
    ]
    assert [(r.line, r.reasons) for r in preview.counts.rejected_rows] == [
        (4, ["Same phone as line 2."]),
        (5, ["Same phone as line 2."]),
        (6, ["Same phone as line 3."]),
    ]


def test_line_numbers_count_the_header_and_multi_line_cells(org):
    _imp, preview, result = preview_then_apply(
        org, 'telefono,nombre\n6645550101,"Ana\nSofía"\n6645550101,Otra\n'
    )
    # the second record starts on line 4: the header is line 1, the quoted cell spans 2-3
    assert result.rejected_sample == [(4, "Same phone as line 2.")]
    assert preview.counts.rejected_sample == result.rejected_sample


@pytest.mark.parametrize("rule", ["update", "skip"])
def test_preview_counts_equal_the_result_with_existing_contacts(org, rule, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 3)  # duplicates across batches too
    make_contact(org, phone="+526645550101", first_name="Vieja")
    make_contact(org, phone="+526645550105", first_name="Otra")
    text = (
        "telefono,nombre,genero,idioma\n"
        "6645550101,Ana,F,es\n"  # known
        "6645550102,Beto,zz,es\n"  # new, warning (gender)
        "bad,Cris,F,es\n"  # rejected (phone)
        "6645550103,Dani,H,klingon\n"  # new, warning (language)
        "664 555 0102,Beto otra vez,H,es\n"  # repeated in the file
        "6645550105,Eva,F,es\n"  # known
        "6645550101,Ana otra vez,F,es\n"  # repeated, and known
        "6645550106,Fer,,\n"  # new
    )
    imp, preview, result = preview_then_apply(org, text, duplicate_rule=rule)
    expected = (3, 2, 0, 3, 2) if rule == "update" else (3, 0, 2, 3, 2)
    assert counts(result) == expected
    assert counts(preview.counts) == counts(result)
    assert preview.counts.imported == result.created + result.updated
    imp = db.session.get(ContactImport, imp.id)
    assert (imp.created_count, imp.updated_count, imp.skipped_count, imp.rejected_count) == (
        expected[:4]
    )
    assert services.report_summary(imp).warned_count == 2
    known = db.session.scalar(select(Contact).where(Contact.phone == "+526645550101"))
    assert known.first_name == ("Ana" if rule == "update" else "Vieja")


def test_reimport_follows_the_rule_for_contacts_already_imported(org):
    text = "telefono,nombre\n6645550101,Ana\n6645550101,Ana Sofía\n6645550102,Beto\n"
    _imp, _preview, first = preview_then_apply(org, text)
    assert counts(first) == (2, 0, 0, 1, 0)
    _imp, preview, again = preview_then_apply(org, text)
    assert counts(again) == counts(preview.counts) == (0, 2, 0, 1, 0)
    _imp, preview, skip = preview_then_apply(org, text, duplicate_rule="skip")
    assert counts(skip) == counts(preview.counts) == (0, 0, 2, 1, 0)


def test_preview_page_shows_counts_reasons_and_the_real_number_on_the_button(
    client, make_user, org, login
):
    make_contact(org, phone="+526645550109")
    user = make_user(org, role="coordinator")
    login(user)
    client.get("/?lang=en")
    imp = start(
        org,
        "telefono,nombre,genero\n6645550101,Ana,F\n6645550101,Ana,F\nmal,Beto,H\n"
        "6645550109,Cris,quizá\n6645550102,Dani,H\n",
    )
    html = client.get(f"/contacts/imports/{imp.id}/preview").get_data(as_text=True)
    assert "Import 3 contacts" in html  # 2 new + 1 updated; the rejected rows are not counted
    assert "Same phone as line 2." in html and "Invalid mobile phone number." in html
    assert "Unknown gender “quizá”: left as unknown." in html
    assert 'class="import-reasons-table"' in html  # the reasons column comes first
    assert "Accepted values" in html and '<code lang="es">Hombre</code>' in html
    html = client.get(f"/contacts/imports/{imp.id}/preview?lang=es").get_data(as_text=True)
    assert "Importar 3 contactos" in html and "Mismo teléfono que la línea 2." in html
    assert "Por confirmar" in html  # the import status, in the feminine


def test_import_statuses_agree_in_spanish(client, make_user, org, login):
    login(make_user(org, role="coordinator"))
    imp = start(org, "telefono\n6645550101\n")
    services.apply_import(imp, now=NOW)
    html = client.get("/contacts/imports/?lang=es").get_data(as_text=True)
    assert "Concluida" in html and "Completado" not in html
    html = client.get(f"/contacts/imports/{imp.id}?lang=es").get_data(as_text=True)
    assert "Concluida" in html
