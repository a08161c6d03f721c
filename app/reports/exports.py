"""CSV exports: dashboard tables, the de-identified participation export, codebooks.

Every cell goes through `csvutil.SafeCsvWriter` (formula-injection neutralised). Files
start with a UTF-8 BOM so that Excel reads accents; R (readr), Stata 14+ and pandas
read them as UTF-8. Column names are stable codes in every language; the codebook
explains them in the reader's language.

The participation export streams: rows are fetched in batches (a server-side cursor on
PostgreSQL) and written out batch by batch, never as a whole file in memory.
"""

import hashlib
import hmac
import io
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import select

from app.campaigns.models import Campaign
from app.contacts.models import Contact
from app.csvutil import SafeCsvWriter
from app.extensions import db
from app.participation.models import ParticipationEvent
from app.reports.anonymity import (
    STAT_KEYS,
    demographic_columns,
    demographic_key,
    export_scope,
    first_events,
    plan_export,
)
from app.reports.event_columns import event_columns
from app.reports.metrics import UNKNOWN
from app.reports.period import Period
from app.reports.specs import KIND_TYPES, SPECS
from app.reports.sql import report_age_band, utc_year
from app.reports.tables import Table

BOM = "\ufeff"
BATCH = 5000
PSEUDONYM_CHARS = 20  # 80 bits: no collision in any realistic organization
E = ParticipationEvent


def csv_text(rows) -> str:
    buffer = io.StringIO()
    SafeCsvWriter(buffer).writerows(rows)
    return buffer.getvalue()


def table_csv(table: Table) -> str:
    """One dashboard table as CSV text (tables are small: built in memory)."""
    rows = [[c.key for c in table.spec.columns]]
    rows += [table.csv_row(row) for row in table.rows]
    if table.total is not None:
        rows.append(table.csv_row(table.total))
    return BOM + csv_text(rows)


# --- pseudonyms -------------------------------------------------------------------------


def pseudonym_key(secret_key: str) -> bytes:
    """A key for pseudonyms only, derived from the app secret (domain separation)."""
    return hmac.new(
        secret_key.encode("utf-8"), b"alcance/reports/pseudonym/v1", hashlib.sha256
    ).digest()


def pseudonym(key: bytes, org_id: int, contact_id: int) -> str:
    """Stable per organization, different across organizations, not reversible."""
    message = f"{org_id}:{contact_id}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


# --- the participation export -------------------------------------------------------------

# Only these kinds carry a Twilio error code in `detail` (RSVP events carry a reason).
ERROR_CODE_KINDS = ("sms_failed", "sms_undelivered", "opt_out")


def event_rows(
    org_id: int,
    *,
    campaign_id: int | None,
    period: Period,
    secret_key: str,
    threshold: int | None,
    after_id: int = 0,
    limit: int | None = None,
) -> Iterator[list]:
    """Header, then one list per event. With `threshold` (evaluators) the file is
    k-anonymous: weeks instead of times, quasi-identifiers generalized (anonymity.py),
    over the whole export even when only a page is read (`after_id`, `limit`: the events
    after that event ID, in ID order, at most `limit` of them; see `event_page_ids`)."""
    yield [c.key for c in event_columns(threshold)]
    plan = plan_export(org_id, campaign_id, period, threshold) if threshold else None
    key = pseudonym_key(secret_key)
    firsts = first_events(org_id, campaign_id, period)
    stmt = (
        select(
            E.contact_id,
            report_age_band(utc_year(E.occurred_at)),
            *demographic_columns(firsts),
            E.campaign_id,
            Campaign.name,
            E.kind,
            E.channel,
            E.workshop_id,
            E.message_id,
            E.detail,
            E.occurred_at,
        )
        .join(Contact, Contact.id == E.contact_id)
        .join(firsts, firsts.c.contact_id == E.contact_id)
        .outerjoin(Campaign, Campaign.id == E.campaign_id)
        .where(*export_scope(org_id, campaign_id, period), E.id > after_id)
        .order_by(E.id)
        .limit(limit)
        .execution_options(yield_per=BATCH)
    )
    result = db.session.execute(stmt)
    for partition in result.partitions():
        for (
            contact_id,
            event_band,
            first_band,
            gender,
            language,
            country,
            state,
            municipality,
            event_campaign,
            campaign_name,
            kind,
            channel,
            workshop_id,
            message_id,
            detail,
            occurred_at,
        ) in partition:
            error_code = detail if kind in ERROR_CODE_KINDS else None
            if plan is None:
                yield [
                    pseudonym(key, org_id, contact_id),
                    event_band,
                    gender or UNKNOWN,
                    language or UNKNOWN,
                    country or UNKNOWN,
                    state or UNKNOWN,
                    municipality or "",
                    event_campaign,
                    campaign_name,
                    kind,
                    channel,
                    workshop_id,
                    message_id,
                    error_code,
                    occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                ]
                continue
            shown = plan.row(
                demographic_key(first_band, gender, language, country, state, municipality),
                workshop_id,
                kind,
                _epoch_week(occurred_at),
            )
            if shown is None:
                continue  # the whole file has fewer contacts than the threshold
            demographics, workshop, week = shown
            yield [
                pseudonym(key, org_id, contact_id),
                *demographics,
                event_campaign,
                campaign_name,
                kind,
                channel,
                workshop,
                message_id,
                error_code,
                week,
            ]


