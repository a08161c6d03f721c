"""Dashboard tables: the figures of `queries.py` as rows, with suppression applied.

Every table the dashboards show is described here once (`SPECS`: columns, meaning,
type, allowed values), so the page, its CSV export and the codebook cannot disagree.
Builders take the exact figures and the viewer's suppression threshold (None for
exact counts) and return `Table`s whose people counts may be `Hidden`.
"""
from collections import Counter
from dataclasses import dataclass, field

from flask_babel import format_date, format_decimal, format_number, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..campaigns.models import LEVELS, STRATEGIES
from ..campaigns.services import LEVEL_LABELS, STATUS_LABELS, STRATEGY_LABELS
from ..contacts.forms import AGE_BAND_LABELS, COUNTRY_LABELS, GENDER_LABELS, LANGUAGE_LABELS
from ..contacts.geography import state_name
from ..contacts.models import GENDERS, LANGUAGES
from ..contacts.validation import fold
from .metrics import OTHER_AGE, REPORT_AGE_BANDS, UNKNOWN
from .queries import FUNNEL_FIELDS, CampaignFigures, OrganizationFigures, median, ratio
from .suppression import Hidden, derived, protect, protect_each

# --- labels of codes ---------------------------------------------------------------------

UNKNOWN_LABEL = _l("Unknown")
REPORT_AGE_LABELS = {**AGE_BAND_LABELS, OTHER_AGE: _l("Other ages"), UNKNOWN: UNKNOWN_LABEL}
CHANNEL_LABELS = {"sms_only": _l("SMS only"), "workshop_only": _l("Workshop only"),
                  "both": _l("SMS and workshop")}
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
MESSAGE_DOSE_BINS = ("0", "1", "2", "3", "4", "5", "6-9", "10+")
WORKSHOP_DOSE_BINS = ("0", "1", "2", "3+")


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


def _bin(value: int, bins: tuple[str, ...]) -> str:
    for label in bins:
        if label.endswith("+"):
            if value >= int(label[:-1]):
                return label
        elif "-" in label:
            low, high = (int(x) for x in label.split("-"))
            if low <= value <= high:
                return label
        elif value == int(label):
            return label
    return bins[-1]


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
        return [str(column.labeler(cell)) if column.labeler and isinstance(cell, str)
                and not total
                else display(cell, column.kind if column.kind != "value" else row[units])
                for column, cell in zip(self.spec.columns, row)]

    def csv_row(self, row: list) -> list[str]:
        units = self._unit_index()
        return [csv_value(cell, column.kind if column.kind != "value" else row[units])
                for column, cell in zip(self.spec.columns, row)]

    def _unit_index(self) -> int | None:
        keys = [c.key for c in self.spec.columns]
        return keys.index("unit") if "unit" in keys else None


UNIT_KINDS = {"people": "people", "messages": "count", "campaigns": "count",
              "attendances": "count", "proportion": "rate", "average": "decimal"}


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
AGE_VALUES = _l("12-14, 15-17, 18-24, 25-29; \"other\": a known age outside 12 to 29; "
                "\"unknown\": no birth year or age band recorded.")
GENDER_VALUES = _l("female, male, nonbinary, undisclosed (prefers not to say); \"unknown\": "
                   "not recorded.")
LANGUAGE_VALUES = _l("es (Spanish), en (English).")
COUNTRY_VALUES = _l("MX (Mexico), US (United States); \"unknown\": not recorded.")
STATE_VALUES = _l("INEGI two-digit code for Mexico (01 to 32), USPS code for the United "
                  "States (for example CA); \"unknown\": not recorded.")
STRATEGY_VALUES = _l("information_dissemination, education, alternatives, "
                     "problem_identification_referral, community_based_process, "
                     "environmental.")
LEVEL_VALUES = _l("universal, selective, indicated.")
_reached = C("reached", _l("Reached"), _l("Reached contacts in this row."), "people")
_reached_share = C("reached_share", _l("Share of reached"),
                   _l("Reached in this row divided by all reached contacts."), "rate")
_targeted = C("targeted", _l("Targeted"), _l("Contacts of the targeted audience in this row."),
              "people")
_targeted_share = C("targeted_share", _l("Share of targeted"),
                    _l("Targeted in this row divided by the whole targeted audience."), "rate")
