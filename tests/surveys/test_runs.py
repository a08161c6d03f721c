"""Survey runs: scheduling checks, fan-out (audience, baseline, follow-up, workshop) at each
contact's local time with quiet hours, eligibility, one active survey per contact (also
under concurrent fan-outs on PostgreSQL), cancel and close."""

import threading
from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.outbox.models import OutboxMessage
from app.surveys.models import SurveyResponse, SurveyRun
from app.surveys.services import (
    SurveyError,
    cancel_run,
    close_run,
    expire_responses,
    fan_out_due_runs,
    schedule_run,
)
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_outbox_row,
    make_registration,
    make_survey,
    make_survey_run,
    make_workshop,
)
from tests.support import NOW, TODAY

TOMORROW = TODAY + timedelta(days=1)


@pytest.fixture
def org(make_org):
    return make_org()


def schedule(org, survey, **overrides):
    values = dict(
        organization_id=org.id,
        survey_id=survey.id,
        kind="audience",
        local_date=TOMORROW,
        local_time=time(17, 0),
        now=NOW,
    )
    values.update(overrides)
    return schedule_run(**values)


def responses(run) -> dict[int, str]:
    db.session.expire_all()
    return dict(
        db.session.execute(
            select(SurveyResponse.contact_id, SurveyResponse.status).where(
                SurveyResponse.run_id == run.id
            )
        ).all()
    )


def first_questions(contact_id) -> list[tuple]:
    return [
        tuple(r)
        for r in db.session.execute(
            select(OutboxMessage.language, OutboxMessage.due_at, OutboxMessage.status)
            .where(OutboxMessage.contact_id == contact_id, OutboxMessage.purpose == "survey")
            .order_by(OutboxMessage.id)
        )
    ]


# --- scheduling --------------------------------------------------------------------------------


def test_schedule_an_audience_run(app, org):
    survey, audience = make_survey(org), make_audience(org)
    run = schedule(org, survey, audience_id=audience.id, user_id=None)
    assert (run.kind, run.status, run.window_hours) == ("audience", "scheduled", 24)
    # 17:00 in Tijuana tomorrow (UTC-8).
    assert run.starts_at == NOW + timedelta(days=1, hours=7)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"kind": "everyone"}, "kind"),
        ({"window_hours": 0}, "window_hours"),
        ({"window_hours": 169}, "window_hours"),
        ({"local_date": TODAY - timedelta(days=1)}, "local_time"),
        ({"local_time": None}, "local_time"),
        ({"local_date": None}, "local_date"),
        ({"audience_id": None}, "audience_id"),
    ],
)
def test_schedule_refuses_bad_runs(app, org, overrides, field):
    survey, audience = make_survey(org), make_audience(org)
    with pytest.raises(SurveyError) as error:
        schedule(org, survey, **{"audience_id": audience.id, **overrides})
    assert error.value.field == field
    assert str(error.value)
    assert db.session.scalar(select(func.count(SurveyRun.id))) == 0


def test_schedule_refuses_a_survey_without_questions_or_of_another_org(app, org, make_org):
    audience = make_audience(org)
    with pytest.raises(SurveyError, match="question"):
        schedule(org, make_survey(org, ()), audience_id=audience.id)
    with pytest.raises(SurveyError):
        schedule(org, make_survey(make_org()), audience_id=audience.id)
    with pytest.raises(SurveyError):
        schedule(org, make_survey(org), audience_id=make_audience(make_org()).id)


@pytest.mark.parametrize("days", [None, 0, 366])
def test_follow_up_days_must_be_1_to_365(app, org, days):
    with pytest.raises(SurveyError) as error:
        schedule(
            org,
            make_survey(org),
            kind="follow_up",
            campaign_id=make_campaign(org).id,
            follow_up_days=days,
        )
    assert error.value.field == "follow_up_days"


def test_baseline_must_start_before_the_campaigns_first_message(app, org):
    survey, campaign, contact = make_survey(org), make_campaign(org), make_contact(org)
    make_outbox_row(contact, campaign_id=campaign.id, due_at=NOW + timedelta(days=1, hours=2))
    run = schedule(org, survey, kind="baseline", campaign_id=campaign.id, local_time=time(9, 0))
    assert run.kind == "baseline"
    with pytest.raises(SurveyError) as error:
        schedule(org, survey, kind="baseline", campaign_id=campaign.id, local_time=time(17, 0))
    assert error.value.field == "local_date"
    make_outbox_row(contact, campaign_id=campaign.id, status="sent", sent_at=NOW)
    with pytest.raises(SurveyError) as error:
        schedule(org, survey, kind="baseline", campaign_id=campaign.id, local_time=time(9, 0))
    assert error.value.field == "campaign_id"


