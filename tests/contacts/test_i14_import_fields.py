"""Issue 14: optional columns never reject a row (gender and language forms used in Mexico
and the US, unknown values kept as unknown with a warning), and first and last names."""

import csv
import io

import pytest
from sqlalchemy import select

from app.contacts import import_services as services
from app.contacts.models import Contact
from app.contacts.names import greeting_name, greeting_name_sql, split_full_name
from app.extensions import db
from tests.factories import make_contact
from tests.support import NOW


@pytest.fixture
def org(make_org):
    return make_org(country="MX", timezone="America/Tijuana", default_language="es")


def run(org, text, **options):
    options.setdefault("consent_source", "workshop")
    imp = services.create_import(
        org, user_id=None, filename="lista.csv", data=text.encode(), **options
    )
    return imp, services.apply_import(imp, now=NOW)


def by_phone(org) -> dict[str, Contact]:
    return {
        c.phone: c
        for c in db.session.scalars(select(Contact).where(Contact.organization_id == org.id))
    }


def genders(org, header: str, values: list[str], **options) -> list[str | None]:
    rows = "".join(f"66455501{n:02d},{v}\n" for n, v in enumerate(values))
    run(org, f"telefono,{header}\n{rows}", **options)
    found = by_phone(org)
    return [found[f"+5266455501{n:02d}"].gender for n in range(len(values))]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Mujer", "female"),
        ("MUJER", "female"),
        ("femenino", "female"),
        ("Female", "female"),
        ("F", "female"),
        ("f.", "female"),
        ("Hombre", "male"),
        ("masculino", "male"),
        ("Male", "male"),
        ("h", "male"),
        ("No binario", "nonbinary"),
        ("no binaria", "nonbinary"),
        ("Otro", "nonbinary"),
        ("Non-binary", "nonbinary"),
        ("Prefiero no decir", "undisclosed"),
    ],
)
def test_gender_forms_used_in_mexico_and_the_us(org, value, expected):
    assert genders(org, "genero", [value]) == [expected]


def test_m_is_read_by_the_other_letters_of_the_file_then_by_language(org, make_org):
    assert genders(org, "sexo", ["H", "M", "m"]) == ["male", "female", "female"]  # CURP H/M
    other = make_org(country="MX", timezone="America/Tijuana")
    assert genders(other, "sexo", ["M", "F"]) == ["male", "female"]  # M/F: masculino
    spanish = make_org(country="MX", timezone="America/Tijuana", default_language="es")
    assert genders(spanish, "sexo", ["M"]) == ["female"]  # alone: Spanish "Mujer"
    english = make_org(country="US", timezone="America/Los_Angeles", default_language="en")
    run(english, "phone,gender,language\n6195550101,M,\n6195550102,M,es\n")
    found = by_phone(english)
    assert (found["+16195550101"].gender, found["+16195550102"].gender) == ("male", "female")


def test_unknown_optional_values_are_warnings_not_rejections(org):
    imp, result = run(
        org,
        "telefono,genero,idioma,año_nacimiento,estado,consentimiento_tutor,etiquetas\n"
        '6645550101,quizá,klingon,1950,Narnia,tal vez,"prepa, ##"\n'
        "6645550102,Mujer,inglés,2008,BC,sí,prepa\n",
    )
    assert (result.created, result.rejected, result.warned) == (2, 0, 1)
    odd = by_phone(org)["+526645550101"]
    assert (odd.gender, odd.language, odd.birth_year, odd.state_code) == (None, "es", None, None)
    assert odd.guardian_consent is False and odd.tag_names == ["prepa"]
    ok = by_phone(org)["+526645550102"]
    assert (ok.gender, ok.language, ok.state_code) == ("female", "en", "02")
    rows = list(csv.reader(io.StringIO(services.rejected_report(imp))))
    ((line, *_cells, outcome, reason),) = rows[1:]
    assert (line, outcome) == ("2", "Imported with warnings")
    assert "Unknown gender “quizá”: left as unknown." in reason
    assert (
        "Unknown language “klingon” (use es or en): a new contact gets the organization's "
        "language, an existing one keeps theirs."
    ) in (reason)
    assert "Unknown state: Narnia." in reason
    summary = services.report_summary(imp)
    assert summary.warned_count == 1 and summary.warned[0][0] == "2" and summary.rejected == []


