"""Messaging eligibility: the Python rule, and its SQL twins agreeing with it everywhere."""

import itertools
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.contacts.eligibility import (
    REASON_ORDER,
    REASONS,
    block_reason,
    block_reason_sql,
    can_message,
    eligible_sql,
    may_be_minor,
)
from app.contacts.models import Contact
from app.extensions import db

TODAY = date(2026, 6, 15)
WHEN = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)


def contact(**overrides) -> Contact:
    """An adult with consent, reachable: each test changes one thing."""
    values = dict(
        consent_source="workshop",
        birth_year=2000,
        age_band=None,
        guardian_consent=False,
        opted_out_at=None,
        undeliverable=False,
        erased_at=None,
    )
    values.update(overrides)
    return Contact(**values)


def test_adult_with_consent_can_be_messaged():
    assert block_reason(contact(), today=TODAY) is None
    assert can_message(contact(), today=TODAY)


def test_no_consent_blocks():
    assert block_reason(contact(consent_source=None), today=TODAY) == "no_consent"


def test_opted_out_blocks():
    assert block_reason(contact(opted_out_at=WHEN), today=TODAY) == "opted_out"


def test_undeliverable_blocks():
    assert block_reason(contact(undeliverable=True), today=TODAY) == "undeliverable"


def test_erased_blocks_before_anything_else():
    erased = contact(erased_at=WHEN, consent_source=None, opted_out_at=WHEN, undeliverable=True)
    assert block_reason(erased, today=TODAY) == "erased"


def test_reasons_come_in_a_fixed_order():
    no_consent = contact(consent_source=None, opted_out_at=WHEN)
    assert block_reason(no_consent, today=TODAY) == "no_consent"
    assert block_reason(contact(opted_out_at=WHEN, undeliverable=True), today=TODAY) == "opted_out"
    assert (
        block_reason(contact(undeliverable=True, birth_year=2012), today=TODAY) == "undeliverable"
    )
    assert REASON_ORDER == (
        "erased",
        "no_consent",
        "opted_out",
        "undeliverable",
        "no_guardian_consent",
    )


@pytest.mark.parametrize(
    "birth_year, minor",
    [
        (TODAY.year - 12, True),
        (TODAY.year - 17, True),
        # Turning 18 this year: may still be 17 today, so treated as a minor.
        (TODAY.year - 18, True),
        (TODAY.year - 19, False),
        (TODAY.year - 29, False),
    ],
)
def test_minor_by_birth_year_at_the_18_boundary(birth_year, minor):
    assert may_be_minor(birth_year, None, today=TODAY) is minor
    without = contact(birth_year=birth_year)
    assert block_reason(without, today=TODAY) == ("no_guardian_consent" if minor else None)
    assert can_message(contact(birth_year=birth_year, guardian_consent=True), today=TODAY)


def test_boundary_moves_with_the_calendar_year():
    born = 2008
    assert may_be_minor(born, None, today=date(2026, 12, 31))  # turns 18 in 2026
    assert not may_be_minor(born, None, today=date(2027, 1, 1))


@pytest.mark.parametrize(
    "band, minor", [("12-14", True), ("15-17", True), ("18-24", False), ("25-29", False)]
)
def test_minor_by_age_band(band, minor):
    person = contact(birth_year=None, age_band=band)
    assert block_reason(person, today=TODAY) == ("no_guardian_consent" if minor else None)
    assert can_message(contact(birth_year=None, age_band=band, guardian_consent=True), today=TODAY)


def test_birth_year_wins_over_band():
    assert may_be_minor(TODAY.year - 25, "15-17", today=TODAY) is False


def test_unknown_age_needs_guardian_consent():
    unknown = contact(birth_year=None, age_band=None)
    assert block_reason(unknown, today=TODAY) == "no_guardian_consent"
    assert can_message(contact(birth_year=None, age_band=None, guardian_consent=True), today=TODAY)


def test_guardian_consent_does_not_replace_consent():
    minor = contact(consent_source=None, birth_year=2012, guardian_consent=True)
    assert block_reason(minor, today=TODAY) == "no_consent"


def test_guardian_consent_does_not_lift_an_opt_out():
    minor = contact(birth_year=2012, guardian_consent=True, opted_out_at=WHEN)
    assert block_reason(minor, today=TODAY) == "opted_out"


def test_every_reason_has_a_label():
    assert set(REASONS) == set(REASON_ORDER)
    assert all(str(label) for label in REASONS.values())


AGES = [
    (TODAY.year - 12, None),
    (TODAY.year - 18, None),
    (TODAY.year - 19, None),
    (TODAY.year - 29, None),
    (None, "12-14"),
    (None, "15-17"),
    (None, "18-24"),
    (None, "25-29"),
    (None, None),
]


def test_sql_twins_agree_with_python_on_every_combination(make_org):
    org = make_org()
    combos = itertools.product(
        [None, WHEN],  # erased_at
        [None, "school"],  # consent_source
        [None, WHEN],  # opted_out_at
        [False, True],  # undeliverable
        [False, True],  # guardian_consent
        AGES,
    )
    for n, (erased, source, opted, undeliverable, guardian, (year, band)) in enumerate(combos):
        db.session.add(
            Contact(
                organization_id=org.id,
                phone=f"+52664{n:07d}",
                language="es",
                country="MX",
                timezone="America/Tijuana",
                erased_at=erased,
                consent_source=source,
                opted_out_at=opted,
                undeliverable=undeliverable,
                guardian_consent=guardian,
                birth_year=year,
                age_band=band,
            )
        )
    db.session.commit()

    rows = db.session.execute(
        select(Contact, block_reason_sql(TODAY), eligible_sql(TODAY)).order_by(Contact.id)
    ).all()
    assert len(rows) == 2 * 2 * 2 * 2 * 2 * len(AGES)
    seen = set()
    for person, sql_reason, sql_eligible in rows:
        expected = block_reason(person, today=TODAY)
        assert sql_reason == expected, (person.id, expected, sql_reason)
        assert bool(sql_eligible) is (expected is None), person.id
        seen.add(expected)
    assert seen == {None, *REASON_ORDER}  # the grid reaches every outcome
