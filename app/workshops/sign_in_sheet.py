"""Sign-in sheets: attendance recorded from a CSV of phones (and names) after the event,
with a downloadable report of the rows that could not be used."""

import io
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.contacts.csv_import import MAX_CELL_CHARS, CsvImportError, inspect_csv, iter_rows
from app.contacts.import_services import max_file_bytes
from app.contacts.models import Contact
from app.contacts.phones import InvalidPhone, normalize_phone
from app.csvutil import SafeCsvWriter
from app.extensions import db
from app.workshops.attendance import (
    CONCURRENT_REGISTRATION,
    REGISTERED,
    AttendanceError,
    add_walk_ins,
    commit_or_conflict,
    ensure_not_canceled,
    mark_attended_many,
)
from app.workshops.models import Workshop, WorkshopRegistration

MAX_SHEET_ROWS = 5_000  # a sign-in sheet, not a contact list


REPORT_MAX_AGE = 24 * 3600  # seconds a rejected-rows download link stays valid


@dataclass
class RejectedRow:
    line: int
    cells: list[str]  # as written in the file, padded to the header's width
    reason: str


@dataclass
class SheetResult:
    filename: str
    headers: list[str]
    total_rows: int = 0
    checked_in: int = 0  # registered people checked in by this upload
    walk_ins: int = 0  # walk-ins recorded by this upload
    already: int = 0  # checked in before (at the door or by an earlier upload)
    duplicates: int = 0  # the same phone again in this file: counted once
    rejected: list[RejectedRow] = field(default_factory=list)

    def report_csv(self) -> str:
        """The rejected rows as CSV (line, original cells, reason), formulas neutralized."""
        out = io.StringIO()
        writer = SafeCsvWriter(out)
        writer.writerow([_("Line"), *self.headers, _("Reason")])
        for row in self.rejected:
            writer.writerow([row.line, *row.cells, row.reason])
        return out.getvalue()


def _reject(result: "SheetResult", row, reason: str) -> None:
    width = len(result.headers)
    cells = [c if len(c) <= MAX_CELL_CHARS else c[:MAX_CELL_CHARS] + "…" for c in row.cells]
    result.rejected.append(RejectedRow(row.line, cells + [""] * (width - len(cells)), reason))


def _readable_phones(data: bytes, layout, workshop: Workshop, result: "SheetResult") -> list:
    """(row, normalized phone) of every row with a valid phone; the others are rejected."""
    readable = []
    for row in iter_rows(data, layout):
        result.total_rows += 1
        text = (row.raw.get("phone") or "").strip()
        if row.problems:
            _reject(result, row, " ".join(row.problems))
        elif not text:
            _reject(result, row, str(_l("The mobile phone number is missing.")))
        else:
            try:
                readable.append((row, normalize_phone(text, default_region=workshop.country)))
            except InvalidPhone as error:
                _reject(result, row, str(error.message))
    return readable


def _known(workshop: Workshop, phones: set) -> tuple[dict, dict]:
    """{phone: contact id} of the organization's contacts, {contact id: registration}."""
    if not phones:
        return {}, {}
    contact_ids = dict(
        db.session.execute(
            select(Contact.phone, Contact.id).where(
                Contact.organization_id == workshop.organization_id, Contact.phone.in_(phones)
            )
        ).all()
    )
    if not contact_ids:
        return contact_ids, {}
    registrations = {
        r.contact_id: r
        for r in db.session.scalars(
            select(WorkshopRegistration).where(
                WorkshopRegistration.workshop_id == workshop.id,
                WorkshopRegistration.contact_id.in_(contact_ids.values()),
            )
        )
    }
    return contact_ids, registrations


def _sort_arrivals(readable, contact_ids, registrations, result: "SheetResult"):
    """Registrations to check in and contacts to add as walk-ins (each phone once)."""
    seen, arriving, walk_ins = set(), [], []
    for row, phone in readable:
        if phone in seen:
            result.duplicates += 1
            continue
        seen.add(phone)
        contact_id = contact_ids.get(phone)
        if contact_id is None:
            _reject(
                result,
                row,
                str(_l("Not a contact of your organization: register them as a walk-in.")),
            )
            continue
        registration = registrations.get(contact_id)
        if registration is None:
            walk_ins.append(contact_id)
            result.walk_ins += 1
        elif registration.attended_at is not None:
            result.already += 1
        else:
            arriving.append(registration)
    return arriving, walk_ins


def import_sign_in_sheet(
    workshop: Workshop, *, data: bytes, filename: str | None, user_id: int | None, now: datetime
) -> SheetResult:
    """Record attendance from a sign-in sheet: a CSV with a phone column (and optionally
    a name), read like a contact import (encoding, delimiter, Spanish/English headers).

    Each phone is normalized and matched to the organization's contacts: registered
    people are checked in, other known contacts become walk-ins, unknown and invalid
    phones are rejected with a translated reason. A phone repeated in the file counts
    once, and uploading the same sheet again changes nothing.

    Raises:
        CsvImportError: the file is too large, empty, binary, malformed, has no phone
            column or too many rows (nothing changed).
        AttendanceError: the workshop was canceled.
    """
    ensure_not_canceled(workshop)
    if len(data) > max_file_bytes():
        raise CsvImportError(
            _l(
                "The file is larger than %(mb)d MB. Split it into several files.",
                mb=max_file_bytes() // (1024 * 1024),
            )
        )
    layout = inspect_csv(data, max_rows=MAX_SHEET_ROWS)
    result = SheetResult(filename=(filename or "")[:255], headers=layout.headers)
    readable = _readable_phones(data, layout, workshop, result)
    contact_ids, registrations = _known(workshop, {phone for _row, phone in readable})
    arriving, walk_ins = _sort_arrivals(readable, contact_ids, registrations, result)
    # Set-based: a few statements for the whole sheet, not a few per row.
    try:
        claimed = mark_attended_many(workshop, arriving, user_id=user_id, now=now)
        add_walk_ins(workshop, walk_ins, user_id=user_id, now=now)
    except IntegrityError:  # someone registered one of them at the door meanwhile
        db.session.rollback()
        raise AttendanceError(CONCURRENT_REGISTRATION) from None
    for registration in arriving:
        if registration.id not in claimed:
            result.already += 1  # checked in at the door meanwhile
        elif registration.walk_in or registration.status not in REGISTERED:
            result.walk_ins += 1
        else:
            result.checked_in += 1
    commit_or_conflict()
    result.rejected.sort(key=lambda row: row.line)  # phones were checked in two passes
    return result


def _report_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="attendance-rejected-rows")


def report_token(workshop: Workshop, result: SheetResult) -> str:
    """A signed, compressed copy of the rejected-rows report for its download button.

    Sign-in sheets are small and the report is wanted right after the upload, so it is
    carried by the result page instead of being stored with personal data in it.
    """
    return _report_serializer().dumps(
        {"o": workshop.organization_id, "w": workshop.id, "csv": result.report_csv()}
    )


def report_from_token(workshop: Workshop, token: str) -> str | None:
    """The report signed by `report_token` for this workshop, or None (forged, expired,
    or another workshop's)."""
    try:
        payload = _report_serializer().loads(token or "", max_age=REPORT_MAX_AGE)
    except BadSignature:
        return None
    if payload.get("o") != workshop.organization_id or payload.get("w") != workshop.id:
        return None
    return payload.get("csv")