def event_page_ids(
    org_id: int, *, campaign_id: int | None, period: Period, after_id: int, limit: int
) -> list[int]:
    """The IDs of the events `event_rows(..., after_id=, limit=)` reads, and one more when
    there are more (a cursor for the next page is the last ID of this one)."""
    return list(
        db.session.scalars(
            select(E.id)
            .join(Contact, Contact.id == E.contact_id)
            .where(*export_scope(org_id, campaign_id, period), E.id > after_id)
            .order_by(E.id)
            .limit(limit + 1)
        )
    )


def _epoch_week(moment) -> int:
    """`sql.epoch_week` of an aware timestamp, in Python."""
    return (int(moment.timestamp()) // 86400 + 3) // 7


def stream_csv(rows: Iterator[list], *, batch: int = 1000) -> Iterator[str]:
    """CSV text in chunks of `batch` rows, BOM first."""
    yield BOM
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending == batch:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()


# --- codebooks ---------------------------------------------------------------------------


def codebook_columns(export: str, threshold: int | None = None):
    """The columns of an export: "events" (as the viewer gets it) or a table key."""
    return event_columns(threshold) if export == "events" else SPECS[export].columns


def _generalized_note(column: str, stats: dict) -> str:
    """How many rows of one evaluator's export had this column generalized."""
    total = stats.get("rows", 0)
    if column == "contact":
        return (
            _(
                "In this file, rows left out: %(n)d of %(total)d.",
                n=stats.get("dropped", 0),
                total=total,
            )
            if stats.get("dropped")
            else ""
        )
    if column == "age_band":
        return _(
            "In this file, rows with the age band widened: %(widened)d; suppressed: "
            "%(n)d; all rows: %(total)d.",
            widened=stats.get("age_band_widened", 0),
            n=stats.get("age_band", 0),
            total=total,
        )
    if column in STAT_KEYS:
        return _(
            "In this file, rows with this column suppressed: %(n)d of %(total)d.",
            n=stats.get(column, 0),
            total=total,
        )
    return ""


def codebook_entries(
    export: str, threshold: int | None, stats: dict | None = None
) -> list[tuple[str, str, str, str]]:
    """(column, meaning, type, allowed values) in the current locale. `stats`: what the
    evaluator's copy of one export generalized (anonymity.Plan.stats)."""
    suppressed = bool(threshold) and (export == "events" or SPECS[export].suppressed)
    entries = []
    for column in codebook_columns(export, threshold):
        kind = str(KIND_TYPES[column.kind])
        if suppressed and export != "events" and column.may_be_hidden():
            kind = _(
                '%(type)s; "*" when suppressed: a count from 1 to %(max)d, or a '
                "figure hidden so that such a count cannot be worked out",
                type=kind,
                max=threshold - 1,
            )
        values = str(column.values) if column.values is not None else ""
        meaning = str(column.meaning)
        if suppressed and export == "events" and stats:
            meaning = " ".join(filter(None, [meaning, _generalized_note(column.key, stats)]))
        entries.append((column.key, meaning, kind, values))
    return entries


def codebook_csv(export: str, threshold: int | None, stats: dict | None = None) -> str:
    rows = [[_("Column"), _("Meaning"), _("Type"), _("Allowed values")]]
    rows += [list(entry) for entry in codebook_entries(export, threshold, stats)]
    return BOM + csv_text(rows)
