"""Dashboard tables: the figures of `queries.py` as rows, with suppression applied.

Every table the dashboards show is described here once (`SPECS`: columns, meaning,
type, allowed values), so the page, its CSV export and the codebook cannot disagree.
Builders take the exact figures and the viewer's suppression threshold (None for
exact counts) and return `Table`s whose people counts may be `Hidden`.
"""

from dataclasses import dataclass, field

from flask_babel import format_date, format_decimal, format_number, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.campaigns.models import LEVELS, STRATEGIES
from app.campaigns.services import LEVEL_LABELS, STATUS_LABELS, STRATEGY_LABELS
from app.contacts.forms import AGE_BAND_LABELS, COUNTRY_LABELS, GENDER_LABELS, LANGUAGE_LABELS
from app.contacts.geography import state_name
from app.contacts.validation import fold
from app.reports.breakdowns import (
    ATTENDANCES,
    BOTH,
    DELIVERED,
    FAILED,
    FAILURES,
    MESSAGE_DOSE_BINS,
    MESSAGE_FIELDS,
    OPT_OUTS,
    REACHED,
    SMS_ONLY,
    SMS_REACHED,
    TARGETED,
    UNDELIVERED,
    WORKSHOP_DOSE_BINS,
    WORKSHOP_ONLY,
    WORKSHOP_REACHED,
    CampaignCells,
    campaign_cells,
)
from app.reports.metrics import OTHER_AGE, UNKNOWN
from app.reports.queries import FUNNEL_FIELDS, CampaignFigures, OrganizationFigures, ratio
from app.reports.suppression import Hidden, derived

# --- labels of codes ---------------------------------------------------------------------

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


# --- table structure ---------------------------------------------------------------------

# Column kinds: how a cell is shown, exported and described in the codebook.
KIND_TYPES = {
    "code": _l("Text (code)"),
    "text": _l("Text"),
    "people": _l("Whole number (people)"),
    "count": _l("Whole number"),
    "rate": _l("Proportion from 0 to 1"),
    "decimal": _l("Decimal number"),
    "date": _l("Date (YYYY-MM-DD)"),
    "datetime": _l("Date and time in UTC (ISO 8601)"),
    "value": _l("Number (see the unit column)"),
}


@dataclass(frozen=True)
class Column:
    key: str  # CSV header and codebook name: stable, never translated
    label: object  # lazy: the page's column header
    meaning: object  # lazy: the codebook's explanation
    kind: str
    values: object = None  # lazy: allowed values, for codes
    page: bool = True  # False: exported, not shown (a code next to its translated label)
    labeler: object = None  # code -> translated label, for the page only

    @property
    def numeric(self) -> bool:
        return self.kind in ("people", "count", "rate", "decimal", "value")

    def may_be_hidden(self) -> bool:
        return self.kind in ("people", "rate", "count", "value")


@dataclass(frozen=True)
class TableSpec:
    key: str
    scope: str  # "campaign" or "organization"
    title: object
    description: object
    columns: tuple[Column, ...]
    suppressed: bool = True  # whether evaluators' copies may contain hidden cells


@dataclass
class Table:
    spec: TableSpec
    rows: list[list] = field(default_factory=list)
    total: list | None = None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def has_hidden(self) -> bool:
        return any(isinstance(c, Hidden) for row in self.rows for c in row)

    def column_values(self, key: str) -> list:
        index = [c.key for c in self.spec.columns].index(key)
        return [row[index] for row in self.rows]

    def display_row(self, row: list, *, total: bool = False) -> list[str]:
        """A row's cells as the page shows them (labels translated, numbers localized)."""
        units = self._unit_index()
        return [
            str(column.labeler(cell))
            if column.labeler and isinstance(cell, str) and not total
            else display(cell, column.kind if column.kind != "value" else row[units])
            for column, cell in zip(self.spec.columns, row)
        ]

    def csv_row(self, row: list) -> list[str]:
        units = self._unit_index()
        return [
            csv_value(cell, column.kind if column.kind != "value" else row[units])
            for column, cell in zip(self.spec.columns, row)
        ]

    def _unit_index(self) -> int | None:
        keys = [c.key for c in self.spec.columns]
        return keys.index("unit") if "unit" in keys else None


