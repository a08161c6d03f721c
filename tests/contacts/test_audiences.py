"""Audience evaluation in SQL against hand-computed expectations, validation and services."""

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select

from app.contacts import audiences
from app.contacts.models import Audience, Contact, ContactTag
from app.contacts.services import erase_contact
from app.errors import DomainError
from app.extensions import db

TODAY = date(2026, 6, 15)  # ages below are 2026 - birth year
WHEN = datetime(2026, 2, 1, tzinfo=UTC)

# name, language, gender, birth year, band, country, state, municipality, tags, consent,
# then extras. Comment: age this year and the eligibility outcome.
PEOPLE = [
    (
        "Ana",
        "es",
        "female",
        2010,
        None,
        "MX",
        "02",
        "Tijuana",
        ["futbol"],
        "workshop",
        dict(guardian_consent=True),
    ),  # 16, eligible
    (
        "Beto",
        "es",
        "male",
        2012,
        None,
        "MX",
        "02",
        "Tijuana",
        ["escuela"],
        "school",
        {},
    ),  # 14, no guardian consent
    (
        "Carla",
        "en",
        "female",
        2000,
        None,
        "US",
        "CA",
        "San Diego",
        ["futbol"],
        "web_form",
        {},
    ),  # 26, eligible
    (
        "Dani",
        "es",
        "nonbinary",
        2004,
        None,
        "MX",
        "08",
        "Ciudad Juárez",
        [],
        "workshop",
        {},
    ),  # 22, eligible
    (
        "Eva",
        "es",
        "female",
        None,
        "15-17",
        "MX",
        "02",
        "Mexicali",
        ["futbol"],
        "workshop",
        dict(guardian_consent=True),
    ),  # band 15-17, eligible
    (
        "Fer",
        "es",
        "male",
        None,
        "18-24",
        "MX",
        "14",
        "Guadalajara",
        ["teatro"],
        "sms_keyword",
        {},
    ),  # band 18-24, eligible
    (
        "Gabi",
        "es",
        "female",
        None,
        None,
        "MX",
        "02",
        "Tijuana",
        [],
        "workshop",
        dict(guardian_consent=True),
    ),  # unknown age, eligible (guardian consented)
    (
        "Hugo",
        "es",
        "male",
        2003,
        None,
        "MX",
        "02",
        "TIJUANA",
        ["futbol"],
        "workshop",
        dict(opted_out_at=WHEN),
    ),  # 23, opted out
    ("Iris", "en", "female", 2001, None, "MX", "02", "Tijuana", [], None, {}),  # 25, no consent
    (
        "Juan",
        "es",
        "male",
        2006,
        None,
        "MX",
        "19",
        "Monterrey",
        ["escuela", "futbol"],
        "school",
        dict(undeliverable=True),
    ),  # 20, undeliverable
    (
        "Karla",
        "es",
        "female",
        2008,
        None,
        "MX",
        "02",
        "Tijuana",
        ["futbol"],
        "workshop",
        {},
    ),  # 18 this year, may still be 17: no guardian consent
    (
        "Luis",
        "es",
        "male",
        1998,
        None,
        "MX",
        "09",
        "Cuauhtémoc",
        [],
        "imported_list",
        dict(consent_basis="Lista de la feria 2025"),
    ),  # 28, eligible
    (
        "Mara",
        "es",
        "undisclosed",
        2009,
        None,
        "MX",
        "02",
        "tijuana",
        ["teatro"],
        "workshop",
        dict(guardian_consent=True),
    ),  # 17, eligible
    (
        "Nico",
        "es",
        "female",
        2005,
        None,
        "MX",
        "02",
        "Tijuana",
        ["futbol"],
        "workshop",
        dict(erased_at=WHEN, phone=None),
    ),  # erased: never matches anything
    (
        "Olga",
        "en",
        None,
        2011,
        None,
        "US",
        "TX",
        "El Paso",
        ["futbol"],
        "web_form",
        dict(guardian_consent=True),
    ),  # 15, eligible
]


