"""Designing and starting an experiment: assignment at start is sticky (across calls,
workers and app instances, after a re-import), newcomers are assigned on entry, strata
stay balanced, the start's rules hold and the pre-registration locks with an audit."""

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import create_app
from app.contacts import import_services
from app.contacts.models import Contact
from app.experiments import allocation, services
from app.experiments.assignment import assign_by_number, assignment_key, reduced
from app.experiments.models import (
    Experiment,
    ExperimentAssignment,
    ExperimentOutcome,
    PreregistrationChange,
)
from app.experiments.services import ArmSpec, ExperimentError, OutcomeSpec
from app.extensions import db
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_experiment,
    make_message,
    make_outbox_row,
    make_survey,
)
from tests.outreach.helpers import schedule_once
from tests.support import NOW


def arms_by_contact(experiment) -> dict[int, str]:
    db.session.expire_all()
    rows = db.session.execute(
        select(ExperimentAssignment.contact_id, ExperimentAssignment.arm_id).where(
            ExperimentAssignment.experiment_id == experiment.id
        )
    )
    keys = {arm.id: arm.key for arm in experiment.arms}
    return {contact_id: keys[arm_id] for contact_id, arm_id in rows}


def expected_arms(app, experiment, contact_ids) -> dict[int, str]:
    """The hash rule computed directly (no database): what any worker must store."""
    arms = list(experiment.arms)
    key = assignment_key(app.config["SECRET_KEY"])
    chosen = assign_by_number(
        key, experiment.organization_id, experiment.id, contact_ids, [a.weight for a in arms]
    )
    return {c: arms[i].key for c, i in chosen.items()}


@pytest.fixture
def setup(make_org):
    org = make_org()
    campaign = make_campaign(org)
    make_message(campaign)
    audience = make_audience(org, {})
    contacts = [make_contact(org) for _ in range(40)]
    experiment = make_experiment(campaign, (45, 45), holdout=10, audience=audience)
    return org, campaign, audience, contacts, experiment


def test_start_assigns_the_whole_audience_by_the_keyed_hash(app, setup):
    _org, _campaign, _audience, contacts, experiment = setup
    assert services.start_experiment(experiment, now=NOW) == 40
    stored = arms_by_contact(experiment)
    assert stored == expected_arms(app, experiment, [c.id for c in contacts])
    assert experiment.status == "running" and experiment.started_at == NOW


def test_assignment_is_sticky_across_calls_workers_and_app_instances(app, test_config, setup):
    org, campaign, audience, contacts, experiment = setup
    services.start_experiment(experiment, now=NOW)
    before = arms_by_contact(experiment)
    # Another pass (as a fan-out on any worker would make) assigns nobody again.
    query = select(Contact).where(Contact.organization_id == org.id)
    assert allocation.assign(experiment, query, now=NOW + timedelta(days=3)) == 0
    assert arms_by_contact(experiment) == before
    # Another app instance with the same secret computes the same arms.
    experiment = db.session.get(Experiment, experiment.id)
    arms = list(experiment.arms)
    ids = [c.id for c in contacts]
    with create_app(test_config).app_context():
        planned = allocation.plan(experiment, [(i, "x") for i in ids])
    assert {p.contact_id: {a.id: a.key for a in arms}[p.arm_id] for p in planned} == before


def test_a_newcomer_is_assigned_on_entry_when_a_message_reaches_them(app, setup):
    org, campaign, _audience, contacts, experiment = setup
    services.start_experiment(experiment, now=NOW)
    newcomer = make_contact(org)
    assert newcomer.id not in arms_by_contact(experiment)
    schedule_once(org, now=NOW, campaign=campaign, message=campaign.messages[0])
    stored = arms_by_contact(experiment)
    assert stored[newcomer.id] == expected_arms(app, experiment, [newcomer.id])[newcomer.id]
    assert len(stored) == 41


CSV = "telefono,nombre,municipio,año_nacimiento\n" + "".join(
    f"664555{n:04d},Joven {n},Tijuana,2005\n" for n in range(1, 31)
)


def _import(org, text):
    imp = import_services.create_import(
        org, user_id=None, filename="lista.csv", data=text.encode(), consent_source="workshop"
    )
    return import_services.apply_import(imp, now=NOW)


