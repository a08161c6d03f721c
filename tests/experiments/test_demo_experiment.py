"""`flask seed-demo` has a finished experiment (issue 18): two texts of a message with a
tracked link and a holdout, run through the real fan-out, worker and redirect, with a
plausible effect (arm B's friends' framing opened more often) and nothing sent to the
holdout."""

from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.experiments.models import Experiment, ExperimentArm, ExperimentAssignment
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.participation.models import ParticipationEvent


def test_the_demo_has_a_finished_experiment_with_a_plausible_effect(app, runner, seeded_demo):
    experiment = db.session.scalar(select(Experiment))
    campaign = db.session.get(Campaign, experiment.campaign_id)
    assert (experiment.status, campaign.status) == ("finished", "completed")
    arms = {arm.key: arm for arm in db.session.scalars(select(ExperimentArm))}
    assert set(arms) == {"A", "B", "holdout"}

    def of_arm(key):
        return select(ExperimentAssignment.contact_id).where(
            ExperimentAssignment.arm_id == arms[key].id
        )

    def sent_to(key) -> int:
        return db.session.scalar(
            select(func.count()).where(
                OutboxMessage.campaign_id == campaign.id,
                OutboxMessage.status == "delivered",
                OutboxMessage.contact_id.in_(of_arm(key)),
            )
        )

    def clicked(key) -> int:
        return db.session.scalar(
            select(func.count(func.distinct(ParticipationEvent.contact_id))).where(
                ParticipationEvent.campaign_id == campaign.id,
                ParticipationEvent.kind == "clicked",
                ParticipationEvent.contact_id.in_(of_arm(key)),
            )
        )

    assert sent_to("holdout") == 0
    assert db.session.scalar(select(func.count()).select_from(of_arm("holdout").subquery())) > 10
    assert sent_to("A") > 50 and sent_to("B") > 50
    assert clicked("holdout") == 0
    assert 0 < clicked("A") / sent_to("A") < clicked("B") / sent_to("B")
    # The texts differ by arm, and each recipient got a short link of their own.
    bodies = dict(
        db.session.execute(
            select(ExperimentAssignment.arm_id, OutboxMessage.body)
            .join(OutboxMessage, OutboxMessage.contact_id == ExperimentAssignment.contact_id)
            .where(
                OutboxMessage.campaign_id == campaign.id,
                OutboxMessage.purpose == "campaign",
                OutboxMessage.language == "es",
            )
        ).all()
    )
    assert "amigos" in bodies[arms["B"].id] and "amigos" not in bodies[arms["A"].id]
    assert "/l/" in bodies[arms["A"].id]
    # The report reads the same: arm B's share of clicks is above arm A's.
    report = runner.invoke(
        args=["reports", "experiment", "--org", "demo", "--campaign", str(campaign.id)]
    )
    assert report.exit_code == 0, report.output
    assert '"status": "finished"' in report.output
