"""Contact imports: upload and check → preview → apply in one transaction, or discard.

A `ContactImport` keeps the uploaded bytes from upload until it is applied; applying
streams the rows in batches of `BATCH_SIZE` (one SELECT of the batch's known phones,
one bulk INSERT of new contacts, one bulk UPDATE by primary key, one bulk INSERT of
tags; on PostgreSQL the SELECTs are unprepared and the INSERTs are binary COPYs of rows
whose ids are drawn from the sequence first, run on a thread while the next batch is
checked) inside a single transaction that also stores the counts and the rejected-rows
report. On an unexpected error nothing lands and the import is marked "failed" (its file
kept, so it can be retried or discarded).

Merge rule for a phone already known in the organization: "skip" keeps the contact as
it is; "update" copies the fields the row *fills in* (blank cells never erase data) and
adds its tags. A phone repeated inside one file (compared in E.164, so "664 555 0101" and
"+52 664 555 0101" are the same) is taken from its first row: the later rows are rejected
("Same phone as line 2."), never merged over it. An import never touches opt-outs or the
undeliverable flag.

Only the phone can reject a row: a problem in an optional column leaves that field
unknown and is reported as a warning on the row (see `validation.clean_contact`).

The preview is a dry run of the same `_Applier` (every row checked, the known phones
looked up, nothing written), so its counts are the ones applying gives.
"""

import csv
import gc
import hashlib
import io
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import islice
from operator import itemgetter

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError

from app.contacts.csv_import import (
    FIELD_LABELS,
    MAX_CELL_CHARS,
    PREVIEW_ROWS,
    CsvImportError,
    CsvLayout,
    SourceRow,
    garbled_lines,
    gender_letters,
    inspect_csv,
    iter_rows,
    layout_of,
)
from app.contacts.geography import derive_timezone
from app.contacts.models import CONSENT_SOURCES, DUPLICATE_RULES, Contact, ContactImport, ContactTag
from app.contacts.services import local_today
from app.contacts.validation import CONSENT_ALIASES, ImportCleaner, clean_contact, fold
from app.csvutil import SafeCsvWriter
from app.db_dialect import is_postgres
from app.errors import DomainError
from app.extensions import db
from app.jobs.services import enqueue
from app.organizations.models import Organization

DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024  # same as the web upload limit (MAX_UPLOAD_MB)
BATCH_SIZE = 2_000
REPORT_SAMPLE = 20
PREVIEW_SAMPLE = 50  # rejected rows, and rows with warnings, listed on the preview page
GARBLED_LINES_SHOWN = 10  # the warning names this many lines, then "…"
APPLICABLE = ("previewed", "failed")
QUEUEABLE = APPLICABLE  # a queued import is applied by the worker (status "queued")

# Contact columns an import writes; "update" changes only these.
MERGED = (
    "first_name",
    "last_name",
    "language",
    "birth_year",
    "age_band",
    "gender",
    "country",
    "state_code",
    "municipality",
    "timezone",
    "consent_source",
    "consent_basis",
    "consent_at",
    "guardian_consent",
    "guardian_consent_at",
    "preferred_channel",
    "whatsapp_opt_in_at",
    "whatsapp_opt_in_source",
)
# Columns not taken from the row's values as they are (see `_new_state`).
_DERIVED = (
    "guardian_consent_at",
    "preferred_channel",
    "whatsapp_opt_in_at",
    "whatsapp_opt_in_source",
)
_STATE_COLUMNS = [getattr(Contact, name) for name in MERGED]
# UTCDateTime columns among MERGED
_DATETIMES = ("consent_at", "guardian_consent_at", "whatsapp_opt_in_at")

ENCODING_LABELS = {
    "utf-8": _l("UTF-8"),
    "utf-8-sig": _l("UTF-8 with BOM"),
    "cp1252": _l("Windows-1252 (Latin-1)"),
}
DELIMITER_LABELS = {",": _l("comma (,)"), ";": _l("semicolon (;)")}


class ContactImportError(DomainError):
    pass


def max_file_bytes() -> int:
    return int(current_app.config.get("CONTACT_IMPORT_MAX_BYTES", DEFAULT_MAX_FILE_BYTES))


def read_limited(stream) -> bytes:
    """Read an uploaded or opened file, refusing it past the import size limit.

    Raises:
        CsvImportError: the file is larger than `max_file_bytes()`.
    """
    limit = max_file_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise CsvImportError(
            _l(
                "The file is larger than %(mb)d MB. Split it into several files.",
                mb=limit // (1024 * 1024),
            )
        )
    return data


def read_file(path: str) -> bytes:
    """The bytes of a CSV file given to the CLI (see `read_limited`)."""
    try:
        with open(path, "rb") as stream:
            return read_limited(stream)
    except OSError:
        raise CsvImportError(_l("Cannot read the file %(path)s.", path=path)) from None


def _check_options(duplicate_rule: str, consent_source: str | None, consent_basis: str | None):
    if duplicate_rule not in DUPLICATE_RULES:
        raise ContactImportError(
            _l("Choose how to handle duplicates: update or skip."), field="duplicate_rule"
        )
    if consent_source and consent_source not in CONSENT_SOURCES:
        raise ContactImportError(_l("Unknown consent source."), field="consent_source")
    if consent_source == "imported_list" and not (consent_basis or "").strip():
        raise ContactImportError(
            _l("An imported list needs the stated basis of its consent."), field="consent_basis"
        )