_representation = (_reached, _reached_share, _targeted, _targeted_share)
_country = C("country", _l("Country"), _l("Country code."), "code", COUNTRY_VALUES, page=False)
_state_code = C("state_code", _l("State code"), _l("State code."), "code", STATE_VALUES,
                page=False)
_state = C("state", _l("State"), _l("State name."), "text")
_summary_columns = (
    C("metric", _l("Metric code"), _l("Code of the figure (see the glossary)."), "code",
      page=False),
    C("label", _l("Figure"), _l("Name of the figure, in your language."), "text"),
    C("value", _l("Value"), _l("The figure's value."), "value"),
    C("unit", _l("Unit"), _l("What the value counts or measures."), "code",
      _l("people, messages, attendances, campaigns, proportion (0 to 1), average."),
      page=False),
)

SPECS: dict[str, TableSpec] = {spec.key: spec for spec in (
    TableSpec("summary", "campaign", _l("Headline figures"),
              _l("Campaign totals for the period; always exact."), _summary_columns,
              suppressed=False),
    TableSpec("places", "campaign", _l("Reach by target place"),
              _l("Target places of the campaign that have a target population."), (
                  _country, _state_code, _state,
                  C("municipality", _l("Municipality"),
                    _l("Municipality of the place; empty for a whole state."), "text",
                    labeler=lambda name: name or _l("Whole state")),
                  C("target_population", _l("Target population"),
                    _l("The place's target population."), "count"),
                  C("reached", _l("Reached"), _l("Reached contacts living in the place."),
                    "people"),
                  C("reach_proportion", _l("Reach proportion"),
                    _l("Reached divided by the target population."), "rate"))),
    TableSpec("age_band", "campaign", _l("Reach by age band"),
              _l("Reached contacts and targeted audience by age band."), (
                  C("age_band", _l("Age band code"), _l("Age band code."), "code", AGE_VALUES,
                    page=False),
                  C("label", _l("Age band"), _l("Age band, in your language."), "text"),
                  *_representation)),
    TableSpec("gender", "campaign", _l("Reach by gender"),
              _l("Reached contacts and targeted audience by gender."), (
                  C("gender", _l("Gender code"), _l("Gender code."), "code", GENDER_VALUES,
                    page=False),
                  C("label", _l("Gender"), _l("Gender, in your language."), "text"),
                  *_representation)),
    TableSpec("language", "campaign", _l("Reach by language"),
              _l("Reached contacts and targeted audience by preferred language."), (
                  C("language", _l("Language code"), _l("Language code."), "code",
                    LANGUAGE_VALUES, page=False),
                  C("label", _l("Language"), _l("Language, in your language."), "text"),
                  *_representation)),
    TableSpec("state", "campaign", _l("Reach by state"),
              _l("Reached contacts and targeted audience by state of residence."), (
                  _country, _state_code, _state, *_representation)),
    TableSpec("municipality", "campaign", _l("Reach by municipality"),
              _l("Reached contacts and targeted audience by municipality (names that differ "
                 "only in accents or capitals are counted together)."), (
                  _country, _state_code, _state,
                  C("municipality", _l("Municipality"),
                    _l("Municipality as recorded; empty when unknown."), "text",
                    labeler=lambda name: name or UNKNOWN_LABEL),
                  *_representation)),
    TableSpec("message_dose", "campaign", _l("Messages delivered per reached contact"),
              _l("Reached contacts by the number of campaign messages delivered to them."), (
                  C("messages", _l("Messages delivered"),
                    _l("Number of delivered messages (a range for the last rows)."), "code",
                    _l("0, 1, 2, 3, 4, 5, 6-9, 10+.")),
                  C("contacts", _l("Reached contacts"),
                    _l("Reached contacts who received that many messages."), "people"),
                  C("share", _l("Share of reached"),
                    _l("Contacts in this row divided by all reached contacts."), "rate"))),
    TableSpec("workshop_dose", "campaign", _l("Workshops attended per reached contact"),
              _l("Reached contacts by the number of different workshops they attended."), (
                  C("workshops", _l("Workshops attended"),
                    _l("Number of different workshops attended."), "code",
                    _l("0, 1, 2, 3+.")),
                  C("contacts", _l("Reached contacts"),
                    _l("Reached contacts who attended that many workshops."), "people"),
                  C("share", _l("Share of reached"),
                    _l("Contacts in this row divided by all reached contacts."), "rate"))),
    TableSpec("failures", "campaign", _l("Failure reasons"),
              _l("Failed and undelivered messages by the error code Twilio reported."), (
                  C("error_code", _l("Error code"),
                    _l("Twilio error code; \"none\" when the provider gave none."), "code",
                    _l("Twilio error codes (https://www.twilio.com/docs/api/errors), or "
                       "none.")),
                  C("description", _l("Description"), _l("What the code means."), "text"),
                  C("messages", _l("Messages"),
                    _l("Failed or undelivered messages with this code."), "count"),
                  C("share", _l("Share of failures"),
                    _l("Messages in this row divided by all failed and undelivered "
                       "messages."), "rate"))),
    TableSpec("messages", "campaign", _l("Delivery and opt-outs by message"),
              _l("Each campaign message: deliveries and the opt-outs attributed to it."), (
                  C("message_id", _l("Message ID"),
                    _l("Internal number of the campaign message; empty for workshop "
                       "notices without one."), "code", page=False),
                  C("message", _l("Message"), _l("Label of the campaign message."), "text"),
                  C("delivered", _l("Delivered"), _l("Delivered messages."), "count"),
                  C("delivered_contacts", _l("Contacts delivered"),
                    _l("Distinct contacts the message was delivered to."), "people"),
                  C("opt_outs", _l("Opt-outs"),
                    _l("Contacts whose opt-out is attributed to this message."), "people"),
                  C("opt_out_rate", _l("Opt-out rate"),
                    _l("Opt-outs divided by contacts delivered."), "rate"))),
    TableSpec("funnel", "campaign", _l("Workshop funnel"),
              _l("Distinct contacts at each step, per workshop; the total row adds the "
                 "workshops up."), (
                  C("workshop_id", _l("Workshop ID"), _l("Internal number of the workshop."),
                    "code", page=False),
                  C("code", _l("Code"), _l("The workshop's RSVP code."), "code"),
                  C("workshop", _l("Workshop"), _l("Title of the workshop."), "text"),
                  C("starts_on", _l("Date"), _l("Date the workshop starts (local time)."),
                    "date"),
                  C("invited", _l("Invited"), _l("Contacts invited."), "people"),
                  C("rsvp_yes", _l("RSVP yes"), _l("Contacts who answered yes."), "people"),
                  C("attended", _l("Attended"), _l("Contacts who attended, walk-ins "
                                                   "included."), "people"),
                  C("walk_ins", _l("Walk-ins"), _l("Attendees who came without being "
                                                   "registered."), "people"),
                  C("attended_after_rsvp", _l("Attended after RSVP"),
                    _l("Contacts who answered yes and attended."), "people"),
                  C("no_shows", _l("No-shows"),
                    _l("Contacts marked as no-show who did not attend."), "people"),
                  C("rsvp_rate", _l("RSVP rate"), _l("RSVP yes divided by invited."), "rate"),
                  C("show_up_rate", _l("Show-up rate"),
                    _l("Attended after RSVP divided by RSVP yes."), "rate"))),
    TableSpec("time_series", "campaign", _l("Reach over time"),
              _l("Newly reached contacts per day or week, and cumulative reach."), (
                  C("period_start", _l("Day or week"),
                    _l("The day, or the Monday that starts the week."), "date"),
                  C("newly_reached", _l("Newly reached"),
                    _l("Contacts reached for the first time in the period on that day or "
                       "week."), "count"),
                  C("cumulative_reach", _l("Cumulative reach"),
                    _l("Contacts reached from the start of the period up to that day or "
                       "week."), "count")),
              suppressed=False),
    TableSpec("org_summary", "organization", _l("Organization totals"),
              _l("All campaigns together; a contact reached by several campaigns counts "
                 "once."), _summary_columns, suppressed=False),
    TableSpec("campaigns", "organization", _l("Campaigns"),
              _l("Headline figures of each campaign for the period."), (
                  C("campaign_id", _l("Campaign ID"), _l("Internal number of the campaign."),
                    "code", page=False),
                  C("campaign", _l("Campaign"), _l("Campaign name."), "text"),
                  C("status", _l("Status"), _l("Campaign status."), "code",
                    _l("draft, active, paused, completed, archived."),
                    labeler=lambda code: STATUS_LABELS.get(code, code)),
                  C("strategy", _l("Strategy"), _l("CSAP prevention strategy."), "code",
                    STRATEGY_VALUES, labeler=lambda code: STRATEGY_LABELS.get(code, code)),
                  C("level", _l("Level"), _l("IOM prevention level."), "code",
                    LEVEL_VALUES, labeler=lambda code: LEVEL_LABELS.get(code, code)),
                  C("reached", _l("Reached"), _l("Reached contacts."), "count"),
                  C("sms_reached", _l("Reached by SMS"),
                    _l("Contacts with at least one delivered message."), "count"),
                  C("workshop_reached", _l("Reached in workshops"),
                    _l("Contacts who attended at least one workshop."), "count"),
                  C("delivered", _l("Messages delivered"), _l("Delivered messages."), "count"),
                  C("delivery_rate", _l("Delivery rate"),
                    _l("Delivered divided by delivered, failed and undelivered."), "rate"),
                  C("opt_outs", _l("Opt-outs"),
                    _l("Contacts whose opt-out is attributed to the campaign."), "count"),
                  C("opt_out_rate", _l("Opt-out rate"),
                    _l("Opt-outs divided by contacts reached by SMS."), "rate"),
                  C("target_population", _l("Target population"),
                    _l("The campaign's target population; empty when not set."), "count"),
                  C("reach_proportion", _l("Reach proportion"),
                    _l("Reached divided by the target population."), "rate")),
              suppressed=False),
    TableSpec("strategy", "organization", _l("By prevention strategy (CSAP)"),
              _l("Campaigns grouped by prevention strategy; a contact counts once per "
                 "strategy."), (
                  C("strategy", _l("Strategy code"), _l("CSAP strategy code."), "code",
                    STRATEGY_VALUES, page=False),
                  C("label", _l("Strategy"), _l("Strategy, in your language."), "text"),
                  C("campaigns", _l("Campaigns"), _l("Number of campaigns."), "count"),
                  C("reached", _l("Reached"), _l("Reached contacts."), "count"),
                  C("sms_reached", _l("Reached by SMS"),
                    _l("Contacts with at least one delivered message."), "count"),
                  C("workshop_reached", _l("Reached in workshops"),
                    _l("Contacts who attended at least one workshop."), "count"),
                  C("delivered", _l("Messages delivered"), _l("Delivered messages."),
                    "count")),
              suppressed=False),
    TableSpec("level", "organization", _l("By prevention level (IOM)"),
              _l("Campaigns grouped by prevention level; a contact counts once per level."), (
                  C("level", _l("Level code"), _l("IOM level code."), "code",
                    LEVEL_VALUES, page=False),
                  C("label", _l("Level"), _l("Level, in your language."), "text"),
                  C("campaigns", _l("Campaigns"), _l("Number of campaigns."), "count"),
                  C("reached", _l("Reached"), _l("Reached contacts."), "count"),
                  C("sms_reached", _l("Reached by SMS"),
                    _l("Contacts with at least one delivered message."), "count"),
                  C("workshop_reached", _l("Reached in workshops"),
                    _l("Contacts who attended at least one workshop."), "count"),
                  C("delivered", _l("Messages delivered"), _l("Delivered messages."),
                    "count")),
              suppressed=False),
)}
CAMPAIGN_TABLES = tuple(k for k, s in SPECS.items() if s.scope == "campaign")
ORGANIZATION_TABLES = tuple(k for k, s in SPECS.items() if s.scope == "organization")