UNIT_KINDS = {
    "people": "people",
    "messages": "count",
    "campaigns": "count",
    "attendances": "count",
    "proportion": "rate",
    "average": "decimal",
}


def display(value, kind: str) -> str:
    """A cell as the page shows it, in the viewer's locale."""
    kind = UNIT_KINDS.get(kind, kind)
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, Hidden):
        return str(value)
    if kind == "rate":
        return format_percent(value, "#,##0.0%")
    if kind == "decimal":
        return format_decimal(value, "#,##0.0#")
    if kind in ("people", "count"):
        return format_number(value)
    if kind == "date":
        return format_date(value, "medium")
    return str(value)


def csv_value(value, kind: str) -> str:
    """A cell as exported: dot decimals, ISO dates, suppression markers as text."""
    kind = UNIT_KINDS.get(kind, kind)
    if value is None or value == "":
        return ""
    if isinstance(value, Hidden):
        return str(value)
    if kind == "rate":
        return f"{value:.4f}"
    if kind == "decimal":
        return f"{value:.2f}"
    if kind == "date":
        return value.isoformat()
    return str(value)


# --- specs -------------------------------------------------------------------------------

C = Column
AGE_VALUES = _l(
    '12-14, 15-17, 18-24, 25-29; "other": a known age outside 12 to 29; '
    '"unknown": no birth year or age band recorded.'
)
GENDER_VALUES = _l(
    'female, male, nonbinary, undisclosed (prefers not to say); "unknown": not recorded.'
)
LANGUAGE_VALUES = _l("es (Spanish), en (English).")
COUNTRY_VALUES = _l('MX (Mexico), US (United States); "unknown": not recorded.')
STATE_VALUES = _l(
    "INEGI two-digit code for Mexico (01 to 32), USPS code for the United "
    'States (for example CA); "unknown": not recorded.'
)
STRATEGY_VALUES = _l(
    "information_dissemination, education, alternatives, "
    "problem_identification_referral, community_based_process, "
    "environmental."
)
LEVEL_VALUES = _l("universal, selective, indicated.")
_reached = C("reached", _l("Reached"), _l("Reached contacts in this row."), "people")
_reached_share = C(
    "reached_share",
    _l("Share of reached"),
    _l("Reached in this row divided by all reached contacts."),
    "rate",
)
_targeted = C(
    "targeted", _l("Targeted"), _l("Contacts of the targeted audience in this row."), "people"
)
_targeted_share = C(
    "targeted_share",
    _l("Share of targeted"),
    _l("Targeted in this row divided by the whole targeted audience."),
    "rate",
)
_representation = (_reached, _reached_share, _targeted, _targeted_share)
_country = C("country", _l("Country"), _l("Country code."), "code", COUNTRY_VALUES, page=False)
_state_code = C("state_code", _l("State code"), _l("State code."), "code", STATE_VALUES, page=False)
_state = C("state", _l("State"), _l("State name."), "text")
_summary_columns = (
    C(
        "metric",
        _l("Metric code"),
        _l("Code of the figure (see the glossary)."),
        "code",
        page=False,
    ),
    C("label", _l("Figure"), _l("Name of the figure, in your language."), "text"),
    C("value", _l("Value"), _l("The figure's value."), "value"),
    C(
        "unit",
        _l("Unit"),
        _l("What the value counts or measures."),
        "code",
        _l("people, messages, attendances, campaigns, proportion (0 to 1), average."),
        page=False,
    ),
)