def _display_filename(filename: str | None) -> str:
    name = os.path.basename((filename or "").replace("\\", "/"))
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:255] or "contacts.csv"


def create_import(
    org: Organization,
    *,
    user_id: int | None,
    filename: str | None,
    data: bytes,
    duplicate_rule: str = "update",
    consent_source: str | None = None,
    consent_basis: str | None = None,
) -> ContactImport:
    """Check an uploaded CSV as a whole and keep it for preview (status "previewed").

    Raises:
        CsvImportError: the file is too large, empty, binary, malformed or has no phone
            column; nothing is stored.
        ContactImportError: invalid options.
    """
    _check_options(duplicate_rule, consent_source, consent_basis)
    if len(data) > max_file_bytes():
        raise CsvImportError(
            _l(
                "The file is larger than %(mb)d MB. Split it into several files.",
                mb=max_file_bytes() // (1024 * 1024),
            )
        )
    with _long_lived_objects_frozen(data):
        layout = inspect_csv(data)
    imp = ContactImport(
        organization_id=org.id,
        user_id=user_id,
        filename=_display_filename(filename),
        file_sha256=hashlib.sha256(data).hexdigest(),
        upload=data,
        encoding=layout.encoding,
        delimiter=layout.delimiter,
        mapping=layout.mapping,
        duplicate_rule=duplicate_rule,
        consent_source=consent_source or None,
        consent_basis=" ".join((consent_basis or "").split()) or None,
        status="previewed",
        total_rows=layout.total_rows,
    )
    db.session.add(imp)
    db.session.commit()
    return imp


# -- one row ---------------------------------------------------------------------------


@dataclass(slots=True)
class CheckedRow:
    source: SourceRow
    values: dict
    errors: list[str]
    provided: frozenset[str]  # fields the row itself fills in (before import defaults)
    warnings: list[str] = field(default_factory=list)


def _gender_m(letters: frozenset[str]) -> str | None:
    """What "M" means in a file by the other one-letter values of its gender column:
    H/M is hombre/mujer, M/F is male (masculino)/female; otherwise the row's language."""
    if letters == {"h"}:
        return "female"
    if letters == {"f"}:
        return "male"
    return None


def _names_provided(provided: set[str], values: dict) -> None:
    """A full-name or second-surname cell fills the first and last names it gives."""
    if "second_last_name" in provided:
        provided.add("last_name")
    if "full_name" in provided and not provided & {"first_name", "last_name"}:
        provided.update(name for name in ("first_name", "last_name") if values[name])


def check_row(
    row: SourceRow,
    imp: ContactImport,
    org: Organization,
    today: date,
    gender_m: str | None = None,
    cleaner: ImportCleaner | None = None,
) -> CheckedRow:
    """Clean one row; `cleaner` (for `org`, `today` and `gender_m`) makes a whole file's
    rows faster to check, with the same results."""
    raw = row.raw
    provided = {name for name, value in raw.items() if value and value.strip()}
    warnings: list[str] = []
    if row.problems:
        if "phone" in row.long_fields:
            return CheckedRow(row, {}, row.problems, frozenset(provided))
        # A long cell in an optional column is left out; the row is still imported.
        raw = {k: (None if k in row.long_fields else v) for k, v in raw.items()}
        provided -= set(row.long_fields)
        warnings.extend(row.problems)
    raw = dict(raw)
    if raw.get("second_last_name"):
        raw["last_name"] = " ".join(
            part for part in (raw.get("last_name"), raw["second_last_name"]) if part
        )
    if imp.consent_source:
        # The list's consent applies to rows that do not state their own.
        if "consent_source" not in provided:
            raw["consent_source"] = imp.consent_source
        if (
            "consent_basis" not in provided
            and imp.consent_basis
            and CONSENT_ALIASES.get(fold(raw["consent_source"])) == imp.consent_source
        ):
            raw["consent_basis"] = imp.consent_basis
    warned: set[str] = set()
    if cleaner is not None:
        values, errors = cleaner.clean(raw, warnings, warned)
    else:
        values, errors = clean_contact(
            raw, org=org, today=today, warnings=warnings, gender_m=gender_m, warned_fields=warned
        )
    _names_provided(provided, values)
    # A value that was not understood is not "filled in": it never replaces a known one.
    provided -= warned - {"tags"}
    return CheckedRow(row, values, errors, frozenset(provided), warnings)


def _new_state(values: dict, now: datetime) -> dict:
    state = {name: values[name] for name in MERGED if name not in _DERIVED}
    given = values["guardian_consent"]
    state["guardian_consent_at"] = (values["consent_at"] or now) if given else None
    opted_in = bool(values.get("whatsapp_opt_in"))
    state["preferred_channel"] = values.get("preferred_channel") or "sms"
    state["whatsapp_opt_in_at"] = now if opted_in else None
    state["whatsapp_opt_in_source"] = "import" if opted_in else None
    return state


