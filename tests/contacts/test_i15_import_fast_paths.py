"""Issue 15: the import's fast paths give exactly what the general code gives.

- `phones._fast_e164` (common shapes without `phonenumbers.parse`) vs `_parsed_e164`;
- `validation.ImportCleaner` (cached per-field cleaners) vs `clean_contact`;
- `csv_import._records` vs `csvutil.iter_records`;
- on PostgreSQL, new contacts COPYed with ids drawn from the sequence get their tags, and a
  re-import reads the known contacts' consent dates back unchanged (no spurious update).
"""

import io
import random
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from app.contacts import import_services
from app.contacts.csv_import import _records, inspect_csv, iter_rows
from app.contacts.models import Contact, ContactTag
from app.contacts.phones import (
    _SEPARATORS,
    _SHAPE,
    InvalidPhone,
    _parsed_e164,
    _rewrite_legacy,
    normalize_phone,
)
from app.contacts.validation import ImportCleaner, clean_contact
from app.csvutil import iter_records, text_stream
from app.extensions import db

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def _outcome(call) -> str:
    try:
        return call()
    except InvalidPhone as error:
        return f"invalid: {error.message}"


def _full_path(raw: str, region: str) -> str:
    """`normalize_phone` without the fast path."""
    number = _SEPARATORS.sub("", raw)
    if not _SHAPE.fullmatch(number):
        raise InvalidPhone()
    return _parsed_e164(_rewrite_legacy(number, region), region)


PHONE_CASES = [
    "664 555 0101",
    "+52 664 555 0101",
    "+52 1 664 555 0101",
    "044 664 555 0101",
    "045 33 1234 5678",
    "01 33 1234 5678",
    "52 664 555 0101",
    "5212345678",
    "5255123456",
    "0052 664 555 0101",
    "(619) 555-0123",
    "1-619-555-0123",
    "+1 619 555 0123",
    "+1 555 555 0123",
    "+1 416 555 0123",  # Canada: valid, not supported
    "+1 809 555 0123",  # Dominican Republic
    "+1 787 555 0123",  # Puerto Rico
    "011 52 664 555 0101",
    "+34 612 345 678",
    "1234567890",
    "0123456789",
    "+520123456789",
    "+10123456789",
    "+11234567890",
    "9001234567",
    "8001234567",
]


@pytest.mark.parametrize("region", ["MX", "US"])
@pytest.mark.parametrize("raw", PHONE_CASES)
def test_fast_phone_path_equals_phonenumbers(app, raw, region):
    assert _outcome(lambda: normalize_phone(raw, region)) == _outcome(
        lambda: _full_path(raw, region)
    )


def test_fast_phone_path_equals_phonenumbers_on_random_numbers(app):
    rng = random.Random(15)
    prefixes = ["", "", "", "+52", "+1", "52", "1", "044", "+521", "00", "011"]
    for _ in range(4000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([10, 10, 10, 8, 11])))
        raw = rng.choice(prefixes) + digits
        for region in ("MX", "US"):
            assert _outcome(lambda r=raw, g=region: normalize_phone(r, g)) == _outcome(
                lambda r=raw, g=region: _full_path(r, g)
            ), (raw, region)


VALUES = {
    "phone": ["664 555 0101", "+1 619 555 0123", "12345", "", None, "+1 416 555 0123"],
    "first_name": ["Ana", "  María   José ", "", None, "x" * 81],
    "last_name": ["López", "", None, "y" * 121],
    "full_name": ["María Fernanda Peña López", "Juan de la Cruz", "Mary Ann Smith", "", None],
    "language": ["es", "Español", "inglés", "EN", "klingon", "", None],
    "birth_year": ["2008", "1950", "20", "abcd", "", None],
    "age_band": ["15-17", "15–17", "99-100", "", None],
    "gender": ["mujer", "M", "m.", "F", "H", "male", "no binario", "zz", "", None],
    "country": ["MX", "México", "EE. UU.", "US", "Narnia", "", None],
    "state": ["Jalisco", "CA", "Baja California", "Narnia", "", None],
    "municipality": ["Tijuana", "Coyoacán", "", None, "z" * 81],
    "timezone": ["America/Tijuana", "Mars/Olympus", "", None],
    "tags": ["prepa, arte", "a;b|c", "bad!tag", ",".join(f"t{i}" for i in range(25)), "", None],
    "consent_source": ["taller", "escuela", "lista", "nope", "", None],
    "consent_basis": ["Firmado en papel", "", None],
    "consent_date": ["2026-03-31", "2027-01-01", "31/03/2026", "", None],
    "guardian_consent": ["sí", "no", "x", "quizá", "", None],
}


@pytest.mark.parametrize("gender_m", [None, "female", "male"])
@pytest.mark.parametrize("country", ["MX", "US"])
def test_import_cleaner_equals_clean_contact(app, gender_m, country):
    org = SimpleNamespace(country=country, default_language="es" if country == "MX" else "en")
    cleaner = ImportCleaner(org=org, today=TODAY, gender_m=gender_m)
    rng = random.Random(f"{country}{gender_m}")
    for _ in range(1500):
        raw = {name: rng.choice(options) for name, options in VALUES.items()}
        expected_warnings, expected_fields = [], set()
        expected = clean_contact(
            raw,
            org=org,
            today=TODAY,
            warnings=expected_warnings,
            gender_m=gender_m,
            warned_fields=expected_fields,
        )
        warnings, fields = [], set()
        assert cleaner.clean(raw, warnings, fields) == expected, raw
        assert (warnings, fields) == (expected_warnings, expected_fields), raw


