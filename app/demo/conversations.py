"""Demo conversations: saved replies, local services, an on-call shift, a staff phone, a few
messages from young people that wait in the inbox, and one urgent case handled from start to
end (crisis message → automatic reply → acknowledged → reply → referral → closed).

Every message comes in through the real inbound path (app.outbox.inbound.receive_sms), and
every coordinator action through the conversation services, on the organization's local
calendar (days before `today`, at fixed wall times): a demo seeded at 03:00 has the same
history as one seeded at noon."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from app.auth.models import User
from app.contacts.models import Contact
from app.conversations import oncall, referrals, replies, services
from app.conversations.models import LocalService, SavedReply
from app.demo.outreach import local_moment, run_demo_worker
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage

COORDINATOR_EMAIL = "coordinacion@demo.alcance.mx"
# Ensenada's area code, which no demo contact uses; 555-01XX as every demo number.
COORDINATOR_PHONE = "+526465550123"

SAVED_REPLIES = (
    (
        "Dudas sobre el taller",
        "¡Hola! Gracias por escribirnos. El taller es gratis y puedes venir con quien "
        "quieras. Si tienes otra pregunta, responde a este mensaje y te contestamos.",
        "Hi! Thanks for writing. The workshop is free and you can bring anyone you like. "
        "If you have another question, just reply to this message and we'll get back to you.",
    ),
    (
        "Dónde pedir ayuda",
        "Si tú o alguien cercano necesita ayuda, llama gratis a la Línea de la Vida: "
        "800 911 2000, las 24 horas. Si alguien corre peligro ahora, llama al 911.",
        "If you or someone close to you needs help, call the SAMHSA Helpline for free at "
        "1-800-662-4357, 24/7, or call or text 988. If anyone is in danger now, call 911.",
    ),
    (
        "Gracias por escribir",
        "¡Gracias por tu mensaje! Nos da mucho gusto saber de ti. Cuenta con nosotros para "
        "lo que necesites.",
        "Thanks for your message! It's great to hear from you. Count on us for whatever you need.",
    ),
    (
        "Aquí estamos",
        "Gracias por contarnos. No tienes que cargar con esto sin apoyo: una persona de "
        "nuestro equipo te va a escribir hoy mismo. Si alguien corre peligro, llama al 911.",
        "Thanks for telling us. You don't have to carry this alone: someone from our team "
        "will write to you today. If anyone is in danger, call 911.",
    ),
    (
        "Cómo dejar de recibir mensajes",
        "Para dejar de recibir nuestros mensajes, responde BAJA en cualquier momento. "
        "Si luego quieres volver, responde ALTA.",
        "To stop getting our messages, reply STOP at any time. If you want them back "
        "later, reply START.",
    ),
)

LOCAL_SERVICES = (
    dict(
        name="Centro de Integración Juvenil Tijuana (demo)",
        phone="664 555 0190",
        address="Av. Las Palmas 555, Col. Las Palmas, Tijuana, B.C.",
        hours="Lun a vie 9:00-19:00",
        languages="es",
        min_age=12,
        max_age=29,
        state_code="02",
        municipality="Tijuana",
    ),
    dict(
        name="Youth Bridge Clinic San Diego (demo)",
        phone="619 555 0175",
        address="555 Harbor View Ave, San Diego, CA",
        hours="Mon-Sat 10:00-18:00",
        languages="es,en",
        min_age=13,
        max_age=24,
        state_code="CA",
        municipality="San Diego",
    ),
)

# (language, wall time yesterday, text): they wait in the inbox for the demo coordinator.
WAITING = (
    ("es", time(17, 40), "¿El taller del sábado es gratis? ¿Puedo llevar a mi prima?"),
    (
        "es",
        time(18, 5),
        "Mi hermano se está metiendo cristal y ya no sé qué hacer. "
        "¿A dónde lo puedo llevar para que lo ayuden?",
    ),
    ("es", time(18, 30), "jaja sale, gracias!! 👍"),
    ("es", time(19, 10), "ya no me manden mensajes porfa"),
    ("en", time(19, 20), "Is the workshop in English too? What time does it start?"),
)
CRISIS = "mi amigo se tomó una pastilla azul en la fiesta y no respira bien, qué hago"
CRISIS_ANSWER = "ya lo atendieron los paramédicos y ya está mejor, gracias"
REPLY = (
    "Hola, soy del equipo de Jóvenes Sin Adicciones. Hiciste muy bien en escribir. "
    "Si no lo han hecho, llamen al 911 ahora y no lo dejen solo. ¿Cómo sigue tu amigo?"
)
NOTE = (
    "Lo atendieron los paramédicos y ya está mejor. Le mandamos los datos de la Línea de la "
    "Vida para que su amigo tenga seguimiento."
)


def _sid(n: int) -> str:
    return f"SMdemochat{n:024d}"


def _contacts(org, language: str, count: int) -> list[Contact]:
    """Demo contacts who can be messaged and never wrote to us (first ones by id)."""
    wrote = select(InboundMessage.contact_id).where(InboundMessage.organization_id == org.id)
    return list(
        db.session.scalars(
            select(Contact)
            .where(
                Contact.organization_id == org.id,
                Contact.language == language,
                Contact.opted_out_at.is_(None),
                Contact.undeliverable.is_(False),
                Contact.consent_source.is_not(None),
                Contact.id.not_in(wrote),
            )
            .order_by(Contact.id)
            .limit(count)
        )
    )


def _library(org, *, now: datetime) -> None:
    for title, body_es, body_en in SAVED_REPLIES:
        db.session.add(
            SavedReply(
                organization_id=org.id,
                title=title,
                body_es=body_es,
                body_en=body_en,
                created_at=now,
                updated_at=now,
            )
        )
    for values in LOCAL_SERVICES:
        db.session.add(LocalService(organization_id=org.id, active=True, created_at=now, **values))


def _urgent_case(app, org, contact: Contact, coordinator: User, *, day: date) -> None:
    """A crisis message answered by Alcance at once, then by the coordinator, referred to
    Línea de la Vida and closed the next morning."""
    zone = org.timezone
    start = local_moment(day, time(16, 10), zone)
    receive_sms(sid=_sid(90), from_number=contact.phone, body=CRISIS, now=start)
    case = services.active_case(contact.id)
    services.acknowledge(case, user=coordinator, now=start + timedelta(minutes=4))
    db.session.commit()
    replies.send_reply(
        contact, REPLY, user=coordinator, now=start + timedelta(minutes=6), case=case
    )
    db.session.commit()
    receive_sms(
        sid=_sid(91),
        from_number=contact.phone,
        body=CRISIS_ANSWER,
        now=start + timedelta(minutes=9),
    )
    referrals.refer(
        case,
        "linea_vida",
        user=coordinator,
        now=start + timedelta(minutes=11),
        send_details=True,
    )
    services.add_note(case, NOTE, user=coordinator, now=start + timedelta(minutes=12))
    db.session.commit()
    run_demo_worker(app, start + timedelta(minutes=15))
    case = services.active_case(contact.id)
    services.close(
        case,
        "referred",
        user=coordinator,
        now=local_moment(day + timedelta(days=1), time(10), zone),
    )
    db.session.commit()


def seed_conversations(app, org, *, today: date, now: datetime) -> None:
    """Saved replies, local services, the coordinator's phone and on-call shift, a closed
    urgent case and messages waiting in the inbox. Skipped when the organization already
    has saved replies (seeded before)."""
    exists = select(func.count()).where(SavedReply.organization_id == org.id)
    if db.session.scalar(exists):
        return
    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR_EMAIL))
    _library(org, now=now)
    coordinator.staff_phone = COORDINATOR_PHONE
    # From two days ago to three days ahead: the demo's cases fall inside it (assigned to
    # the coordinator) and the on-call page shows a current shift.
    oncall.add_shift(
        coordinator,
        local_moment(today - timedelta(days=2), time(8, 0), org.timezone),
        local_moment(today + timedelta(days=3), time(20, 0), org.timezone),
        now=now,
    )
    db.session.commit()
    spanish = _contacts(org, "es", 5)
    english = _contacts(org, "en", 1)
    _urgent_case(app, org, spanish[0], coordinator, day=today - timedelta(days=2))
    writers = iter(spanish[1:])
    for n, (language, wall, text) in enumerate(WAITING):
        contact = next(writers) if language == "es" else english[0]
        receive_sms(
            sid=_sid(n),
            from_number=contact.phone,
            body=text,
            now=local_moment(today - timedelta(days=1), wall, org.timezone),
        )