def _merge_channel(state: dict, values: dict, provided: frozenset[str], now: datetime) -> None:
    """The channel columns (issue 19): a "yes" records a WhatsApp opt-in from the import,
    dated now, unless one is on file (it keeps its date and source); a "no" withdraws it (the
    list is the organization's record, and fewer messages is the safe side) and puts the
    contact back on SMS. A blank cell changes nothing."""
    if "whatsapp_opt_in" in provided:
        if not values["whatsapp_opt_in"]:
            state["whatsapp_opt_in_at"] = state["whatsapp_opt_in_source"] = None
            state["preferred_channel"] = "sms"
        elif state["whatsapp_opt_in_at"] is None:
            state["whatsapp_opt_in_at"], state["whatsapp_opt_in_source"] = now, "import"
    if "preferred_channel" in provided:
        state["preferred_channel"] = values["preferred_channel"]


def _merge_place(state: dict, values: dict, provided: frozenset[str]) -> None:
    """Country, state and municipality change together, so they never contradict each
    other: a blank cell keeps the old value only while the larger place is unchanged."""
    country_changes = "country" in provided and values["country"] != state["country"]
    if not (country_changes or provided & {"state", "municipality"}):
        if "timezone" in provided:
            state["timezone"] = values["timezone"]
        return
    country = values["country"] if "country" in provided else state["country"]
    if "state" in provided:
        code = values["state_code"]
    else:
        code = state["state_code"] if country == state["country"] else None
    if "municipality" in provided:
        municipality = values["municipality"]
    else:
        same_state = country == state["country"] and code == state["state_code"]
        municipality = state["municipality"] if same_state else None
    state["country"], state["state_code"], state["municipality"] = country, code, municipality
    if "timezone" in provided or (country, code, municipality) == (
        values["country"],
        values["state_code"],
        values["municipality"],
    ):
        state["timezone"] = values["timezone"]  # given, or derived by clean_contact
    else:
        state["timezone"] = derive_timezone(country, code, municipality)


def _merge(state: dict, values: dict, provided: frozenset[str], now: datetime) -> None:
    """Update `state` (a contact's MERGED columns) from a row: only what the row fills in."""
    for name in ("first_name", "last_name", "language", "gender"):
        if name in provided:
            state[name] = values[name]
    if "birth_year" in provided:
        state["birth_year"], state["age_band"] = values["birth_year"], None
    elif "age_band" in provided:
        state["birth_year"], state["age_band"] = None, values["age_band"]
    _merge_place(state, values, provided)

    source = values["consent_source"]
    if source and ("consent_source" in provided or state["consent_source"] is None):
        # The row's own consent, or the list's for a contact that had none. Consent
        # already recorded from the same source keeps its date (re-imports are idempotent).
        if (
            source != state["consent_source"]
            or "consent_date" in provided
            or state["consent_at"] is None
        ):
            state["consent_at"] = values["consent_at"]
        if source != state["consent_source"] or values["consent_basis"]:
            state["consent_basis"] = values["consent_basis"]
        state["consent_source"] = source

    if "guardian_consent" in provided:
        given = values["guardian_consent"]
        if given and not state["guardian_consent"]:
            state["guardian_consent_at"] = values["consent_at"] or now
        elif not given:
            state["guardian_consent_at"] = None
        state["guardian_consent"] = given
    _merge_channel(state, values, provided, now)


# -- applying --------------------------------------------------------------------------


