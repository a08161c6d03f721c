"""Translated labels of the codes that report tables show (age bands, genders, places,
error codes...). Exports keep the codes; pages show these labels next to them."""

from datetime import date

from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from app.contacts.forms import AGE_BAND_LABELS, COUNTRY_LABELS, GENDER_LABELS, LANGUAGE_LABELS
from app.contacts.geography import state_name
from app.reports.metrics import OTHER_AGE, UNKNOWN

UNKNOWN_LABEL = _l("Unknown")
REPORT_AGE_LABELS = {**AGE_BAND_LABELS, OTHER_AGE: _l("Other ages"), UNKNOWN: UNKNOWN_LABEL}
CHANNEL_LABELS = {
    "sms_only": _l("SMS only"),
    "workshop_only": _l("Workshop only"),
    "both": _l("SMS and workshop"),
}
NO_CODE = "none"
# Twilio error codes seen on failed/undelivered messages (see the Twilio notes).
ERROR_CODE_LABELS = {
    "21211": _l("Invalid phone number"),
    "21408": _l("Destination region not enabled"),
    "21610": _l("Recipient unsubscribed (replied STOP)"),
    "21611": _l("Sending queue full"),
    "21614": _l("Not a mobile number"),
    "30001": _l("Sending queue overflow"),
    "30003": _l("Handset unreachable"),
    "30004": _l("Message blocked"),
    "30005": _l("Unknown or inactive number"),
    "30006": _l("Landline or unreachable carrier"),
    "30007": _l("Filtered by the carrier"),
    "30008": _l("Unknown error"),
    "30036": _l("Validity period expired"),
    NO_CODE: _l("No error code"),
}


def age_label(code: str) -> str:
    return str(REPORT_AGE_LABELS.get(code, code))


def gender_label(code: str) -> str:
    return str(GENDER_LABELS.get(code, UNKNOWN_LABEL if code == UNKNOWN else code))


def language_label(code: str) -> str:
    return str(LANGUAGE_LABELS.get(code, UNKNOWN_LABEL if code == UNKNOWN else code))


def state_label(country: str, code: str) -> str:
    if code == UNKNOWN or country not in COUNTRY_LABELS:
        return str(UNKNOWN_LABEL) if code == UNKNOWN else code
    return state_name(country, code)


def country_label(code: str) -> str:
    return str(COUNTRY_LABELS.get(code, UNKNOWN_LABEL if code == UNKNOWN else code))


def error_code_label(code: str) -> str:
    return str(ERROR_CODE_LABELS.get(code, _l("Other error")))


def month_label(code: str) -> str:
    """A month code ("2026-03") as the page shows it ("March 2026", "marzo 2026")."""
    try:
        year, month = (int(part) for part in code.split("-"))
        return format_date(date(year, month, 1), "LLLL yyyy")
    except ValueError:
        return code