@pytest.fixture
def people(make_org):
    """Org A with the 15 people above; org B with one contact that would match them all."""
    org_a, org_b = make_org(slug="ong-a"), make_org(slug="ong-b")
    by_name = {}
    for n, (
        name,
        lang,
        gender,
        year,
        band,
        country,
        state,
        muni,
        tags,
        consent,
        extra,
    ) in enumerate(PEOPLE, start=1):
        values = dict(
            organization_id=org_a.id,
            phone=f"+5266400000{n:02d}",
            first_name=name,
            language=lang,
            gender=gender,
            birth_year=year,
            age_band=band,
            country=country,
            state_code=state,
            municipality=muni,
            timezone="America/Tijuana",
            consent_source=consent,
        )
        values.update(extra)
        person = Contact(**values)
        person.tags = [ContactTag(name=t) for t in tags]
        db.session.add(person)
        by_name[name] = person
    stranger = Contact(
        organization_id=org_b.id,
        phone="+526640000001",
        first_name="Pablo",
        language="es",
        gender="female",
        birth_year=2005,
        country="MX",
        state_code="02",
        municipality="Tijuana",
        timezone="America/Tijuana",
        consent_source="workshop",
        tags=[ContactTag(name="futbol")],
    )
    db.session.add(stranger)
    db.session.commit()
    return org_a, org_b, by_name


def summary(org, **filters):
    return audiences.audience_summary(org.id, filters, today=TODAY)


CASES = [
    # (filters, matched, eligible, excluded by reason) — computed by hand from PEOPLE.
    # No filter: 14 live contacts (Nico erased); eligible Ana Carla Dani Eva Fer Gabi Luis
    # Mara Olga = 9; Iris no consent, Hugo opted out, Juan undeliverable, Beto Karla minors.
    ({}, 14, 9, {"no_consent": 1, "opted_out": 1, "undeliverable": 1, "no_guardian_consent": 2}),
    # English: Carla, Iris, Olga; Iris has no consent.
    ({"languages": ["en"]}, 3, 2, {"no_consent": 1}),
    # Female: Ana Carla Eva Gabi Iris Karla (Olga has no gender recorded, Nico erased).
    ({"genders": ["female"]}, 6, 4, {"no_consent": 1, "no_guardian_consent": 1}),
    # 15-17: Ana 16, Mara 17, Olga 15, Eva's band 15-17; Beto 14 and Karla 18 out,
    # Fer's band 18-24 out, Gabi of unknown age out.
    ({"age_min": 15, "age_max": 17}, 4, 4, {}),
    # 18-24: Dani 22, Hugo 23, Juan 20, Karla 18, Fer's band 18-24.
    (
        {"age_min": 18, "age_max": 24},
        5,
        2,
        {"opted_out": 1, "undeliverable": 1, "no_guardian_consent": 1},
    ),
    # 16-29: Ana Carla Dani Hugo Iris Juan Karla Luis Mara + Fer's band (18-24 lies inside);
    # Eva's band 15-17 only partly inside: out.
    (
        {"age_min": 16, "age_max": 29},
        10,
        6,
        {"no_consent": 1, "opted_out": 1, "undeliverable": 1, "no_guardian_consent": 1},
    ),
    # 20 or older: Carla Dani Hugo Iris Juan Luis (no band lies entirely at 20+ except 25-29).
    ({"age_min": 20}, 6, 3, {"no_consent": 1, "opted_out": 1, "undeliverable": 1}),
    # 14 or younger: Beto only (band 12-14 nobody).
    ({"age_max": 14}, 1, 0, {"no_guardian_consent": 1}),
    # US: Carla, Olga.
    ({"country": "US"}, 2, 2, {}),
    # Baja California: Ana Beto Eva Gabi Hugo Iris Karla Mara.
    ({"state_codes": ["02"]}, 8, 4, {"no_consent": 1, "opted_out": 1, "no_guardian_consent": 2}),
    # Tijuana, any case: Ana Beto Gabi Hugo (TIJUANA) Iris Karla Mara (tijuana).
    (
        {"municipalities": ["tijuana"]},
        7,
        3,
        {"no_consent": 1, "opted_out": 1, "no_guardian_consent": 2},
    ),
    # Accents ignored: "Ciudad Juarez" finds Dani's "Ciudad Juárez".
    ({"municipalities": ["Ciudad Juarez", "Monterrey"]}, 2, 1, {"undeliverable": 1}),
    # Any of teatro/escuela: Beto Fer Juan Mara.
    ({"tags": ["teatro", "escuela"]}, 4, 2, {"no_guardian_consent": 1, "undeliverable": 1}),
    # School or web form: Beto Carla Juan Olga.
    (
        {"consent_sources": ["school", "web_form"]},
        4,
        2,
        {"no_guardian_consent": 1, "undeliverable": 1},
    ),
    # Spanish + futbol + Baja California + 12-29: Ana Eva(band) Hugo Karla.
    (
        {
            "languages": ["es"],
            "tags": ["futbol"],
            "state_codes": ["02"],
            "age_min": 12,
            "age_max": 29,
        },
        4,
        2,
        {"opted_out": 1, "no_guardian_consent": 1},
    ),
]


