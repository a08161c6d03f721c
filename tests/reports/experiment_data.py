"""A small experiment built by hand for the experiment report's tests (assignments, outbox
rows, events and survey answers inserted directly; the services that fill them in
production are tested in tests/experiments). Times are relative to tests.support.NOW.

Organization "experimento" (threshold 5), campaign "Mensajes" with one message. The
experiment started 40 days ago (START = NOW − 40 d) with arms A, B and a holdout.
Pre-registered outcomes (o1 primary):

    o1  attended a workshop within 30 days      (primary)
    o2  said yes to an invitation within 14 days
    o3  clicked a link within 7 days
    o4  survey item risk_fentanyl_once (scale 1-4) within 30 days, top box 4

Contacts (a0..a19, b0..b21, h0..h9), all assigned at START except b20 and b21, assigned
10 days ago (time zero NOW − 10 d: their 30-day window has not ended, their 7-day one
has). Strata: MX-02|18-24 for everyone except a17-a19 (MX-09|15-17, born 2010) and
b17-b19 (MX-09|12-14, born 2013).

Flow:
    A: 20 assigned; outbox rows for a0-a18 (a19 only a skipped one) → eligible 19;
       delivered a0-a16 → 17
    B: 22 assigned; outbox rows for all → eligible 22; delivered b0-b19 → 20
    holdout: 10 assigned; h9 opted out → eligible today 9; h0 got a survey question
       (purpose "survey", delivered): not a delivery of the campaign → 0

o1 attended (attended or walk_in, any workshop of the organization, days 0-29 from t0):
    A: a0-a7 (8; a7 by walk_in only); a8 attended on day 35 and a9 before the start: no
    B: b0-b3 (4); b20 attended 5 days ago (window not ended: not measurable)
    holdout: h0, h1 (2)
o2 rsvp_yes within 14 days: A a0-a4 (5; a4's yes is to another campaign's workshop),
    a5 on day 20: no; B b0-b2 (3); holdout h2 (1, another campaign's workshop)
o3 clicked (this campaign) within 7 days: A a0-a5 (6), a6 clicked another campaign's
    link: no; B b0, b1 and b21 (3 of 22: b21 clicked 8 days ago, 2 days after its time
    zero; b20, b21 are measurable for 7 days); holdout none (0 of 10). a7 clicked on day
    10: in "clicked so far" (A 7 of 17 delivered, B 3 of 20), not in o3
o4 survey run 20 days ago (after time zero), answers 1 hour after its start:
    A a0-a9 answer 4 (a0-a5) or 3 (a6-a9): n 10, top box 6, mean 3.6; a10 skips
    B b0-b7 answer 4 (b0-b2), 3 (b3-b5), 2 (b6-b7): n 8, top box 3, mean 3.125
    holdout h0-h5 answer 4 (h0), 3 (h1-h2), 2 (h3-h5): n 6, top box 1, mean 16/6
    a baseline run 50 days ago (before the start): a11-a19 answer 4, never counted
"""

from dataclasses import dataclass, field
from datetime import timedelta

from app.experiments.models import ExperimentAssignment, ExperimentOutcome
from app.extensions import db
from app.participation.services import record_event
from tests.factories import (
    make_campaign,
    make_contact,
    make_experiment,
    make_message,
    make_outbox_row,
)
from tests.reports.survey_data import make_run, make_survey, respond
from tests.support import NOW

START = NOW - timedelta(days=40)
LATE = NOW - timedelta(days=10)
STRATA = {("a", True): "MX-09|15-17", ("b", True): "MX-09|12-14"}


@dataclass
class World:
    org: object
    campaign: object
    other_campaign: object
    experiment: object
    survey: object
    contacts: dict = field(default_factory=dict)  # "a0".. -> Contact
    arms: dict = field(default_factory=dict)  # "A", "B", "holdout" -> ExperimentArm


def build_world(make_org, slug="experimento") -> World:
    org = make_org(slug=slug, timezone="America/Tijuana")
    org.evaluator_person_files = True  # evaluators get the assignments file
    campaign = make_campaign(org, name="Mensajes")
    other_campaign = make_campaign(org, name="Otra campaña")
    message = make_message(campaign)
    message.track_links = True
    experiment = make_experiment(campaign, (1, 1), holdout=1, primary=None)
    survey = make_survey(org)
    outcomes = [
        dict(kind="attended", window_days=30, is_primary=True),
        dict(kind="rsvp_yes", window_days=14),
        dict(kind="clicked", window_days=7),
        dict(
            kind="survey_item", window_days=30, survey_bank_code="risk_fentanyl_once", top_box=[4]
        ),
    ]
    experiment.outcomes = [
        ExperimentOutcome(organization_id=org.id, position=i, **values)
        for i, values in enumerate(outcomes)
    ]
    experiment.status, experiment.started_at = "running", START
    db.session.commit()
    w = World(org, campaign, other_campaign, experiment, survey)
    w.arms = {arm.key: arm for arm in experiment.arms}
    _assign(w)
    _flow(w, message)
    _events(w)
    _answers(w)
    return w


