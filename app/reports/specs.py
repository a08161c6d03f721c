"""What every dashboard table looks like, described once: columns, meaning, type and
allowed values (`SPECS`), so the page, its CSV export and the codebook cannot disagree.
The participation export's columns are in event_columns.py."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.campaigns.services import LEVEL_LABELS, STATUS_LABELS, STRATEGY_LABELS
from app.reports.labels import UNKNOWN_LABEL, month_label

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

# People reached and messages delivered: the same columns wherever a table counts them.
REACH_COUNTS = (
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
)
# A rollup table (by strategy, by level): its campaigns, then the reach counts.
ROLLUP_COUNTS = (
    C("campaigns", _l("Campaigns"), _l("Number of campaigns."), "count"),
    *REACH_COUNTS,
)
# The conversation funnel (conversations.py): the same columns in every table of it.
CONVERSATION_COUNTS = (
    C(
        "replies",
        _l("Contacts who replied"),
        _l("Contacts who sent a free-text reply (once per campaign and month)."),
        "count",
    ),
    C("cases", _l("Cases"), _l("Cases opened (urgent and normal)."), "count"),
    C("urgent", _l("Urgent"), _l("Urgent cases (a crisis message)."), "count"),
    C("normal", _l("Normal"), _l("Normal cases (a request for help or a question)."), "count"),
    C(
        "within_target",
        _l("Acknowledged in time"),
        _l("Cases acknowledged by a person within the organization's target."),
        "count",
    ),
    C(
        "not_within_target",
        _l("Not acknowledged in time"),
        _l("Cases acknowledged late, or never acknowledged."),
        "count",
    ),
    C("referred", _l("Referred"), _l("Cases referred to a service."), "count"),
    C(
        "ack_median_minutes",
        _l("Median minutes to acknowledge"),
        _l("Median time from opening (urgent: from becoming urgent) to acknowledgement."),
        "decimal",
    ),
    C(
        "ack_p90_minutes",
        _l("90th percentile, minutes"),
        _l("Nine in ten acknowledged cases were acknowledged within this many minutes."),
        "decimal",
    ),
)
_month_column = C(
    "month",
    _l("Month"),
    _l("Month (YYYY-MM, organization's time zone)."),
    "code",
    labeler=lambda code: month_label(code),
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
            _l(
                "Each campaign message: deliveries, failures, the opt-outs attributed to it "
                "and the contacts who clicked its tracked links."
            ),
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
                C(
                    "clicked",
                    _l("Clicked"),
                    _l(
                        "Contacts who clicked one of the message's tracked links (link "
                        "previews and scanners are not clicks)."
                    ),
                    "people",
                ),
                C(
                    "click_through",
                    _l("Click-through"),
                    _l("Clicked divided by contacts delivered."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "reach_channel",
            "campaign",
            _l("Reach by channel"),
            _l(
                "Reached contacts by the channels their delivered messages went on; those "
                "reached by messages may also have attended workshops."
            ),
            (
                C(
                    "channel",
                    _l("Channel code"),
                    _l("Code of the row."),
                    "code",
                    _l("sms_only, whatsapp_only, sms_and_whatsapp, workshop_only."),
                    page=False,
                ),
                C("label", _l("Channel"), _l("The row, in your language."), "text"),
                C("reached", _l("Reached"), _l("Reached contacts in this row."), "people"),
                C(
                    "share",
                    _l("Share of reached"),
                    _l("Contacts in this row divided by all reached contacts."),
                    "rate",
                ),
            ),
        ),
        TableSpec(
            "message_channels",
            "campaign",
            _l("Read rates by message and channel"),
            _l(
                "Each campaign message's deliveries per channel and, on WhatsApp, the "
                "messages read (SMS has no read receipts)."
            ),
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
                C(
                    "channel",
                    _l("Channel code"),
                    _l("Channel of the messages."),
                    "code",
                    _l("sms, whatsapp."),
                    page=False,
                ),
                C("label", _l("Channel"), _l("The channel, in your language."), "text"),
                C("delivered", _l("Delivered"), _l("Delivered messages."), "count"),
                C(
                    "read",
                    _l("Read"),
                    _l("Delivered WhatsApp messages the recipient opened; empty for SMS."),
                    "count",
                ),
                C(
                    "read_rate",
                    _l("Read rate"),
                    _l("Read divided by delivered; empty for SMS."),
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
                *REACH_COUNTS,
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
                *ROLLUP_COUNTS,
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
                *ROLLUP_COUNTS,
            ),
            suppressed=False,
        ),
        TableSpec(
            "conversation_funnel",
            "campaign",
            _l("Conversation funnel"),
            _l(
                "Replies, cases, acknowledgement within the target and referrals, per month; "
                "the total row is the campaign's."
            ),
            (_month_column, *CONVERSATION_COUNTS),
        ),
        TableSpec(
            "conversations",
            "organization",
            _l("Conversation funnel by campaign"),
            _l("Replies, cases, acknowledgement within the target and referrals."),
            (
                C(
                    "campaign_id",
                    _l("Campaign ID"),
                    _l("Internal number of the campaign; empty: no campaign."),
                    "code",
                    page=False,
                ),
                C("campaign", _l("Campaign"), _l("Campaign name."), "text"),
                *CONVERSATION_COUNTS,
            ),
        ),
        TableSpec(
            "conversations_by_month",
            "organization",
            _l("Conversation funnel by month"),
            _l("All campaigns together, per month."),
            (_month_column, *CONVERSATION_COUNTS),
        ),
    )
}
CAMPAIGN_TABLES = tuple(k for k, s in SPECS.items() if s.scope == "campaign")
ORGANIZATION_TABLES = tuple(k for k, s in SPECS.items() if s.scope == "organization")