def test_a_reimport_keeps_every_contact_in_its_arm(app, make_org):
    org = make_org()
    campaign = make_campaign(org)
    message = make_message(campaign)
    assert _import(org, CSV).created == 30
    experiment = make_experiment(campaign, (1, 1, 1), audience=make_audience(org, {}))
    services.start_experiment(experiment, now=NOW)
    before = arms_by_contact(experiment)
    ids_before = dict(db.session.execute(select(Contact.phone, Contact.id)).all())
    # The same list again, renamed, plus one new person: updates by phone, ids kept.
    renamed = CSV.replace("Joven", "Chava") + "6645559999,Nueva,Tijuana,2006\n"
    result = _import(org, renamed)
    assert (result.created, result.updated) == (1, 30)
    ids_after = dict(db.session.execute(select(Contact.phone, Contact.id)).all())
    assert {p: ids_after[p] for p in ids_before} == ids_before
    assert arms_by_contact(experiment) == before
    schedule_once(org, now=NOW, campaign=campaign, message=message)
    after = arms_by_contact(experiment)
    assert {c: after[c] for c in before} == before and len(after) == 31


def test_stratified_start_balances_arms_within_each_stratum(app, make_org):
    org = make_org()
    campaign = make_campaign(org)
    places = [("02", "Tijuana", "America/Tijuana"), ("26", "Hermosillo", "America/Hermosillo")]
    for n in range(150):
        state, town, tz = places[n % 2]
        make_contact(
            org, state_code=state, municipality=town, timezone=tz, birth_year=2004 - (n % 3) * 4
        )
    weights = (45, 45, 10)
    experiment = make_experiment(
        campaign, weights[:2], holdout=weights[2], stratify=True, audience=make_audience(org, {})
    )
    services.start_experiment(experiment, now=NOW)
    rows = db.session.execute(
        select(ExperimentAssignment.stratum, ExperimentAssignment.arm_id, func.count())
        .where(ExperimentAssignment.experiment_id == experiment.id)
        .group_by(ExperimentAssignment.stratum, ExperimentAssignment.arm_id)
    ).all()
    strata: dict[str, Counter] = {}
    for stratum, arm_id, n in rows:
        strata.setdefault(stratum, Counter())[arm_id] = n
    assert len(strata) == 6  # 2 states x 3 age bands
    r = reduced(weights)
    for stratum, counts in strata.items():
        n = sum(counts.values())
        for arm, w in zip(experiment.arms, r, strict=True):
            assert abs(counts[arm.id] - n * w / sum(r)) <= w, (stratum, counts)
    table = services.balance(experiment, now=NOW)
    assert table.total == 150 and not table.planned


def test_the_balance_table_before_start_is_the_assignment_the_start_makes(app, make_org):
    org = make_org()
    campaign = make_campaign(org)
    for n in range(25):
        make_contact(org, birth_year=1997 + n % 9)  # adults: 20 to 29
    experiment = make_experiment(campaign, stratify=True, audience=make_audience(org, {}))
    planned = services.balance(experiment, now=NOW)
    assert planned.planned and planned.total == 25
    assert db.session.scalar(select(func.count()).select_from(ExperimentAssignment)) == 0
    services.start_experiment(experiment, now=NOW)
    stored = services.balance(experiment, now=NOW)
    assert (stored.rows, stored.totals) == (planned.rows, planned.totals)


def test_start_is_refused_once_campaign_messages_are_scheduled(app, setup):
    org, campaign, _audience, contacts, experiment = setup
    # A baseline survey's question carries the campaign, but does not count.
    make_outbox_row(contacts[0], campaign_id=campaign.id, purpose="survey", status="sent")
    assert services.start_problems(experiment) == []
    make_outbox_row(contacts[1], campaign_id=campaign.id, purpose="campaign")
    with pytest.raises(ExperimentError, match="already scheduled"):
        services.start_experiment(experiment, now=NOW)
    assert experiment.status == "draft"
    assert db.session.scalar(select(func.count()).select_from(ExperimentAssignment)) == 0