def test_workshop_run_goes_after_the_workshop_ends(app, org):
    survey, workshop = make_survey(org), make_workshop(org)  # Sat 5 Dec 17:00-19:00 Tijuana
    with pytest.raises(SurveyError) as error:
        schedule(org, survey, kind="workshop", workshop_id=workshop.id,
                 local_date=date(2026, 12, 5), local_time=time(18, 0))  # fmt: skip
    assert error.value.field == "local_date"
    run = schedule(org, survey, kind="workshop", workshop_id=workshop.id,
                   local_date=date(2026, 12, 5), local_time=time(19, 30))  # fmt: skip
    assert run.campaign_id == workshop.campaign_id


# --- fan-out -----------------------------------------------------------------------------------


def test_fan_out_asks_each_contact_at_its_local_time_in_its_language(app, org):
    tijuana = make_contact(org, language="en")
    cdmx = make_contact(org, timezone="America/Mexico_City", state_code="09")
    survey = make_survey(org)
    run = schedule(org, survey, audience_id=make_audience(org).id, local_time=time(10, 0))
    assert fan_out_due_runs(now=NOW) == 0  # not due yet
    assert fan_out_due_runs(now=run.starts_at) == 2
    assert first_questions(tijuana.id) == [("en", NOW + timedelta(days=1), "scheduled")]
    assert first_questions(cdmx.id) == [("es", NOW + timedelta(hours=22), "scheduled")]
    response = db.session.scalar(
        select(SurveyResponse).where(SurveyResponse.contact_id == tijuana.id)
    )
    assert (response.status, response.language, response.position) == ("invited", "en", 1)
    assert response.expires_at == NOW + timedelta(days=2)
    assert response.last_outbox_id is not None
    assert db.session.get(SurveyRun, run.id).status == "running"
    assert fan_out_due_runs(now=run.starts_at + timedelta(hours=1)) == 0  # idempotent


def test_quiet_hours_hold_the_first_question(app, org):
    contact = make_contact(org)
    run = make_survey_run(make_survey(org), audience_id=make_audience(org).id,
                          starts_at=NOW + timedelta(hours=13))  # 23:00 in Tijuana  # fmt: skip
    fan_out_due_runs(now=run.starts_at)
    assert first_questions(contact.id)[0][1] == NOW + timedelta(hours=23)  # 09:00 next day


def test_only_eligible_contacts_are_asked(app, org):
    ok = make_contact(org)
    make_contact(org, opted_out_at=NOW - timedelta(days=1))
    make_contact(org, birth_year=2012, guardian_consent=False)
    make_contact(org, undeliverable=True)
    run = make_survey_run(make_survey(org), audience_id=make_audience(org).id)
    fan_out_due_runs(now=NOW)
    assert responses(run) == {ok.id: "invited"}


def test_a_contact_with_an_active_survey_is_not_asked_another(app, org):
    busy, free = make_contact(org), make_contact(org)
    audience = make_audience(org)
    first = make_survey_run(make_survey(org), audience_id=audience.id)
    fan_out_due_runs(now=NOW)
    make_contact(org)  # joins later
    second = make_survey_run(make_survey(org), audience_id=audience.id)
    fan_out_due_runs(now=NOW)
    assert set(responses(first)) == {busy.id, free.id}
    assert busy.id not in responses(second) and free.id not in responses(second)
    assert len(responses(second)) == 1


def test_baseline_asks_the_campaigns_contacts_not_yet_messaged(app, org):
    from app.outreach.models import CampaignEnrollment

    campaign = make_campaign(org)
    waiting, messaged, outsider = make_contact(org), make_contact(org), make_contact(org)
    for contact in (waiting, messaged):
        db.session.add(
            CampaignEnrollment(
                organization_id=org.id, campaign_id=campaign.id, contact_id=contact.id
            )
        )
    db.session.commit()
    make_outbox_row(messaged, campaign_id=campaign.id, status="sent", sent_at=NOW)
    run = make_survey_run(make_survey(org), "baseline", campaign_id=campaign.id)
    fan_out_due_runs(now=NOW)
    assert responses(run) == {waiting.id: "invited"}
    assert outsider.id not in responses(run)


