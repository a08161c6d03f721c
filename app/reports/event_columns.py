"""The columns of the de-identified participation export (one row per event).
Coordinators get every value; evaluators a k-anonymous copy (anonymity.py) with the
columns described below."""

from flask_babel import lazy_gettext as _l

from app.reports.specs import (
    AGE_VALUES,
    COUNTRY_VALUES,
    GENDER_VALUES,
    LANGUAGE_VALUES,
    STATE_VALUES,
    Column,
)

C = Column
_contact_column = C(
    "contact",
    _l("Contact (pseudonym)"),
    _l(
        "Pseudonymous contact ID: the same contact has the same ID in every export of the "
        "organization; it cannot be traced back without the server's secret."
    ),
    "code",
    _l("20 hexadecimal characters."),
)
_event_tail = (
    C(
        "campaign_id",
        _l("Campaign ID"),
        _l("Internal number of the campaign; empty for events outside any campaign."),
        "code",
    ),
    C("campaign", _l("Campaign"), _l("Campaign name."), "text"),
    C(
        "event",
        _l("Event"),
        _l("What happened."),
        "code",
        _l(
            "sms_sent, sms_delivered, sms_failed, sms_undelivered, reply, opt_out, opt_in, "
            "invited, rsvp_yes, rsvp_no, waitlisted, attended, no_show, walk_in (a walk-in also "
            'has an "attended" row), clicked (the first click on a tracked link of a message, '
            "per contact; channel web)."
        ),
    ),
    C(
        "channel",
        _l("Channel"),
        _l("Channel of the event."),
        "code",
        _l("sms, workshop, web, import."),
    ),
)
_message_and_code = (
    C(
        "message_id",
        _l("Message ID"),
        _l("Internal number of the campaign message, for SMS events."),
        "code",
    ),
    C(
        "error_code",
        _l("Error code"),
        _l(
            "Twilio error code of a failed or undelivered "
            "message, or of a carrier opt-out; empty for other "
            "events."
        ),
        "code",
    ),
)
EVENT_COLUMNS = (
    _contact_column,
    C(
        "age_band",
        _l("Age band"),
        _l("Age band in the calendar year of the event."),
        "code",
        AGE_VALUES,
    ),
    C("gender", _l("Gender"), _l("Gender code."), "code", GENDER_VALUES),
    C("language", _l("Language"), _l("Preferred language code."), "code", LANGUAGE_VALUES),
    C("country", _l("Country"), _l("Country code."), "code", COUNTRY_VALUES),
    C("state_code", _l("State code"), _l("State code."), "code", STATE_VALUES),
    C("municipality", _l("Municipality"), _l("Municipality as recorded."), "text"),
    *_event_tail,
    C(
        "workshop_id",
        _l("Workshop ID"),
        _l("Internal number of the workshop, for workshop events."),
        "code",
    ),
    *_message_and_code,
    C("occurred_at_utc", _l("Time (UTC)"), _l("When the event happened, in UTC."), "datetime"),
)
_GROUP_RULE = _l(
    '"suppressed" where needed so that every combination of age band, '
    "gender, language and place in the file is shared by at least as many "
    "contacts as the threshold (the same for all the rows of a contact)."
)
EVALUATOR_EVENT_COLUMNS = (
    _contact_column,
    C(
        "age_band",
        _l("Age band"),
        _l(
            "Age band in the calendar year of the contact's first event in the file; widened "
            'to 12-17 or 18-29, or "suppressed", where needed so that every combination of '
            "age band, gender, language and place in the file is shared by at least as many "
            "contacts as the threshold (the same for all the rows of a contact)."
        ),
        "code",
        _l('12-14, 15-17, 18-24, 25-29, other, unknown; widened: 12-17, 18-29; "suppressed".'),
    ),
    C("gender", _l("Gender"), _GROUP_RULE, "code", GENDER_VALUES),
    C("language", _l("Language"), _GROUP_RULE, "code", LANGUAGE_VALUES),
    C("country", _l("Country"), _GROUP_RULE, "code", COUNTRY_VALUES),
    C("state_code", _l("State code"), _GROUP_RULE, "code", STATE_VALUES),
    C(
        "municipality",
        _l("Municipality"),
        _l(
            "Municipality (its most common spelling in the file); empty when unknown; "
            '"suppressed" where needed so that every combination of age band, gender, '
            "language and place in the file is shared by at least as many contacts as the "
            "threshold."
        ),
        "text",
    ),
    *_event_tail,
    C(
        "workshop_id",
        _l("Workshop ID"),
        _l(
            'Internal number of the workshop, for workshop events; "suppressed" when the '
            "row's combination of demographics, workshop and week would otherwise be shared by "
            "fewer contacts than the threshold."
        ),
        "code",
    ),
    *_message_and_code,
    C(
        "week_utc",
        _l("Week (UTC)"),
        _l(
            'Monday of the week (UTC) of the event, never the day or time; "suppressed" '
            "when fewer contacts than the threshold share the row's demographics, workshop and "
            "week."
        ),
        "date",
    ),
)


def event_columns(threshold: int | None) -> tuple:
    """The participation export's columns for a viewer (threshold None: exact)."""
    return EVALUATOR_EVENT_COLUMNS if threshold else EVENT_COLUMNS