def test_start_needs_an_audience_and_a_primary_outcome(app, make_org):
    org = make_org()
    campaign = make_campaign(org)
    make_contact(org)
    experiment = make_experiment(campaign, primary=None)
    problems = [str(p) for p in services.start_problems(experiment)]
    assert any("audience" in p for p in problems) and any("primary" in p for p in problems)
    with pytest.raises(ExperimentError):
        services.start_experiment(experiment, now=NOW)


def test_design_rules_and_nothing_changes_on_bad_input(app, setup):
    _org, _campaign, audience, _contacts, experiment = setup
    before = [(a.key, a.weight, a.is_holdout) for a in experiment.arms]
    for arms, holdout in (
        ([ArmSpec("", 1)], None),  # one arm
        ([ArmSpec("", 1)] * 5, None),  # five arms
        ([ArmSpec("", 1), ArmSpec("", 0)], None),  # zero ratio
        ([ArmSpec("", 1), ArmSpec("", -3)], None),
        ([ArmSpec("", 1), ArmSpec("", 1)], 0),  # zero holdout
        ([ArmSpec("", 1), ArmSpec("", 1001)], None),
    ):
        with pytest.raises(ExperimentError):
            services.save_design(
                experiment, arms=arms, holdout_weight=holdout, stratify=True, audience_id=None
            )
        db.session.rollback()
        db.session.expire_all()
        assert [(a.key, a.weight, a.is_holdout) for a in experiment.arms] == before
    services.save_design(
        experiment,
        arms=[ArmSpec("Miedo", 3), ArmSpec("Datos", 3), ArmSpec("Amigos", 3)],
        holdout_weight=1,
        stratify=True,
        audience_id=audience.id,
    )
    assert [(a.key, a.label, a.weight) for a in experiment.arms] == [
        ("A", "Miedo", 3),
        ("B", "Datos", 3),
        ("C", "Amigos", 3),
        ("holdout", "", 1),
    ]


def test_the_design_is_frozen_once_started(app, setup):
    _org, _campaign, audience, _contacts, experiment = setup
    services.start_experiment(experiment, now=NOW)
    with pytest.raises(ExperimentError):
        services.save_design(
            experiment,
            arms=[ArmSpec("", 1), ArmSpec("", 1)],
            holdout_weight=None,
            stratify=False,
            audience_id=audience.id,
        )


def test_variants_need_both_languages_and_can_be_removed(app, setup):
    _org, campaign, _audience, _contacts, experiment = setup
    arm_b, message = experiment.arms[1], campaign.messages[0]
    with pytest.raises(ExperimentError):
        services.save_variant(experiment, arm_b, message, body_es="Hola", body_en="", now=NOW)
    with pytest.raises(ExperimentError):
        services.save_variant(
            experiment, experiment.holdout, message, body_es="a", body_en="b", now=NOW
        )
    variant = services.save_variant(
        experiment, arm_b, message, body_es="Hola {first_name}", body_en="Hi", now=NOW
    )
    assert variant.body_for("es") == "Hola {first_name}"
    assert (
        services.save_variant(experiment, arm_b, message, body_es="", body_en="", now=NOW) is None
    )


def test_outcomes_change_freely_in_draft_and_are_audited(app, setup, make_user):
    org, _campaign, _audience, _contacts, experiment = setup
    user = make_user(org)
    specs = [OutcomeSpec("rsvp_yes", 14, primary=True), OutcomeSpec("attended", 30)]
    assert services.save_outcomes(experiment, specs, user_id=user.id, now=NOW)
    assert not services.save_outcomes(experiment, specs, user_id=user.id, now=NOW)  # same
    change = db.session.scalars(select(PreregistrationChange)).all()[-1]
    assert change.after_start is False and change.changed_by == user.id
    assert [o["kind"] for o in change.after] == ["rsvp_yes", "attended"]
    with pytest.raises(ExperimentError, match="primary"):
        services.save_outcomes(experiment, [OutcomeSpec("attended", 30)], user_id=user.id, now=NOW)
    with pytest.raises(ExperimentError):
        services.save_outcomes(
            experiment, [OutcomeSpec("attended", 0, primary=True)], user_id=user.id, now=NOW
        )
    with pytest.raises(ExperimentError):
        services.save_outcomes(
            experiment, [OutcomeSpec("survey_item", 30, primary=True)], user_id=user.id, now=NOW
        )