def test_follow_up_asks_each_contact_days_after_its_last_campaign_message(app, org):
    campaign = make_campaign(org)
    done, recent, pending = make_contact(org), make_contact(org), make_contact(org)
    for contact, days_ago in ((done, 8), (recent, 2), (pending, 8)):
        make_outbox_row(contact, campaign_id=campaign.id, status="sent",
                        sent_at=NOW - timedelta(days=days_ago))  # fmt: skip
    make_outbox_row(pending, campaign_id=campaign.id, due_at=NOW + timedelta(days=1))
    run = make_survey_run(
        make_survey(org), "follow_up", campaign_id=campaign.id, follow_up_days=7,
        local_date=None, local_time=time(10, 0),
    )  # fmt: skip
    assert fan_out_due_runs(now=NOW) == 1
    assert responses(run) == {done.id: "invited"}
    assert first_questions(done.id)[0][1] == NOW
    # Five days later the recent one's day has come (at 10:00 its time).
    assert fan_out_due_runs(now=NOW + timedelta(days=5)) == 1
    assert set(responses(run)) == {done.id, recent.id}
    assert db.session.get(SurveyRun, run.id).status == "running"


def test_workshop_run_asks_the_attendees(app, org):
    workshop = make_workshop(org, starts_at=NOW - timedelta(hours=3))
    came, missed = make_contact(org), make_contact(org)
    make_registration(workshop, came, attended_at=NOW - timedelta(hours=2))
    make_registration(workshop, missed)
    run = make_survey_run(make_survey(org), "workshop", workshop_id=workshop.id)
    fan_out_due_runs(now=NOW)
    assert responses(run) == {came.id: "invited"}


# --- ending runs -------------------------------------------------------------------------------


def test_cancel_run_cancels_pending_questions(app, org):
    contact = make_contact(org)
    run = make_survey_run(make_survey(org), audience_id=make_audience(org).id)
    fan_out_due_runs(now=NOW)
    assert cancel_run(run, now=NOW) == 1
    assert responses(run) == {contact.id: "canceled"}
    assert first_questions(contact.id)[0][2] == "canceled"
    assert db.session.get(SurveyRun, run.id).status == "canceled"
    with pytest.raises(SurveyError):
        cancel_run(run, now=NOW)


def test_close_run_ends_open_responses_as_partial(app, org):
    contact = make_contact(org)
    run = make_survey_run(make_survey(org), audience_id=make_audience(org).id)
    fan_out_due_runs(now=NOW)
    assert close_run(run, now=NOW) == 1
    assert responses(run) == {contact.id: "partial"}
    assert db.session.get(SurveyRun, run.id).status == "closed"


def test_a_run_closes_by_itself_when_nobody_is_left_to_answer(app, org):
    make_contact(org)
    run = make_survey_run(make_survey(org), audience_id=make_audience(org).id)
    fan_out_due_runs(now=NOW)
    expire_responses(now=NOW + timedelta(days=1))  # still queued: its window waits for it
    assert set(responses(run).values()) == {"invited"}
    db.session.execute(  # the worker found the contact over its cap
        update(OutboxMessage).values(status="skipped", skip_reason="frequency_cap", final_at=NOW)
    )
    db.session.commit()
    expire_responses(now=NOW + timedelta(days=2))  # the first question never went: canceled
    assert set(responses(run).values()) == {"canceled"}
    assert db.session.get(SurveyRun, run.id).status == "closed"


# --- concurrency (PostgreSQL) ------------------------------------------------------------------


def _in_threads(app, jobs) -> list:
    barrier, results, errors = threading.Barrier(len(jobs)), [], []

    def work(job):
        with app.app_context():
            try:
                barrier.wait()
                results.append(job())
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_two_workers_fan_out_one_run_once(app, org, postgres_only):
    contacts = [make_contact(org) for _ in range(20)]
    make_survey_run(make_survey(org), audience_id=make_audience(org).id)
    results = _in_threads(app, [lambda: fan_out_due_runs(now=NOW)] * 2)
    assert sorted(results) == [0, 20]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == len(contacts)
    assert db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.purpose == "survey")
    ) == len(contacts)