SPECS: dict[str, TableSpec] = {
    spec.key: spec
    for spec in (
        TableSpec(
            "summary",
            "campaign",
            _l("Headline figures"),
            _l("Campaign totals for the period."),
            _summary_columns,
        ),
        TableSpec(
            "places",
            "campaign",
            _l("Reach by target place"),
            _l("Target places of the campaign that have a target population."),
            (
                _country,
                _state_code,
                _state,
                C(
                    "municipality",
                    _l("Municipality"),
                    _l("Municipality of the place; empty for a whole state."),
                    "text",
                    labeler=lambda name: name or _l("Whole state"),
                ),
                C(
                    "target_population",
                    _l("Target population"),
                    _l("The place's target population."),
                    "count",
                ),
                C("reached", _l("Reached"), _l("Reached contacts living in the place."), "people"),
                C(
                    "reach_proportion",
                    _l("Reach proportion"),
                    _l("Reached divided by the target population."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "age_band",
            "campaign",
            _l("Reach by age band"),
            _l("Reached contacts and targeted audience by age band."),
            (
                C(
                    "age_band",
                    _l("Age band code"),
                    _l("Age band code."),
                    "code",
                    AGE_VALUES,
                    page=False,
                ),
                C("label", _l("Age band"), _l("Age band, in your language."), "text"),
                *_representation,
            ),
        ),
        TableSpec(
            "gender",
            "campaign",
            _l("Reach by gender"),
            _l("Reached contacts and targeted audience by gender."),
            (
                C(
                    "gender",
                    _l("Gender code"),
                    _l("Gender code."),
                    "code",
                    GENDER_VALUES,
                    page=False,
                ),
                C("label", _l("Gender"), _l("Gender, in your language."), "text"),
                *_representation,
            ),
        ),
        TableSpec(
            "language",
            "campaign",
            _l("Reach by language"),
            _l("Reached contacts and targeted audience by preferred language."),
            (
                C(
                    "language",
                    _l("Language code"),
                    _l("Language code."),
                    "code",
                    LANGUAGE_VALUES,
                    page=False,
                ),
                C("label", _l("Language"), _l("Language, in your language."), "text"),
                *_representation,
            ),
        ),
        TableSpec(
            "state",
            "campaign",
            _l("Reach by state"),
            _l("Reached contacts and targeted audience by state of residence."),
            (_country, _state_code, _state, *_representation),
        ),
        TableSpec(
            "municipality",
            "campaign",
            _l("Reach by municipality"),
            _l(
                "Reached contacts and targeted audience by municipality (names that differ "
                "only in accents or capitals are counted together)."
            ),
            (
                _country,
                _state_code,
                _state,
                C(
                    "municipality",
                    _l("Municipality"),
                    _l("Municipality as recorded; empty when unknown."),
                    "text",
                    labeler=lambda name: name or UNKNOWN_LABEL,
                ),
                *_representation,
            ),
        ),
        TableSpec(
            "message_dose",
            "campaign",
            _l("Messages delivered per reached contact"),
            _l("Reached contacts by the number of campaign messages delivered to them."),
            (
                C(
                    "messages",
                    _l("Messages delivered"),
                    _l("Number of delivered messages (a range for the last rows)."),
                    "code",
                    _l("0, 1, 2, 3, 4, 5, 6-9, 10+."),
                ),
                C(
                    "contacts",
                    _l("Reached contacts"),
                    _l("Reached contacts who received that many messages."),
                    "people",
                ),
                C(
                    "share",
                    _l("Share of reached"),
                    _l("Contacts in this row divided by all reached contacts."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "workshop_dose",
            "campaign",
            _l("Workshops attended per reached contact"),
            _l("Reached contacts by the number of different workshops they attended."),
            (
                C(
                    "workshops",
                    _l("Workshops attended"),
                    _l("Number of different workshops attended."),
                    "code",
                    _l("0, 1, 2, 3+."),
                ),
                C(
                    "contacts",
                    _l("Reached contacts"),
                    _l("Reached contacts who attended that many workshops."),
                    "people",
                ),
                C(
                    "share",
                    _l("Share of reached"),
                    _l("Contacts in this row divided by all reached contacts."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "failures",
            "campaign",
            _l("Failure reasons"),
            _l("Failed and undelivered messages by the error code Twilio reported."),
            (
                C(
                    "error_code",
                    _l("Error code"),
                    _l('Twilio error code; "none" when the provider gave none.'),
                    "code",
                    _l("Twilio error codes (https://www.twilio.com/docs/api/errors), or none."),
                ),
                C("description", _l("Description"), _l("What the code means."), "text"),
                C(
                    "messages",
                    _l("Messages"),
                    _l("Failed or undelivered messages with this code."),
                    "count",
                ),
                C(
                    "share",
                    _l("Share of failures"),
                    _l("Messages in this row divided by all failed and undelivered messages."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "messages",
            "campaign",
            _l("Delivery and opt-outs by message"),
            _l("Each campaign message: deliveries, failures and the opt-outs attributed to it."),
            (
                C(
                    "message_id",
                    _l("Message ID"),
                    _l(
                        "Internal number of the campaign message; empty for workshop "
                        "notices without one."
                    ),
                    "code",
                    page=False,
                ),
                C("message", _l("Message"), _l("Label of the campaign message."), "text"),
                C("delivered", _l("Delivered"), _l("Delivered messages."), "count"),
                C(
                    "delivered_contacts",
                    _l("Contacts delivered"),
                    _l("Distinct contacts the message was delivered to."),
                    "people",
                ),
                C("failed", _l("Failed"), _l("Messages whose final status is failed."), "count"),
                C(
                    "undelivered",
                    _l("Undelivered"),
                    _l("Messages whose final status is undelivered."),
                    "count",
                ),
                C(
                    "delivery_rate",
                    _l("Delivery rate"),
                    _l("Delivered divided by delivered, failed and undelivered."),
                    "rate",
                ),
                C(
                    "opt_outs",
                    _l("Opt-outs"),
                    _l("Contacts whose opt-out is attributed to this message."),
                    "people",
                ),
                C(
                    "opt_out_rate",
                    _l("Opt-out rate"),
                    _l("Opt-outs divided by contacts delivered."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "funnel",
            "campaign",
            _l("Workshop funnel"),
            _l(
                "Distinct contacts at each step, per workshop; the total row adds the workshops up."
            ),
            (
                C(
                    "workshop_id",
                    _l("Workshop ID"),
                    _l("Internal number of the workshop."),
                    "code",
                    page=False,
                ),
                C("code", _l("Code"), _l("The workshop's RSVP code."), "code"),
                C("workshop", _l("Workshop"), _l("Title of the workshop."), "text"),
                C("starts_on", _l("Date"), _l("Date the workshop starts (local time)."), "date"),
                C("invited", _l("Invited"), _l("Contacts invited."), "people"),
                C("rsvp_yes", _l("RSVP yes"), _l("Contacts who answered yes."), "people"),
                C(
                    "attended",
                    _l("Attended"),
                    _l("Contacts who attended, walk-ins included."),
                    "people",
                ),
                C(
                    "walk_ins",
                    _l("Walk-ins"),
                    _l("Attendees who came without being registered."),
                    "people",
                ),
                C(
                    "attended_after_rsvp",
                    _l("Attended after RSVP"),
                    _l("Contacts who answered yes and attended."),
                    "people",
                ),
                C(
                    "no_shows",
                    _l("No-shows"),
                    _l("Contacts marked as no-show who did not attend."),
                    "people",
                ),
                C("rsvp_rate", _l("RSVP rate"), _l("RSVP yes divided by invited."), "rate"),
                C(
                    "show_up_rate",
                    _l("Show-up rate"),
                    _l("Attended after RSVP divided by RSVP yes."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "time_series",
            "campaign",
            _l("Reach over time"),
            _l("Newly reached contacts per day or week, and cumulative reach."),
            (
                C(
                    "period_start",
                    _l("Day or week"),
                    _l("The day, or the Monday that starts the week."),
                    "date",
                ),
                C(
                    "newly_reached",
                    _l("Newly reached"),
                    _l("Contacts reached for the first time in the period on that day or week."),
                    "count",
                ),
                C(
                    "cumulative_reach",
                    _l("Cumulative reach"),
                    _l("Contacts reached from the start of the period up to that day or week."),
                    "count",
                ),
            ),
            suppressed=False,
        ),
        TableSpec(
            "org_summary",
            "organization",
            _l("Organization totals"),
            _l("All campaigns together; a contact reached by several campaigns counts once."),
            _summary_columns,
            suppressed=False,
        ),
        TableSpec(
            "campaigns",
            "organization",
            _l("Campaigns"),
            _l("Headline figures of each campaign for the period."),
            (
                C(
                    "campaign_id",
                    _l("Campaign ID"),
                    _l("Internal number of the campaign."),
                    "code",
                    page=False,
                ),
                C("campaign", _l("Campaign"), _l("Campaign name."), "text"),
                C(
                    "status",
                    _l("Status"),
                    _l("Campaign status."),
                    "code",
                    _l("draft, active, paused, completed, archived."),
                    labeler=lambda code: STATUS_LABELS.get(code, code),
                ),
                C(
                    "strategy",
                    _l("Strategy"),
                    _l("CSAP prevention strategy."),
                    "code",
                    STRATEGY_VALUES,
                    labeler=lambda code: STRATEGY_LABELS.get(code, code),
                ),
                C(
                    "level",
                    _l("Level"),
                    _l("IOM prevention level."),
                    "code",
                    LEVEL_VALUES,
                    labeler=lambda code: LEVEL_LABELS.get(code, code),
                ),
                C("reached", _l("Reached"), _l("Reached contacts."), "count"),
                C(
                    "sms_reached",
                    _l("Reached by SMS"),
                    _l("Contacts with at least one delivered message."),
                    "count",
                ),
                C(
                    "workshop_reached",
                    _l("Reached in workshops"),
                    _l("Contacts who attended at least one workshop."),
                    "count",
                ),
                C("delivered", _l("Messages delivered"), _l("Delivered messages."), "count"),
                C(
                    "delivery_rate",
                    _l("Delivery rate"),
                    _l("Delivered divided by delivered, failed and undelivered."),
                    "rate",
                ),
                C(
                    "opt_outs",
                    _l("Opt-outs"),
                    _l("Contacts whose opt-out is attributed to the campaign."),
                    "count",
                ),
                C(
                    "opt_out_rate",
                    _l("Opt-out rate"),
                    _l("Opt-outs divided by contacts reached by SMS."),
                    "rate",
                ),
                C(
                    "target_population",
                    _l("Target population"),
                    _l("The campaign's target population; empty when not set."),
                    "count",
                ),
                C(
                    "reach_proportion",
                    _l("Reach proportion"),
                    _l("Reached divided by the target population."),
                    "rate",
                ),
            ),
            suppressed=False,
        ),
        TableSpec(
            "strategy",
            "organization",
            _l("By prevention strategy (CSAP)"),
            _l("Campaigns grouped by prevention strategy; a contact counts once per strategy."),
            (
                C(
                    "strategy",
                    _l("Strategy code"),
                    _l("CSAP strategy code."),
                    "code",
                    STRATEGY_VALUES,
                    page=False,
                ),
                C("label", _l("Strategy"), _l("Strategy, in your language."), "text"),
                C("campaigns", _l("Campaigns"), _l("Number of campaigns."), "count"),
                C("reached", _l("Reached"), _l("Reached contacts."), "count"),
                C(
                    "sms_reached",
                    _l("Reached by SMS"),
                    _l("Contacts with at least one delivered message."),
                    "count",
                ),
                C(
                    "workshop_reached",
                    _l("Reached in workshops"),
                    _l("Contacts who attended at least one workshop."),
                    "count",
                ),
                C("delivered", _l("Messages delivered"), _l("Delivered messages."), "count"),
            ),
            suppressed=False,
        ),
        TableSpec(
            "level",
            "organization",
            _l("By prevention level (IOM)"),
            _l("Campaigns grouped by prevention level; a contact counts once per level."),
            (
                C(
                    "level",
                    _l("Level code"),
                    _l("IOM level code."),
                    "code",
                    LEVEL_VALUES,
                    page=False,
                ),
                C("label", _l("Level"), _l("Level, in your language."), "text"),
                C("campaigns", _l("Campaigns"), _l("Number of campaigns."), "count"),
                C("reached", _l("Reached"), _l("Reached contacts."), "count"),
                C(
                    "sms_reached",
                    _l("Reached by SMS"),
                    _l("Contacts with at least one delivered message."),
                    "count",
                ),
                C(
                    "workshop_reached",
                    _l("Reached in workshops"),
                    _l("Contacts who attended at least one workshop."),
                    "count",
                ),
                C("delivered", _l("Messages delivered"), _l("Delivered messages."), "count"),
            ),
            suppressed=False,
        ),
    )
}
CAMPAIGN_TABLES = tuple(k for k, s in SPECS.items() if s.scope == "campaign")
ORGANIZATION_TABLES = tuple(k for k, s in SPECS.items() if s.scope == "organization")

# The de-identified participation export (one row per event). Coordinators get every value;
# evaluators a k-anonymous copy (anonymity.py) with the columns described below.
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
            'has an "attended" row).'
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


# --- builders ----------------------------------------------------------------------------


def _share(cell, total):
    """A count over its total: hidden when either is hidden (see `derived`)."""
    if isinstance(cell, Hidden) or isinstance(total, Hidden):
        return derived(None, cell, total)
    return ratio(cell, total)


def _rate(numerator, *denominator):
    """numerator / sum(denominator), hidden when any of them is hidden."""
    if any(isinstance(v, Hidden) for v in (numerator, *denominator)):
        return derived(None, numerator, *denominator)
    return ratio(numerator, sum(denominator))


def _representation_row(cells: CampaignCells, name: str, key) -> list:
    """(reached, reached share, targeted, targeted share) of one breakdown row."""
    reached, targeted = cells[(name, key, "r")], cells[(name, key, "t")]
    return [reached, _share(reached, cells[REACHED]), targeted, _share(targeted, cells[TARGETED])]


def _total_row(cells: CampaignCells, lead: int) -> list:
    """A representativeness table's total row: `lead` label cells, then the totals."""
    reached, targeted = cells[REACHED], cells[TARGETED]
    return (
        [_("Total")]
        + [""] * (lead - 1)
        + [reached, _share(reached, reached), targeted, _share(targeted, targeted)]
    )


def _summary_rows(f: CampaignFigures, cells: CampaignCells) -> list[list]:
    c = cells
    rows = [
        ("reached", _("Reached"), c[REACHED], "people"),
        ("reached_sms_only", _("Reached by SMS only"), c[SMS_ONLY], "people"),
        ("reached_workshop_only", _("Reached in workshops only"), c[WORKSHOP_ONLY], "people"),
        ("reached_both", _("Reached by SMS and in workshops"), c[BOTH], "people"),
        ("sms_reached", _("Reached by SMS"), c[SMS_REACHED], "people"),
        ("workshop_reached", _("Reached in workshops"), c[WORKSHOP_REACHED], "people"),
        ("target_population", _("Target population"), f.target_population, "people"),
        (
            "reach_proportion",
            _("Reach proportion"),
            _rate(c[REACHED], f.target_population) if f.target_population else None,
            "proportion",
        ),
        ("targeted", _("Targeted audience"), c[TARGETED], "people"),
        ("messages_delivered", _("Messages delivered"), c[DELIVERED], "messages"),
        ("messages_failed", _("Messages failed"), c[FAILED], "messages"),
        ("messages_undelivered", _("Messages undelivered"), c[UNDELIVERED], "messages"),
        (
            "delivery_rate",
            _("Delivery rate"),
            _rate(c[DELIVERED], c[DELIVERED], c[FAILURES]),
            "proportion",
        ),
        ("opt_outs", _("Opt-outs"), c[OPT_OUTS], "people"),
        ("opt_out_rate", _("Opt-out rate"), _rate(c[OPT_OUTS], c[SMS_REACHED]), "proportion"),
        ("replies", _("Contacts who replied"), f.replies, "people"),
        ("reply_rate", _("Reply rate"), _rate(f.replies, c[SMS_REACHED]), "proportion"),
        ("median_messages", _("Median messages per reached contact"), c.median_messages, "average"),
        (
            "mean_messages",
            _("Average messages per reached contact"),
            _rate(c[DELIVERED], c[REACHED]),
            "average",
        ),
        (
            "median_workshops",
            _("Median workshops per reached contact"),
            c.median_workshops,
            "average",
        ),
        ("attendances", _("Workshop attendances"), c[ATTENDANCES], "attendances"),
    ]
    return [list(r) for r in rows]


def campaign_tables(
    figures: CampaignFigures, threshold: int | None, language: str
) -> dict[str, Table]:
    """Every campaign dashboard table; `threshold` None means exact counts.

    Every count comes from one `campaign_cells` call (breakdowns.py), so a figure hidden in
    one table is hidden in every table, total, headline and chart that shows it."""
    f = figures
    c = campaign_cells(f, threshold)
    tables = {key: Table(SPECS[key]) for key in CAMPAIGN_TABLES}
    tables["summary"].rows = _summary_rows(f, c)

    # Representativeness: age band, gender, language, state, municipality.
    for name, label in (
        ("age_band", age_label),
        ("gender", gender_label),
        ("language", language_label),
    ):
        tables[name].rows = [
            [k, label(k), *_representation_row(c, name, k)] for k in c.dimensions[name]
        ]
        tables[name].total = _total_row(c, 2)
    tables["state"].rows = [
        [
            country,
            state,
            state_label(country, state),
            *_representation_row(c, "state", (country, state)),
        ]
        for country, state in c.states
    ]
    tables["state"].total = _total_row(c, 3)
    tables["municipality"].rows = [
        [
            key[0],
            key[1],
            state_label(key[0], key[1]),
            c.municipality_names.get(key, ""),
            *_representation_row(c, "muni", key),
        ]
        for state in c.states
        for key in c.municipalities[state]
    ]
    tables["municipality"].total = _total_row(c, 4)

    # Target places read their reach from the state/municipality rows (the same cells).
    for place in f.places:
        if place.municipality:
            key = ("muni", (place.country, place.state, fold(place.municipality)), "r")
        else:
            key = ("state", (place.country, place.state), "r")
        reached = c.shown.get(key, 0)
        tables["places"].rows.append(
            [
                place.country,
                place.state,
                state_label(place.country, place.state),
                place.municipality or "",
                place.target,
                reached,
                _rate(reached, place.target),
            ]
        )

    # Dose distributions.
    for name, bins in (("message_dose", MESSAGE_DOSE_BINS), ("workshop_dose", WORKSHOP_DOSE_BINS)):
        tables[name].rows = [[b, c[(name, b)], _share(c[(name, b)], c[REACHED])] for b in bins]
        tables[name].total = [_("Total"), c[REACHED], _share(c[REACHED], c[REACHED])]

    # Failure reasons.
    tables["failures"].rows = [
        [
            code or NO_CODE,
            error_code_label(code or NO_CODE),
            c[("failure", code)],
            _share(c[("failure", code)], c[FAILURES]),
        ]
        for code in c.failure_codes
    ]
    tables["failures"].total = [_("Total"), "", c[FAILURES], _share(c[FAILURES], c[FAILURES])]

    # Messages.
    for i, m in enumerate(f.messages):
        delivered, contacts, failed, undelivered, opt_outs = (
            c[("message", i, name)] for name in MESSAGE_FIELDS
        )
        tables["messages"].rows.append(
            [
                m.message_id,
                m.label or _("Workshop notices"),
                delivered,
                contacts,
                failed,
                undelivered,
                _rate(delivered, delivered, failed, undelivered),
                opt_outs,
                _rate(opt_outs, contacts),
            ]
        )

    # Funnel.
    for i, w in enumerate(f.workshops):
        cells = {name: c[("funnel", i, name)] for name in FUNNEL_FIELDS}
        tables["funnel"].rows.append(
            [
                w.workshop_id,
                w.code,
                w.title_for(language),
                w.local_date,
                *(cells[name] for name in FUNNEL_FIELDS),
                _rate(cells["rsvp_yes"], cells["invited"]),
                _rate(cells["attended_after_rsvp"], cells["rsvp_yes"]),
            ]
        )
    totals = {name: c[("funnel_total", name)] for name in FUNNEL_FIELDS}
    tables["funnel"].total = [
        _("Total"),
        "",
        "",
        "",
        *(totals[n] for n in FUNNEL_FIELDS),
        _rate(totals["rsvp_yes"], totals["invited"]),
        _rate(totals["attended_after_rsvp"], totals["rsvp_yes"]),
    ]

    # The time series adds up to reached (an anchor, never hidden): shown as is.
    tables["time_series"].rows = [[p.start, p.new, p.cumulative] for p in f.series]
    return tables


def organization_tables(figures: OrganizationFigures) -> dict[str, Table]:
    """The organization dashboard's tables: campaign-level figures, always exact."""
    f = figures
    tables = {key: Table(SPECS[key]) for key in ORGANIZATION_TABLES}
    tables["org_summary"].rows = [
        list(r)
        for r in (
            ("campaigns", _("Campaigns"), len(f.campaigns), "campaigns"),
            ("reached", _("Reached"), f.reached, "people"),
            ("sms_reached", _("Reached by SMS"), f.sms_reached, "people"),
            ("workshop_reached", _("Reached in workshops"), f.workshop_reached, "people"),
            ("messages_delivered", _("Messages delivered"), f.delivered, "messages"),
            ("messages_failed", _("Messages failed"), f.failed, "messages"),
            ("messages_undelivered", _("Messages undelivered"), f.undelivered, "messages"),
            ("delivery_rate", _("Delivery rate"), f.delivery_rate, "proportion"),
            ("opt_outs", _("Opt-outs"), f.opt_outs, "people"),
            ("opt_out_rate", _("Opt-out rate"), f.opt_out_rate, "proportion"),
        )
    ]
    for s in f.campaigns:
        tables["campaigns"].rows.append(
            [
                s.campaign_id,
                s.name,
                s.status,
                s.strategy,
                s.level,
                s.reached,
                s.sms_reached,
                s.workshop_reached,
                s.delivered,
                s.delivery_rate,
                s.opt_outs,
                s.opt_out_rate,
                s.target_population,
                s.reach_proportion,
            ]
        )
    for key, rollups, order, labels in (
        ("strategy", f.by_strategy, STRATEGIES, STRATEGY_LABELS),
        ("level", f.by_level, LEVELS, LEVEL_LABELS),
    ):
        by_code = {r.code: r for r in rollups}
        for code in [c for c in order if c in by_code] + sorted(set(by_code) - set(order)):
            r = by_code[code]
            tables[key].rows.append(
                [
                    code,
                    str(labels.get(code, code)),
                    r.campaigns,
                    r.reached,
                    r.sms_reached,
                    r.workshop_reached,
                    r.delivered,
                ]
            )
    return tables
