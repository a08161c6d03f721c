"""Marshmallow schemas of the feature endpoints (audiences, campaigns, workshops, reports,
events): they validate the requests and generate the OpenAPI document. None of the
answers to a key without contacts:read carries a name or a phone number."""

import marshmallow as ma
from flask_babel import gettext as _
from marshmallow import validate

from app.api.schemas import Text
from app.campaigns.services import LIST_FILTERS
from app.contacts.eligibility import REASON_ORDER
from app.workshops.models import REGISTRATION_STATUSES

CURSOR = Text(validate=validate.Length(max=100))


class PageArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    cursor = CURSOR
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


# --- audiences ---------------------------------------------------------------------------


class AudienceOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    filters = ma.fields.Dict(
        required=True,
        metadata={
            "description": "languages, genders, age_min, age_max, country, state_codes, "
            "municipalities, tags, consent_sources (all optional)."
        },
    )
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class AudiencePage(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(AudienceOut), required=True)
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page."}
    )


class Exclusion(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.OneOf(REASON_ORDER))
    label = ma.fields.String(required=True, metadata={"description": "In the request's language."})
    count = ma.fields.Integer(required=True)


class AudienceCount(ma.Schema):
    """What the audience page and the send review show: who can be messaged and why the
    others cannot (the first reason of each, in a fixed order)."""

    audience_id = ma.fields.Integer(required=True)
    eligible = ma.fields.Integer(required=True)
    matched = ma.fields.Integer(required=True)
    excluded_total = ma.fields.Integer(required=True)
    excluded = ma.fields.List(ma.fields.Nested(Exclusion), required=True)


# --- campaigns ---------------------------------------------------------------------------


class CampaignListArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    status = Text(
        load_default="current",
        validate=validate.OneOf(LIST_FILTERS),
        metadata={"description": "current (every campaign but archived), one status, or all."},
    )


class CampaignSummaryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    topic = ma.fields.String(required=True)
    strategy = ma.fields.String(required=True)
    level = ma.fields.String(required=True)
    start_date = ma.fields.Date(allow_none=True)
    end_date = ma.fields.Date(allow_none=True)
    messages = ma.fields.Integer(required=True, metadata={"description": "How many messages."})


class CampaignList(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(CampaignSummaryOut), required=True)
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "How many campaigns each status filter lists."},
    )


class PlaceOut(ma.Schema):
    country = ma.fields.String(required=True)
    state = ma.fields.String(required=True, attribute="state_code")
    municipality = ma.fields.String(allow_none=True)
    target_population = ma.fields.Integer(allow_none=True)


class MessageOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True)
    texts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"description": "The message's text per language (es, en)."},
    )
    track_links = ma.fields.Boolean(required=True)
    whatsapp_template_name = ma.fields.String(allow_none=True)


class TargetsOut(ma.Schema):
    age_min = ma.fields.Integer(required=True)
    age_max = ma.fields.Integer(required=True)
    population = ma.fields.Integer(allow_none=True)


class CampaignOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    objectives = ma.fields.String(allow_none=True)
    status = ma.fields.String(required=True)
    topic = ma.fields.String(required=True)
    strategy = ma.fields.String(required=True)
    level = ma.fields.String(required=True)
    default_language = ma.fields.String(required=True)
    start_date = ma.fields.Date(allow_none=True)
    end_date = ma.fields.Date(allow_none=True)
    targets = ma.fields.Nested(TargetsOut, required=True)
    places = ma.fields.List(ma.fields.Nested(PlaceOut), required=True)
    messages = ma.fields.List(ma.fields.Nested(MessageOut), required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


# --- workshops ---------------------------------------------------------------------------


class WorkshopOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    campaign_id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={"description": "The RSVP code."})
    title = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), required=True
    )  # {"es": …, "en": …}
    kind = ma.fields.String(required=True)
    language = ma.fields.String(required=True)
    venue_name = ma.fields.String(required=True)
    venue_address = ma.fields.String(allow_none=True)
    country = ma.fields.String(required=True)
    state = ma.fields.String(allow_none=True)
    municipality = ma.fields.String(allow_none=True)
    timezone = ma.fields.String(required=True)
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    status = ma.fields.String(required=True)
    capacity = ma.fields.Integer(required=True)
    confirmed = ma.fields.Integer(required=True)
    waitlisted = ma.fields.Integer(required=True)


class WorkshopListArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    days = ma.fields.Integer(
        load_default=90,
        validate=validate.Range(min=1, max=366),
        metadata={"description": "Workshops starting within this many days from now."},
    )


class WorkshopList(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(WorkshopOut), required=True)


