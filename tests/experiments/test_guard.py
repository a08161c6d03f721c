"""The send-time wall: the outbox guard withdraws a campaign's rows addressed to its
holdout (any purpose but surveys and answers), in the batch verdicts, in the SQL re-checked
right before the provider call, and in reconciliation."""

from sqlalchemy import select

from app.experiments import hooks, services
from app.extensions import db
from app.outbox import guards
from app.outbox.models import OutboxMessage
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_experiment,
    make_message,
    make_outbox_row,
)
from tests.support import NOW


def test_the_guard_is_registered_when_the_app_is_built(app):
    assert "experiment" in {guard.name for guard in guards.registered()}


def test_rows_of_the_campaign_to_the_holdout_are_withdrawn_and_surveys_go(app, make_org):
    org = make_org()
    campaign, other_campaign = make_campaign(org), make_campaign(org)
    make_message(campaign)
    contacts = [make_contact(org) for _ in range(12)]
    # Half of the contacts go to the holdout (by the hash): take one in it, one outside.
    experiment = make_experiment(campaign, (1, 1), holdout=2, audience=make_audience(org, {}))
    services.start_experiment(experiment, now=NOW)
    held = hooks._holdout_pairs({campaign.id}, [c.id for c in contacts])
    held_ids = {contact_id for _campaign, contact_id in db.session.execute(held)}
    assert held_ids and len(held_ids) < 12
    inside = next(c for c in contacts if c.id in held_ids)
    outside = next(c for c in contacts if c.id not in held_ids)
    rows = {
        "reminder_in": make_outbox_row(inside, campaign_id=campaign.id, purpose="reminder"),
        "invitation_in": make_outbox_row(inside, campaign_id=campaign.id, purpose="invitation"),
        "survey_in": make_outbox_row(inside, campaign_id=campaign.id, purpose="survey"),
        "answer_in": make_outbox_row(inside, campaign_id=campaign.id, purpose="system"),
        "other_campaign_in": make_outbox_row(inside, campaign_id=other_campaign.id),
        "no_campaign_in": make_outbox_row(inside, purpose="survey_reply"),
        "reminder_out": make_outbox_row(outside, campaign_id=campaign.id, purpose="reminder"),
    }
    withdrawn = {"reminder_in", "invitation_in"}
    verdicts = hooks._verdicts(list(rows.values()))
    assert {name for name, row in rows.items() if row.id in verdicts} == withdrawn
    assert all(v.status == "canceled" and v.reason == hooks.REASON for v in verdicts.values())
    allowed = set(db.session.scalars(select(OutboxMessage.id).where(guards.still_allowed())))
    assert {name for name, row in rows.items() if row.id not in allowed} == withdrawn
    assert {name for name, row in rows.items() if hooks._withdrawn(row)} == withdrawn
