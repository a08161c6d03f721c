"""Phone number normalisation to E.164 for Mexican and US contacts.

Lists we import still carry pre-2019 Mexican forms ("044"/"045" mobile prefixes, the
"+52 1" mobile digit, the "01" long-distance prefix). Current `phonenumbers` metadata
rejects them as written, so they are rewritten to "+52" + 10 digits first.

Validity is judged by `phonenumbers.is_valid_number` only, never by line type: Mexico's
numbering plan no longer tells mobiles from landlines. Validation is pattern-based, so
the fictional US range 555-0100..555-0199 passes with any real area code
(+1 619 555 0123 is valid); only the 555 area code itself (+1 555 ...) is rejected.
"""

import re
from functools import cache

import phonenumbers
from flask_babel import lazy_gettext as _l

from app.errors import DomainError

# +1 is shared by the whole North American plan; the product serves the US (with
# Puerto Rico, listed among US_STATES), so Canada and the Caribbean are refused.
SUPPORTED_REGIONS = frozenset({"MX", "US", "PR"})

_SEPARATORS = re.compile(r"[\s\-.()/\u2010-\u2015]")
_SHAPE = re.compile(r"\+?\d{7,18}")  # generous: prefixes are stripped before the E.164 check
# Compiled once: an import checks 100,000 numbers.
_MX_MOBILE_1 = re.compile(r"521\d{10}")
_MX_WITHOUT_PLUS = re.compile(r"52\d{10}")
_NANP_WITH_1 = re.compile(r"1\d{10}")
_MX_NATIONAL_PREFIX = re.compile(r"04[45]\d{10}|01\d{10}")


class InvalidPhone(DomainError):
    def __init__(self, message=None):
        super().__init__(message or _l("Invalid mobile phone number."), field="phone")


def _rewrite_legacy(number: str, default_region: str) -> str:
    """Turn obsolete Mexican and bare country-code forms into explicit "+CC..." text."""
    if number.startswith("+"):
        digits, explicit = number[1:], True
    elif default_region == "MX" and number.startswith("00"):  # Mexico's international prefix
        digits, explicit = number[2:], True
    elif default_region == "US" and number.startswith("011"):  # US international prefix
        digits, explicit = number[3:], True
    else:
        digits, explicit = number, False

    if _MX_MOBILE_1.fullmatch(digits):  # "+52 1 664...": mobile "1" abolished in 2019
        return "+52" + digits[3:]
    if explicit:
        return "+" + digits
    if _MX_WITHOUT_PLUS.fullmatch(digits):  # country code written without "+"
        return "+" + digits
    if _NANP_WITH_1.fullmatch(digits):  # "1-619-555-0123": NANP with its country code
        return "+" + digits
    # National prefixes only mean something when dialled inside Mexico.
    if default_region == "MX" and _MX_NATIONAL_PREFIX.fullmatch(digits):
        return "+52" + digits[-10:]
    return digits


# Type descriptions `phonenumbers` tries, in its order, after the general one: a national
# number is valid for a region when it matches the general description and any of these.
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_FAST_COUNTRY = {"MX": "52", "US": "1"}  # region -> calling code of the fast path


def _desc_matches(desc, length: int) -> str | None:
    """The pattern of a `phonenumbers` description for numbers of `length` digits, or None
    when the description cannot match them (as `phonenumbers._is_number_matching_desc`)."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return desc.national_number_pattern


@cache
def _valid_10_digits(region: str):
    """A test equal to `phonenumbers.is_valid_number_for_region` (and to
    `region_code_for_number` finding `region`, the first region of its calling code) for a
    10-digit national number that `parse` keeps as written: the general pattern, then any
    type's pattern. None when the metadata does not allow this shortcut."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = _desc_matches(metadata.general_desc, 10)
    types = [p for p in (_desc_matches(getattr(metadata, n), 10) for n in _TYPE_DESCS) if p]
    if general is None or not types or metadata.leading_digits:
        return None
    general_re = re.compile(general)
    any_type_re = re.compile("|".join(f"(?:{p})" for p in types))
    # A national number that starts like a national or international prefix is rewritten by
    # `parse`: those go the full way.
    prefixes = [p for p in (metadata.national_prefix_for_parsing, metadata.international_prefix)]
    prefix_re = re.compile("|".join(f"(?:{p})" for p in prefixes if p) or "(?!)")

    def valid(digits: str) -> bool:
        return (
            digits[0] != "0"  # an "Italian leading zero" is kept apart by `parse`
            and not prefix_re.match(digits)
            and general_re.fullmatch(digits) is not None
            and any_type_re.fullmatch(digits) is not None
        )

    return valid


def _fast_e164(number: str, region: str) -> str | None:
    """E.164 of the most common shapes ("+52" or "+1" and 10 digits, or 10 national digits
    of Mexico or the US) when they are valid, without `phonenumbers.parse`; None: take the
    full path.

    Exact by construction: only numbers `parse` reads as that calling code plus the same
    10 digits (no international or national prefix, no leading zero, no calling code at the
    start of a national number) are taken, and their validity is tested with the metadata's
    own patterns (`_valid_10_digits`); anything else, valid or not, goes through
    `phonenumbers` (tests compare both paths)."""
    if number.startswith("+52") and len(number) == 13:
        code, digits = "52", number[3:]
    elif number.startswith("+1") and len(number) == 12:
        code, digits = "1", number[2:]
    elif len(number) == 10 and region in _FAST_COUNTRY and number.isdigit():
        code, digits = _FAST_COUNTRY[region], number
        if digits.startswith(code):
            return None  # `parse` may read it as the calling code and a shorter number
    else:
        return None
    valid = _valid_10_digits("MX" if code == "52" else "US")
    if valid is None or not valid(digits):
        return None  # invalid here: `phonenumbers` words the reason
    return f"+{code}{digits}"


def normalize_phone(raw: str, default_region: str = "MX") -> str:
    """Return `raw` as E.164 ("+526641234567").

    A bare 10-digit number belongs to `default_region` ("MX" or "US").

    Raises:
        InvalidPhone: empty, malformed or invalid numbers, and numbers outside
            Mexico (+52) and the US (+1).
    """
    region = (default_region or "MX").upper()
    number = _SEPARATORS.sub("", raw or "")
    if not _SHAPE.fullmatch(number):  # empty, letters, stray "+", too short or long
        raise InvalidPhone()
    number = _rewrite_legacy(number, region)
    # An import checks 100,000 numbers: the common shapes skip `parse` (same results).
    return _fast_e164(number, region) or _parsed_e164(number, region)


def _parsed_e164(number: str, region: str) -> str:
    """E.164 of a number already rewritten by `_rewrite_legacy`, by `phonenumbers`."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone() from None
    if parsed.country_code not in (52, 1):
        raise InvalidPhone(_l("Only Mexican (+52) and US (+1) numbers are supported."))
    # is_valid_number() is region_code_for_number() + is_valid_number_for_region(): the
    # region is worked out once (for +1 it tries each of the plan's ~25 regions).
    region = phonenumbers.region_code_for_number(parsed)
    if region is None or not phonenumbers.is_valid_number_for_region(parsed, region):
        raise InvalidPhone()
    if region not in SUPPORTED_REGIONS:
        raise InvalidPhone(_l("Only Mexican (+52) and US (+1) numbers are supported."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
