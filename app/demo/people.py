"""A few hundred demo contacts across border and central states, with audiences.

Numbers: US ones use the fictional 555-0100..0199 range; Mexico has no reserved range, so
demo numbers use the same 555-01XX shape in real area codes — they only ever reach the
in-app simulator (never seed demo data into an organization that sends through Twilio).
"""

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert, select

from app.contacts.audiences import create_audience
from app.contacts.geography import derive_timezone
from app.contacts.models import Contact, ContactTag
from app.demo.outreach import local_moment
from app.extensions import db

PLACES = [  # (country, state, municipality, area code, weight)
    ("MX", "02", "Tijuana", "664", 22),
    ("MX", "02", "Mexicali", "686", 8),
    ("MX", "08", "Juárez", "656", 12),
    ("MX", "26", "Hermosillo", "662", 6),
    ("MX", "28", "Matamoros", "868", 6),
    ("MX", "19", "Monterrey", "81", 8),
    ("MX", "09", "Iztapalapa", "55", 10),
    ("MX", "14", "Guadalajara", "33", 6),
    ("MX", "31", "Mérida", "999", 4),
    ("MX", "23", "Benito Juárez", "998", 4),
    ("US", "CA", "San Diego", "619", 8),
    ("US", "TX", "El Paso", "915", 4),
    ("US", "AZ", "Phoenix", "602", 2),
]
NAMES = [
    "Ximena",
    "Diego",
    "Valeria",
    "José Ángel",
    "Itzel",
    "Brayan",
    "Camila",
    "Sofía",
    "Leonardo",
    "Guadalupe",
    "Yahir",
    "Renata",
    "Iker",
    "Dulce",
    "Emiliano",
    "Ashley",
    "Kevin",
    "Fernanda",
    "Jesús",
    "Naomi",
    None,
]
SURNAMES = [
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Morales",
    "Vázquez",
    "Reyes",
    "Jiménez",
    "de la Cruz",
    "Ortiz",
]
SOURCES = ["school", "workshop", "web_form", "sms_keyword", "imported_list"]
NOON = time(12, 0)
TAGS = ["secundaria", "prepa", "feria de salud", "deportes", "arte", "padres"]


def _phone(country: str, area: str, n: int) -> str:
    subscriber = (
        f"555{100 + n % 100:04d}"[-7:] if len(area) == 3 else f"5555{100 + n % 100:04d}"[-8:]
    )
    return ("+52" if country == "MX" else "+1") + area + subscriber


def _last_name(rng: random.Random, country: str) -> str:
    """Mexican contacts have two surnames (paterno, materno); US contacts one."""
    if country == "MX":
        return " ".join(rng.sample(SURNAMES, 2))
    return rng.choice(SURNAMES)


def seed_people(org, *, today: date, count: int = 320, seed: int = 2026) -> None:
    rng = random.Random(seed)
    # Surnames come from their own generator, so the rest of the demo stays as it was.
    surname_rng = random.Random(seed + 1)
    used, rows, tags = set(), [], {}
    for i in range(count):
        country, state, town, area, _ = rng.choices(PLACES, [p[4] for p in PLACES])[0]
        phone = _phone(country, area, i)
        if phone in used:
            continue
        used.add(phone)
        birth_year = rng.choice([None] + list(range(today.year - 29, today.year - 11)))
        minor = birth_year is not None and today.year - birth_year <= 18
        source = rng.choices(SOURCES, [5, 4, 2, 1, 1])[0]
        consented = local_moment(today - timedelta(days=rng.randint(20, 200)), NOON, org.timezone)
        first_name = rng.choice(NAMES)
        rows.append(
            dict(
                organization_id=org.id,
                phone=phone,
                first_name=first_name,
                last_name=_last_name(surname_rng, country) if first_name else None,
                language="en" if country == "US" and rng.random() < 0.6 else "es",
                birth_year=birth_year,
                age_band=None if birth_year else rng.choice(["15-17", "18-24", "25-29"]),
                gender=rng.choice(
                    ["female", "male", "female", "male", "nonbinary", "undisclosed", None]
                ),
                country=country,
                state_code=state,
                municipality=town,
                timezone=derive_timezone(country, state, town),
                consent_source=None if rng.random() < 0.04 else source,
                consent_basis="Lista de inscripción de la feria de salud 2026"
                if source == "imported_list"
                else None,
                consent_at=consented,
                guardian_consent=minor and rng.random() < 0.85,
                guardian_consent_at=consented if minor else None,
                opted_out_at=consented + timedelta(days=5) if rng.random() < 0.03 else None,
                undeliverable=rng.random() < 0.01,
                created_at=consented,
                updated_at=consented,
            )
        )
        tags[phone] = rng.sample(TAGS, rng.randint(0, 2))
    db.session.execute(insert(Contact), rows)
    ids = dict(
        db.session.execute(
            select(Contact.phone, Contact.id).where(Contact.organization_id == org.id)
        ).all()
    )
    tag_rows = [dict(contact_id=ids[p], name=t) for p, names in tags.items() for t in names]
    if tag_rows:
        db.session.execute(insert(ContactTag), tag_rows)
    db.session.commit()


def seed_audiences(org, *, now: datetime) -> dict:
    specs = {
        "border": (
            "Frontera norte 15-24",
            "Jóvenes de 15 a 24 años en Baja California, Chihuahua, Sonora y Tamaulipas.",
            {
                "state_codes": ["02", "08", "26", "28"],
                "country": "MX",
                "age_min": 15,
                "age_max": 24,
            },
        ),
        "everyone": (
            "Todas las personas con consentimiento",
            "Toda la base que puede recibir SMS.",
            {},
        ),
        "english": (
            "English speakers (US)",
            "Young people in California, Texas and Arizona.",
            {"country": "US", "languages": ["en"]},
        ),
    }
    return {
        key: create_audience(org.id, name=name, description=text, filters=filters, now=now)
        for key, (name, text, filters) in specs.items()
    }
