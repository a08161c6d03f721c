"""A demo campaign with history: messages sent and delivered, replies, an opt-out, and
sends still to come — produced by the real scheduler, worker and inbound code paths."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.campaigns.services import add_message, create_campaign, transition_campaign
from app.contacts.models import Contact
from app.demo.whatsapp import seed_whatsapp_history, template_name
from app.extensions import db
from app.messaging.simulator import SimulatorGateway
from app.outbox.dispatch import DispatchSettings
from app.outbox.inbound import receive_sms
from app.outbox.models import OutboxMessage
from app.outbox.worker import Worker
from app.outreach.services import schedule_send

REPLIES = ["Gracias por la info", "¿Dónde es el taller?", "AYUDA", "BAJA", "ok", "Thanks!"]


class _NoBudget:
    def acquire(self):
        pass


def run_demo_worker(app, moment: datetime) -> None:
    worker = Worker(
        app,
        gateway=SimulatorGateway(),
        clock=lambda: moment,
        settings=DispatchSettings(concurrency=1, batch_size=500),
        budget=_NoBudget(),
        worker_id="demo-seed",
    )
    try:
        worker.run(once=True)
    finally:
        worker.close()


def local_moment(day: date, wall: time, zone: str) -> datetime:
    """The UTC instant of a wall-clock time in the organization's zone."""
    return datetime.combine(day, wall, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def seed_campaign(app, org, audiences: dict, *, today: date, now: datetime):
    """The campaign's history runs on a fixed calendar relative to the organization's local
    `today`, never on the hour the demo is seeded: it started 21 days ago and its first
    message went out 14 days ago at 17:00 in each recipient's zone. The worker runs at
    17:05 in Tijuana (Pacific, the westernmost zone of the demo's audiences), when every
    recipient's 17:00 has passed and none has reached the 21:00 end of the sending window
    (the zones are at most two hours apart); replies come at 17:30 and are answered at 18:00."""
    zone = org.timezone
    start = today - timedelta(days=21)
    campaign = create_campaign(
        org.id,
        name="Una sola dosis: fentanilo",
        topic="fentanyl",
        strategy="information_dissemination",
        level="universal",
        target_age_min=15,
        target_age_max=24,
        target_population=4500,
        description="Campaña de información sobre el fentanilo en la frontera norte.",
        objectives="Que 30 % de la población objetivo reciba al menos un mensaje.",
        places=[
            {"country": "MX", "state": "02", "target_population": 2500},
            {"country": "MX", "state": "08", "target_population": 2000},
        ],
        start_date=start,
        end_date=today + timedelta(days=60),
    )
    transition_campaign(campaign, "active", now=local_moment(start, time(9, 0), zone))
    first = add_message(
        campaign,
        label="Dato clave",
        body_es=(
            "Hola {first_name}, una pastilla falsa puede tener fentanilo. "
            "Una sola dosis puede matar."
        ),
        body_en="Hi {first_name}, a fake pill can contain fentanyl. One dose can kill.",
        whatsapp_template=template_name(org),  # WhatsApp contacts get it as the template
    )
    second = add_message(
        campaign,
        label="Dónde pedir ayuda",
        body_es=(
            "Si tú o alguien cercano necesita ayuda, llama gratis a la Línea de la Vida "
            "800 911 2000."
        ),
        body_en="If you or someone close needs help, call SAMHSA 1-800-662-4357 (free, 24/7).",
    )
    send_day = today - timedelta(days=14)
    for audience in (audiences["border"], audiences["english"]):
        schedule_send(
            campaign,
            message=first,
            audience=audience,
            kind="once",
            user_id=None,
            now=local_moment(send_day - timedelta(days=1), time(10, 0), zone),
            local_date=send_day,
            local_time=time(17, 0),
        )
    run_demo_worker(app, local_moment(send_day, time(17, 5), zone))
    _demo_replies(org, now=local_moment(send_day, time(17, 30), zone))
    run_demo_worker(app, local_moment(send_day, time(18, 0), zone))
    seed_whatsapp_history(org, campaign, now=local_moment(send_day, time(18, 30), zone))
    schedule_send(
        campaign,
        message=second,
        audience=audiences["border"],
        kind="once",
        user_id=None,
        now=now,
        local_date=today + timedelta(days=2),
        local_time=time(17, 30),
    )
    return campaign


def _demo_replies(org, *, now: datetime) -> None:
    sent_to = db.session.scalars(
        select(Contact)
        .join(OutboxMessage, OutboxMessage.contact_id == Contact.id)
        .where(Contact.organization_id == org.id, OutboxMessage.status == "delivered")
        .order_by(Contact.id)
        .limit(len(REPLIES))
    ).all()
    for n, (contact, text) in enumerate(zip(sent_to, REPLIES, strict=False)):
        receive_sms(
            sid=f"SMdemo{n:026d}",
            from_number=contact.phone,
            body=text,
            now=now + timedelta(minutes=n),
        )