# The de-identified participation export (one row per event).
EVENT_COLUMNS = (
    C("contact", _l("Contact (pseudonym)"),
      _l("Pseudonymous contact ID: the same contact has the same ID in every export of the "
         "organization; it cannot be traced back without the server's secret."), "code",
      _l("20 hexadecimal characters.")),
    C("age_band", _l("Age band"), _l("Age band in the calendar year of the event."), "code",
      AGE_VALUES),
    C("gender", _l("Gender"), _l("Gender code."), "code", GENDER_VALUES),
    C("language", _l("Language"), _l("Preferred language code."), "code", LANGUAGE_VALUES),
    C("country", _l("Country"), _l("Country code."), "code", COUNTRY_VALUES),
    C("state_code", _l("State code"), _l("State code; for evaluators, \"suppressed\" when "
                                         "fewer contacts in the export share the state than "
                                         "the threshold."), "code", STATE_VALUES),
    C("municipality", _l("Municipality"),
      _l("Municipality as recorded; for evaluators, \"suppressed\" when fewer contacts in the "
         "export share it than the threshold."), "text"),
    C("campaign_id", _l("Campaign ID"), _l("Internal number of the campaign; empty for events "
                                          "outside any campaign."), "code"),
    C("campaign", _l("Campaign"), _l("Campaign name."), "text"),
    C("event", _l("Event"), _l("What happened."), "code",
      _l("sms_sent, sms_delivered, sms_failed, sms_undelivered, reply, opt_out, opt_in, "
         "invited, rsvp_yes, rsvp_no, waitlisted, attended, no_show, walk_in (a walk-in also "
         "has an \"attended\" row).")),
    C("channel", _l("Channel"), _l("Channel of the event."), "code",
      _l("sms, workshop, web, import.")),
    C("workshop_id", _l("Workshop ID"), _l("Internal number of the workshop, for workshop "
                                          "events."), "code"),
    C("message_id", _l("Message ID"), _l("Internal number of the campaign message, for SMS "
                                        "events."), "code"),
    C("error_code", _l("Error code"), _l("Twilio error code of a failed or undelivered "
                                        "message, or of a carrier opt-out."), "code"),
    C("occurred_at_utc", _l("Time (UTC)"), _l("When the event happened, in UTC."), "datetime"),
)