@pytest.mark.parametrize("filters, matched, eligible, excluded", CASES)
def test_counts_match_hand_computed_expectations(people, filters, matched, eligible, excluded):
    org_a, _org_b, _ = people
    result = summary(org_a, **filters)
    assert (result.matched, result.eligible) == (matched, eligible)
    assert dict(result.excluded) == excluded
    assert result.excluded_total == sum(excluded.values())
    eligible_ids = db.session.scalars(
        audiences.audience_contacts_query(org_a.id, filters, today=TODAY).with_only_columns(
            Contact.id
        )
    ).all()
    assert len(eligible_ids) == eligible
    assert [c.id for c in result.sample] == sorted(eligible_ids, reverse=True)[:10]


def test_excluded_reasons_come_in_the_rule_order(people):
    org_a, _, _ = people
    assert [code for code, _n in summary(org_a).excluded] == [
        "no_consent",
        "opted_out",
        "undeliverable",
        "no_guardian_consent",
    ]


def test_sample_has_at_most_ten_eligible_contacts(people):
    org_a, _, by_name = people
    for n in range(5):
        db.session.add(
            Contact(
                organization_id=org_a.id,
                phone=f"+5266411111{n:02d}",
                language="es",
                birth_year=2000,
                country="MX",
                timezone="America/Tijuana",
                consent_source="workshop",
            )
        )
    db.session.commit()
    result = summary(org_a)
    assert result.eligible == 14 and len(result.sample) == 10
    assert by_name["Iris"] not in result.sample


def test_other_organizations_contacts_are_never_counted(people):
    org_a, org_b, by_name = people
    everything = summary(org_a, tags=["futbol"], municipalities=["Tijuana"])
    # Ana Hugo Karla in A (Nico erased); Pablo of org B matches too but is not A's.
    assert everything.matched == 3
    assert summary(org_b).matched == 1 and summary(org_b).eligible == 1
    assert all(c.organization_id == org_a.id for c in summary(org_a).sample)


def test_erasing_a_contact_removes_it_from_audiences(people):
    org_a, _, by_name = people
    erase_contact(by_name["Ana"], today=TODAY)
    result = summary(org_a)
    assert (result.matched, result.eligible) == (13, 8)
    assert by_name["Ana"].id not in [c.id for c in result.sample]
    # ...while the row stays, countable.
    assert db.session.get(Contact, by_name["Ana"].id).erased_at is not None


def test_evaluation_runs_in_sql_without_loading_contacts(people):
    """The counts are one GROUP BY statement, never a query per contact."""
    org_id = people[0].id
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        audiences.audience_summary(org_id, {"languages": ["es"]}, today=TODAY, sample_size=0)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 1
    assert "GROUP BY" in statements[0].upper()


# --- validation -----------------------------------------------------------------------