def test_import_cleaner_hands_out_its_own_tag_lists(app):
    org = SimpleNamespace(country="MX", default_language="es")
    cleaner = ImportCleaner(org=org, today=TODAY)
    first, _errors = cleaner.clean({"phone": "664 555 0101", "tags": "a, b"}, [], set())
    first["tags"].append("changed")
    second, _errors = cleaner.clean({"phone": "664 555 0102", "tags": "a, b"}, [], set())
    assert second["tags"] == ["a", "b"]


TRICKY_CSV = (
    "telefono,nombre,notas\r\n"
    "664 555 0101,Ana,'=cmd\r\n"
    ",,\r\n"
    "  ,\t, \r\n"
    "'\t,,\r\n"
    '664 555 0102,"Multi\nline","a, b"\r\n'
    "\r\n"
    "664 555 0103,O'Brien,'+52\r\n"
    '\'664 555 0104,"\'-x",""\r\n'
)


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_records_equal_csvutil_records(delimiter):
    text = TRICKY_CSV.replace(",", delimiter)
    data = text.encode("utf-8")
    expected = list(iter_records(text_stream(data, "utf-8"), delimiter))
    assert list(_records(data, "utf-8", delimiter)) == expected
    assert len(expected) == 6  # the header and 5 rows: blank rows are skipped (before `restore`)


def _csv(rows: list[str]) -> bytes:
    buffer = io.StringIO()
    buffer.write("telefono,nombre,etiquetas,consentimiento,fecha_consentimiento\n")
    buffer.writelines(line + "\n" for line in rows)
    return buffer.getvalue().encode()


def test_rows_keep_their_cells_and_long_cells(app):
    data = _csv(["664 555 0101,Ana,prepa,taller,2026-03-31", "664 555 0102," + "x" * 1001])
    rows = list(iter_rows(data, inspect_csv(data)))
    assert rows[0].raw == {
        "phone": "664 555 0101",
        "first_name": "Ana",
        "tags": "prepa",
        "consent_source": "taller",
        "consent_date": "2026-03-31",
    }
    assert (rows[0].problems, rows[0].long_fields) == ([], [])
    assert rows[1].raw["tags"] is None and rows[1].long_fields == ["first_name"]


def _import(org, data: bytes):
    imp = import_services.create_import(org, user_id=None, filename="x.csv", data=data)
    return import_services.apply_import(imp, now=NOW)


def test_new_contacts_get_their_tags_and_a_reimport_changes_nothing(app, make_org):
    org = make_org()
    data = _csv(
        [
            "664 555 0101,Ana,prepa;arte,taller,2026-03-31",
            "664 555 0102,Luis,,escuela,",
            "664 555 0103,Eva,deportes,,",
        ]
    )
    result = _import(org, data)
    assert (result.created, result.updated) == (3, 0)
    contacts = {c.phone: c for c in db.session.scalars(db.select(Contact))}
    tags = {
        (contact_id, name)
        for contact_id, name in db.session.execute(
            db.select(ContactTag.contact_id, ContactTag.name)
        )
    }
    assert tags == {
        (contacts["+526645550101"].id, "arte"),
        (contacts["+526645550101"].id, "prepa"),
        (contacts["+526645550103"].id, "deportes"),
    }
    before = {c.phone: (c.consent_at, c.updated_at) for c in db.session.scalars(db.select(Contact))}
    assert before["+526645550101"][0] == datetime(2026, 3, 31, 12, tzinfo=UTC)

    later = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    imp = import_services.create_import(org, user_id=None, filename="x.csv", data=data)
    again = import_services.apply_import(imp, now=later)
    assert (again.created, again.updated) == (0, 3)
    db.session.expire_all()
    after = {c.phone: (c.consent_at, c.updated_at) for c in db.session.scalars(db.select(Contact))}
    assert after == before  # same values: nothing written
    assert db.session.scalar(db.select(db.func.count()).select_from(ContactTag)) == 3


def test_large_imports_freeze_the_collector_only_while_they_run(app, make_org, monkeypatch):
    import gc
    import warnings

    monkeypatch.setattr(import_services, "GC_FREEZE_BYTES", 0)  # as for a large file
    frozen = []
    real = import_services._Applier.apply_batch

    def spy(self, rows):
        frozen.append(gc.get_freeze_count() > 0)
        return real(self, rows)

    monkeypatch.setattr(import_services._Applier, "apply_batch", spy)
    result = _import(make_org(), _csv(["664 555 0101,Ana,prepa,taller,2026-03-31"]))
    assert result.created == 1
    assert frozen == [True]
    assert gc.get_freeze_count() == 0
    with warnings.catch_warnings():  # what earlier tests left unclosed is not this test's
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
