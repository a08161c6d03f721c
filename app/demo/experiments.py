"""A demo campaign that ran an experiment, finished, with a plausible effect: which of two
texts of one message with a link gets more young people to open it, with a holdout.

Everything goes through the real code paths with the clock injected: the campaign and its
message (a tracked link to an allowed host), the experiment (arms A and B 45/45 with a
holdout of 10, a variant text for B, the click within 7 days as the pre-registered primary
outcome), its start (everyone in the audience assigned by the keyed hash), the send and the
demo worker (the fan-out leaves the holdout out and gives each arm its text; each recipient
gets their own short link), then clicks through app.links.clicks.follow as a phone's browser
would (more in arm B, whose text speaks of friends), and the experiment finished.

Timeline (days from today, wall times in the organization's zone), before the other demo
campaigns so no frequency cap changes their history: -42 set up and started; -40 17:00 the
message; clicks that evening and the next days; -30 the experiment finished and the
campaign completed.
"""

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from app.campaigns.services import add_message, create_campaign, transition_campaign
from app.demo.outreach import local_moment, run_demo_worker
from app.experiments.models import ExperimentArm, ExperimentAssignment
from app.experiments.services import (
    ArmSpec,
    OutcomeSpec,
    create_experiment,
    finish_experiment,
    save_design,
    save_outcomes,
    save_variant,
    start_experiment,
)
from app.extensions import db
from app.links.clicks import follow
from app.links.models import TrackedLink
from app.outbox.models import OutboxMessage
from app.outreach.services import schedule_send

HOST = "jovenessinadicciones.org.mx"
LINK = f"{{link:https://{HOST}/pastillas}}"
# Share of the delivered recipients who open the link, by arm: the friends' framing works
# better, as peer-norm messages often do with adolescents.
CLICK_RATES = {"A": 0.16, "B": 0.30}
PHONE_BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; moto g54) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)


def seed_experiment(app, org, audiences: dict, *, today: date, now: datetime) -> None:
    zone = org.timezone
    setup = local_moment(today - timedelta(days=42), time(10, 0), zone)
    if not org.link_hosts:
        org.link_hosts = HOST
        db.session.commit()
    campaign = create_campaign(
        org.id,
        name="Pastillas falsas: ¿qué mensaje funciona?",
        topic="fentanyl",
        strategy="information_dissemination",
        level="universal",
        target_age_min=15,
        target_age_max=24,
        target_population=300,
        description="Dos formas de decir lo mismo, con un grupo que no recibe nada.",
        objectives="Saber qué texto lleva a más jóvenes a leer sobre las pastillas falsas.",
        places=[{"country": "MX", "state": "02", "target_population": 300}],
        start_date=today - timedelta(days=42),
        end_date=today - timedelta(days=30),
    )
    transition_campaign(campaign, "active", now=setup)
    message = add_message(
        campaign,
        label="Pastillas falsas (con enlace)",
        body_es=f"Una pastilla que no compraste en farmacia puede tener fentanilo. Checa: {LINK}",
        body_en=f"A pill you did not buy at a pharmacy can contain fentanyl. Read more: {LINK}",
    )
    experiment = create_experiment(campaign, user_id=None, now=setup)
    save_design(
        experiment,
        arms=[ArmSpec("Riesgo", 45), ArmSpec("Amistades", 45)],
        holdout_weight=10,
        stratify=False,
        audience_id=audiences["everyone"].id,
    )
    arm_b = db.session.scalar(
        select(ExperimentArm).where(
            ExperimentArm.experiment_id == experiment.id, ExperimentArm.key == "B"
        )
    )
    save_variant(
        experiment,
        arm_b,
        message,
        body_es=f"Si alguien te ofrece pastillas, cuida a tus amigos y a ti: checa esto {LINK}",
        body_en=f"If someone offers you pills, look out for your friends and you: read {LINK}",
        now=setup,
    )
    save_outcomes(experiment, [OutcomeSpec("clicked", 7, primary=True)], user_id=None, now=setup)
    start_experiment(experiment, now=setup)
    send_day = today - timedelta(days=40)
    schedule_send(
        campaign,
        message=message,
        audience=audiences["everyone"],
        kind="once",
        user_id=None,
        now=setup,
        local_date=send_day,
        local_time=time(17, 0),
    )
    sent_at = local_moment(send_day, time(17, 5), zone)
    run_demo_worker(app, sent_at)
    _clicks(campaign.id, experiment.id, sent_at)
    finished = local_moment(today - timedelta(days=30), time(10, 0), zone)
    finish_experiment(experiment, now=finished)
    transition_campaign(campaign, "completed", now=finished)


def _clicks(campaign_id: int, experiment_id: int, sent_at: datetime) -> None:
    """Some recipients open their link, minutes to two days after their message left (the
    demo worker runs on a fixed clock: every message left at `sent_at`).

    In the order of the contacts, not of the links: fan-out's row order is the planner's
    (INSERT ... SELECT), so link ids follow contacts in an order that may change with the
    tables' history and statistics; who clicks must not (42 or 51 clicks in one suite)."""
    rng = random.Random(4821)
    rows = db.session.execute(
        select(TrackedLink.code, ExperimentArm.key)
        .join(OutboxMessage, OutboxMessage.id == TrackedLink.outbox_id)
        .join(
            ExperimentAssignment,
            (ExperimentAssignment.contact_id == TrackedLink.contact_id)
            & (ExperimentAssignment.experiment_id == experiment_id),
        )
        .join(ExperimentArm, ExperimentArm.id == ExperimentAssignment.arm_id)
        .where(TrackedLink.campaign_id == campaign_id, OutboxMessage.status == "delivered")
        .order_by(TrackedLink.contact_id, TrackedLink.id)
    ).all()
    visits = []
    for code, arm in rows:
        if rng.random() < CLICK_RATES.get(arm, 0):
            minutes = rng.choice((3, 8, 15, 40, 90, 300, 1500, 2800))
            visits.append((sent_at + timedelta(minutes=minutes), code))
    for moment, code in sorted(visits):
        follow(code, method="GET", user_agent=PHONE_BROWSER, now=moment)
