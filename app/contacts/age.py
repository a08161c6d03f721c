"""Age and age bands: one rule, in Python (`age_band_for`) and in SQL (`age_band_sql`).

A contact's age is known only as a birth year (or, failing that, a stored age band), so
"age" is the age reached during a year: that year minus the birth year. The report bands
are `models.AGE_BANDS` ("12-14", ..., "25-29"); an age outside every band has no band.
"""

from sqlalchemy import case

from app.contacts.models import AGE_BANDS, Contact


def band_bounds(band: str) -> tuple[int, int]:
    """The youngest and oldest age of `band` ("15-17" -> (15, 17))."""
    low, high = band.split("-")
    return int(low), int(high)


def age_in(birth_year: int, year: int) -> int:
    """The age reached during `year` (the most we can know from a birth year)."""
    return year - birth_year


def age_band_for(birth_year: int | None, year: int) -> str | None:
    """The report band (12-14, 15-17, 18-24, 25-29) of the age reached in `year`; None
    without a birth year or for an age outside every band."""
    if birth_year is None:
        return None
    age = age_in(birth_year, year)
    for band in AGE_BANDS:
        low, high = band_bounds(band)
        if low <= age <= high:
            return band
    return None


def age_band_sql(reference_year, *, outside=None, unknown=None):
    """SQL twin of `age_band_for`, as of `reference_year` (an int or an SQL integer
    expression), that also reads the stored band of contacts without a birth year.

    With a birth year: the band of the age reached, else `outside`. Without one: the
    stored band (kept when a contact is erased) when it is a known band, else `unknown`.
    """
    age = reference_year - Contact.birth_year
    return case(
        (
            Contact.birth_year.is_(None),
            case((Contact.age_band.in_(AGE_BANDS), Contact.age_band), else_=unknown),
        ),
        *((age.between(*band_bounds(band)), band) for band in AGE_BANDS),
        else_=outside,
    )
