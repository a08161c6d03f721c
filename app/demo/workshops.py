"""Demo workshops with history: two past ones (invited, RSVPs, reminders, check-in,
walk-ins, no-shows, thank-yous) and two upcoming ones (RSVPs with a waitlist; an invitation
still to go out) — produced by the real workshop, outreach and inbound code paths, each
step run at the moment it would have happened."""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.campaigns.services import add_message
from app.contacts.audiences import create_audience
from app.contacts.models import Contact
from app.demo.outreach import local_moment, run_demo_worker
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage
from app.workshops import attendance, completion, walk_ins
from app.workshops.models import WorkshopRegistration
from app.workshops.services import create_workshop, invite_audience


@dataclass(frozen=True)
class DemoWorkshop:
    days: int  # from today (negative: past)
    title_es: str
    title_en: str
    kind: str
    venue: str
    state: str
    municipality: str
    audience: str
    capacity: int
    facilitator: str
    invite_days_before: int = 3


WORKSHOPS = [
    DemoWorkshop(
        -9,
        "Fentanilo: lo que no te dicen",
        "Fentanyl: what nobody tells you",
        "school_talk",
        "Secundaria Técnica 5",
        "02",
        "Tijuana",
        "tijuana",
        25,
        "Mtra. Rocío Valdez",
    ),
    DemoWorkshop(
        -4,
        "Arte urbano sin adicciones",
        "Street art, no addictions",
        "sports_arts",
        "Centro Comunitario Anapra",
        "08",
        "Juárez",
        "juarez",
        20,
        "Colectivo Muralea",
    ),
    DemoWorkshop(
        3,
        "Vapeo y pastillas falsas: la neta",
        "Vaping and fake pills: the truth",
        "community_workshop",
        "Casa de la Juventud Otay",
        "02",
        "Tijuana",
        "tijuana",
        15,
        "Lic. Andrés Ríos",
        invite_days_before=5,
    ),
    DemoWorkshop(
        10,
        "Cómo hablar con tus hijos del fentanilo",
        "How to talk with your kids about fentanyl",
        "parents_session",
        "Biblioteca Pública Municipal",
        "02",
        "Tijuana",
        "tijuana",
        30,
        "Mtra. Rocío Valdez",
    ),
]
START, END, INVITE_AT = time(16, 0), time(18, 0), time(17, 0)
WALK_INS = [("Karla", 19, "female"), ("Alan", 21, "male")]  # adults: no guardian needed


def seed_workshops(app, org, campaign, *, today: date, now: datetime) -> None:
    """Runs after `seed_campaign`, whose history ends 14 days ago: every step here is later,
    at fixed wall times on days relative to the organization's local `today`."""
    rng = random.Random(4821)
    audiences = {
        "tijuana": create_audience(
            org.id,
            name="Tijuana 12-29",
            description="Para invitar a talleres en Tijuana.",
            filters={"country": "MX", "state_codes": ["02"], "municipalities": ["Tijuana"]},
            now=local_moment(today - timedelta(days=13), time(9, 0), org.timezone),
        ),
        "juarez": create_audience(
            org.id,
            name="Ciudad Juárez 12-29",
            description="Para talleres en Ciudad Juárez.",
            filters={"country": "MX", "state_codes": ["08"], "municipalities": ["Juárez"]},
            now=local_moment(today - timedelta(days=13), time(9, 0), org.timezone),
        ),
    }
    invitation = add_message(
        campaign,
        label="Invitación a taller",
        body_es="Hola {first_name}: te invitamos a «{workshop_title}», {workshop_date} "
        "{workshop_time} en {workshop_venue}. Es gratis.",
        body_en="Hi {first_name}: join us at “{workshop_title}”, {workshop_date} "
        "{workshop_time} at {workshop_venue}. It's free.",
    )
    for spec in sorted(WORKSHOPS, key=lambda s: s.days):
        _one_workshop(
            app,
            org,
            campaign,
            spec,
            invitation,
            audiences[spec.audience],
            day=today + timedelta(days=spec.days),
            now=now,
            rng=rng,
        )