def test_outcomes_lock_at_start_and_a_later_change_is_recorded_as_after_start(
    app, setup, make_user
):
    org, _campaign, _audience, _contacts, experiment = setup
    user = make_user(org)
    services.start_experiment(experiment, now=NOW)
    new = [OutcomeSpec("rsvp_yes", 7, primary=True)]
    later = NOW + timedelta(days=2)
    with pytest.raises(ExperimentError, match="locked"):
        services.save_outcomes(experiment, new, user_id=user.id, now=later)
    with pytest.raises(ExperimentError):
        services.save_outcomes(experiment, new, user_id=user.id, now=later, after_start=True)
    db.session.rollback()
    db.session.expire_all()
    assert [(o.kind, o.window_days) for o in experiment.outcomes] == [("attended", 30)]
    assert services.save_outcomes(
        experiment, new, user_id=user.id, now=later, after_start=True, reason="Typo in window"
    )
    (change,) = services.preregistration_changes(experiment)
    assert change.after_start and change.reason == "Typo in window"
    assert change.before[0]["kind"] == "attended" and change.after[0]["kind"] == "rsvp_yes"
    services.finish_experiment(experiment, now=later)
    with pytest.raises(ExperimentError, match="finished"):
        services.save_outcomes(
            experiment,
            [OutcomeSpec("attended", 30, primary=True)],
            user_id=user.id,
            now=later,
            after_start=True,
            reason="x",
        )
    assert db.session.scalar(select(func.count()).select_from(ExperimentOutcome)) == 1


def test_sample_size_next_to_the_audience(app, setup):
    _org, _campaign, _audience, _contacts, experiment = setup
    advice = services.sample_size_advice(experiment, baseline=0.2, effect=0.05, audience=40)
    assert advice.per_arm == 1094  # R: power.prop.test(p1=.2, p2=.25, power=.8): 1093.7
    assert advice.audience_needed == 10940  # the holdout gets 10 %
    assert advice.enough is False and advice.smallest_arm == 4
    with pytest.raises(ExperimentError):
        services.sample_size_advice(experiment, baseline=0.98, effect=0.05, audience=40)


def test_a_survey_answer_as_an_outcome(app, setup, make_org, make_user):
    org, _campaign, _audience, _contacts, experiment = setup
    user = make_user(org)
    theirs = make_survey(make_org())
    mine = make_survey(org)
    services.save_outcomes(
        experiment,
        [
            OutcomeSpec("survey_item", 60, True, "bank:risk_fentanyl_once", (4.0,)),
            OutcomeSpec("survey_item", 60, False, f"question:{mine.questions[1].id}"),
        ],
        user_id=user.id,
        now=NOW,
    )
    primary, secondary = experiment.outcomes
    assert (primary.survey_bank_code, primary.top_box) == ("risk_fentanyl_once", [4.0])
    assert (secondary.survey_question_id, secondary.top_box) == (mine.questions[1].id, [1.0])
    for bad in (
        OutcomeSpec("survey_item", 60, True, "bank:risk_fentanyl_once", (7.0,)),  # no such value
        OutcomeSpec("survey_item", 60, True, f"question:{theirs.questions[0].id}"),
        OutcomeSpec("survey_item", 60, True, "bank:nonexistent"),
    ):
        with pytest.raises(ExperimentError):
            services.save_outcomes(experiment, [bad], user_id=user.id, now=NOW)


def test_a_variant_may_link_to_the_organizations_allowed_hosts_only(app, setup):
    """A variant is checked as the message it replaces: a tracked link to a host on the
    organization's allow-list saves; one to another host does not."""
    org, campaign, _audience, _contacts, experiment = setup
    org.link_hosts = "example.org"
    db.session.commit()
    arm_b, message = experiment.arms[1], campaign.messages[0]
    variant = services.save_variant(
        experiment,
        arm_b,
        message,
        body_es="Checa {link:https://example.org/pastillas}",
        body_en="Read {link:https://example.org/pills}",
        now=NOW,
    )
    assert variant is not None
    with pytest.raises(ExperimentError, match="evil.example"):
        services.save_variant(
            experiment,
            arm_b,
            message,
            body_es="Checa {link:https://evil.example/x}",
            body_en="Read {link:https://example.org/pills}",
            now=NOW,
        )
