"""A demo campaign measured with an SMS survey: the same five bank questions asked as a
baseline before the campaign's first message and as a follow-up a week after its last one,
answered by a few dozen young people in Spanish and English (some skip a question, one
answer is not understood and asked again, some stop halfway, one replies BAJA), with the
shift a campaign hopes for (more perceived risk, more knowledge, more knowing where to get
help).

Everything goes through the real code paths with the clock injected: the builder makes the
survey from the question bank, `schedule_run` and `fan_out_due_runs` ask the contacts, the
demo worker sends every question, each reply comes in through
app.outbox.inbound.receive_sms (the survey flow takes it as an answer), and
`expire_responses` sends the one reminder and closes the silent ones as partial. The history
lies on the organization's local calendar (days before `today`, at fixed wall times), so a
demo seeded at 03:00 has the same answers as one seeded at noon.

Timeline (days from today, wall times in the organization's zone): -26 campaign, survey
and baseline set up; -25 17:00 baseline asked, answers that evening, the next morning and
after the reminder, the silent ones closed as partial on -22 at noon; -22 17:00 the
campaign's message; -17 17:00 the follow-up (5 days after each contact's last message),
answered the same way; -14 at noon the silent ones are partial and the run is closed.
All of it before the other demo campaign's message (-14 17:00), which the English speakers
get too: it stays their last campaign message (a survey question has no campaign), so
their replies in the rest of the demo are filed under that campaign, and no frequency cap
changes the demo's history (one capped survey question in the week before it).
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from app.auth.models import User
from app.campaigns.services import add_message, create_campaign, transition_campaign
from app.contacts.audiences import create_audience
from app.contacts.models import Audience, Contact
from app.demo.outreach import local_moment, run_demo_worker
from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.models import InboundMessage
from app.outreach.services import schedule_send
from app.surveys import builder, services
from app.surveys.models import Survey, SurveyResponse, SurveyRun

COORDINATOR_EMAIL = "coordinacion@demo.alcance.mx"
ENGLISH_AUDIENCE = "English speakers (US)"
# The five questions, in the bank's order (the survey asks them in this order).
BANK_CODES = (
    "risk_fentanyl_once",
    "knows_fake_pills_fentanyl",
    "refusal_confidence",
    "knows_where_help",
    "talked_last_month",
)
# Days from today. Everything is over before the other demo campaign's message (-14): for
# the English speakers, who get both, that one stays the last campaign message, so their
# replies in the rest of the demo are filed under it (a survey question has no campaign).
SETUP_DAY, BASELINE_DAY = -26, -25
MESSAGE_DAYS = (-22,)
FOLLOW_UP_DAYS = 5  # after each contact's last campaign message: day -17
FOLLOW_UP_DAY = -17
CLOSE_DAY = -14
ASK = time(17, 0)
WORKER_AT = time(17, 5)  # every recipient's 17:00 has passed (see app/demo/outreach.py)
SLOT = timedelta(minutes=6)  # a contact answers one question per slot; the worker between
SEED = 1717

SURVEY_TEXTS = dict(
    title_es="Pastillas falsas: antes y después",
    title_en="Fake pills: before and after",
    intro_es="¡Hola! Queremos saber qué piensas: son 5 preguntas cortas.",
    intro_en="Hi! We'd like to know what you think: 5 short questions.",
    thanks_es="¡Gracias por tus respuestas! Si necesitas ayuda, marca gratis al 800 911 2000.",
    thanks_en="Thanks for your answers! If you need help, call or text 988 (free, 24/7).",
)
MESSAGES = (
    (
        "Pastillas falsas",
        "Las pastillas falsas se ven igual que las de farmacia y pueden tener fentanilo. "
        "Si necesitas ayuda, llama gratis a la Línea de la Vida: 800 911 2000.",
        "Fake pills look just like real ones and can contain fentanyl. "
        "If you need help, call or text 988 (free, 24/7).",
    ),
)

# How young people write an answer (each form parses to the value: tests/demo checks it).
YES = {"es": ("si", "Sí", "sí!!", "Si", "s", "SI"), "en": ("yes", "Yes", "y", "YES", "yes!")}
NO = {"es": ("no", "No", "nop", "NO", "no."), "en": ("no", "No", "nope", "n", "NO")}
SKIP = {"es": ("SALTAR", "saltar"), "en": ("SKIP", "skip")}
NOT_UNDERSTOOD = {"es": ("mmm", "¿cómo?", "¿qué?"), "en": ("hmm", "what?", "huh?")}
SCALE_FORMS = {"es": ("{}", "{}", "{})", "el {}"), "en": ("{}", "{}", "{})", "{}!!")}
STOP = {"es": "BAJA", "en": "STOP"}


@dataclass
class Script:
    """What one contact replies in one wave, and when it starts answering."""

    contact_id: int
    texts: list[str]
    session: str  # "evening", "morning" (next day) or "late" (after the reminder)
    slot: int = 0


# --- answers ---------------------------------------------------------------------------


def _baseline_values(rng: random.Random) -> list:
    return [
        rng.choices((1, 2, 3, 4), (2, 4, 5, 3))[0],  # perceived risk: trying fentanyl once
        rng.random() < 0.45,  # a fake pill can contain fentanyl
        rng.choices((1, 2, 3, 4, 5), (1, 2, 4, 4, 3))[0],  # sure to say no
        rng.random() < 0.35,  # knows where to get help
        rng.random() < 0.3,  # talked about drugs last month
    ]


def _follow_up_values(rng: random.Random, before: list) -> list:
    """A week after the campaign: risk perception and knowledge mostly up."""
    risk, fake, refuse, help_, talked = before
    return [
        min(4, max(1, risk + rng.choices((-1, 0, 1, 2), (1, 4, 4, 1))[0])),
        rng.random() < (0.92 if fake else 0.65),
        min(5, max(1, refuse + rng.choices((-1, 0, 1), (1, 5, 3))[0])),
        rng.random() < (0.95 if help_ else 0.6),
        rng.random() < (0.6 if talked else 0.4),
    ]


def _text(rng: random.Random, value, language: str) -> str:
    if isinstance(value, bool):
        return rng.choice((YES if value else NO)[language])
    return rng.choice(SCALE_FORMS[language]).format(value)


def _script(rng, contact_id, language, values, behaviour) -> Script:
    """The replies for `values` under a behaviour: complete, skip, reask, partial, morning,
    late or stop."""
    texts = [_text(rng, v, language) for v in values]
    session = "evening"
    if behaviour == "skip":
        texts[rng.randrange(1, len(texts))] = rng.choice(SKIP[language])
    elif behaviour == "reask":
        at = rng.randrange(len(texts))
        texts.insert(at, rng.choice(NOT_UNDERSTOOD[language]))
    elif behaviour == "partial":
        texts = texts[: rng.randint(1, 3)]
    elif behaviour == "stop":
        texts = texts[:2] + [STOP[language]]
    elif behaviour in ("morning", "late"):
        session = behaviour
    return Script(contact_id, texts, session, slot=rng.randrange(4))


BEHAVIOURS = (
    ("complete", 14),
    ("morning", 3),
    ("late", 2),
    ("skip", 2),
    ("reask", 1),
    ("partial", 3),
)


def _behaviour(rng) -> str:
    names, weights = zip(*BEHAVIOURS, strict=True)
    return rng.choices(names, weights)[0]


# --- one wave --------------------------------------------------------------------------


def _invited(run: SurveyRun) -> list[tuple[int, str]]:
    return db.session.execute(
        select(SurveyResponse.contact_id, SurveyResponse.language)
        .where(SurveyResponse.run_id == run.id)
        .order_by(SurveyResponse.contact_id)
    ).all()


def _phones(contact_ids) -> dict[int, str]:
    return dict(
        db.session.execute(
            select(Contact.id, Contact.phone).where(Contact.id.in_(contact_ids))
        ).all()
    )


class _Wave:
    """Replays a wave's replies on the calendar: evening of `day`, next morning, then after
    the reminder; the worker sends the next question between two answers."""

    def __init__(self, app, org, day: date, tag: str):
        self.app, self.org, self.day, self.tag = app, org, day, tag
        self.n = 0

    def at(self, days: int, wall: time) -> datetime:
        return local_moment(self.day + timedelta(days=days), wall, self.org.timezone)

    def _sid(self) -> str:
        self.n += 1
        return f"SMdemosurvey{self.tag}{self.n:019d}"

    def _replay(self, scripts: list[Script], start: datetime, phones: dict) -> None:
        pending = {s.contact_id: list(s.texts) for s in scripts}
        slot_of = {s.contact_id: s.slot for s in scripts}
        slot = 0
        while any(pending.values()):
            moment = start + slot * SLOT
            answering = [c for c, texts in pending.items() if texts and slot_of[c] <= slot]
            # Spread over the first half of the slot: the worker runs at its middle.
            step = SLOT / 2 / max(len(answering), 1)
            for i, contact_id in enumerate(answering):
                receive_sms(
                    sid=self._sid(),
                    from_number=phones[contact_id],
                    body=pending[contact_id].pop(0),
                    now=moment + step * i,
                )
            run_demo_worker(self.app, moment + SLOT / 2)
            slot += 1

    def play(self, scripts: list[Script]) -> None:
        phones = _phones([s.contact_id for s in scripts])
        by_session = {
            name: [s for s in scripts if s.session == name]
            for name in ("evening", "morning", "late")
        }
        self._replay(by_session["evening"], self.at(0, time(17, 10)), phones)
        self._replay(by_session["morning"], self.at(1, time(9, 30)), phones)
        # A day without an answer: the one reminder (at 18:00 here, every recipient's
        # evening), then the late ones answer; a second pass reminds those asked later.
        services.expire_responses(now=self.at(1, time(18, 0)))
        run_demo_worker(self.app, self.at(1, time(18, 1)))
        self._replay(by_session["late"], self.at(1, time(18, 20)), phones)
        services.expire_responses(now=self.at(2, time(10, 0)))
        run_demo_worker(self.app, self.at(2, time(10, 1)))
        # Another day without an answer after the reminder: partial.
        services.expire_responses(now=self.at(3, time(12, 0)))


# --- the campaign ----------------------------------------------------------------------


def _campaign(org, audiences, *, today: date):
    zone = org.timezone
    start = today + timedelta(days=SETUP_DAY)
    campaign = create_campaign(
        org.id,
        name="Pastillas falsas: pregunta antes",
        topic="fentanyl",
        strategy="information_dissemination",
        level="universal",
        target_age_min=12,
        target_age_max=29,
        target_population=900,
        description="Mensajes sobre pastillas falsas, medidos con una encuesta antes y después.",
        objectives="Que más jóvenes sepan que una pastilla falsa puede tener fentanilo.",
        places=[
            {"country": "MX", "state": "09"},
            {"country": "MX", "state": "19"},
            {"country": "MX", "state": "14"},
        ],
        start_date=start,
        end_date=today + timedelta(days=30),
    )
    transition_campaign(campaign, "active", now=local_moment(start, time(9, 30), zone))
    for n, (label, body_es, body_en) in enumerate(MESSAGES):
        message = add_message(campaign, label=label, body_es=body_es, body_en=body_en)
        day = today + timedelta(days=MESSAGE_DAYS[n])
        for audience in audiences:
            schedule_send(
                campaign,
                message=message,
                audience=audience,
                kind="once",
                user_id=None,
                now=local_moment(start, time(10, 0), zone),
                local_date=day,
                local_time=ASK,
            )
    return campaign


def _audiences(org, *, today: date) -> list[Audience]:
    central = create_audience(
        org.id,
        name="Centro del país 12-29",
        description="CDMX, Nuevo León y Jalisco: campaña de pastillas falsas.",
        filters={"country": "MX", "state_codes": ["09", "19", "14"]},
        now=local_moment(today - timedelta(days=22), time(12, 0), org.timezone),
    )
    english = db.session.scalar(
        select(Audience).where(
            Audience.organization_id == org.id, Audience.name == ENGLISH_AUDIENCE
        )
    )
    return [central] + ([english] if english is not None else [])


def _wrote_before(org) -> set[int]:
    """Contacts with messages from the rest of the demo: they do not answer (their threads
    keep their own story)."""
    return set(
        db.session.scalars(
            select(InboundMessage.contact_id).where(InboundMessage.organization_id == org.id)
        )
    )


def seed_surveys(app, org, *, today: date, now: datetime) -> None:
    """The survey campaign with its baseline and follow-up, answered. Skipped when the
    organization already has a survey (seeded before)."""
    del now  # the history is on the local calendar, before `today`
    if db.session.scalar(select(func.count()).where(Survey.organization_id == org.id)):
        return
    zone = org.timezone
    rng = random.Random(SEED)
    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR_EMAIL))
    user_id = coordinator.id if coordinator else None
    quiet = _wrote_before(org)
    campaign = _campaign(org, _audiences(org, today=today), today=today)
    setup = today + timedelta(days=SETUP_DAY)
    survey = builder.create_survey(
        organization_id=org.id,
        now=local_moment(setup, time(10, 20), zone),
        user_id=user_id,
        bank_codes=BANK_CODES,
        **SURVEY_TEXTS,
    )
    baseline_day = today + timedelta(days=BASELINE_DAY)
    baseline = services.schedule_run(
        organization_id=org.id,
        survey_id=survey.id,
        kind="baseline",
        campaign_id=campaign.id,
        local_date=baseline_day,
        local_time=ASK,
        user_id=user_id,
        now=local_moment(setup, time(10, 30), zone),
    )
    start = local_moment(baseline_day, WORKER_AT, zone)
    services.fan_out_due_runs(now=start)
    run_demo_worker(app, start)
    before = {}
    scripts = []
    for contact_id, language in _invited(baseline):
        if contact_id in quiet or rng.random() < 0.45:
            continue  # never answers
        before[contact_id] = _baseline_values(rng)
        scripts.append(_script(rng, contact_id, language, before[contact_id], _behaviour(rng)))
    _Wave(app, org, baseline_day, "b").play(scripts)

    for day in MESSAGE_DAYS:
        run_demo_worker(app, local_moment(today + timedelta(days=day), WORKER_AT, zone))

    follow_up = services.schedule_run(
        organization_id=org.id,
        survey_id=survey.id,
        kind="follow_up",
        campaign_id=campaign.id,
        local_date=None,
        local_time=ASK,
        follow_up_days=FOLLOW_UP_DAYS,
        user_id=user_id,
        now=local_moment(today + timedelta(days=MESSAGE_DAYS[-1] - 1), time(11, 0), zone),
    )
    follow_up_day = today + timedelta(days=FOLLOW_UP_DAY)
    start = local_moment(follow_up_day, WORKER_AT, zone)
    services.fan_out_due_runs(now=start)
    run_demo_worker(app, start)
    scripts = []
    stopped = False
    for contact_id, language in _invited(follow_up):
        answered_before = contact_id in before
        if contact_id in quiet or rng.random() < (0.15 if answered_before else 0.75):
            continue
        values = _follow_up_values(rng, before.get(contact_id) or _baseline_values(rng))
        behaviour = _behaviour(rng)
        if not stopped and language == "es" and behaviour == "complete" and answered_before:
            behaviour, stopped = "stop", True
        scripts.append(_script(rng, contact_id, language, values, behaviour))
    _Wave(app, org, follow_up_day, "f").play(scripts)
    follow_up = db.session.get(SurveyRun, follow_up.id)
    services.close_run(
        follow_up, now=local_moment(today + timedelta(days=CLOSE_DAY), time(12, 30), zone)
    )
