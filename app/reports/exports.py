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
from collections import Counter
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..campaigns.models import Campaign
from ..contacts.models import Contact
from ..contacts.validation import fold
from ..csvutil import SafeCsvWriter
from ..extensions import db
from ..participation.models import ParticipationEvent
from .forms import Period
from .queries import age_band_sql, in_period, utc_year
from .tables import EVENT_COLUMNS, KIND_TYPES, SPECS, Table

BOM = "\ufeff"
BATCH = 5000
PSEUDONYM_CHARS = 20  # 80 bits: no collision in any realistic organization
SUPPRESSED_PLACE = "suppressed"
E = ParticipationEvent


def _csv_text(rows) -> str:
    buffer = io.StringIO()
    SafeCsvWriter(buffer).writerows(rows)
    return buffer.getvalue()


def table_csv(table: Table) -> str:
    """One dashboard table as CSV text (tables are small: built in memory)."""
    rows = [[c.key for c in table.spec.columns]]
    rows += [table.csv_row(row) for row in table.rows]
    if table.total is not None:
        rows.append(table.csv_row(table.total))
    return BOM + _csv_text(rows)


# --- pseudonyms -------------------------------------------------------------------------


def pseudonym_key(secret_key: str) -> bytes:
    """A key for pseudonyms only, derived from the app secret (domain separation)."""
    return hmac.new(secret_key.encode("utf-8"), b"alcance/reports/pseudonym/v1",
                    hashlib.sha256).digest()


def pseudonym(key: bytes, org_id: int, contact_id: int) -> str:
    """Stable per organization, different across organizations, not reversible."""
    message = f"{org_id}:{contact_id}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


# --- the participation export -------------------------------------------------------------


def _scope(org_id: int, campaign_id: int | None, period: Period) -> list:
    conditions = [E.organization_id == org_id, Contact.organization_id == org_id,
                  *in_period(E.occurred_at, period)]
    if campaign_id is not None:
        conditions.append(E.campaign_id == campaign_id)
    return conditions


def _place_sizes(org_id: int, campaign_id: int | None, period: Period):
    """Distinct contacts in the export per state and per municipality (one GROUP BY)."""
    inner = (select(Contact.country, Contact.state_code, Contact.municipality,
                    E.contact_id)
             .join(Contact, Contact.id == E.contact_id)
             .where(*_scope(org_id, campaign_id, period))
             .distinct().subquery())
    states, municipalities = Counter(), Counter()
    for country, state, municipality, n in db.session.execute(
            select(inner.c.country, inner.c.state_code, inner.c.municipality, func.count())
            .group_by(inner.c.country, inner.c.state_code, inner.c.municipality)):
        states[(country, state)] += n
        municipalities[(country, state, fold(municipality or ""))] += n
    return states, municipalities


def event_rows(org_id: int, *, campaign_id: int | None, period: Period, secret_key: str,
               threshold: int | None) -> Iterator[list]:
    """Header, then one list per event. With `threshold` (evaluators), a state or
    municipality shared by fewer contacts of the export than the threshold is replaced
    by "suppressed" (municipality too when the state is)."""
    yield [c.key for c in EVENT_COLUMNS]
    if threshold:
        state_sizes, municipality_sizes = _place_sizes(org_id, campaign_id, period)
    key = pseudonym_key(secret_key)
    stmt = (
        select(E.contact_id, age_band_sql(utc_year(E.occurred_at)), Contact.gender,
               Contact.language, Contact.country, Contact.state_code, Contact.municipality,
               E.campaign_id, Campaign.name, E.kind, E.channel, E.workshop_id, E.message_id,
               E.detail, E.occurred_at)
        .join(Contact, Contact.id == E.contact_id)
        .outerjoin(Campaign, Campaign.id == E.campaign_id)
        .where(*_scope(org_id, campaign_id, period))
        .order_by(E.id)
        .execution_options(yield_per=BATCH)
    )
    result = db.session.execute(stmt)
    for partition in result.partitions():
        for (contact_id, age_band, gender, language, country, state, municipality,
             event_campaign, campaign_name, kind, channel, workshop_id, message_id, detail,
             occurred_at) in partition:
            if threshold:
                if state_sizes[(country, state)] < threshold:
                    state = municipality = SUPPRESSED_PLACE
                elif municipality_sizes[(country, state, fold(municipality or ""))] < threshold:
                    municipality = SUPPRESSED_PLACE if municipality else municipality
            yield [pseudonym(key, org_id, contact_id), age_band, gender or "unknown",
                   language or "unknown", country or "unknown", state or "unknown",
                   municipality or "", event_campaign, campaign_name, kind, channel,
                   workshop_id, message_id, detail,
                   occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ")]


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


def codebook_columns(export: str):
    """The columns of an export: "events" or a table key."""
    return EVENT_COLUMNS if export == "events" else SPECS[export].columns


def codebook_entries(export: str, threshold: int | None) -> list[tuple[str, str, str, str]]:
    """(column, meaning, type, allowed values) in the current locale."""
    suppressed = bool(threshold) and (export == "events" or SPECS[export].suppressed)
    entries = []
    for column in codebook_columns(export):
        kind = str(KIND_TYPES[column.kind])
        if suppressed and export != "events" and column.may_be_hidden():
            kind = _("%(type)s; \"<%(n)d\" when between 1 and %(max)d, \"*\" when hidden to "
                     "protect another cell", type=kind, n=threshold, max=threshold - 1)
        values = str(column.values) if column.values is not None else ""
        if suppressed and export == "events" and column.key in ("state_code", "municipality"):
            values = _("%(values)s Or \"suppressed\".", values=values).strip()
        entries.append((column.key, str(column.meaning), kind, values))
    return entries


def codebook_csv(export: str, threshold: int | None) -> str:
    rows = [[_("Column"), _("Meaning"), _("Type"), _("Allowed values")]]
    rows += [list(entry) for entry in codebook_entries(export, threshold)]
    return BOM + _csv_text(rows)