# --- builders ----------------------------------------------------------------------------


def _shares(cells: list, total: int) -> list:
    return [derived(None if isinstance(c, Hidden) else ratio(c, total), c) for c in cells]


def _rate(numerator, denominator):
    if isinstance(numerator, Hidden) or isinstance(denominator, Hidden):
        return derived(None, numerator, denominator)
    return ratio(numerator, denominator)


def _representation(keys: list, reached: Counter, targeted: Counter, threshold,
                    hide_reached=None, hide_targeted=None) -> list[tuple]:
    """(key, reached cell, reached share, targeted cell, targeted share) per key."""
    r_total, t_total = sum(reached.values()), sum(targeted.values())
    r_cells = protect([reached[k] for k in keys], threshold, hide_all=bool(hide_reached))
    t_cells = protect([targeted[k] for k in keys], threshold, hide_all=bool(hide_targeted))
    return list(zip(keys, r_cells, _shares(r_cells, r_total), t_cells,
                    _shares(t_cells, t_total)))


def _rollup(groups, key) -> Counter:
    counts = Counter()
    for g in groups:
        counts[key(g)] += g.n
    return counts


def _total_row(reached: int, targeted: int, lead: int) -> list:
    """A representativeness table's total row: `lead` label cells, then exact totals."""
    return [_("Total")] + [""] * (lead - 1) + [reached, 1.0 if reached else None,
                                               targeted, 1.0 if targeted else None]


