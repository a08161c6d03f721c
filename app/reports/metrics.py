"""Report metrics: every figure the reports show, defined once.

The `Metric` entries below are the definitions. The glossary page renders them (in the
reader's language: the texts are catalogue messages), the dashboards, the CSV exports
and `flask reports reach` all compute them through reach.py, messages.py, funnel.py,
campaign.py and organization.py, whose functions name the metric keys they implement.
Change a definition here and in those modules together.

Conventions shared by every metric:

- A *period* is whole days in the organization's time zone, both ends included; an
  open end means "since the first event" or "up to now". An event belongs to a period
  by its `occurred_at`.
- An event belongs to a campaign by its `campaign_id` (workshop events carry the
  campaign of the workshop).
- Erased contacts (ARCO cancellation) keep their row with age band, gender, language,
  state and municipality, so they stay countable everywhere.
- Counts of people are distinct contacts; counts of messages are delivery reports.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.contacts.models import AGE_BANDS

# Kinds of participation event that make a contact "reached". A walk-in records both
# "walk_in" and "attended"; counting "walk_in" too keeps a walk-in reached even if only
# that event was recorded (distinct contacts, so nobody counts twice).
SMS_REACH_KINDS = ("sms_delivered",)
WORKSHOP_REACH_KINDS = ("attended", "walk_in")
REACH_KINDS = SMS_REACH_KINDS + WORKSHOP_REACH_KINDS
DELIVERY_KINDS = ("sms_delivered", "sms_failed", "sms_undelivered")
FAILURE_KINDS = ("sms_failed", "sms_undelivered")
FUNNEL_KINDS = ("invited", "rsvp_yes", "attended", "walk_in", "no_show")
# A contact "engaged" with a campaign: answered or acted on a message (see the metric).
ENGAGED_KINDS = ("reply", "rsvp_yes", "rsvp_no", "survey_started", "clicked")
CLICK_KINDS = ("clicked",)

# The age bands (IMJUVE youth: 12-29) plus the two bands that keep totals whole.
OTHER_AGE = "other"  # a known age outside 12-29
UNKNOWN = "unknown"  # no birth year and no stored band; also gender/state/municipality
REPORT_AGE_BANDS = AGE_BANDS + (OTHER_AGE, UNKNOWN)
CHANNELS = ("sms_only", "workshop_only", "both")


@dataclass(frozen=True)
class Metric:
    key: str
    name: object  # lazy string
    definition: object  # lazy string


METRICS: tuple[Metric, ...] = (
    Metric(
        "period",
        _l("Period"),
        _l(
            "Whole days in the organization's time zone, both ends included. Without a start "
            "date the period begins with the first recorded event; without an end date it "
            "runs until now. Every figure counts only events that happened in the period."
        ),
    ),
    Metric(
        "reached",
        _l("Reached"),
        _l(
            "Distinct contacts with at least one delivered SMS of the campaign or at least one "
            "attendance at one of its workshops (walk-ins included) in the period. A contact "
            "counts once however many messages or sessions they had; across the organization, "
            "a contact reached by two campaigns also counts once."
        ),
    ),
    Metric(
        "channel",
        _l("Reached by channel"),
        _l(
            "Reached contacts split by how they took part: SMS only (at least one delivered "
            "message, no attendance), workshop only (attended, no delivered message) or both. "
            "The three groups add up to Reached."
        ),
    ),
    Metric(
        "reach_proportion",
        _l("Reach proportion"),
        _l(
            "Reached divided by the campaign's target population. For each target place with "
            "its own target population: reached contacts living in that state (and "
            "municipality, when the place names one) divided by the place's target. Not shown "
            "when no target population is set."
        ),
    ),
    Metric(
        "representativeness",
        _l("Representativeness"),
        _l(
            "The reached contacts by age band, gender, language, state and municipality, "
            "side by side with the targeted audience, as counts and as shares of each "
            "column's total. Age is the calendar year of the contact's first reaching event in "
            "the period minus the birth year; contacts known only by an age band keep their "
            'band. Ages outside 12 to 29 are shown as "other ages".'
        ),
    ),
    Metric(
        "targeted",
        _l("Targeted audience"),
        _l(
            "Contacts matched today by the audiences of the campaign's scheduled sends, plus "
            "the contacts enrolled in the campaign or registered for one of its workshops "
            "(this keeps contacts who were targeted and later changed or were erased). Without "
            "any send to an audience, only the enrolled and registered contacts. Their age is "
            "the age reached in the year the period ends (this year when it is open). The "
            "targeted audience does not depend on the period."
        ),
    ),
    Metric(
        "dose_messages",
        _l("Messages per reached contact"),
        _l(
            "Delivered SMS of the campaign in the period for each reached contact (0 for a "
            "contact reached only in workshops): the distribution and its median. The median "
            "is the middle value when the reached contacts are sorted by their count."
        ),
    ),
    Metric(
        "dose_workshops",
        _l("Workshops attended per reached contact"),
        _l(
            "Different workshops of the campaign each reached contact attended in the period "
            "(walk-ins included; 0 for a contact reached only by SMS): the distribution and "
            "its median."
        ),
    ),
    Metric(
        "delivery_rate",
        _l("Delivery rate"),
        _l(
            "Delivered messages divided by delivered, failed and undelivered messages, by the "
            "final status reported in the period. Messages still in transit, canceled or "
            "skipped are not counted."
        ),
    ),
    Metric(
        "failure_reasons",
        _l("Failure reasons"),
        _l(
            "Failed and undelivered messages grouped by the error code Twilio reported (for "
            "example 30003: handset unreachable, 30005: unknown number, 30007: filtered by the "
            'carrier); "no code" when the provider gave none.'
        ),
    ),
    Metric(
        "opt_out_rate",
        _l("Opt-out rate"),
        _l(
            "An opt-out (a STOP, BAJA or similar reply, or a carrier report of an unsubscribed "
            "number) is attributed to the last message delivered to that contact before it, "
            "whatever campaign sent it; an opt-out with no earlier delivered message is not "
            "attributed to any campaign. Campaign rate: contacts whose opt-out in the period "
            "is attributed to the campaign, divided by the contacts with at least one "
            "delivered message of the campaign in the period. Message rate: the same for one "
            "message, divided by the contacts it was delivered to in the period; it shows "
            "which message drove people away."
        ),
    ),
    Metric(
        "reply_rate",
        _l("Reply rate"),
        _l(
            "Contacts who sent at least one free-text reply in the period (keywords such as "
            "STOP, HELP or an RSVP are counted in their own figures), divided by the contacts "
            "with at least one delivered message. A reply belongs to the campaign of the last "
            "message sent to the contact."
        ),
    ),
    Metric(
        "engaged",
        _l("Engaged"),
        _l(
            "Contacts who answered or acted on the campaign's messages in the period: a "
            "free-text reply, an RSVP (yes or no), a survey answer or a click on a tracked "
            "link. A contact counts once however many of these they did. Engagement rate: "
            "engaged divided by the contacts with at least one delivered message."
        ),
    ),
    Metric(
        "click_through",
        _l("Click-through"),
        _l(
            "For each message with tracked links: the contacts who clicked one of its links "
            "at least once in the period, divided by the contacts it was delivered to. Only a "
            "person's click counts: link previews by messaging apps, carriers' link "
            "scanners, automated fetchers and any visit within 3 seconds of sending or "
            "delivery are not clicks. Each recipient's links are their own, so a forwarded "
            "link counts for the recipient who got it."
        ),
    ),
    Metric(
        "funnel",
        _l("Workshop funnel"),
        _l(
            "For each workshop, distinct contacts at each step in the period: invited, RSVP "
            "yes, attended (walk-ins included), of which walk-ins, attended after an RSVP "
            "yes, and no-shows (marked as no-show and not attended). RSVP rate: RSVP yes "
            "divided by invited. Show-up rate: attended after RSVP divided by RSVP yes. The "
            "campaign row adds up its workshops, so a contact invited to two workshops counts "
            "twice there."
        ),
    ),
    Metric(
        "conversation_funnel",
        _l("Conversation funnel"),
        _l(
            "Contacts who sent a free-text reply (once per campaign and month; a campaign's "
            "row counts each contact once), cases opened in the period (urgent: a crisis "
            "message; normal: a request for help or a question), cases acknowledged by a "
            "person within the organization's target (minutes from opening, or for an urgent "
            "case from the moment it became urgent), the others (acknowledged late or never), "
            "and cases referred to a service. Median and 90th percentile minutes to "
            "acknowledge count only acknowledged cases (linear interpolation between ranks). "
            "Months are in the organization's time zone. Evaluators see counts only, "
            "suppressed like every breakdown, and no times for fewer acknowledged cases "
            "than the threshold."
        ),
    ),
    Metric(
        "time_series",
        _l("Reach over time"),
        _l(
            "Newly reached: contacts whose first reaching event in the period falls on that "
            "day or week (organization's time zone; weeks start on Monday and are labelled by "
            "that Monday). Cumulative reach: the running total, which ends at Reached."
        ),
    ),
    Metric(
        "small_cells",
        _l("Small-cell suppression"),
        _l(
            'Evaluators see "*" instead of every count of people, or of messages, in a '
            "breakdown (age band, gender, language, place, channel, dose, message, failure "
            "reason, workshop) that is between 1 and the organization's threshold minus one. "
            'Other figures of the same page or file are hidden as well (also "*", so that '
            "the marker does not tell which hidden figure is the small one) until none can be "
            "worked out from what is shown: from the totals, the headline figures, the other "
            "rows, the charts or the shares; where possible, the hidden rows of a table also "
            "add up to at least the threshold. Shares and rates computed from a hidden figure "
            "are hidden too. "
            "Reached, reached by SMS, reached in workshops, messages delivered, the delivery "
            "rate and opt-outs of a campaign are never hidden (the organization dashboard shows "
            "them for every campaign), so what follows from them alone, such as the split by "
            "channel, is shown as is. The time series stays exact. Coordinators and "
            "administrators see exact counts."
        ),
    ),
    Metric(
        "event_export",
        _l("De-identified participation export"),
        _l(
            "One row per participation event, with no name, phone number or internal contact "
            "number: a pseudonymous contact ID, age band, gender, language, country, state, "
            "municipality, campaign, event, channel, workshop, message, Twilio error code and "
            "time in UTC. Coordinators and administrators get every value and the exact time. "
            "Evaluators get a k-anonymous copy, k being the organization's threshold: the week "
            "instead of the time, and age band, gender, language, place, workshop and week "
            'widened or "suppressed" where needed, the same way on every row of a contact, '
            "until every combination of those columns in the file is shared by at least k "
            "contacts. Rows are left out only when the whole file has fewer than k contacts. "
            "The codebook of each export says how many rows were changed."
        ),
    ),
    Metric(
        "pseudonym",
        _l("Pseudonymous contact ID"),
        _l(
            "In the event export each contact is identified by a keyed hash (HMAC-SHA256) of "
            "the organization and the contact's internal number, made with a key derived from "
            "the server's secret. It is the same in every export of the organization, differs "
            "between organizations, and cannot be turned back into the contact without that "
            "secret."
        ),
    ),
)
METRICS_BY_KEY = {metric.key: metric for metric in METRICS}