@dataclass
class ReportRow:
    """A rejected row, or one imported with warnings, as the preview lists it."""

    line: int
    cells: dict[str, str]  # mapped field -> the cell as written (shortened)
    reasons: list[str]


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    warned: int = 0  # created or updated rows with a warning (an optional value left unknown)
    rejected_sample: list[tuple[int, str]] = field(default_factory=list)
    rejected_rows: list[ReportRow] = field(default_factory=list)  # first PREVIEW_SAMPLE
    warned_rows: list[ReportRow] = field(default_factory=list)  # first PREVIEW_SAMPLE
    # line -> (row, outcome, reasons) of the file's first rows (the preview's sample)
    first_rows: dict[int, tuple[CheckedRow, str, list[str]]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.skipped + self.rejected

    @property
    def imported(self) -> int:
        """Contacts the import writes: created plus updated."""
        return self.created + self.updated


def _bulk_insert(model, rows: list[dict]) -> None:
    """INSERT many rows (all with the same keys) in the session's transaction (SQLite;
    PostgreSQL COPYs them instead: see `_copy_rows`)."""
    # render_nulls: None is sent as NULL instead of leaving the column out, so every
    # row has the same keys and the batch is a single executemany.
    db.session.execute(insert(model), rows, execution_options={"render_nulls": True})


def _copy_rows(driver_connection, model, columns: list[str], rows: list) -> None:
    """COPY `rows` (sequences of the `columns` values) into `model`'s table (PostgreSQL),
    binary when every column's type allows it.

    COPY in the same transaction is about twice as fast as psycopg's pipelined executemany
    (measured: 20,000 contacts in 0.48 s instead of 0.95 s). Needs no application context:
    the import's thread runs it (see `_Copier`)."""
    # Imported here: only PostgreSQL needs the driver's SQL composition, and SQLite
    # processes are spared loading psycopg (about 0.1 s).
    from psycopg import sql

    types = _binary_copy_types(model, tuple(columns))
    statement = sql.SQL("COPY {} ({}) FROM STDIN" + (" (FORMAT BINARY)" if types else "")).format(
        sql.Identifier(model.__table__.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        if types:
            copy.set_types(types)
        write_row = copy.write_row
        for row in rows:
            write_row(row)


# PostgreSQL types of the columns an import COPYs, for binary COPY (the server then parses
# no text: timestamps are a noticeable part of a text COPY's cost).
_BINARY_TYPES = {
    "INTEGER": "int4",
    "BOOLEAN": "bool",
    "TEXT": "text",
    "VARCHAR": "varchar",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


@lru_cache(maxsize=16)
def _binary_copy_types(model, columns: tuple[str, ...]) -> list[str] | None:
    """psycopg type names of `columns` for a binary COPY, or None (then text COPY) when a
    column's type is not one of `_BINARY_TYPES`."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    names = []
    for name in columns:
        compiled = model.__table__.c[name].type.compile(dialect=dialect).split("(")[0]
        if compiled not in _BINARY_TYPES:
            return None
        names.append(_BINARY_TYPES[compiled])
    return names


def _driver_connection():
    """The psycopg connection under the session (same transaction); PostgreSQL only."""
    return db.session.connection().connection.driver_connection


def _driver_cursor():
    """A psycopg cursor on the session's connection (same transaction); PostgreSQL only."""
    return _driver_connection().cursor()


def _unprepared(query: str, params: list) -> list[tuple]:
    """Rows of a query run on PostgreSQL without a prepared statement, so each run is
    planned for its own parameters and the table as it is now.

    psycopg prepares a statement after a few runs, and PostgreSQL may then keep a generic
    plan. The known-phone lookup runs once per batch while an import fills the table, so a
    plan chosen for the empty table would be kept as it grows (measured: 50 lookups of
    2,000 phones between COPYs of 100k rows took 7.6 s with the prepared IN list, 0.9 s
    unprepared, 0.55 s with an unprepared `= ANY(array)`; a prepared `= ANY(array)` plan
    made on the preview's empty table once made a 100k import take 80 s)."""
    with _driver_cursor() as cursor:
        cursor.execute(query, params, prepare=False)
        return cursor.fetchall()


def _next_contact_ids(count: int) -> list[int]:
    """`count` new contact ids from the table's sequence, in order (PostgreSQL): new contacts
    are then COPYed with their ids, and their tags need no lookup of the ids by phone."""
    rows = _unprepared(
        "SELECT nextval(pg_get_serial_sequence('contacts', 'id')) "
        "FROM generate_series(1, %s) ORDER BY 1",
        [count],
    )
    return [contact_id for (contact_id,) in rows]


# The columns a new contact is COPYed with on PostgreSQL (`_Applier._copy_batch`).
_COPIED_CONTACT_COLUMNS = [
    "id",
    "organization_id",
    "phone",
    "undeliverable",
    "created_at",
    "updated_at",
    *MERGED,
]
_COPIED_TAG_COLUMNS = ["contact_id", "name"]
_merged_values = itemgetter(*MERGED)


def _copy_batch(driver_connection, contacts: list, tags: list) -> None:
    """COPY one batch's new contacts, then its tags (the rows `_Applier` builds)."""
    if contacts:
        _copy_rows(driver_connection, Contact, _COPIED_CONTACT_COLUMNS, contacts)
    if tags:
        _copy_rows(driver_connection, ContactTag, _COPIED_TAG_COLUMNS, tags)


class _Copier:
    """Runs each batch's COPYs on a thread while the next batch is read and checked
    (PostgreSQL, same connection and transaction).

    Most of a COPY's time is the server's (inserting, indexing, checking the organization
    key), which the client only waits for: on another core it overlaps with the Python
    work on the next rows. The session's connection is used by one side at a time: every
    other statement of the import first waits for the pending COPY (`wait`), which also
    raises its error, if any, so the import fails as it would have without the thread."""

    def __init__(self, driver_connection):
        self.connection = driver_connection
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contact-import")
        self.pending: Future | None = None

    def submit(self, contacts: list, tags: list) -> None:
        self.wait()
        self.pending = self.pool.submit(_copy_batch, self.connection, contacts, tags)

    def wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()


@contextmanager
def _copier(enabled: bool) -> Iterator[_Copier | None]:
    """A `_Copier` on the session's connection (None when not `enabled`); on leaving, the
    last COPY is waited for (and, on an error, the thread still ends before the caller
    rolls back)."""
    if not enabled:
        yield None
        return
    copier = _Copier(_driver_connection())
    try:
        yield copier
        copier.wait()
    finally:
        copier.pool.shutdown(wait=True)


GC_FREEZE_BYTES = 1024 * 1024  # files from about 10,000 rows: see `_long_lived_objects_frozen`


@contextmanager
def _long_lived_objects_frozen(data: bytes):
    """Leave the objects that exist before an import out of the garbage collector's full
    passes while it runs (`gc.freeze`), then hand them back (`gc.unfreeze`).

    An import allocates a few million short-lived objects, so the collector runs full
    passes over everything alive: the app, SQLAlchemy's registry, the `phonenumbers`
    metadata. Measured on a 100k-row import: a third of its CPU time. Objects made during
    the import are still collected as usual. Small files (every test's) skip it: freezing
    only pays on large ones, and it defers collecting what earlier code left behind."""
    if len(data) < GC_FREEZE_BYTES:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _batches(rows: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(rows, size)):
        yield batch


@dataclass
class _BatchPlan:
    """What applying one batch does, built row by row before anything is written."""

    known: dict[str, tuple[int, dict]]  # phone -> (id, state): changed in place by merges
    known_tags: dict[int, set[str]] = field(default_factory=dict)  # contact id -> tag names
    new: dict[str, dict] = field(default_factory=dict)  # phone -> state, in file order
    new_tags: dict[str, set[str]] = field(default_factory=dict)
    added_tags: dict[int, set[str]] = field(default_factory=dict)  # for known contacts
    originals: dict[int, dict] = field(default_factory=dict)  # contact id -> state before


class _Applier:
    """Applies (or, with `dry_run`, only counts) the rows of a file, batch by batch.

    A dry run goes through the very same steps (checks, in-file duplicates, the SELECT of
    known phones, the create/update/skip decision) and stops before each write."""

    def __init__(
        self,
        imp: ContactImport,
        org: Organization,
        layout: CsvLayout,
        *,
        today: date,
        now: datetime,
        dry_run: bool = False,
        first_rows: int = 0,
    ):
        self.imp, self.org, self.layout, self.today, self.now = imp, org, layout, today, now
        self.dry_run, self.first_rows = dry_run, first_rows
        self.result = ApplyResult()
        self.report = io.StringIO()
        self.writer = SafeCsvWriter(self.report)
        self.writer.writerow([_("Line"), *layout.headers, _("Result"), _("Reason")])
        self.warned_report = io.StringIO()  # appended after the rejected rows
        self.warned_writer = SafeCsvWriter(self.warned_report)
        self.width = len(layout.headers)
        self.fields = [c.field for c in layout.columns if c.field]
        self.first_line: dict[str, int] = {}  # phone -> line of its first row in the file
        self.shown_lines: set[int] = set()  # lines of the file's first `first_rows` rows
        self.copier: _Copier | None = None  # PostgreSQL, when applying: see `run`
        # phone -> id of the contacts written, when a caller asks for it (the API's upsert
        # answers each row's id): known ids, and on PostgreSQL the new ones drawn for COPY.
        self.ids: dict[str, int] | None = None

    def _report_row(self, checked: CheckedRow, reasons: list[str]) -> ReportRow:
        raw = checked.source.raw
        cells = {name: (raw.get(name) or "")[:200] for name in self.fields}
        return ReportRow(checked.source.line, cells, reasons)

    def _write(self, writer, checked: CheckedRow, outcome: str, reasons: list[str]) -> None:
        if self.dry_run:
            return
        cells = [
            c if len(c) <= MAX_CELL_CHARS else c[:MAX_CELL_CHARS] + "…"
            for c in checked.source.cells
        ]
        cells += [""] * (self.width - len(cells))
        writer.writerow([checked.source.line, *cells, outcome, " ".join(reasons)])

    def _note_first(self, checked: CheckedRow, outcome: str, reasons: list[str]) -> None:
        if checked.source.line in self.shown_lines:
            self.result.first_rows[checked.source.line] = (checked, outcome, reasons)

    def reject(self, checked: CheckedRow, errors: list[str] | None = None) -> None:
        errors = errors or checked.errors
        reason = " ".join(errors)
        self._write(self.writer, checked, _("Rejected"), errors)
        self.result.rejected += 1
        if len(self.result.rejected_sample) < REPORT_SAMPLE:
            self.result.rejected_sample.append((checked.source.line, reason))
        if len(self.result.rejected_rows) < PREVIEW_SAMPLE:
            self.result.rejected_rows.append(self._report_row(checked, errors))
        self._note_first(checked, "rejected", errors)

    def warn(self, checked: CheckedRow) -> None:
        self._write(self.warned_writer, checked, _("Imported with warnings"), checked.warnings)
        self.result.warned += 1
        if len(self.result.warned_rows) < PREVIEW_SAMPLE:
            self.result.warned_rows.append(self._report_row(checked, checked.warnings))

    def report_text(self) -> str:
        """The report: rejected rows first, then the rows imported with warnings."""
        return self.report.getvalue() + self.warned_report.getvalue()

    def run(self, data: bytes, progress=None) -> ApplyResult:
        with (
            _long_lived_objects_frozen(data),
            _copier(not self.dry_run and is_postgres()) as self.copier,
        ):
            return self._run(data, progress)

    def _run(self, data: bytes, progress=None) -> ApplyResult:
        gender_m = _gender_m(gender_letters(data, self.layout))
        cleaner = ImportCleaner(org=self.org, today=self.today, gender_m=gender_m)
        checked = (
            check_row(row, self.imp, self.org, self.today, gender_m, cleaner)
            for row in iter_rows(data, self.layout)
        )
        seen = 0
        for batch in _batches(checked, BATCH_SIZE):
            if seen < self.first_rows:
                self.shown_lines.update(r.source.line for r in batch[: self.first_rows - seen])
            seen += len(batch)
            if progress is not None:
                progress(done=seen, rejected=self.result.rejected)
            good = []
            for row in batch:
                if row.errors:
                    self.reject(row)
                elif (first := self.first_line.get(row.values["phone"])) is not None:
                    self.reject(row, [_("Same phone as line %(line)d.", line=first)])
                else:
                    self.first_line[row.values["phone"]] = row.source.line
                    good.append(row)
            if good:
                self.apply_batch(good)
        return self.result

    def apply_batch(self, rows: list[CheckedRow]) -> None:
        """Create, update or skip the contacts of `rows` (all valid, each phone once in the
        file): one SELECT of the known phones (and of their tags), one bulk INSERT of new
        contacts, one bulk UPDATE of the changed ones and one bulk INSERT of tags."""
        update_rule = self.imp.duplicate_rule == "update"
        if self.copier is not None:
            self.copier.wait()  # the previous batch's COPYs: the connection is free again
        plan = _BatchPlan(known=self._known_states(rows))
        if self.ids is not None:
            self.ids.update((phone, contact_id) for phone, (contact_id, _s) in plan.known.items())
        if (
            not self.dry_run
            and plan.known
            and update_rule
            and any(row.values["tags"] for row in rows)
        ):
            plan.known_tags = self._tags_of([cid for cid, _state in plan.known.values()])
        for row in rows:
            outcome = self._plan_row(plan, row, update_rule=update_rule)
            if row.warnings and outcome != "skipped":
                self.warn(row)
            self._note_first(row, outcome, row.warnings)
        if self.dry_run:
            return
        if self.copier is not None:
            self._copy_batch(plan)
            return
        tag_rows = self._insert_new(plan)
        self._update_changed(plan)
        for contact_id, names in plan.added_tags.items():
            tag_rows += [{"contact_id": contact_id, "name": t} for t in sorted(names)]
        if tag_rows:
            _bulk_insert(ContactTag, tag_rows)

    def _known_states(self, rows: list[CheckedRow]) -> dict[str, tuple[int, dict]]:
        """phone -> (contact id, MERGED state) of the batch's phones already in the org."""
        phones = {row.values["phone"] for row in rows}
        if is_postgres():
            found = _unprepared(
                f"SELECT id, phone, {', '.join(MERGED)} FROM contacts "
                "WHERE organization_id = %s AND phone = ANY(%s)",
                [self.org.id, list(phones)],
            )
        else:
            found = db.session.execute(
                select(Contact.id, Contact.phone, *_STATE_COLUMNS).where(
                    Contact.organization_id == self.org.id, Contact.phone.in_(phones)
                )
            )
        states = {
            phone: (contact_id, dict(zip(MERGED, state, strict=True)))
            for contact_id, phone, *state in found
        }
        if is_postgres():  # as `UTCDateTime` returns them: aware, in UTC
            for _contact_id, state in states.values():
                for name in _DATETIMES:
                    if state[name] is not None:
                        state[name] = state[name].astimezone(UTC)
        return states

    @staticmethod
    def _tags_of(contact_ids: list[int]) -> dict[int, set[str]]:
        tags: dict[int, set[str]] = {}
        if is_postgres():
            found = _unprepared(
                "SELECT contact_id, name FROM contact_tags WHERE contact_id = ANY(%s)",
                [contact_ids],
            )
        else:
            found = db.session.execute(
                select(ContactTag.contact_id, ContactTag.name).where(
                    ContactTag.contact_id.in_(contact_ids)
                )
            )
        for contact_id, name in found:
            tags.setdefault(contact_id, set()).add(name)
        return tags

    def _plan_row(self, plan: _BatchPlan, row: CheckedRow, *, update_rule: bool) -> str:
        """Count the row as created, updated or skipped, record its effect in `plan` and
        return which ("created", "updated" or "skipped")."""
        values, phone = row.values, row.values["phone"]
        if phone not in plan.known:
            self.result.created += 1
            plan.new[phone] = _new_state(values, self.now)
            plan.new_tags[phone] = set(values["tags"])
            return "created"
        if not update_rule:
            self.result.skipped += 1
            return "skipped"
        self.result.updated += 1
        self._merge_known(plan, row)
        return "updated"

    def _merge_known(self, plan: _BatchPlan, row: CheckedRow) -> None:
        values = row.values
        contact_id, state = plan.known[values["phone"]]
        plan.originals.setdefault(contact_id, dict(state))
        _merge(state, values, row.provided, self.now)
        fresh = set(values["tags"]) - plan.known_tags.get(contact_id, set())
        if fresh:
            plan.added_tags.setdefault(contact_id, set()).update(fresh)
            plan.known_tags.setdefault(contact_id, set()).update(fresh)

    def _copy_batch(self, plan: _BatchPlan) -> None:
        """PostgreSQL: UPDATE the changed contacts, then hand the new contacts (with ids
        drawn from the sequence first: COPY returns nothing, and their tags then need no
        lookup of the ids by phone) and all the new tags to the copier."""
        contacts, tags = [], []
        if plan.new:
            org_id, now = self.org.id, self.now
            ids = _next_contact_ids(len(plan.new))
            if self.ids is not None:
                self.ids.update(zip(plan.new, ids, strict=True))
            for contact_id, (phone, state) in zip(ids, plan.new.items(), strict=True):
                contacts.append(
                    [contact_id, org_id, phone, False, now, now, *_merged_values(state)]
                )
                tags += [(contact_id, t) for t in sorted(plan.new_tags[phone])]
        self._update_changed(plan)
        for contact_id, names in plan.added_tags.items():
            tags += [(contact_id, t) for t in sorted(names)]
        if contacts or tags:
            self.copier.submit(contacts, tags)

    def _insert_new(self, plan: _BatchPlan) -> list[dict]:
        """INSERT the new contacts (SQLite); returns the tag rows they need."""
        if not plan.new:
            return []
        org_id, now = self.org.id, self.now
        params = [
            {
                **state,
                "organization_id": org_id,
                "phone": phone,
                "undeliverable": False,
                "created_at": now,
                "updated_at": now,
            }
            for phone, state in plan.new.items()
        ]
        # No RETURNING (measured slower on both backends, and ordered RETURNING is
        # row-at-a-time on SQLite): the ids of the rows with tags are read back by phone.
        _bulk_insert(Contact, params)
        tagged = [phone for phone in plan.new if plan.new_tags[phone]]
        if not tagged:
            return []
        ids = db.session.execute(
            select(Contact.id, Contact.phone).where(
                Contact.organization_id == org_id, Contact.phone.in_(tagged)
            )
        )
        return [
            {"contact_id": contact_id, "name": t}
            for contact_id, phone in ids
            for t in sorted(plan.new_tags[phone])
        ]

    def _update_changed(self, plan: _BatchPlan) -> None:
        # Only contacts whose values end up different are written (a re-import writes none).
        changed = [
            {"id": contact_id, **state, "updated_at": self.now}
            for contact_id, state in plan.known.values()
            if contact_id in plan.originals and state != plan.originals[contact_id]
        ]
        if changed:
            db.session.execute(update(Contact), changed)


def _error_text(error: Exception) -> str:
    # A driver error's own message, without the statement and its parameters.
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return f"{type(cause).__name__}: {cause}"[:2000]


def queue_import(
    imp: ContactImport, *, user_id: int | None, now: datetime, locale: str | None = None
):
    """Hand a previewed (or failed) import to the worker processes; returns its job.

    `locale` is the coordinator's language: the worker writes the rejected-row reasons in it.
    """
    claimed = db.session.execute(
        update(ContactImport)
        .where(ContactImport.id == imp.id, ContactImport.status.in_(QUEUEABLE))
        .values(status="queued")
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        raise ContactImportError(_l("This import was already applied or discarded."))
    job = enqueue(
        "contact_import",
        organization_id=imp.organization_id,
        payload={"import_id": imp.id, "locale": locale},
        now=now,
        user_id=user_id,
        total=imp.total_rows,
    )
    imp.job_id = job.id
    db.session.commit()
    return job


def apply_import(imp: ContactImport, *, now: datetime, progress=None) -> ApplyResult:
    """Apply a previewed (or failed) import: every good row, the counts and the report
    land together in one transaction.

    Raises:
        ContactImportError: the import was already applied or discarded, or it failed
            (then nothing was imported, the import is marked "failed" with the error).
    """
    imp_id = imp.id
    org = db.session.get(Organization, imp.organization_id)
    try:
        # Claim it inside the same transaction: a second confirmation (double click,
        # another worker) waits on this row and then finds it no longer applicable.
        claimed = db.session.execute(
            update(ContactImport)
            .where(ContactImport.id == imp_id, ContactImport.status.in_((*APPLICABLE, "queued")))
            .values(status="running")
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            raise ContactImportError(_l("This import was already applied or discarded."))
        db.session.refresh(imp)
        data = imp.upload
        layout = layout_of(data, imp.encoding, imp.delimiter)
        applier = _Applier(imp, org, layout, today=local_today(org, now), now=now)
        result = applier.run(data, progress)
        imp.status = "completed"
        imp.total_rows = result.total
        imp.created_count, imp.updated_count = result.created, result.updated
        imp.skipped_count, imp.rejected_count = result.skipped, result.rejected
        imp.rejected_report = applier.report_text()
        imp.upload = None  # from now on only counts and the rejected rows are kept
        imp.error = None
        imp.finished_at = now
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    except Exception as error:
        db.session.rollback()
        current_app.logger.exception("contact import %s failed", imp_id)
        db.session.execute(
            update(ContactImport)
            .where(
                ContactImport.id == imp_id,
                ContactImport.status.in_((*APPLICABLE, "queued", "running")),
            )
            .values(status="failed", error=_error_text(error), finished_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        raise ContactImportError(
            _l(
                "The import failed and nothing was imported. The error was recorded; try again "
                "or discard the upload."
            )
        ) from error
    return result


# -- preview, report, discard -----------------------------------------------------------


def encoding_warning(imp: ContactImport) -> str | None:
    """A warning, in the current language, when rows of a Windows-1252 file look like
    UTF-8 text ("JosÃ©"): the file is still imported as a whole, so the coordinator can
    fix those rows or save the file again as UTF-8. None when nothing looks garbled."""
    data = imp.upload
    if not data:
        return None
    lines = garbled_lines(data, layout_of(data, imp.encoding, imp.delimiter))
    if not lines:
        return None
    shown = ", ".join(str(line) for line in lines[:GARBLED_LINES_SHOWN])
    if len(lines) > GARBLED_LINES_SHOWN:
        shown += " …"
    return ngettext(
        "%(num)d line looks garbled (for example “JosÃ©” instead of “José”): this file "
        "mixes UTF-8 and Windows-1252 text. Check line %(lines)s before importing, or save "
        "the whole file again as “CSV UTF-8”.",
        "%(num)d lines look garbled (for example “JosÃ©” instead of “José”): this file "
        "mixes UTF-8 and Windows-1252 text. Check lines %(lines)s before importing, or save "
        "the whole file again as “CSV UTF-8”.",
        len(lines),
        lines=shown,
    )


@dataclass
class PreviewRow:
    line: int
    cells: dict[str, str]  # mapped field -> the cell as written
    reasons: list[str]  # why it is rejected, or its warnings
    outcome: str  # "created", "updated", "skipped" or "rejected"


@dataclass
class ImportPreview:
    layout: CsvLayout
    fields: list[str]  # mapped fields, in column order
    rows: list[PreviewRow]  # the file's first rows
    previous: ContactImport | None  # an earlier completed import of the same file
    encoding_warning: str | None = None  # see `encoding_warning`
    counts: ApplyResult = field(default_factory=ApplyResult)  # the dry run of the whole file

    @property
    def encoding_label(self) -> str:
        return str(ENCODING_LABELS.get(self.layout.encoding, self.layout.encoding))

    @property
    def delimiter_label(self) -> str:
        return str(DELIMITER_LABELS.get(self.layout.delimiter, self.layout.delimiter))

    def field_label(self, name: str) -> str:
        return str(FIELD_LABELS[name])


def dry_run(imp: ContactImport, *, now: datetime, first_rows: int = 0) -> ApplyResult:
    """What applying `imp` now would do, counted by the same code without writing:
    created, updated, skipped, rejected and warned rows, with samples of the rejected rows
    and of the rows with warnings."""
    org = db.session.get(Organization, imp.organization_id)
    data = imp.upload
    layout = layout_of(data, imp.encoding, imp.delimiter)
    applier = _Applier(
        imp, org, layout, today=local_today(org, now), now=now, dry_run=True, first_rows=first_rows
    )
    return applier.run(data)


def preview_import(
    imp: ContactImport, *, now: datetime, limit: int = PREVIEW_ROWS
) -> ImportPreview:
    """The mapping, the counts of a dry run over the whole file, and its first `limit`
    rows, checked exactly as applying would. Writes nothing."""
    data = imp.upload
    layout = layout_of(data, imp.encoding, imp.delimiter)
    layout.total_rows = imp.total_rows
    counts = dry_run(imp, now=now, first_rows=limit)
    fields = [c.field for c in layout.columns if c.field]
    rows = [
        PreviewRow(
            line,
            {name: (checked.source.raw.get(name) or "")[:200] for name in fields},
            reasons,
            outcome,
        )
        for line, (checked, outcome, reasons) in sorted(counts.first_rows.items())
    ]
    previous = db.session.scalar(
        select(ContactImport)
        .where(
            ContactImport.organization_id == imp.organization_id,
            ContactImport.id != imp.id,
            ContactImport.file_sha256 == imp.file_sha256,
            ContactImport.status == "completed",
        )
        .order_by(ContactImport.id.desc())
        .limit(1)
    )
    return ImportPreview(layout, fields, rows, previous, encoding_warning(imp), counts)


def rejected_report(imp: ContactImport) -> str | None:
    """The report as CSV text: the rejected rows, then the rows imported with warnings
    (line, original cells, result and reason; formulas neutralized), or None before the
    import was applied."""
    return imp.rejected_report if imp.status == "completed" else None


@dataclass
class ReportSummary:
    rejected: list[tuple[str, str]]  # (line, reason) of the first rejected rows
    warned: list[tuple[str, str]]  # (line, warnings) of the first rows with warnings
    warned_count: int


def report_summary(imp: ContactImport, limit: int = REPORT_SAMPLE) -> ReportSummary:
    """The first rejected rows and rows with warnings, and how many had warnings, for the
    result page (the report lists the `rejected_count` rejected rows first)."""
    text = rejected_report(imp)
    if not text:
        return ReportSummary([], [], 0)
    records = csv.reader(io.StringIO(text))
    next(records, None)
    rejected, warned, count = [], [], 0
    for index, cells in enumerate(records):
        if not cells:
            continue
        if index < imp.rejected_count:
            if len(rejected) < limit:
                rejected.append((cells[0], cells[-1]))
            continue
        count += 1
        if len(warned) < limit:
            warned.append((cells[0], cells[-1]))
    return ReportSummary(rejected, warned, count)


def rejected_sample(imp: ContactImport, limit: int = REPORT_SAMPLE) -> list[tuple[str, str]]:
    """(line, reason) of the first rejected rows, for the result page."""
    return report_summary(imp, limit).rejected


def discard_import(imp: ContactImport) -> None:
    """Delete an upload that was not applied (previewed or failed), file and all.

    Raises:
        ContactImportError: the import was already applied.
    """
    if imp.status not in APPLICABLE:
        raise ContactImportError(_l("Only an import that was not applied can be discarded."))
    db.session.delete(imp)
    db.session.commit()
