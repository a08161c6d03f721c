"""Reading contact CSVs: encoding, delimiter, header mapping, limits, streamed rows.

Pure parsing (no database). `inspect_csv` checks a whole file once (the upload is
refused before anything is stored when it is binary, empty, malformed or too big);
`iter_rows` then streams its rows as `SourceRow`s, one record at a time, from the
stored bytes.

Limits (documented for coordinators in the upload form's hint):
- `MAX_ROWS` data rows and `MAX_COLUMNS` columns per file;
- `MAX_CELL_CHARS` characters in a cell we read (longer cells reject their row);
- the csv module's own field limit (128 KiB, left at its process-wide default) stops a
  stray quote from swallowing the rest of the file into one cell: the file is refused.
The byte size of the file is capped by the caller (see import_services.max_file_bytes).
"""

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter

from flask_babel import lazy_gettext as _l

from app.contacts.validation import fold
from app.csvutil import CsvDecodeError, detect_delimiter, detect_encoding, restore, text_stream
from app.errors import DomainError

MAX_ROWS = 500_000
MAX_COLUMNS = 100
MAX_CELL_CHARS = 1_000
MAX_HEADER_CHARS = 100
PREVIEW_ROWS = 10

# Canonical field -> accepted column names (matched ignoring case, accents, spaces,
# underscores and punctuation, so "Año de nacimiento", "AÑO_NACIMIENTO" and
# "ano nacimiento" are the same column).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "telefono",
        "tel",
        "celular",
        "cel",
        "movil",
        "telefono celular",
        "numero de celular",
        "numero de telefono",
        "whatsapp",
        "phone",
        "phone number",
        "mobile",
        "mobile phone",
        "cell",
        "cell phone",
    ),
    "first_name": (
        "nombre",
        "nombres",
        "nombre s",
        "primer nombre",
        "nombre de pila",
        "first name",
        "firstname",
        "given name",
        "given names",
        "forename",
    ),
    "last_name": (
        "apellidos",
        "apellido",
        "apellido paterno",
        "primer apellido",
        "last name",
        "lastname",
        "surname",
        "surnames",
        "family name",
    ),
    "second_last_name": ("apellido materno", "segundo apellido", "second last name"),
    # One cell with the whole name: split into first and last names (see contacts.names).
    "full_name": (
        "nombre completo",
        "nombre y apellidos",
        "nombre s y apellidos",
        "nombre y apellido",
        "full name",
        "fullname",
        "name",
        "participante",
        "participant",
    ),
    "language": ("idioma", "lengua", "language", "lang"),
    "birth_year": (
        "ano nacimiento",
        "anio nacimiento",
        "ano de nacimiento",
        "anio de nacimiento",
        "birth year",
        "year of birth",
    ),
    "age_band": (
        "rango edad",
        "rango de edad",
        "grupo de edad",
        "age band",
        "age range",
        "age group",
    ),
    "gender": ("genero", "sexo", "gender", "sex"),
    "country": ("pais", "country"),
    "state": ("estado", "entidad", "entidad federativa", "state"),
    "municipality": ("municipio", "ciudad", "alcaldia", "municipality", "city", "county"),
    "timezone": ("zona horaria", "huso horario", "timezone", "time zone", "tz"),
    "tags": ("etiquetas", "etiqueta", "tags", "tag"),
    "consent_source": (
        "consentimiento",
        "fuente consentimiento",
        "fuente de consentimiento",
        "origen consentimiento",
        "consent",
        "consent source",
    ),
    "consent_basis": ("base consentimiento", "base de consentimiento", "consent basis", "basis"),
    "consent_date": ("fecha consentimiento", "fecha de consentimiento", "consent date"),
    "guardian_consent": (
        "consentimiento tutor",
        "consentimiento del tutor",
        "consentimiento de tutor",
        "autorizacion tutor",
        "guardian consent",
        "parental consent",
    ),
    "preferred_channel": (
        "canal",
        "canal preferido",
        "canal de contacto",
        "channel",
        "preferred channel",
    ),
    "whatsapp_opt_in": (
        # Not a bare "WhatsApp": lists use that name for the phone number itself.
        "acepta whatsapp",
        "alta whatsapp",
        "consentimiento whatsapp",
        "whatsapp opt in",
        "whatsapp optin",
        "whatsapp consent",
    ),
}
FIELDS = tuple(HEADER_ALIASES)
# The names the upload page shows (Spanish, then English).
DOCUMENTED_HEADERS = {
    "phone": ("telefono", "celular", "movil", "phone", "mobile"),
    "first_name": ("nombre", "first_name"),
    "last_name": ("apellidos", "apellido_paterno", "last_name", "surname"),
    "second_last_name": ("apellido_materno", "segundo_apellido"),
    "full_name": ("nombre_completo", "full_name", "name"),
    "language": ("idioma", "language", "lang"),
    "birth_year": ("año_nacimiento", "birth_year"),
    "age_band": ("rango_edad", "age_band"),
    "gender": ("genero", "sexo", "gender"),
    "country": ("pais", "country"),
    "state": ("estado", "entidad", "state"),
    "municipality": ("municipio", "ciudad", "municipality", "city"),
    "timezone": ("zona_horaria", "timezone"),
    "tags": ("etiquetas", "tags"),
    "consent_source": ("consentimiento", "fuente_consentimiento", "consent_source"),
    "consent_basis": ("base_consentimiento", "consent_basis"),
    "consent_date": ("fecha_consentimiento", "consent_date"),
    "guardian_consent": ("consentimiento_tutor", "guardian_consent"),
    "preferred_channel": ("canal", "preferred_channel"),
    "whatsapp_opt_in": ("acepta_whatsapp", "whatsapp_opt_in"),
}

