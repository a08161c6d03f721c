"""CSV parsing for imports: encodings, delimiters, header mapping, limits, neutralization."""

import io

import pytest

from app.contacts.csv_import import (
    MAX_CELL_CHARS,
    CsvImportError,
    garbled_lines,
    inspect_csv,
    iter_rows,
    map_columns,
)
from app.csvutil import SafeCsvWriter, detect_delimiter, detect_encoding, neutralize


def fields(headers):
    return [c.field for c in map_columns(headers)]


def test_spanish_headers_with_and_without_accents(app):
    headers = [
        "Teléfono",
        "NOMBRE",
        "idioma",
        "Año_Nacimiento",
        "rango_edad",
        "género",
        "País",
        "Estado",
        "Municipio",
        "zona_horaria",
        "etiquetas",
        "consentimiento",
        "base_consentimiento",
        "fecha_consentimiento",
        "consentimiento_tutor",
    ]
    assert fields(headers) == [
        "phone",
        "first_name",
        "language",
        "birth_year",
        "age_band",
        "gender",
        "country",
        "state",
        "municipality",
        "timezone",
        "tags",
        "consent_source",
        "consent_basis",
        "consent_date",
        "guardian_consent",
    ]


def test_english_headers_and_synonyms(app):
    headers = [
        "Phone",
        "first_name",
        "Language",
        "birth year",
        "age_band",
        "Gender",
        "country",
        "state",
        "City",
        "timezone",
        "Tags",
        "consent_source",
        "consent_basis",
        "consent_date",
        "guardian_consent",
    ]
    assert fields(headers)[0] == "phone" and fields(headers)[8] == "municipality"
    assert fields(["celular"]) == ["phone"]
    assert fields(["Móvil"]) == ["phone"]
    assert fields(["mobile"]) == ["phone"]
    assert fields(["ano_nacimiento", "anio_nacimiento", "AÑO DE NACIMIENTO"])[:2] == [
        "birth_year",
        None,
    ]  # the same field twice: the first column wins
    assert fields(["sexo"]) == ["gender"]
    assert fields(["entidad"]) == ["state"]
    assert fields(["ciudad"]) == ["municipality"]
    assert fields(["fuente_consentimiento"]) == ["consent_source"]
    assert fields(["name"]) == ["full_name"]  # split into first and last names
    assert fields(["Apellidos", "Nombre completo"]) == ["last_name", "full_name"]
    assert fields(["lang"]) == ["language"]


def test_unknown_and_repeated_columns_are_ignored(app):
    columns = map_columns(["telefono", "notas", "phone", "", "\ufeffcorreo"])
    assert [(c.header, c.field, c.duplicate) for c in columns] == [
        ("telefono", "phone", False),
        ("notas", None, False),
        ("phone", None, True),
        ("", None, False),
        ("correo", None, False),
    ]


@pytest.mark.parametrize(
    "data, encoding",
    [
        ("telefono,nombre\n6645550101,Peña\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "telefono,nombre\n6645550101,Peña\n".encode(), "utf-8-sig"),
        ("telefono,nombre\n6645550101,Peña Álvarez\n".encode("cp1252"), "cp1252"),
        ("telefono,nombre\n6645550101,“Lupita” — ñ\n".encode("cp1252"), "cp1252"),
    ],
)
def test_encodings(app, data, encoding):
    layout = inspect_csv(data)
    assert layout.encoding == encoding
    (row,) = list(iter_rows(data, layout))
    assert row.raw["first_name"] in ("Peña", "Peña Álvarez", "“Lupita” — ñ")


def test_detect_encoding_refuses_binary_and_undecodable():
    with pytest.raises(ValueError):
        detect_encoding(b"telefono\n\x00\x01")
    with pytest.raises(ValueError):
        detect_encoding(b"telefono\n\x81\x8d\x8f")  # undefined in Windows-1252
    with pytest.raises(ValueError):
        detect_encoding(b"\xef\xbb\xbftelefono\n\xff")  # a BOM promises UTF-8


@pytest.mark.parametrize(
    "line, delimiter",
    [
        ("telefono,nombre,estado", ","),
        ("telefono;nombre;estado", ";"),
        ('telefono;"nombre, apellido";estado', ";"),
        ('"a;b",c', ","),
        ("telefono", ","),
    ],
)
def test_delimiter_from_the_header_line(line, delimiter):
    assert detect_delimiter(line) == delimiter


def test_semicolon_file_with_quoted_cells_and_decimal_commas(app):
    data = b'telefono;nombre;etiquetas\r\n6645550101;"Ruiz; Ana";"a, b"\r\n'
    layout = inspect_csv(data)
    assert layout.delimiter == ";"
    (row,) = list(iter_rows(data, layout))
    assert row.raw == {"phone": "6645550101", "first_name": "Ruiz; Ana", "tags": "a, b"}


def test_line_numbers_count_physical_lines(app):
    data = 'telefono,nombre\n\n6645550101,"dos\nlíneas"\n6645550102,x\n'.encode()
    layout = inspect_csv(data)
    assert layout.total_rows == 2
    assert [r.line for r in iter_rows(data, layout)] == [3, 5]


def test_blank_and_empty_rows_are_not_counted(app):
    data = b"telefono,nombre\n,\n;;\n6645550101,x\n\n ,  \n"
    layout = inspect_csv(data)
    assert layout.total_rows == 2  # ";;" is a one-cell row with text: it will be rejected


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf \r\n", "The file is empty."),
        (b",,,\n , ,\n", "The file is empty."),
        (b"telefono,nombre\n", "The file has a header row but no contacts."),
        (b"telefono,nombre\n\n\n", "The file has a header row but no contacts."),
        (b"nombre,estado\nAna,BC\n", "No phone column found."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a CSV text file"),
        ("telefono\n".encode("utf-16"), "This is not a CSV text file"),
        (b"telefono\n" + b'"' + b"a" * 200_000 + b"\n", "The file is not valid CSV near line 2"),
        ((",".join(["x"] * 101) + "\n1\n").encode(), "The file has more than 100 columns."),
    ],
)
def test_files_refused_as_a_whole(app, data, message):
    with pytest.raises(CsvImportError) as info:
        inspect_csv(data)
    assert message in str(info.value)
    assert info.value.field == "file"


