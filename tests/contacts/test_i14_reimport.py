"""Issue 14: a CSV exported from the contact list imports back. The export quotes cells
that start like a formula ("'+52664…", so a spreadsheet cannot run them); reading a CSV
drops that one quote again."""

import io

import pytest

from app.contacts import import_services
from app.contacts.models import Contact
from app.csvutil import iter_records, neutralize, restore
from app.extensions import db
from tests.factories import make_contact
from tests.support import NOW, csrf_token_from


@pytest.mark.parametrize("value", ["+526641234567", "=SUM(A1)", "-3", "@x", "Ana", "'hola", ""])
def test_restore_undoes_neutralize(value):
    assert restore(neutralize(value)) == value


def test_a_quote_before_ordinary_text_is_kept():
    assert restore("'hola") == "'hola" and restore("'") == "'"


def test_reading_a_csv_restores_quoted_cells():
    rows = list(iter_records(io.StringIO("phone,name\n'+526641234567,'=Ana\n"), ","))
    assert rows == [(1, ["phone", "name"]), (2, ["+526641234567", "=Ana"])]


def test_an_exported_list_imports_back_as_updates(client, make_org, make_user, login):
    org = make_org(slug="ong-a")
    login(make_user(org, role="coordinator"))
    make_contact(org, 1, first_name="Ana María", last_name="López Peña")
    make_contact(org, 2, first_name="Beto", last_name="Ruiz")
    token = csrf_token_from(client.get("/contacts/"))
    exported = client.post(
        "/contacts/bulk", data={"csrf_token": token, "action": "export", "scope": "all"}
    )
    assert exported.status_code == 200
    text = exported.get_data(as_text=True)
    assert "'+52664" in text  # neutralized in the file

    imp = import_services.create_import(
        org,
        user_id=None,
        filename="export.csv",
        data=text.encode("utf-8"),
        consent_source="workshop",
    )
    result = import_services.apply_import(imp, now=NOW)
    assert (result.created, result.updated, result.rejected) == (0, 2, 0)
    names = {(c.first_name, c.last_name) for c in db.session.query(Contact)}
    assert names == {("Ana María", "López Peña"), ("Beto", "Ruiz")}