def _one_workshop(app, org, campaign, spec, invitation, audience, *, day, now, rng) -> None:
    zone = org.timezone
    invite_day = day - timedelta(days=spec.invite_days_before)
    created = min(local_moment(invite_day - timedelta(days=1), time(10, 0), zone), now)
    workshop = create_workshop(
        campaign,
        now=created,
        local_date=day,
        start_time=START,
        end_time=END,
        title_es=spec.title_es,
        title_en=spec.title_en,
        kind=spec.kind,
        venue_name=spec.venue,
        venue_address=None,
        country="MX",
        state_code=spec.state,
        municipality=spec.municipality,
        timezone="",
        capacity=spec.capacity,
        facilitator=spec.facilitator,
        language="es",
    )
    invite_moment = local_moment(invite_day, INVITE_AT, zone)
    if invite_moment <= now:
        invite_audience(
            workshop,
            message=invitation,
            audience=audience,
            local_date=invite_day,
            local_time=INVITE_AT,
            user_id=None,
            now=created,
        )
    else:  # still to go out: the worker of `make run` sends it on the day
        invite_audience(
            workshop,
            message=invitation,
            audience=audience,
            local_date=invite_day,
            local_time=INVITE_AT,
            user_id=None,
            now=now,
        )
        return
    # Invitations go out at 17:00 local; replies come during the evening.
    run_demo_worker(app, invite_moment + timedelta(hours=1))
    _replies(workshop, rng, at=invite_moment + timedelta(hours=1, minutes=30))
    run_demo_worker(app, invite_moment + timedelta(hours=3))
    if workshop.starts_at > now:
        return  # upcoming: reminders and the rest happen live
    for before in (timedelta(hours=23), timedelta(hours=1)):  # the 24 h and 2 h reminders
        run_demo_worker(app, workshop.starts_at - before)
    _door(workshop, rng)
    completion.complete_workshop(
        workshop, send_thank_you=True, now=workshop.ends_at + timedelta(minutes=20)
    )
    run_demo_worker(app, workshop.ends_at + timedelta(minutes=30))


def _replies(workshop, rng, *, at: datetime) -> None:
    """About half reply SI (some without the code), 10 % NO; the rest stay silent."""
    invited = db.session.scalars(
        select(Contact.phone)
        .join(OutboxMessage, OutboxMessage.contact_id == Contact.id)
        .where(OutboxMessage.workshop_id == workshop.id, OutboxMessage.status == "delivered")
        .order_by(Contact.id, OutboxMessage.id)  # who replies: by contact, not fan-out order
    ).all()
    for n, phone in enumerate(invited):
        roll = rng.random()
        if roll < 0.5:
            body = rng.choice([f"SI {workshop.code}", f"sí {workshop.code}", "Si", "YES"])
        elif roll < 0.6:
            body = f"NO {workshop.code}"
        else:
            continue
        receive_sms(
            sid=f"SMdemo{workshop.code}{n:022d}",
            from_number=phone,
            body=body,
            now=at + timedelta(minutes=n),
        )


def _door(workshop, rng) -> None:
    """Most confirmed people come; two young people walk in."""
    confirmed = db.session.scalars(
        select(WorkshopRegistration)
        .where(
            WorkshopRegistration.workshop_id == workshop.id,
            WorkshopRegistration.status == "confirmed",
        )
        .order_by(WorkshopRegistration.contact_id)
    ).all()
    arrival = workshop.starts_at - timedelta(minutes=10)
    for n, registration in enumerate(confirmed):
        if rng.random() < 0.75:
            attendance.check_in(registration, user_id=None, now=arrival + timedelta(minutes=n))
    year_now = workshop.starts_at.astimezone(ZoneInfo(workshop.timezone)).year
    for n, (name, age, gender) in enumerate(WALK_INS):
        walk_ins.register_walk_in(
            workshop,
            {
                "phone": f"{664 if workshop.state_code == '02' else 656} 555 02{workshop.id}{n}",
                "first_name": name,
                "language": "es",
                "birth_year": str(year_now - age),
                "age_band": "",
                "gender": gender,
                "state": workshop.state_code,
                "municipality": workshop.municipality,
                "guardian_consent": "no",
                "consent": "yes",
            },
            user_id=None,
            now=workshop.starts_at + timedelta(minutes=5 + n),
        )
