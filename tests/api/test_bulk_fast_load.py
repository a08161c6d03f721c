"""The bulk upsert's fast load of well-typed rows (`schemas._ContactRows`) gives exactly
what marshmallow's `List(Nested(ContactIn))` gives: the same values when it takes a list,
and marshmallow's own coercions and errors for everything else."""

from datetime import date

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.schemas import BulkIn, ContactIn


class _Reference(ma.Schema):
    """BulkIn as it was: marshmallow's nested load for every row."""

    class Meta:
        unknown = ma.RAISE

    contacts = ma.fields.List(
        ma.fields.Nested(ContactIn), required=True, validate=ma.validate.Length(min=1, max=1000)
    )


def _outcome(schema, body):
    try:
        return "ok", schema.load(body)
    except ma.ValidationError as error:
        return "error", error.messages


_text = st.one_of(
    st.text(max_size=12),
    st.text(max_size=2).map(lambda s: s + "\x00"),  # not storable
    st.just("\ud800x"),  # a lone surrogate
    st.text(alphabet="a", min_size=995, max_size=1005),  # around the 1,000 limit
)
_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 3000),
    st.floats(allow_nan=False),
    _text,
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
_values = {
    "phone": st.one_of(st.text(min_size=0, max_size=44), _anything),
    "first_name": st.one_of(_text, _anything),
    "language": st.one_of(st.sampled_from(["es", "en", "x" * 41]), _anything),
    "birth_year": st.one_of(st.integers(1890, 2210), st.booleans(), st.just("2010"), _anything),
    "tags": st.one_of(
        st.lists(st.text(max_size=42), max_size=22), st.lists(_anything, max_size=2), _anything
    ),
    "consent_date": st.one_of(
        st.dates().map(date.isoformat), st.just("2026-02-30"), st.just("20260102"), _anything
    ),
    "guardian_consent": st.one_of(st.booleans(), st.sampled_from(["yes", "true", 1, 0]), _anything),
    "whatsapp_opt_in": st.one_of(st.booleans(), _anything),
    "state": st.one_of(_text, st.none()),
}
_rows = st.fixed_dictionaries(
    {"phone": _values["phone"]},
    optional={**{k: v for k, v in _values.items() if k != "phone"}, "shoe_size": st.integers()},
)
_bodies = st.one_of(
    st.fixed_dictionaries({"contacts": st.lists(_rows, min_size=0, max_size=4)}),
    st.fixed_dictionaries(
        {
            "contacts": st.lists(
                _rows.map(lambda r: {k: v for k, v in r.items() if k != "phone"}), max_size=2
            )
        }
    ),
    st.fixed_dictionaries({"contacts": _anything}),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies)
def test_fast_load_equals_marshmallow(body):
    assert _outcome(BulkIn(), body) == _outcome(_Reference(), body)


@settings(max_examples=200, deadline=None)
@given(st.lists(_rows, min_size=1, max_size=3))
def test_each_fast_row_is_marshmallow_row(rows):
    fast = BulkIn().fields["contacts"].fast_load(rows)
    if fast is not None:
        assert fast == [ContactIn().load(row) for row in rows]


def test_well_typed_rows_take_the_fast_path(monkeypatch):
    rows = [
        {
            "phone": "664 555 0101",
            "first_name": "Ana",
            "birth_year": 2010,
            "tags": ["escuela"],
            "consent_date": "2026-01-15",
            "guardian_consent": True,
            "state": None,
        }
    ] * 3
    # marshmallow's nested load must not run for them
    monkeypatch.setattr(ma.fields.Nested, "_deserialize", pytest.fail)
    loaded = BulkIn().load({"contacts": rows})["contacts"]
    assert loaded[0]["consent_date"] == date(2026, 1, 15) and loaded[0]["tags"] == ["escuela"]
    assert loaded[0] is not rows[0] and loaded[0]["tags"] is not rows[0]["tags"]