def test_filters_are_normalised():
    filters = audiences.validate_filters(
        {
            "languages": ["en", "es", "es"],
            "genders": [],
            "age_min": "15",
            "age_max": None,
            "country": "mx",
            "state_codes": ["14", "02"],
            "municipalities": " Tijuana ,,  Playas de  Rosarito",
            "tags": "Futbol, futbol, teatro",
            "consent_sources": "",
        }
    )
    assert filters == {
        "languages": ["es", "en"],
        "age_min": 15,
        "country": "MX",
        "state_codes": ["02", "14"],
        "municipalities": ["Tijuana", "Playas de Rosarito"],
        "tags": ["futbol", "teatro"],
    }
    assert audiences.validate_filters({}) == {}


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"languages": ["fr"]}, "languages"),
        ({"genders": ["robot"]}, "genders"),
        ({"consent_sources": ["telepathy"]}, "consent_sources"),
        ({"age_min": 20, "age_max": 15}, "age_max"),
        ({"age_min": 9}, "age_min"),
        ({"age_max": 36}, "age_max"),
        ({"age_min": "quince"}, "age_min"),
        ({"country": "CA"}, "country"),
        ({"state_codes": ["99"]}, "state_codes"),
        ({"country": "US", "state_codes": ["02"]}, "state_codes"),
        ({"municipalities": ",".join(f"m{n}" for n in range(60))}, "municipalities"),
        ({"tags": "ok, <b>"}, "tags"),
    ],
)
def test_invalid_filters_are_refused(raw, field):
    with pytest.raises(audiences.AudienceInvalid) as caught:
        audiences.validate_filters(raw)
    assert field in caught.value.field_errors


def test_age_range_errors_name_the_limits():
    with pytest.raises(audiences.AudienceInvalid) as caught:
        audiences.validate_filters({"age_min": 5})
    assert "10" in caught.value.field_errors["age_min"][0]
    assert "35" in caught.value.field_errors["age_min"][0]


# --- services -------------------------------------------------------------------------


def count_audiences() -> int:
    return db.session.scalar(select(func.count()).select_from(Audience))


def test_create_update_delete_audience(make_org):
    org = make_org()
    audience = audiences.create_audience(
        org.id, name="  Jóvenes   Tijuana ", description="", filters={"municipalities": "Tijuana"}
    )
    assert audience.name == "Jóvenes Tijuana" and audience.description is None
    assert audience.filters == {"municipalities": ["Tijuana"]}
    audiences.update_audience(
        audience,
        name="Tijuana 15-17",
        description="Secundarias",
        filters={"municipalities": "Tijuana", "age_min": 15, "age_max": 17},
    )
    db.session.refresh(audience)
    assert audience.filters["age_max"] == 17 and audience.description == "Secundarias"
    audiences.delete_audience(audience)
    assert count_audiences() == 0


def test_invalid_audience_saves_nothing(make_org):
    org = make_org()
    with pytest.raises(audiences.AudienceInvalid):
        audiences.create_audience(
            org.id, name="Mal", description=None, filters={"age_min": 30, "age_max": 20}
        )
    assert count_audiences() == 0
    with pytest.raises(DomainError):
        audiences.create_audience(org.id, name="   ", description=None, filters={})
    assert count_audiences() == 0


def test_audience_names_are_unique_per_organization(make_org):
    org, other = make_org(), make_org()
    audiences.create_audience(org.id, name="Todos", description=None, filters={})
    audiences.create_audience(other.id, name="Todos", description=None, filters={})
    with pytest.raises(DomainError) as caught:
        audiences.create_audience(org.id, name="Todos", description=None, filters={})
    assert caught.value.field == "name"
    second = audiences.create_audience(org.id, name="Otra", description=None, filters={})
    with pytest.raises(DomainError):
        audiences.update_audience(second, name="Todos", description=None, filters={})
    db.session.rollback()
    assert count_audiences() == 3


def test_describe_filters_in_words():
    with force_locale("en"):
        described = dict(
            (str(k), str(v))
            for k, v in audiences.describe_filters(
                {"languages": ["es"], "age_min": 15, "age_max": 17, "state_codes": ["02", "TX"]}
            )
        )
    assert described["Age"] == "15 to 17 years"
    assert described["States"] == "Baja California, Texas"
