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
from app.contacts.import_services import _Applier, check_row
from app.contacts.models import Contact
from app.contacts.services import local_today
from app.contacts.validation import ImportCleaner
from app.extensions import db
from app.organizations.models import Organization

MAX_ROWS = 1_000


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


def upsert_rows(org: Organization, rows: list[dict], *, now: datetime) -> list[RowOutcome]:
    """Create or update (by phone) the organization's contacts from `rows` (canonical CSV
    field names -> text or None), in one transaction; one outcome per row, in order."""
    today = local_today(org, now)
    rules = SimpleNamespace(duplicate_rule="update", consent_source=None, consent_basis=None)
    applier = _Applier(rules, org, _layout(), today=today, now=now, dry_run=False)
    cleaner = ImportCleaner(org=org, today=today)
    checked = [
        check_row(_source(n, raw), rules, org, today, None, cleaner)
        for n, raw in enumerate(rows, start=1)
    ]
    applier.shown_lines = set(range(1, len(rows) + 1))
    first: dict[str, int] = {}
    good = []
    for row in checked:
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
    ids = (
        dict(
            db.session.execute(
                select(Contact.phone, Contact.id).where(
                    Contact.organization_id == org.id, Contact.phone.in_(list(first))
                )
            ).all()
        )
        if first
        else {}
    )
    db.session.commit()
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