def _summary_rows(figures: CampaignFigures) -> list[list]:
    f = figures
    messages, workshops = f.message_dose, f.workshop_dose
    rows = [
        ("reached", _("Reached"), f.reached, "people"),
        ("reached_sms_only", _("Reached by SMS only"), f.channels["sms_only"], "people"),
        ("reached_workshop_only", _("Reached in workshops only"),
         f.channels["workshop_only"], "people"),
        ("reached_both", _("Reached by SMS and in workshops"), f.channels["both"], "people"),
        ("sms_reached", _("Reached by SMS"), f.sms_reached, "people"),
        ("workshop_reached", _("Reached in workshops"), f.workshop_reached, "people"),
        ("target_population", _("Target population"), f.target_population, "people"),
        ("reach_proportion", _("Reach proportion"), f.reach_proportion, "proportion"),
        ("targeted", _("Targeted audience"), f.targeted, "people"),
        ("messages_delivered", _("Messages delivered"), f.delivered, "messages"),
        ("messages_failed", _("Messages failed"), f.failed, "messages"),
        ("messages_undelivered", _("Messages undelivered"), f.undelivered, "messages"),
        ("delivery_rate", _("Delivery rate"), f.delivery_rate, "proportion"),
        ("opt_outs", _("Opt-outs"), f.opt_outs, "people"),
        ("opt_out_rate", _("Opt-out rate"), f.opt_out_rate, "proportion"),
        ("replies", _("Contacts who replied"), f.replies, "people"),
        ("reply_rate", _("Reply rate"), f.reply_rate, "proportion"),
        ("median_messages", _("Median messages per reached contact"), median(messages),
         "average"),
        ("mean_messages", _("Average messages per reached contact"),
         ratio(f.delivered, f.reached), "average"),
        ("median_workshops", _("Median workshops per reached contact"), median(workshops),
         "average"),
        ("attendances", _("Workshop attendances"), f.attendances, "attendances"),
    ]
    return [list(r) for r in rows]