class RegistrationIn(ma.Schema):
    """Either `contact_id` (a contact who can be messaged), or the person by phone with
    the walk-in form's fields: `consent` true (the young person agrees to messages), a
    first name unless the phone is known with one, and `guardian_consent` true for anyone
    who may be under 18 (an unknown age counts as possibly under 18)."""

    class Meta:
        unknown = ma.RAISE

    contact_id = ma.fields.Integer(strict=True, validate=validate.Range(min=1))
    phone = Text(validate=validate.Length(min=1, max=40))
    first_name = Text(validate=validate.Length(max=1_000), allow_none=True)
    language = Text(validate=validate.Length(max=40), allow_none=True)
    birth_year = ma.fields.Integer(
        allow_none=True, validate=validate.Range(min=1900, max=2200), strict=True
    )
    age_band = Text(allow_none=True, validate=validate.Length(max=20))
    gender = Text(allow_none=True, validate=validate.Length(max=40))
    state = Text(allow_none=True, validate=validate.Length(max=1_000))
    municipality = Text(allow_none=True, validate=validate.Length(max=1_000))
    consent = ma.fields.Boolean(allow_none=True)
    guardian_consent = ma.fields.Boolean(allow_none=True)
    preferred_channel = Text(allow_none=True, validate=validate.Length(max=40))
    whatsapp_opt_in = ma.fields.Boolean(allow_none=True)

    @ma.validates_schema
    def _one_way(self, data, **_kwargs):
        if ("contact_id" in data) == ("phone" in data):
            raise ma.ValidationError(_("Give either contact_id or phone."), field_name="contact_id")


class RegistrationOut(ma.Schema):
    """No personal data: ids and states."""

    id = ma.fields.Integer(required=True)
    workshop_id = ma.fields.Integer(required=True)
    contact_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(REGISTRATION_STATUSES))
    outcome = ma.fields.String(
        required=True,
        metadata={
            "description": "confirmed, waitlisted, already_confirmed, already_waitlisted "
            "(register); canceled, left_waitlist, declined, already_declined (cancel)."
        },
    )
    contact_created = ma.fields.Boolean()
    waitlist_position = ma.fields.Integer(allow_none=True)


# --- reports -----------------------------------------------------------------------------


class ReachArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    date_from = ma.fields.Date(data_key="from", metadata={"description": "First day."})
    date_to = ma.fields.Date(data_key="to", metadata={"description": "Last day (included)."})
    granularity = Text(validate=validate.OneOf(("day", "week")))


class _Document(ma.Schema):
    """The JSON of `flask reports …`, with the evaluator's small-cell suppression: a count
    below the organization's threshold, and any figure from which one could be worked
    out, is "*"."""

    organization = ma.fields.String(required=True, metadata={"description": "Its slug."})
    tables = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        required=True,
        metadata={"description": "Every table of the report: rows and total, by column key."},
    )


class PeriodOut(ma.Schema):
    from_ = ma.fields.String(
        allow_none=True, data_key="from", attribute="from", metadata={"format": "date"}
    )
    to = ma.fields.String(allow_none=True, metadata={"format": "date"})
    timezone = ma.fields.String(required=True)


class ReachDocument(_Document):
    """`flask reports reach --format json`, suppressed as for evaluators."""

    period = ma.fields.Nested(PeriodOut, required=True)
    campaign = ma.fields.Dict(metadata={"description": "id, name, strategy, level (one campaign)."})


class SurveyDocument(_Document):
    """`flask reports survey --format json`, suppressed as for evaluators."""

    survey = ma.fields.Dict(required=True, metadata={"description": "id, title."})


class ExperimentDocument(_Document):
    """`flask reports experiment --format json`, suppressed as for evaluators."""

    campaign = ma.fields.Dict(required=True)
    experiment = ma.fields.Dict(required=True)
    preregistration_changes = ma.fields.List(ma.fields.Dict(), required=True)


# --- events ------------------------------------------------------------------------------


class EventArgs(PageArgs):
    campaign_id = ma.fields.Integer(validate=validate.Range(min=1))
    limit = ma.fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class EventPage(ma.Schema):
    data = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={"description": "One object per event; keys as in /events/codebook."},
    )
    next_cursor = ma.fields.String(allow_none=True)


class CodebookEntry(ma.Schema):
    column = ma.fields.String(required=True)
    meaning = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    values = ma.fields.String(required=True)


class Codebook(ma.Schema):
    threshold = ma.fields.Integer(required=True)
    columns = ma.fields.List(ma.fields.Nested(CodebookEntry), required=True)