def test_two_runs_fanned_out_at_once_give_each_contact_one_survey(app, org, postgres_only):
    from app.surveys.services import fan_out_run

    contacts = [make_contact(org) for _ in range(30)]
    audience = make_audience(org)
    runs = [make_survey_run(make_survey(org), audience_id=audience.id) for _ in range(2)]
    ids = [run.id for run in runs]
    results = _in_threads(app, [lambda i=i: fan_out_run(i, now=NOW) for i in ids])
    assert sum(results) == len(contacts)
    db.session.expire_all()
    per_contact = db.session.execute(
        select(SurveyResponse.contact_id, func.count()).group_by(SurveyResponse.contact_id)
    ).all()
    assert len(per_contact) == len(contacts) and {n for _, n in per_contact} == {1}
    # Every response has its own first question, linked to it.
    linked = db.session.scalars(select(SurveyResponse.last_outbox_id)).all()
    assert None not in linked and len(set(linked)) == len(contacts)


def test_a_follow_up_closes_once_its_campaign_is_over_and_everyone_was_asked(app, org):
    """While the campaign runs, someone may still get a last message (and a follow-up days
    later): the run waits. Once the campaign is completed, nothing of it is pending, every
    follow-up day has passed and nobody is still answering, the run closes by itself."""
    campaign = make_campaign(org, status="active")
    contact = make_contact(org)
    make_outbox_row(contact, campaign_id=campaign.id, status="sent",
                    sent_at=NOW - timedelta(days=8))  # fmt: skip
    run = make_survey_run(
        make_survey(org), "follow_up", campaign_id=campaign.id, follow_up_days=7,
        local_date=None, local_time=time(10, 0),
    )  # fmt: skip
    assert fan_out_due_runs(now=NOW) == 1
    db.session.execute(update(OutboxMessage).values(status="skipped", skip_reason="frequency_cap"))
    db.session.commit()
    later = NOW + timedelta(days=30)
    expire_responses(now=later)
    assert db.session.get(SurveyRun, run.id).status == "running"  # the campaign is active
    campaign.status = "completed"
    db.session.commit()
    expire_responses(now=later)
    assert db.session.get(SurveyRun, run.id).status == "closed"


def test_a_follow_up_of_a_completed_campaign_waits_for_the_last_follow_up_day(app, org):
    campaign = make_campaign(org, status="completed")
    contact = make_contact(org)
    make_outbox_row(contact, campaign_id=campaign.id, status="sent",
                    sent_at=NOW - timedelta(days=2))  # fmt: skip
    run = make_survey_run(
        make_survey(org), "follow_up", campaign_id=campaign.id, follow_up_days=7,
        local_date=None, local_time=time(10, 0),
    )  # fmt: skip
    fan_out_due_runs(now=NOW)
    expire_responses(now=NOW)
    assert db.session.get(SurveyRun, run.id).status in ("scheduled", "running")
    assert responses(run) == {}  # its day has not come: the run must not close before it


def test_the_holdout_of_the_campaigns_experiment_gets_the_follow_up_days_after_assignment(app, org):
    """The holdout gets none of the campaign's messages but must answer the follow-up, or
    the experiment has no control: its day counts from its assignment."""
    from app.experiments.models import ExperimentAssignment
    from tests.factories import make_experiment

    campaign = make_campaign(org, status="active")
    treated, held_out, held_recently = make_contact(org), make_contact(org), make_contact(org)
    experiment = make_experiment(campaign, (1,), holdout=1, status="running", started_at=NOW)
    arm, holdout = experiment.arms[0], experiment.arms[-1]
    for contact, chosen, days_ago in (
        (treated, arm, 9),
        (held_out, holdout, 9),
        (held_recently, holdout, 2),
    ):
        db.session.add(
            ExperimentAssignment(
                organization_id=org.id,
                experiment_id=experiment.id,
                contact_id=contact.id,
                arm_id=chosen.id,
                assigned_at=NOW - timedelta(days=days_ago),
            )
        )
    db.session.commit()
    make_outbox_row(treated, campaign_id=campaign.id, status="sent",
                    sent_at=NOW - timedelta(days=8))  # fmt: skip
    run = make_survey_run(
        make_survey(org), "follow_up", campaign_id=campaign.id, follow_up_days=7,
        local_date=None, local_time=time(10, 0),
    )  # fmt: skip
    fan_out_due_runs(now=NOW)
    assert set(responses(run)) == {treated.id, held_out.id}