def campaign_tables(figures: CampaignFigures, threshold: int | None,
                    language: str) -> dict[str, Table]:
    """Every campaign dashboard table; `threshold` None means exact counts."""
    f = figures
    tables = {key: Table(SPECS[key]) for key in CAMPAIGN_TABLES}
    tables["summary"].rows = _summary_rows(f)

    # Representativeness: age band, gender, language.
    dimensions = (
        ("age_band", lambda g: g.age_band, REPORT_AGE_BANDS, age_label),
        ("gender", lambda g: g.gender, GENDERS + (UNKNOWN,), gender_label),
        ("language", lambda g: g.language, LANGUAGES + (UNKNOWN,), language_label),
    )
    for key, attr, order, label in dimensions:
        reached, targeted = _rollup(f.reached_groups, attr), _rollup(f.targeted_groups, attr)
        # "other ages" and "unknown" rows appear only when someone is in them.
        keys = [k for k in order
                if k not in (UNKNOWN, OTHER_AGE) or reached[k] or targeted[k]]
        keys += sorted((set(reached) | set(targeted)) - set(order))
        tables[key].rows = [[k, label(k), r, rs, t, ts] for k, r, rs, t, ts in
                            _representation(keys, reached, targeted, threshold)]
        tables[key].total = _total_row(f.reached, f.targeted, 2)

    # Places: state and municipality (municipality names folded together).
    def state_key(g):
        return (g.country, g.state)

    r_state, t_state = _rollup(f.reached_groups, state_key), _rollup(f.targeted_groups, state_key)
    states = sorted(set(r_state) | set(t_state), key=lambda k: (k[0], k[1] == UNKNOWN, k[1]))
    state_rows = _representation(states, r_state, t_state, threshold)
    state_cells = {row[0]: row for row in state_rows}
    tables["state"].rows = [[c, s, state_label(c, s), *cells]
                            for (c, s), *cells in state_rows]
    tables["state"].total = _total_row(f.reached, f.targeted, 3)

    names: dict[tuple, Counter] = {}

    def muni_key(g):
        folded = fold(g.municipality) if g.municipality else ""
        key = (g.country, g.state, folded)
        names.setdefault(key, Counter())[g.municipality or ""] += g.n
        return key

    r_muni, t_muni = _rollup(f.reached_groups, muni_key), _rollup(f.targeted_groups, muni_key)
    muni_cells = {}
    muni_rows = []
    for state in states:
        keys = sorted((k for k in set(r_muni) | set(t_muni) if k[:2] == state),
                      key=lambda k: (k[2] == "", k[2]))
        _key, r_cell, _rs, t_cell, _ts = state_cells[state]
        for row in _representation(keys, r_muni, t_muni, threshold,
                                   hide_reached=isinstance(r_cell, Hidden),
                                   hide_targeted=isinstance(t_cell, Hidden)):
            muni_cells[row[0]] = row
            name = names[row[0]].most_common(1)[0][0] if row[0][2] else ""
            muni_rows.append([state[0], state[1], state_label(*state), name, *row[1:]])
    tables["municipality"].rows = muni_rows
    tables["municipality"].total = _total_row(f.reached, f.targeted, 4)

    # Target places read their reach from the state/municipality rows (same suppression).
    for place in f.places:
        if place.municipality:
            row = muni_cells.get((place.country, place.state, fold(place.municipality)))
        else:
            row = state_cells.get((place.country, place.state))
        reached = row[1] if row else 0
        proportion = _rate(reached, place.target)
        tables["places"].rows.append([place.country, place.state,
                                      state_label(place.country, place.state),
                                      place.municipality or "", place.target, reached,
                                      proportion])

    # Dose distributions.
    for key, distribution, bins in (("message_dose", f.message_dose, MESSAGE_DOSE_BINS),
                                    ("workshop_dose", f.workshop_dose, WORKSHOP_DOSE_BINS)):
        binned = Counter()
        for value, n in distribution.items():
            binned[_bin(value, bins)] += n
        cells = protect([binned[b] for b in bins], threshold)
        tables[key].rows = [[b, c, s] for b, c, s in zip(bins, cells, _shares(cells, f.reached))]
        tables[key].total = [_("Total"), f.reached, 1.0 if f.reached else None]

    # Failure reasons.
    codes = sorted(f.failure_codes, key=lambda c: (c is None, c or ""))
    failures = sum(f.failure_codes.values())
    cells = protect([f.failure_codes[c] for c in codes], threshold)
    tables["failures"].rows = [[c or NO_CODE, error_code_label(c or NO_CODE), n, s]
                               for c, n, s in zip(codes, cells, _shares(cells, failures))]
    tables["failures"].total = [_("Total"), "", failures, 1.0 if failures else None]

    # Messages.
    people = protect_each([m.delivered_contacts for m in f.messages], threshold)
    delivered = protect_each([m.delivered for m in f.messages], threshold)
    opt_outs = protect([m.opt_outs for m in f.messages], threshold)
    for m, d, p, o in zip(f.messages, delivered, people, opt_outs):
        tables["messages"].rows.append([m.message_id, m.label or _("Workshop notices"),
                                        d if isinstance(d, Hidden) else derived(d, p), p,
                                        o, _rate(o, p)])

    # Funnel.
    columns = {name: protect([getattr(w, name) for w in f.workshops], threshold)
               for name in FUNNEL_FIELDS}
    for i, w in enumerate(f.workshops):
        cells = {name: columns[name][i] for name in FUNNEL_FIELDS}
        tables["funnel"].rows.append([
            w.workshop_id, w.code, w.title_for(language),
            w.local_date,
            *(cells[name] for name in FUNNEL_FIELDS),
            _rate(cells["rsvp_yes"], cells["invited"]),
            _rate(cells["attended_after_rsvp"], cells["rsvp_yes"])])
    totals = f.funnel_totals()
    tables["funnel"].total = [_("Total"), "", "", "", *(totals[n] for n in FUNNEL_FIELDS),
                              ratio(totals["rsvp_yes"], totals["invited"]),
                              ratio(totals["attended_after_rsvp"], totals["rsvp_yes"])]

    tables["time_series"].rows = [[p.start, p.new, p.cumulative] for p in f.series]
    return tables


def organization_tables(figures: OrganizationFigures) -> dict[str, Table]:
    """The organization dashboard's tables: campaign-level figures, always exact."""
    f = figures
    tables = {key: Table(SPECS[key]) for key in ORGANIZATION_TABLES}
    tables["org_summary"].rows = [list(r) for r in (
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
    )]
    for s in f.campaigns:
        tables["campaigns"].rows.append([
            s.campaign_id, s.name, s.status, s.strategy, s.level, s.reached, s.sms_reached,
            s.workshop_reached, s.delivered, s.delivery_rate, s.opt_outs, s.opt_out_rate,
            s.target_population, s.reach_proportion])
    for key, rollups, order, labels in (("strategy", f.by_strategy, STRATEGIES, STRATEGY_LABELS),
                                        ("level", f.by_level, LEVELS, LEVEL_LABELS)):
        by_code = {r.code: r for r in rollups}
        for code in [c for c in order if c in by_code] + sorted(set(by_code) - set(order)):
            r = by_code[code]
            tables[key].rows.append([code, str(labels.get(code, code)), r.campaigns, r.reached,
                                     r.sms_reached, r.workshop_reached, r.delivered])
    return tables

