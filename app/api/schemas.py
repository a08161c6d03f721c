"""Marshmallow schemas of the API: they validate requests and generate the OpenAPI
document (apispec), so the document and the code cannot drift apart."""

from datetime import date

import marshmallow as ma
from marshmallow import validate

from app.contacts.models import AGE_BANDS, CONSENT_SOURCES, GENDERS, LANGUAGES
from app.contacts.row_upsert import MAX_ROWS

TEXT = 1_000  # the CSV import's longest cell


def _storable(value: str) -> None:
    """Text a database can keep: no NUL character, no lone surrogate (invalid UTF-8)."""
    if "\x00" in value:
        raise ma.ValidationError("Contains characters that cannot be stored.")
    try:
        value.encode()  # a lone surrogate cannot be encoded (C speed; a loop per character was
    except UnicodeEncodeError:  # most of a 1,000-row bulk request's validation)
        raise ma.ValidationError("Contains characters that cannot be stored.") from None


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


def _fast_kind(field: ma.fields.Field):
    """The one Python type `field` loads to when it is a plain field the fast path covers
    (str, int, bool, date, or list of str), else None."""
    if field.data_key is not None or field.attribute is not None:
        return None
    if field.load_default is not ma.missing or field.pre_load or field.post_load:
        return None
    if type(field) in (Text, ma.fields.String):
        return str
    if isinstance(field, ma.fields.Integer) and field.strict and not field.as_string:
        return int
    if type(field) is ma.fields.Boolean:
        return bool
    if type(field) is ma.fields.Date and field.format in (None, "iso"):
        return date
    if type(field) is ma.fields.List and _fast_kind(field.inner) is str:
        return None if field.inner.allow_none else list
    return None


def _typed(kind, value, inner_checks):
    """`value` as `kind` (see `_fast_kind`), or `_SLOW`."""
    if kind is date:
        try:  # what ma.fields.Date(format="iso") calls
            return date.fromisoformat(value) if type(value) is str else _SLOW
        except ValueError:
            return _SLOW
    if kind is list:
        if type(value) is not list or any(type(item) is not str for item in value):
            return _SLOW
        for item in value:
            for check in inner_checks:
                check(item)
        return list(value)
    return value if type(value) is kind else _SLOW  # no bool for an int, or int for a bool


def _fast_loader(field: ma.fields.Field):
    """A function that loads a value of `field` exactly as marshmallow would, or returns
    `_SLOW` for any value it is not sure of; None when the field's kind is not covered."""
    kind = _fast_kind(field)
    if kind is None:
        return None
    checks = field.validators  # marshmallow runs them on every loaded value except None
    inner_checks = field.inner.validators if kind is list else ()
    allow_none = field.allow_none

    def load(value):
        if value is None:
            return None if allow_none else _SLOW
        value = _typed(kind, value, inner_checks)
        if value is not _SLOW:
            for check in checks:
                check(value)
        return value

    return load


_SLOW = object()


class _ContactRows(ma.fields.List):
    """A list of `ContactIn` that loads well-typed rows without marshmallow's per-field
    machinery (measured: 120-150 ms of a 1,000-row bulk request, more than the upsert).

    A row is taken on the fast path only when every value has the exact type marshmallow
    would return and passes the field's own validators; anything else (a string for a
    number, an unknown key, a failed check) sends the whole list through marshmallow, so
    coercions and error messages are marshmallow's. tests/api/test_bulk_fast_load.py checks
    that both paths load the same values."""

    def __init__(self, **kwargs):
        super().__init__(ma.fields.Nested(ContactIn), **kwargs)
        schema = ContactIn()
        loaders = {name: _fast_loader(f) for name, f in schema.load_fields.items()}
        hooks = any(getattr(schema, "_hooks", {}).values())
        self._loaders = None if hooks or None in loaders.values() else loaders
        self._required = {name for name, f in schema.load_fields.items() if f.required}

    def fast_load(self, rows) -> list[dict] | None:
        """`rows` loaded, or None when marshmallow must load them."""
        loaders, required = self._loaders, self._required
        if loaders is None or type(rows) is not list:
            return None
        out = []
        try:
            for row in rows:
                if type(row) is not dict or not required.issubset(row):
                    return None
                loaded = {}
                for name, value in row.items():
                    load = loaders.get(name)
                    if load is None or (value := load(value)) is _SLOW:
                        return None
                    loaded[name] = value
                out.append(loaded)
        except ma.ValidationError:
            return None
        return out

    def _deserialize(self, value, attr, data, **kwargs):
        loaded = self.fast_load(value)
        return loaded if loaded is not None else super()._deserialize(value, attr, data, **kwargs)


class BulkIn(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    contacts = _ContactRows(
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
