"""SQL building blocks shared by the report queries and the event export.

Every expression here runs the same on SQLite and PostgreSQL; where the two differ
(timestamp arithmetic, memory for hash aggregates), `app.db_dialect` says which one runs.
"""

from collections.abc import Mapping
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    cast,
    extract,
    func,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.sql.type_api import TypeEngine

from app.contacts.age import age_band_sql
from app.db_dialect import is_postgres
from app.extensions import db
from app.reports.metrics import OTHER_AGE, UNKNOWN
from app.reports.period import Period


def in_period(column, period: Period) -> list:
    """Conditions keeping the timestamps of `column` inside the period's local days."""
    low, high = period.bounds_utc()
    conditions = []
    if low is not None:
        conditions.append(column >= low)
    if high is not None:
        conditions.append(column < high)
    return conditions


def report_age_band(reference_year):
    """The report age band as of `reference_year` (an int or a SQL integer expression):
    a band of `AGE_BANDS`, "other" for a known age outside 12 to 29, "unknown" without
    a birth year or a stored band (see `app.contacts.age`)."""
    return age_band_sql(reference_year, outside=OTHER_AGE, unknown=UNKNOWN)


def or_unknown(value) -> str:
    """A contact attribute as a report code: "unknown" when not recorded."""
    return value if value not in (None, "") else UNKNOWN


def count_if(condition):
    return func.count().filter(condition)


def epoch_hour(column):
    """Whole hours since 1970-01-01 UTC of a timestamp (cheaper to group than text)."""
    if is_postgres():
        return cast(func.floor(func.date_part("epoch", column) / 3600), BigInteger)
    return cast(func.strftime("%s", column), Integer) // 3600


def epoch_week(column):
    """Whole weeks (Monday to Sunday, UTC) since the week of 1970-01-01, of a timestamp:
    1970-01-01 was a Thursday, so day 0 is the fourth day of week 0."""
    return (epoch_hour(column) // 24 + 3) // 7


def week_monday(week: int) -> date:
    """The Monday that starts an `epoch_week`."""
    return date(1970, 1, 1) + timedelta(days=week * 7 - 3)


def utc_year(column):
    """The calendar year of a timestamp in UTC (not in the session time zone)."""
    if is_postgres():
        return cast(func.date_part("year", func.timezone("UTC", column)), Integer)
    return extract("year", column)


def utc_year_of_hour(hour):
    """The calendar year (UTC) of an `epoch_hour` value (a SQL integer expression)."""
    if is_postgres():
        return cast(
            func.date_part("year", func.timezone("UTC", func.to_timestamp(hour * 3600))), Integer
        )
    return cast(func.strftime("%Y", hour * 3600, "unixepoch"), Integer)


def allow_large_hash_aggregates() -> None:
    """PostgreSQL: give this transaction's hash aggregates room (a large campaign's fit in
    memory). SQLite has no such setting."""
    if is_postgres():
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))


@contextmanager
def without_nested_loops():
    """PostgreSQL: plan the statements inside with hash or merge joins only. A query that
    joins every contact of a campaign or experiment to their events is then linear at
    any size, while a nested loop chosen on missing statistics (new rows, before
    autovacuum's ANALYZE) rescans an index per contact. SQLite has no such setting."""
    if not is_postgres():
        yield
        return
    previous = db.session.execute(text("SELECT current_setting('enable_nestloop')")).scalar()
    db.session.execute(text("SET LOCAL enable_nestloop = off"))
    try:
        yield
    finally:
        restore = "on" if previous == "on" else "off"
        db.session.execute(text(f"SET LOCAL enable_nestloop = {restore}"))


def union_branch(layout: Mapping[str, type[TypeEngine]], section: str, **columns):
    """One SELECT of a UNION ALL that reads several small results in one statement.

    Every branch has the same columns: `section` (which result a row belongs to), then
    each column of `layout` in order, taken from `columns` or, when this branch has no
    such value, a NULL of the layout's type. Rows are read by column name.
    """
    unknown = set(columns) - set(layout)
    if unknown:
        raise ValueError(f"columns outside the layout: {sorted(unknown)}")
    return select(
        literal(section, String).label("section"),
        *(
            columns[name].label(name) if name in columns else null().cast(kind).label(name)
            for name, kind in layout.items()
        ),
    )


def epoch_seconds(column):
    """Whole seconds since 1970-01-01 UTC of a timestamp."""
    if is_postgres():
        return cast(func.floor(func.date_part("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), Integer)