def test_too_many_rows(app):
    data = b"telefono\n" + b"6645550101\n" * 6
    assert inspect_csv(data, max_rows=6).total_rows == 6
    with pytest.raises(CsvImportError, match="more than 5 rows"):
        inspect_csv(data, max_rows=5)


def test_overlong_cells_and_extra_cells(app):
    data = (
        "telefono,nombre\n6645550101," + "x" * (MAX_CELL_CHARS + 1) + "\n"
        "6645550102,Ana,extra,cells\n6645550103\n"
    ).encode()
    rows = list(iter_rows(data, inspect_csv(data)))
    assert rows[0].problems == [f"A cell is longer than {MAX_CELL_CHARS} characters."]
    assert rows[1].cells == ["6645550102", "Ana"] and not rows[1].problems
    assert rows[2].raw == {"phone": "6645550103", "first_name": None}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+52 664 555 0101", "'+52 664 555 0101"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ana =1", "Ana =1"),
        ("", ""),
        (None, ""),
        (12, "12"),
    ],
)
def test_neutralize(value, expected):
    assert neutralize(value) == expected


def test_safe_writer_neutralizes_every_cell():
    out = io.StringIO()
    SafeCsvWriter(out).writerow(['=HYPERLINK("http://x")', "ok", "@x"])
    assert out.getvalue() == '"\'=HYPERLINK(""http://x"")",ok,\'@x\r\n'


def mixed_file(utf8_lines=(3,), total=4) -> bytes:
    """A Windows-1252 list where the rows on `utf8_lines` were pasted in as UTF-8."""
    out = ["teléfono,nombre,municipio\n".encode("cp1252")]
    for line in range(2, total + 2):
        row = f"66455501{line:02d},José Peña,Tecate\n"
        out.append(row.encode("utf-8" if line in utf8_lines else "cp1252"))
    return b"".join(out)


def test_utf8_rows_in_a_windows_1252_file_are_found_by_line(app):
    data = mixed_file(utf8_lines=(3, 5), total=5)
    layout = inspect_csv(data)
    assert layout.encoding == "cp1252"  # decoded per file, as before
    rows = {row.line: row.raw["first_name"] for row in iter_rows(data, layout)}
    assert rows[3] == "JosÃ© PeÃ±a" and rows[2] == "José Peña"
    assert garbled_lines(data, layout) == [3, 5]


@pytest.mark.parametrize(
    "data",
    [
        "teléfono,nombre\n6645550101,José Peña\n6645550102,Ángel Ñúñez ¿sí?\n".encode("cp1252"),
        "teléfono,nombre\n6645550101,José Peña\n6645550102,Ángel\n".encode(),
        "\ufeffteléfono,nombre\n6645550101,José Peña\n".encode("utf-8"),
        b"telefono,nombre\n6645550101,Jose\n",
    ],
)
def test_files_in_one_encoding_have_no_garbled_lines(app, data):
    assert garbled_lines(data, inspect_csv(data)) == []


def test_garbled_lines_follow_quoted_cells_over_several_lines(app):
    data = (
        'telefono,nombre,notas\n6645550101,Ana,"dos\nlíneas"\n'.encode("cp1252")
        + "6645550102,José,\n".encode()
    )
    assert garbled_lines(data, inspect_csv(data)) == [4]