def test_an_unknown_value_never_replaces_a_known_one_on_update(org):
    contact = make_contact(org, phone="+526645550101", gender="male", language="en")
    _imp, result = run(org, "telefono,genero,idioma\n6645550101,??,xx\n")
    assert (result.updated, result.warned) == (1, 1)
    db.session.refresh(contact)
    assert (contact.gender, contact.language) == ("male", "en")


def test_result_page_lists_the_warnings(client, make_user, org, login):
    login(make_user(org, role="coordinator"))
    imp, _result = run(org, "telefono,genero\n6645550101,quizá\nmal,F\n")
    html = client.get(f"/contacts/imports/{imp.id}?lang=en").get_data(as_text=True)
    assert "Rows with warnings" in html and "Unknown gender “quizá”: left as unknown." in html
    assert "Invalid mobile phone number." in html
    assert "Download the rejected rows and warnings (CSV)" in html


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, language, expected",
    [
        ("María Fernanda Peña López", "es", ("María Fernanda", "Peña López")),
        ("Juan Pérez López", "es", ("Juan", "Pérez López")),
        ("Ana López", "es", ("Ana", "López")),
        ("Ana", "es", ("Ana", None)),
        ("  ", "es", (None, None)),
        ("Juan de la Cruz Pérez", "es", ("Juan", "de la Cruz Pérez")),
        ("José Luis del Río Sánchez", "es", ("José Luis", "del Río Sánchez")),
        ("Mary Ann Smith", "en", ("Mary Ann", "Smith")),
        ("Joe Smith", "en", ("Joe", "Smith")),
    ],
)
def test_full_names_are_split(text, language, expected):
    assert split_full_name(text, language=language) == expected


def test_name_columns(org, make_org):
    run(
        org,
        "telefono,nombre,apellidos\n6645550101,María Fernanda,Peña López\n6645550102,José Ángel,\n",
    )
    found = by_phone(org)
    assert (found["+526645550101"].first_name, found["+526645550101"].last_name) == (
        "María Fernanda",
        "Peña López",
    )
    assert (found["+526645550102"].first_name, found["+526645550102"].last_name) == (
        "José Ángel",  # a "nombre" column holds given names only: never split
        None,
    )
    paterno = make_org(country="MX", timezone="America/Tijuana")
    run(paterno, "Teléfono,Nombre(s),Apellido paterno,Apellido materno\n6645550101,Ana,Ruiz,Gil\n")
    assert by_phone(paterno)["+526645550101"].last_name == "Ruiz Gil"
    full = make_org(country="MX", timezone="America/Tijuana")
    run(full, "telefono,nombre completo\n6645550101,María Fernanda Peña López\n")
    contact = by_phone(full)["+526645550101"]
    assert (contact.first_name, contact.last_name) == ("María Fernanda", "Peña López")
    english = make_org(country="US", timezone="America/Los_Angeles", default_language="en")
    run(english, "phone,first_name,last_name,Full name\n6195550101,,,Mary Ann Smith\n")
    contact = by_phone(english)["+16195550101"]
    assert (contact.first_name, contact.last_name) == ("Mary Ann", "Smith")


def test_update_fills_the_last_name_and_blank_cells_keep_it(org):
    contact = make_contact(org, phone="+526645550101", first_name="Ana", last_name=None)
    run(org, "telefono,nombre completo\n6645550101,Ana Ruiz Gil\n")
    db.session.refresh(contact)
    assert (contact.first_name, contact.last_name) == ("Ana", "Ruiz Gil")
    run(org, "telefono,nombre,apellidos\n6645550101,Anita,\n")
    db.session.refresh(contact)
    assert (contact.first_name, contact.last_name) == ("Anita", "Ruiz Gil")


@pytest.mark.parametrize(
    "first_name, expected",
    [
        ("María Fernanda", "María"),
        ("  Ana  ", "Ana"),
        ("Ana", "Ana"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_the_greeting_uses_the_first_given_name_in_python_and_sql(org, first_name, expected):
    contact = make_contact(org, first_name=first_name)
    assert greeting_name(first_name) == expected
    in_sql = db.session.scalar(
        select(greeting_name_sql(Contact.first_name)).where(Contact.id == contact.id)
    )
    assert in_sql == expected
