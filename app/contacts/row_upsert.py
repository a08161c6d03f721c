"""Contacts created or updated from rows that do not come from a file (the API's upsert).

The rows go through the CSV import's own steps: `import_services.check_row` (the same
validation, consent and guardian-consent rules, warnings for optional values left unknown)
and its batch applier (the same merge: update by phone, blank values never erase data,
tags added). Only what a file has and a request has not differs: rows are numbered from
1 in the request, and a phone repeated in one request is rejected after its first row.
"""

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from flask_babel import gettext as _
from sqlalchemy import select

from app.contacts.csv_import import FIELDS, Column, CsvLayout, SourceRow
from app.contacts.import_services import _Applier, _copier, _unprepared, check_row
from app.contacts.models import Contact
from app.contacts.services import local_today
from app.contacts.statistics import refresh_if_stale
from app.contacts.validation import ImportCleaner
from app.db_dialect import is_postgres
from app.extensions import db
from app.organizations.models import Organization

MAX_ROWS = 1_000
CHUNK = 500  # rows checked and applied at a time (see `upsert_rows`)


@dataclass
class RowOutcome:
    row: int  # 1-based position in the request
    outcome: str  # "created", "updated" or "rejected"
    contact_id: int | None = None
    errors: list[str] = field(default_factory=list)  # translated; why it was rejected
    warnings: list[str] = field(default_factory=list)  # translated; values left unknown


def _layout() -> CsvLayout:
    return CsvLayout("utf-8", ",", [Column(i, name, name) for i, name in enumerate(FIELDS)])


def _source(row: int, raw: dict) -> SourceRow:
    cells = {name: raw.get(name) for name in FIELDS}
    return SourceRow(row, [c or "" for c in cells.values()], cells, [])


def _ids_by_phone(org_id: int, phones: list[str]) -> dict[str, int]:
    if is_postgres():  # one array parameter: an IN list of 1,000 is slow to compile and plan
        return dict(
            _unprepared(
                "SELECT phone, id FROM contacts WHERE organization_id = %s AND phone = ANY(%s)",
                [org_id, phones],
            )
        )
    return dict(
        db.session.execute(
            select(Contact.phone, Contact.id).where(
                Contact.organization_id == org_id, Contact.phone.in_(phones)
            )
        ).all()
    )


def upsert_rows(org: Organization, rows: list[dict], *, now: datetime) -> list[RowOutcome]:
    """Create or update (by phone) the organization's contacts from `rows` (canonical CSV
    field names -> text or None), in one transaction; one outcome per row, in order."""
    today = local_today(org, now)
    rules = SimpleNamespace(duplicate_rule="update", consent_source=None, consent_basis=None)
    applier = _Applier(rules, org, _layout(), today=today, now=now, dry_run=False)
    cleaner = ImportCleaner(org=org, today=today)
    applier.shown_lines = set(range(1, len(rows) + 1))
    applier.ids = {}
    first: dict[str, int] = {}
    # In chunks, as the import goes in batches: on PostgreSQL one chunk's COPY (mostly the
    # server's foreign-key checks) runs on the copier's thread while the next is checked.
    with _copier(is_postgres()) as applier.copier:
        for start in range(0, len(rows), CHUNK):
            good = []
            for n, raw in enumerate(rows[start : start + CHUNK], start=start + 1):
                row = check_row(_source(n, raw), rules, org, today, None, cleaner)
                if row.errors:
                    applier.reject(row)
                elif (earlier := first.get(row.values["phone"])) is not None:
                    applier.reject(row, [_("Same phone as row %(row)d.", row=earlier)])
                else:
                    first[row.values["phone"]] = row.source.line
                    good.append(row)
            if good:
                applier.apply_batch(good)
    db.session.flush()
    ids = applier.ids
    if missing := [phone for phone in first if phone not in ids]:  # SQLite's new contacts
        ids.update(_ids_by_phone(org.id, missing))
    db.session.commit()
    refresh_if_stale()  # many bulk requests add up to a load the planner must know of
    outcomes = []
    for n in range(1, len(rows) + 1):
        row, outcome, reasons = applier.result.first_rows[n]
        if outcome == "rejected":
            outcomes.append(RowOutcome(n, "rejected", errors=[str(r) for r in reasons]))
        else:
            outcomes.append(
                RowOutcome(
                    n,
                    outcome,
                    contact_id=ids.get(row.values["phone"]),
                    warnings=[str(w) for w in row.warnings],
                )
            )
    return outcomes
