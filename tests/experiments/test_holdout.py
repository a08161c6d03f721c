"""The holdout never receives the campaign: a property over random schedules.

Random audiences (sizes, languages), designs (2-3 arms, ratios, a holdout, strata) and
schedules (sends, re-imports with renamed and new contacts, campaign rows enqueued by other
paths such as workshop reminders, survey questions), with the worker sending through the
fake gateway between steps: no outbox row of the campaign is ever handed to the provider
for a holdout contact, while surveys still reach them; each arm gets its own text."""

from datetime import timedelta

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.contacts import import_services
from app.contacts.models import Contact
from app.experiments import services
from app.experiments.hooks import REASON
from app.experiments.models import ExperimentArm, ExperimentAssignment
from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.outbox import api as outbox
from app.outbox.api import HANDED_OVER
from app.outbox.models import OutboxMessage
from app.outreach.estimates import estimate_send
from app.outreach.models import OutreachSend
from app.outreach.services import schedule_send
from tests.factories import (
    make_audience,
    make_campaign,
    make_experiment,
    make_message,
    make_org,
)
from tests.outreach.helpers import make_worker
from tests.support import NOW, Clock

SURVEY_PURPOSES = ("survey", "survey_reply")
# Across examples: the property was put to the test, not satisfied vacuously.
SEEN = {"withdrawn": 0, "holdout_surveys": 0, "variants": 0}


def csv_of(people: list[tuple[int, str]], name: str) -> bytes:
    rows = "".join(f"664777{n:04d},{name} {n},Tijuana,2001,{lang}\n" for n, lang in people)
    return ("telefono,nombre,municipio,año_nacimiento,idioma\n" + rows).encode()


def import_people(org, people, name="Joven"):
    imp = import_services.create_import(
        org, user_id=None, filename="l.csv", data=csv_of(people, name), consent_source="workshop"
    )
    import_services.apply_import(imp, now=NOW)


def run_worker(app, clock, gateway):
    worker = make_worker(app, clock, gateway)
    try:
        worker.run(once=True)
    finally:
        worker.close()
    db.session.expire_all()


def holdout_ids(experiment) -> set[int]:
    return set(
        db.session.scalars(
            select(ExperimentAssignment.contact_id)
            .join(ExperimentArm, ExperimentArm.id == ExperimentAssignment.arm_id)
            .where(ExperimentAssignment.experiment_id == experiment.id, ExperimentArm.is_holdout)
        )
    )


steps = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 1)),
        st.tuples(st.just("reimport"), st.integers(0, 4)),  # how many new people
        st.tuples(st.just("reminder"), st.integers(0, 40)),  # to which contact (modulo)
        st.tuples(st.just("survey"), st.integers(0, 40)),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(
    size=st.integers(2, 14),
    english=st.integers(0, 14),
    weights=st.lists(st.integers(1, 5), min_size=2, max_size=3),
    holdout=st.integers(1, 5),
    stratify=st.booleans(),
    plan=steps,
)
def check_holdout(app, size, english, weights, holdout, stratify, plan):
    org = make_org()
    campaign = make_campaign(org)
    messages = [
        make_message(campaign, body_es="Mensaje uno", body_en="Message one"),
        make_message(campaign, body_es="Mensaje dos", body_en="Message two"),
    ]
    import_people(org, [(n, "en" if n < english else "es") for n in range(size)])
    audience = make_audience(org, {})
    experiment = make_experiment(
        campaign, weights, holdout=holdout, stratify=stratify, audience=audience
    )
    arm_b = experiment.arms[1]
    services.save_variant(
        experiment, arm_b, messages[0], body_es="Variante B", body_en="Variant B", now=NOW
    )
    services.start_experiment(experiment, now=NOW)
    clock = Clock(NOW)
    gateway = FakeSmsGateway(clock=clock)
    people = size
    for action, value in plan:
        if action == "send":
            schedule_send(
                campaign,
                message=messages[value],
                audience=audience,
                kind="once",
                user_id=None,
                now=clock.now,
                fixed_at=clock.now,
            )
        elif action == "reimport":
            import_people(org, [(n, "es") for n in range(people + value)], name="Renombrada")
            people += value
        else:
            ids = sorted(
                db.session.scalars(select(Contact.id).where(Contact.organization_id == org.id))
            )
            contact_id = ids[value % len(ids)]
            outbox.enqueue(
                organization_id=org.id,
                contact_id=contact_id,
                purpose="reminder" if action == "reminder" else "survey",
                language="es",
                body="Recordatorio" if action == "reminder" else "Pregunta",
                due_at=clock.now,
                now=clock.now,
                campaign_id=campaign.id,
            )
            db.session.commit()
        run_worker(app, clock, gateway)
        clock.now += timedelta(days=1)

    held_out = holdout_ids(experiment)
    rows = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id)
    ).all()
    for row in rows:
        if row.contact_id in held_out and row.purpose not in SURVEY_PURPOSES:
            assert row.status not in HANDED_OVER, (row.id, row.purpose, row.status)
            assert row.purpose != "campaign"  # fan-out never made one
            assert row.status == "canceled" and row.skip_reason == REASON
            SEEN["withdrawn"] += 1
        if row.contact_id in held_out and row.purpose == "survey":
            assert row.status == "sent"  # the holdout stays eligible for surveys
            SEEN["holdout_surveys"] += 1
    # This example's organization only: every example imports the same phone numbers into
    # a new organization, and a dict over all of them kept whichever row came last (on
    # PostgreSQL, not always this organization's: a KeyError below, now and then).
    phones = dict(
        db.session.execute(
            select(Contact.phone, Contact.id).where(Contact.organization_id == org.id)
        ).all()
    )
    arm_of = dict(
        db.session.execute(
            select(ExperimentAssignment.contact_id, ExperimentAssignment.arm_id).where(
                ExperimentAssignment.experiment_id == experiment.id
            )
        ).all()
    )
    for sms in gateway.sent:
        contact_id = phones[sms.to]
        if contact_id in held_out:
            assert sms.body.startswith("Pregunta"), sms.body
        if sms.body.startswith(("Variante", "Variant")):
            assert arm_of[contact_id] == arm_b.id
            SEEN["variants"] += 1
        if sms.body.startswith(("Mensaje uno", "Message one")):
            assert arm_of[contact_id] != arm_b.id


def test_no_campaign_message_ever_reaches_the_holdout(app):
    check_holdout(app)
    assert all(SEEN.values()), SEEN


def test_the_send_estimate_leaves_the_holdout_out(app):
    org = make_org()
    campaign = make_campaign(org)
    message = make_message(campaign)
    import_people(org, [(n, "es") for n in range(30)])
    audience = make_audience(org, {})
    experiment = make_experiment(campaign, (1, 1), holdout=1, audience=audience)
    services.start_experiment(experiment, now=NOW)
    send = OutreachSend(organization_id=org.id, campaign_id=campaign.id, kind="once", fixed_at=NOW)
    send.campaign, send.message, send.audience = campaign, message, audience
    held_out = len(holdout_ids(experiment))
    assert 0 < held_out < 30
    assert estimate_send(send, today=NOW.date()).recipients == 30 - held_out
