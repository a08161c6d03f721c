"""Marshmallow schemas of the API: they validate requests and generate the OpenAPI
document (apispec), so the document and the code cannot drift apart."""

import marshmallow as ma
from marshmallow import validate

from app.contacts.models import AGE_BANDS, CONSENT_SOURCES, GENDERS, LANGUAGES
from app.contacts.row_upsert import MAX_ROWS

TEXT = 1_000  # the CSV import's longest cell


def _storable(value: str) -> None:
    """Text a database can keep: no NUL character, no lone surrogate (invalid UTF-8)."""
    if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
        raise ma.ValidationError("Contains characters that cannot be stored.")


class Text(ma.fields.String):
    def __init__(self, *args, **kwargs):
        kwargs["validate"] = [_storable, *([kwargs["validate"]] if "validate" in kwargs else [])]
        super().__init__(*args, **kwargs)


class Problem(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={"description": "Stable error code."})
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "Field errors (validation_failed)."})


class ContactIn(ma.Schema):
    """One contact to create or update by phone: the CSV import's fields, with its
    validation, consent and guardian-consent rules. Blank or absent values never erase
    what is known."""

    class Meta:
        unknown = ma.RAISE

    phone = Text(required=True, validate=validate.Length(min=1, max=40))
    first_name = Text(validate=validate.Length(max=TEXT), allow_none=True)
    last_name = Text(validate=validate.Length(max=TEXT), allow_none=True)
    full_name = Text(validate=validate.Length(max=TEXT), allow_none=True)
    language = Text(
        validate=validate.Length(max=40), allow_none=True, metadata={"examples": list(LANGUAGES)}
    )
    birth_year = ma.fields.Integer(
        allow_none=True, validate=validate.Range(min=1900, max=2200), strict=True
    )
    age_band = Text(
        allow_none=True, validate=validate.Length(max=20), metadata={"examples": list(AGE_BANDS)}
    )
    gender = Text(
        allow_none=True, validate=validate.Length(max=40), metadata={"examples": list(GENDERS)}
    )
    country = Text(allow_none=True, validate=validate.Length(max=60))
    state = Text(allow_none=True, validate=validate.Length(max=TEXT))
    municipality = Text(allow_none=True, validate=validate.Length(max=TEXT))
    timezone = Text(allow_none=True, validate=validate.Length(max=64))
    tags = ma.fields.List(
        Text(validate=validate.Length(max=40)),
        allow_none=True,
        validate=validate.Length(max=20),
    )
    consent_source = Text(
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"examples": list(CONSENT_SOURCES)},
    )
    consent_basis = Text(allow_none=True, validate=validate.Length(max=TEXT))
    consent_date = ma.fields.Date(allow_none=True)
    guardian_consent = ma.fields.Boolean(allow_none=True)
    preferred_channel = Text(
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"examples": ["sms", "whatsapp"]},
    )
    whatsapp_opt_in = ma.fields.Boolean(
        allow_none=True,
        metadata={"description": "The contact agreed to WhatsApp messages (needed for WhatsApp)."},
    )


class BulkIn(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    contacts = ma.fields.List(
        ma.fields.Nested(ContactIn),
        required=True,
        validate=validate.Length(min=1, max=MAX_ROWS),
    )


class ContactOut(ma.Schema):
    """A contact. `phone`, `first_name` and `last_name` are null once erased."""

    id = ma.fields.Integer(required=True)
    phone = ma.fields.String(allow_none=True, metadata={"description": "E.164"})
    first_name = ma.fields.String(allow_none=True)
    last_name = ma.fields.String(allow_none=True)
    language = ma.fields.String(required=True)
    birth_year = ma.fields.Integer(allow_none=True)
    age_band = ma.fields.String(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    country = ma.fields.String(required=True)
    state = ma.fields.String(allow_none=True, attribute="state_code")
    municipality = ma.fields.String(allow_none=True)
    timezone = ma.fields.String(required=True)
    tags = ma.fields.List(ma.fields.String(), attribute="tag_names")
    consent_source = ma.fields.String(allow_none=True)
    consent_at = ma.fields.AwareDateTime(allow_none=True)
    guardian_consent = ma.fields.Boolean(required=True)
    opted_out_at = ma.fields.AwareDateTime(allow_none=True)
    opt_out_channel = ma.fields.String(allow_none=True)
    preferred_channel = ma.fields.String(required=True)
    whatsapp_opt_in_at = ma.fields.AwareDateTime(allow_none=True)
    erased_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class ContactPage(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(ContactOut), required=True)
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page."}
    )


class ContactListArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # a misspelt filter is an error, not a silently wider list

    cursor = Text(validate=validate.Length(max=100))
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    q = Text(
        validate=validate.Length(max=100),
        metadata={"description": "Name (contains, ignoring accents) or phone digits."},
    )
    tag = Text(validate=validate.Length(max=40))
    language = Text(validate=validate.OneOf(LANGUAGES))
    state = Text(validate=validate.Length(max=3))
    consent_source = Text(validate=validate.OneOf(CONSENT_SOURCES))
    eligibility = Text(
        validate=validate.OneOf(
            ("eligible", "opted_out", "undeliverable", "no_consent", "no_guardian_consent")
        )
    )


class RowResult(ma.Schema):
    row = ma.fields.Integer(required=True, metadata={"description": "1-based, in the request"})
    outcome = ma.fields.String(
        required=True, validate=validate.OneOf(("created", "updated", "rejected"))
    )
    id = ma.fields.Integer(allow_none=True, attribute="contact_id")
    errors = ma.fields.List(ma.fields.String(), required=True)
    warnings = ma.fields.List(ma.fields.String(), required=True)


class UpsertResult(RowResult):
    contact = ma.fields.Nested(
        ContactOut, allow_none=True, metadata={"description": "With contacts:read only."}
    )


class BulkResult(ma.Schema):
    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    rows = ma.fields.List(ma.fields.Nested(RowResult), required=True)


class ContactState(ma.Schema):
    """What an opt-out or an erasure answers: no personal data."""

    id = ma.fields.Integer(required=True)
    opted_out_at = ma.fields.AwareDateTime(allow_none=True)
    erased_at = ma.fields.AwareDateTime(allow_none=True)
