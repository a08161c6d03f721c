"""CSV helpers shared by every import and export.

Reading: detect the encoding (UTF-8 with or without BOM, else Windows-1252) and the
delimiter (comma or semicolon) of uploaded bytes, and iterate records as a stream.

Writing: every cell we produce goes through `neutralize`, so a value such as
``=cmd|' /C calc'!A0`` typed into a list cannot run as a formula when a coordinator
opens our CSV in a spreadsheet (OWASP "CSV injection").
"""

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator

UTF8_BOM = codecs.BOM_UTF8
# Cells starting with these are formulas (or become one) in Excel, LibreOffice and Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
DELIMITERS = (",", ";")
_CHUNK = 1 << 20


class CsvDecodeError(ValueError):
    """The bytes are not text in an encoding we accept (binary or undecodable)."""


# A negative number ("-0.0188", "-12,5") is read as a number, not evaluated as a formula.
_NEGATIVE_NUMBER = re.compile(r"-\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")


def neutralize(value) -> str:
    """The cell as text, prefixed with a single quote when a spreadsheet would evaluate it."""
    text = "" if value is None else str(value)
    if _NEGATIVE_NUMBER.fullmatch(text):
        return text
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def restore(text: str) -> str:
    """The inverse of `neutralize`: our own exports (and spreadsheets' habit) quote a cell
    that starts like a formula ("'+52664…"); reading it back drops that one quote."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_PREFIXES and text[1:2] else text


class SafeCsvWriter:
    """A csv.writer whose every cell is neutralized. Wraps any text stream."""

    def __init__(self, stream, *, delimiter: str = ","):
        self._writer = csv.writer(stream, delimiter=delimiter)

    def writerow(self, cells: Iterable) -> None:
        self._writer.writerow([neutralize(c) for c in cells])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether all of `data` decodes, checked in chunks (no full-size copy as text)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(data[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(data: bytes) -> str:
    """ "utf-8-sig" (BOM), "utf-8", or "cp1252" (which also reads Latin-1 text).

    Raises:
        CsvDecodeError: NUL bytes (a binary file) or bytes valid in none of them.
    """
    if b"\x00" in data:
        raise CsvDecodeError("binary")
    if data.startswith(UTF8_BOM):
        if _decodes(data[len(UTF8_BOM) :], "utf-8"):
            return "utf-8-sig"
        raise CsvDecodeError("bad utf-8 after BOM")
    if _decodes(data, "utf-8"):
        return "utf-8"
    if _decodes(data, "cp1252"):
        return "cp1252"
    raise CsvDecodeError("undecodable")


def text_stream(data: bytes, encoding: str) -> io.TextIOWrapper:
    """A text view of `data`, decoded lazily; newline="" as the csv module requires."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


def detect_delimiter(first_line: str) -> str:
    """Semicolon when the header line has more semicolons than commas (Spanish-locale
    Excel), comma otherwise. Delimiters inside quotes are not counted."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in first_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] > counts[","] else ","


def iter_records(stream, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) for every record, skipping blank lines.

    The line number is where the record starts, so quoted cells spanning several
    lines still point the reader at the right place in the file.
    """
    reader = csv.reader(stream, delimiter=delimiter)
    previous_end = 0
    for cells in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if cells and any(c.strip() for c in cells):
            yield start, [restore(c) for c in cells]
