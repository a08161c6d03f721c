"""CSV cells that a spreadsheet would evaluate are quoted; plain numbers are not."""

import pytest

from app.csvutil import neutralize, restore


@pytest.mark.parametrize(
    "value, expected",
    [
        (-0.0188, "-0.0188"),  # a negative difference is a number, not a formula
        ("-0.0188", "-0.0188"),
        (-3, "-3"),
        ("-12,5", "-12,5"),  # es_MX-style decimal comma
        ("+52664", "'+52664"),  # a phone number stays text
        ("-2+3", "'-2+3"),
        ("=SUM(A1)", "'=SUM(A1)"),
        ("@cmd", "'@cmd"),
        ("-", "'-"),
        ("Hola", "Hola"),
        (None, ""),
    ],
)
def test_formulas_are_quoted_and_numbers_are_not(value, expected):
    assert neutralize(value) == expected
    assert restore(neutralize(value)) == ("" if value is None else str(value))
