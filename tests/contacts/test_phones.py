"""Phone normalisation to E.164, including obsolete Mexican forms."""

import phonenumbers
import pytest
from flask_babel import force_locale

from app.contacts.phones import InvalidPhone, normalize_phone
from app.errors import DomainError


@pytest.mark.parametrize(
    "raw, expected",
    [
        # Current Mexican forms
        ("6641234567", "+526641234567"),
        ("664 123 4567", "+526641234567"),
        ("664-123-4567", "+526641234567"),
        ("(664) 123.45.67", "+526641234567"),
        ("55 1234 5678", "+525512345678"),
        ("+52 664 123 4567", "+526641234567"),
        ("+52 (55) 1234-5678", "+525512345678"),
        ("52 664 123 4567", "+526641234567"),
        ("0052 664 123 4567", "+526641234567"),
        ("\u00a0664\u00a0123\u00a04567 ", "+526641234567"),
        # Obsolete Mexican forms
        ("044 664 123 4567", "+526641234567"),
        ("045 55 1234 5678", "+525512345678"),
        ("0446641234567", "+526641234567"),
        ("+52 1 664 123 4567", "+526641234567"),
        ("+5216641234567", "+526641234567"),
        ("521 664 123 4567", "+526641234567"),
        ("52 1 55 1234 5678", "+525512345678"),
        ("5215512345678", "+525512345678"),
        ("01 664 123 4567", "+526641234567"),
        ("01 800 911 2000", "+528009112000"),
        # US numbers written with their country code
        ("+1 619 555 0123", "+16195550123"),
        ("1-619-555-0123", "+16195550123"),
        ("001 619 555 0123", "+16195550123"),
    ],
)
def test_normalize_with_mexican_default(raw, expected):
    assert normalize_phone(raw) == expected
    assert normalize_phone(raw, default_region="MX") == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("(619) 555-0123", "+16195550123"),
        ("619.555.0123", "+16195550123"),
        ("6195550123", "+16195550123"),
        ("+1 619 555 0123", "+16195550123"),
        ("1-619-555-0123", "+16195550123"),
        ("1 (915) 555-0142", "+19155550142"),
        ("+1 800 662 4357", "+18006624357"),
        ("+1 787 555 0123", "+17875550123"),  # Puerto Rico
        ("+52 664 123 4567", "+526641234567"),
        ("+52 1 664 123 4567", "+526641234567"),
        ("5216641234567", "+526641234567"),
        ("011 52 664 123 4567", "+526641234567"),
    ],
)
def test_normalize_with_us_default(raw, expected):
    assert normalize_phone(raw, default_region="US") == expected


def test_ten_digits_follow_the_default_region():
    assert normalize_phone("6865550123", "MX") == "+526865550123"
    assert normalize_phone("2125550123", "US") == "+12125550123"
    with pytest.raises(InvalidPhone):  # 664 is Montserrat under +1
        normalize_phone("6641234567", "US")


def test_result_is_valid_e164():
    number = phonenumbers.parse(normalize_phone("044 664 123 4567"))
    assert phonenumbers.is_valid_number(number)


@pytest.mark.parametrize(
    "raw, region",
    [
        ("", "MX"),
        ("   ", "MX"),
        (None, "MX"),
        ("+", "MX"),
        ("abc", "MX"),
        ("664 123 ABCD", "MX"),
        ("1-800-662-HELP", "US"),  # letters are refused, not decoded
        ("664-123-4567 ext. 5", "MX"),
        ("12345", "MX"),
        ("664 123 456", "MX"),  # 9 digits
        ("664 123 45678", "MX"),  # 11 digits
        ("+52 664 123 4567 89", "MX"),
        ("+52 100 000 0123", "MX"),  # no such Mexican range
        ("664+1234567", "MX"),
        ("++526641234567", "MX"),
        ("555 0123", "US"),  # local 7-digit number
        ("+1 555 555 0123", "US"),  # 555 is not an area code
        ("044 664 123 4567", "US"),  # national prefixes are Mexican only
        ("0000000000", "MX"),
    ],
)
def test_invalid_numbers(raw, region):
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw, region)
    assert isinstance(info.value, DomainError)
    assert info.value.field == "phone"


@pytest.mark.parametrize(
    "raw, region",
    [
        ("+44 20 7946 0958", "MX"),
        ("+34 612 345 678", "MX"),
        ("+57 301 234 5678", "US"),
        ("+1 613 555 0123", "US"),  # Canada shares +1 but is not served
        ("+1 809 555 0123", "US"),  # Dominican Republic
    ],
)
def test_only_mexico_and_us_are_supported(app, raw, region):
    # DomainError renders its message when raised: outside a request, pick the locale
    # as the CLI does.
    with force_locale("en"), pytest.raises(InvalidPhone) as info:
        normalize_phone(raw, region)
    with force_locale("en"):
        assert str(info.value.message) == "Only Mexican (+52) and US (+1) numbers are supported."


def test_invalid_message(app):
    with force_locale("en"), pytest.raises(InvalidPhone) as info:
        normalize_phone("12345")
    with force_locale("en"):
        assert str(info.value.message) == "Invalid mobile phone number."
        assert str(info.value) == "Invalid mobile phone number."


@pytest.mark.parametrize(
    "raw",
    [
        "+1 619 555 0100",
        "+1 619 555 0199",
        "+1 212 555 0150",
        "+1 915 555 0123",
        "+1 602 555 0123",
        "+1 713 555 0123",
    ],
)
def test_fictional_us_range_validates_with_real_area_codes(raw):
    # phonenumbers checks patterns, not assignments: 555-01XX passes with a real area code.
    assert normalize_phone(raw, "US") == "+" + "".join(ch for ch in raw if ch.isdigit())