def _assign(w: World) -> None:
    plan = [("a", "A", 20), ("b", "B", 22), ("h", "holdout", 10)]
    for prefix, key, count in plan:
        for i in range(count):
            name = f"{prefix}{i}"
            young = prefix in ("a", "b") and 17 <= i <= 19
            year = 2004 if not young else 2010 if prefix == "a" else 2013
            contact = make_contact(
                w.org,
                first_name=f"Secreto{name}",
                birth_year=year,
                state_code="09" if young else "02",
                municipality="Coyoacán" if young else "Tijuana",
                guardian_consent=young,
            )
            w.contacts[name] = contact
            late = name in ("b20", "b21")
            db.session.add(
                ExperimentAssignment(
                    organization_id=w.org.id,
                    experiment_id=w.experiment.id,
                    contact_id=contact.id,
                    arm_id=w.arms[key].id,
                    stratum=STRATA.get((prefix, young), "MX-02|18-24"),
                    assigned_at=LATE if late else START,
                )
            )
    db.session.commit()


def _flow(w: World, message) -> None:
    def outbox(name, status, purpose="campaign"):
        return make_outbox_row(
            w.contacts[name],
            campaign_id=w.campaign.id,
            message_id=message.id if purpose == "campaign" else None,
            purpose=purpose,
            status=status,
            body="Mensaje secreto del cuerpo",
            due_at=START + timedelta(days=1),
        )

    delivered = [f"a{i}" for i in range(17)] + [f"b{i}" for i in range(20)]
    for i in range(20):
        name = f"a{i}"
        outbox(name, "skipped" if i == 19 else "delivered" if name in delivered else "sent")
    for i in range(22):
        name = f"b{i}"
        outbox(name, "delivered" if name in delivered else "sent")
    for name in delivered:
        record_event(
            organization_id=w.org.id,
            contact_id=w.contacts[name].id,
            kind="sms_delivered",
            channel="sms",
            occurred_at=START + timedelta(days=1),
            campaign_id=w.campaign.id,
            message_id=message.id,
        )
    survey_row = outbox("h0", "delivered", purpose="survey")
    record_event(
        organization_id=w.org.id,
        contact_id=w.contacts["h0"].id,
        kind="sms_delivered",
        channel="sms",
        occurred_at=START + timedelta(days=20),
        campaign_id=w.campaign.id,
        outbox_id=survey_row.id,
    )
    w.contacts["h9"].opted_out_at = START + timedelta(days=2)
    db.session.commit()


def _events(w: World) -> None:
    def ev(name, kind, days, campaign=None, moment=None):
        record_event(
            organization_id=w.org.id,
            contact_id=w.contacts[name].id,
            kind=kind,
            channel="web" if kind == "clicked" else "workshop" if kind != "rsvp_yes" else "sms",
            occurred_at=moment or START + timedelta(days=days),
            campaign_id=(campaign or w.campaign).id,
        )

    for name in ("a0", "a1", "a2", "a3", "a4", "a5", "a6", "b0", "b1", "b2", "b3", "h0", "h1"):
        ev(name, "attended", 10)
    ev("a7", "walk_in", 29)
    ev("a8", "attended", 35)
    ev("a9", "attended", -3)
    ev("b20", "attended", 0, moment=NOW - timedelta(days=5))
    for name in ("a0", "a1", "a2", "a3", "b0", "b1", "b2"):
        ev(name, "rsvp_yes", 5)
    ev("a4", "rsvp_yes", 13, campaign=w.other_campaign)
    ev("a5", "rsvp_yes", 20)
    ev("h2", "rsvp_yes", 3, campaign=w.other_campaign)
    for name in ("a0", "a1", "a2", "a3", "a4", "a5", "b0", "b1"):
        ev(name, "clicked", 2)
    ev("a6", "clicked", 2, campaign=w.other_campaign)
    ev("b21", "clicked", 0, moment=NOW - timedelta(days=8))
    ev("a7", "clicked", 10)  # after o3's window: in "clicked so far" only
    db.session.commit()


def _answers(w: World) -> None:
    run = make_run(w.survey, "audience", days_ago=20)
    values = {f"a{i}": 4 if i < 6 else 3 for i in range(10)}
    values.update({f"b{i}": 4 if i < 3 else 3 if i < 6 else 2 for i in range(8)})
    values.update({f"h{i}": 4 if i < 1 else 3 if i < 3 else 2 for i in range(6)})
    for name, value in values.items():
        respond(run, w.contacts[name], {1: value, 2: 1})
    respond(run, w.contacts["a10"], {1: None, 2: 1})
    baseline = make_run(w.survey, "audience", days_ago=50)
    for i in range(11, 20):
        respond(baseline, w.contacts[f"a{i}"], {1: 4})