FIELD_LABELS = {
    "phone": _l("Phone"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "second_last_name": _l("Second last name"),
    "full_name": _l("Full name"),
    "language": _l("Language"),
    "birth_year": _l("Birth year"),
    "age_band": _l("Age band"),
    "gender": _l("Gender"),
    "country": _l("Country"),
    "state": _l("State"),
    "municipality": _l("Municipality"),
    "timezone": _l("Time zone"),
    "tags": _l("Tags"),
    "consent_source": _l("Consent source"),
    "consent_basis": _l("Consent basis"),
    "consent_date": _l("Consent date"),
    "guardian_consent": _l("Guardian consent"),
    "preferred_channel": _l("Preferred channel"),
    "whatsapp_opt_in": _l("WhatsApp opt-in"),
}


def header_key(text: str) -> str:
    """What a column name is matched by: letters and digits, no accents, lowercase."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


_FIELD_BY_KEY = {header_key(alias): f for f, aliases in HEADER_ALIASES.items() for alias in aliases}


class CsvImportError(DomainError):
    """The file as a whole cannot be imported; nothing was stored."""

    def __init__(self, message):
        super().__init__(message, field="file")


@dataclass(frozen=True)
class Column:
    index: int
    header: str  # as written in the file (trimmed, capped for display)
    field: str | None  # None: ignored
    duplicate: bool = False  # ignored because an earlier column already gave this field


@dataclass
class CsvLayout:
    encoding: str
    delimiter: str
    columns: list[Column]
    total_rows: int = 0
    field_index: dict[str, int] = field(init=False)

    def __post_init__(self):
        self.field_index = {c.field: c.index for c in self.columns if c.field}

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def mapping(self) -> dict[str, str | None]:
        """CSV header -> field (None when ignored), as stored on the import."""
        return {c.header: c.field for c in self.columns}


@dataclass(slots=True)
class SourceRow:
    line: int  # where the record starts in the file (the header is line 1)
    cells: list[str]
    raw: dict[str, str | None]  # canonical field -> cell text
    problems: list[str]  # reasons found before validation (cell too long)
    long_fields: list[str] = field(default_factory=list)  # the fields of those cells


def map_columns(headers: list[str]) -> list[Column]:
    columns, taken = [], set()
    for index, text in enumerate(headers):
        header = text.replace("\ufeff", "").strip()[:MAX_HEADER_CHARS]
        target = _FIELD_BY_KEY.get(header_key(header)) if header else None
        if target in taken:
            columns.append(Column(index, header, None, duplicate=True))
            continue
        if target:
            taken.add(target)
        columns.append(Column(index, header, target))
    return columns


def _records(data: bytes, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """`csvutil.iter_records` of the file (the same records, blank ones skipped as written),
    faster for large files: `restore` runs only on rows with a quote (it changes only cells
    that start with one), and a row is blank when its cells joined are."""
    reader = csv.reader(text_stream(data, encoding), delimiter=delimiter)
    previous_end = 0
    for cells in reader:
        start, previous_end = previous_end + 1, reader.line_num
        joined = "".join(cells)
        if joined.strip():  # some cell is not blank
            yield start, [restore(c) for c in cells] if "'" in joined else cells


def inspect_csv(data: bytes, *, max_rows: int = MAX_ROWS) -> CsvLayout:
    """Check a whole file and describe it: encoding, delimiter, columns, row count.

    Raises:
        CsvImportError: empty, binary or undecodable, malformed, without data rows or
            a phone column, or over the row or column limits.
    """
    if not data.replace(b"\xef\xbb\xbf", b"").strip():
        raise CsvImportError(_l("The file is empty."))
    try:
        encoding = detect_encoding(data)
    except CsvDecodeError:
        raise CsvImportError(
            _l(
                "This is not a CSV text file (it looks binary, or its text encoding is not "
                "UTF-8 or Windows-1252). Save it from your spreadsheet as “CSV UTF-8” and "
                "try again."
            )
        ) from None
    first_line = data[: 64 * 1024].decode(encoding, errors="ignore").lstrip("\r\n")
    delimiter = detect_delimiter(first_line.splitlines()[0] if first_line else "")

    records = _records(data, encoding, delimiter)
    line = 1
    try:
        first = next(records, None)
        if first is None:  # only blank cells
            raise CsvImportError(_l("The file is empty."))
        headers = first[1]
        if len(headers) > MAX_COLUMNS:
            raise CsvImportError(_l("The file has more than %(n)d columns.", n=MAX_COLUMNS))
        columns = map_columns(headers)
        if not any(c.field == "phone" for c in columns):
            raise CsvImportError(
                _l(
                    "No phone column found. Name the column with the mobile numbers "
                    "“telefono” or “phone”."
                )
            )
        rows = 0
        for line, _cells in records:  # noqa: B007 (`line` locates a csv.Error below)
            rows += 1
            if rows > max_rows:
                raise CsvImportError(
                    _l(
                        "The file has more than %(n)d rows. Split it into several files.",
                        n=max_rows,
                    )
                )
    except csv.Error:
        raise CsvImportError(
            _l(
                "The file is not valid CSV near line %(line)d (check for an unclosed quote).",
                line=line + 1,
            )
        ) from None
    if rows == 0:
        raise CsvImportError(_l("The file has a header row but no contacts."))
    return CsvLayout(encoding=encoding, delimiter=delimiter, columns=columns, total_rows=rows)


def iter_rows(data: bytes, layout: CsvLayout) -> Iterator[SourceRow]:
    """Stream the data rows of a file already checked by `inspect_csv`."""
    records = _records(data, layout.encoding, layout.delimiter)
    next(records)  # the header
    names = list(layout.field_index)
    indices = list(layout.field_index.values())
    needed = max(indices, default=-1) + 1
    pick = (
        itemgetter(*indices)
        if len(indices) > 1
        else (lambda cells: tuple(cells[i] for i in indices))
    )
    width = len(layout.columns)
    too_long = None
    for line, cells in records:
        if len(cells) > width:
            cells = cells[:width]  # unnamed trailing cells cannot be mapped
        if len(cells) >= needed:
            values = pick(cells)
            if (
                max(map(len, values), default=0) <= MAX_CELL_CHARS
            ):  # the common case: nothing too long
                yield SourceRow(line, cells, dict(zip(names, values, strict=True)), [], [])
                continue
        raw, problems, long_fields = {}, [], []
        for name, index in zip(names, indices, strict=True):
            value = cells[index] if index < len(cells) else None
            if value is not None and len(value) > MAX_CELL_CHARS:
                too_long = too_long or str(
                    _l("A cell is longer than %(n)d characters.", n=MAX_CELL_CHARS)
                )
                problems = [too_long]
                long_fields.append(name)
            raw[name] = value
        yield SourceRow(line, cells, raw, problems, long_fields)


def gender_letters(data: bytes, layout: CsvLayout) -> frozenset[str]:
    """The one-letter gender values "h" and "f" found anywhere in the file's gender column.

    They tell what a bare "M" means in that file: beside "H" it is "Mujer" (Mexican forms
    and the CURP write H/M); beside "F" it is "Masculino"/"Male" (M/F lists)."""
    index = layout.field_index.get("gender")
    if index is None:
        return frozenset()
    found = set()
    records = _records(data, layout.encoding, layout.delimiter)
    next(records)
    for _line, cells in records:
        if index < len(cells):
            value = cells[index].strip().rstrip(".").lower()
            if value in ("h", "f"):
                found.add(value)
                if len(found) == 2:
                    break
    return frozenset(found)


# A well-formed UTF-8 multi-byte sequence. Windows-1252 text almost never contains one
# (an accented capital followed by a symbol such as "¿" or "€"); UTF-8 accents always do.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def garbled_lines(data: bytes, layout: CsvLayout) -> list[int]:
    """Lines (as in `SourceRow.line`) whose text looks like UTF-8 read as Windows-1252.

    A file is decoded as a whole: one Windows-1252 byte makes the whole file Windows-1252,
    so rows typed or pasted in as UTF-8 read "JosÃ©". Such a row re-encoded to its bytes
    holds UTF-8 sequences; rows really written in Windows-1252 do not.
    """
    if layout.encoding != "cp1252" or not _UTF8_SEQUENCE.search(data):
        return []  # the whole-file check keeps clean files at one regex pass
    lines = []
    for line, cells in _records(data, layout.encoding, layout.delimiter):
        text = "\x1f".join(cells)
        if not text.isascii() and _UTF8_SEQUENCE.search(text.encode("cp1252")):
            lines.append(line)
    return lines


def layout_of(data: bytes, encoding: str, delimiter: str) -> CsvLayout:
    """The layout of a file `inspect_csv` already accepted (reads its header only)."""
    _line, headers = next(_records(data, encoding, delimiter))
    return CsvLayout(encoding=encoding, delimiter=delimiter, columns=map_columns(headers))
