"""/api/v1/sends: scheduling through the web form's service and rules, progress from the
status counters, cancel, idempotency, ETag; bad input creates nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.api.models import ApiIdempotentRequest
from app.api.send_schemas import CancelOut, SendPage, SendProgress
from app.campaigns.services import transition_campaign
from app.experiments.models import ExperimentArm, ExperimentAssignment
from app.experiments.services import start_experiment
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_experiment,
    make_message,
    make_outbox,
)
from tests.outreach.helpers import make_worker
from tests.support import NOW, Clock

WRITE = ("sends:write",)


@pytest.fixture
def world(make_org, make_key, api):
    org = make_org()
    campaign = make_campaign(org)
    message = make_message(campaign)
    audience = make_audience(org, {})
    contacts = [make_contact(org) for _ in range(3)]
    return dict(
        org=org,
        campaign=campaign,
        message=message,
        audience=audience,
        contacts=contacts,
        writer=api(make_key(org, WRITE)),
    )


def _body(world, **overrides):
    body = {
        "campaign_id": world["campaign"].id,
        "message_id": world["message"].id,
        "audience_id": world["audience"].id,
        "local_date": "2026-12-01",
        "local_time": "17:00",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


NOW_BODY = {"send_now": True, "local_date": None, "local_time": None}


def _rows():
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (OutreachSend, OutboxMessage, ApiIdempotentRequest)
    )


def _statuses(send_id):
    db.session.expire_all()
    return sorted(
        db.session.scalars(select(OutboxMessage.status).where(OutboxMessage.send_id == send_id))
    )


def holdout_contacts(experiment) -> set[int]:
    return set(
        db.session.scalars(
            select(ExperimentAssignment.contact_id)
            .join(ExperimentArm, ExperimentArm.id == ExperimentAssignment.arm_id)
            .where(ExperimentAssignment.experiment_id == experiment.id, ExperimentArm.is_holdout)
        )
    )


def _schedule(world, **overrides):
    response = world["writer"].post("/api/v1/sends", json=_body(world, **overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- scheduling --------------------------------------------------------------------------------


def test_schedule_at_local_time_fans_out_and_answers_the_progress(world):
    response = world["writer"].post("/api/v1/sends", json=_body(world))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    send = db.session.get(OutreachSend, body["id"])
    assert response.headers["Location"] == f"/api/v1/sends/{send.id}"
    assert send.created_by is None and send.campaign_id == world["campaign"].id
    assert body["state"] == "scheduled" and body["status"] == "scheduled"
    assert body["kind"] == "once"
    assert body["local_date"] == "2026-12-01" and body["local_time"].startswith("17:00")
    assert body["messages"] == 3 and body["counts"]["scheduled"] == 3
    assert body["counts"]["sent"] == 0 and body["recipients"] == 3
    assert body["canceled_at"] is None and body["fanned_out_at"] is not None
    # 17:00 in Tijuana on 1 December is 01:00 UTC the next day: the service's due times.
    due = db.session.scalars(select(OutboxMessage.due_at)).all()
    assert {d.isoformat() for d in due} == {"2026-12-02T01:00:00+00:00"}


def test_send_now_is_a_one_time_send_fixed_at_now(world):
    body = _schedule(world, **NOW_BODY)
    assert body["kind"] == "once" and body["local_date"] is None
    assert abs(NOW - db.session.get(OutreachSend, body["id"]).fixed_at) < timedelta(seconds=5)
    assert body["messages"] == 3


def test_fixed_instant_is_the_forms_fixed_timing(world):
    at = (NOW + timedelta(days=2)).isoformat()
    body = _schedule(world, fixed_at=at, local_date=None, local_time=None)
    send = db.session.get(OutreachSend, body["id"])
    assert send.fixed_at == NOW + timedelta(days=2)
    # The form's fields in the organization's zone (Tijuana, UTC-8) go with it.
    assert send.local_date.isoformat() == "2026-11-29" and send.local_time.hour == 10
    assert body["fixed_at"] == "2026-11-29T18:00:00+00:00"


def test_recurring_send_has_a_message_per_occurrence(world):
    body = _schedule(world, kind="recurring", weekdays=[1, 3], weeks=2)
    assert body["kind"] == "recurring" and body["weekdays"] == [1, 3] and body["weeks"] == 2
    assert body["messages"] == 3 * 4 == body["counts"]["scheduled"]


def test_a_large_audience_is_prepared_by_a_worker(app, world, run_jobs):
    app.config["OUTREACH_INLINE_FANOUT"] = 2
    body = _schedule(world)
    assert body["state"] == "preparing" and body["messages"] == 0
    assert body["fanned_out_at"] is None and body["recipients"] == 3
    run_jobs()
    progress = world["writer"].get(f"/api/v1/sends/{body['id']}").get_json()
    assert progress["state"] == "scheduled" and progress["counts"]["scheduled"] == 3


def test_a_running_experiments_holdout_gets_nothing(world):
    for _ in range(17):
        make_contact(world["org"])
    experiment = make_experiment(world["campaign"], (1, 1), holdout=1, audience=world["audience"])
    start_experiment(experiment, now=NOW)
    held_out = holdout_contacts(experiment)
    assert held_out
    body = _schedule(world)
    recipients = set(
        db.session.scalars(
            select(OutboxMessage.contact_id).where(OutboxMessage.send_id == body["id"])
        )
    )
    assert body["messages"] == len(recipients) == 20 - len(held_out)
    assert not recipients & held_out


# --- bad input creates nothing -----------------------------------------------------------------


def _other_org_ids(make_org):
    other = make_org()
    campaign = make_campaign(other)
    return campaign, make_message(campaign), make_audience(other, {})


@pytest.mark.parametrize(
    ("case", "field", "text"),
    [
        ("unknown_campaign", "campaign_id", "No campaign with this id."),
        ("other_campaign", "campaign_id", "No campaign with this id."),
        ("other_message", "message_id", "No message with this id."),
        ("other_audience", "audience_id", "No audience with this id."),
        ("message_of_another_campaign", "_schema", "does not belong to this campaign"),
        ("past", "local_time", "have already passed"),
        ("past_fixed", "fixed_at", "have already passed"),
        ("archived", "_schema", "Activate the campaign"),
        ("draft", "_schema", "Activate the campaign"),
        ("completed", "_schema", "Activate the campaign"),
        ("recurring_without_weekdays", "weekdays", "at least one weekday"),
        ("sequence_without_day", "day_offset", "between 0 and 365"),
        ("too_far", "local_date", "too far in the future"),
        ("no_time", "local_date", "Choose a date and a time"),
        ("now_with_a_time", "send_now", "takes no date or time"),
        ("fixed_for_recurring", "fixed_at", "one-time sends"),
        ("weeks_out_of_range", "weeks", None),
        ("naive_fixed", "fixed_at", None),
        ("unknown_field", "workshop_id", None),
        ("year_one_fixed", "fixed_at", None),
    ],
)
def test_bad_input_is_a_problem_and_creates_nothing(world, make_org, case, field, text):
    other_campaign, other_message, other_audience = _other_org_ids(make_org)
    campaign = world["campaign"]
    overrides = {
        "unknown_campaign": {"campaign_id": 987654},
        "other_campaign": {"campaign_id": other_campaign.id},
        "other_message": {"message_id": other_message.id},
        "other_audience": {"audience_id": other_audience.id},
        "message_of_another_campaign": {"message_id": make_message(make_campaign(world["org"])).id},
        # 08:00 in Tijuana on the frozen day is 16:00 UTC, two hours ago.
        "past": {"local_date": "2026-11-27", "local_time": "08:00"},
        "past_fixed": {
            "fixed_at": (NOW - timedelta(hours=1)).isoformat(),
            "local_date": None,
            "local_time": None,
        },
        "recurring_without_weekdays": {"kind": "recurring", "weeks": 2},
        "sequence_without_day": {"kind": "sequence", "local_date": None},
        "too_far": {"local_date": "2040-01-01"},
        "no_time": {"local_time": None},
        "now_with_a_time": {"send_now": True},
        "fixed_for_recurring": {
            "kind": "recurring",
            "fixed_at": NOW.isoformat(),
            "local_date": None,
            "local_time": None,
        },
        "weeks_out_of_range": {"kind": "recurring", "weekdays": [1], "weeks": 53},
        "naive_fixed": {"fixed_at": "2026-12-01T10:00:00", "local_date": None, "local_time": None},
        "unknown_field": {"workshop_id": 1},
        "year_one_fixed": {
            "fixed_at": "0001-01-01T00:00:00+14:00",
            "local_date": None,
            "local_time": None,
        },
    }.get(case, {})
    if case in ("archived", "draft", "completed"):
        campaign.status = case
        db.session.commit()
    before = _rows()
    response = world["writer"].post(
        "/api/v1/sends",
        json=_body(world, **overrides),
        headers={"Idempotency-Key": case, "Accept-Language": "en"},
    )
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "validation_failed"
    assert field in problem["errors"]["json"]
    if text is not None:
        assert text in problem["errors"]["json"][field][0]
    assert _rows() == before  # no send, no message, no kept idempotent response


@pytest.mark.parametrize(
    ("language", "text"),
    [("es", "Esa fecha y hora ya pasaron"), ("en", "That date and time have already passed")],
)
def test_refusals_are_in_the_requests_language(world, language, text):
    response = world["writer"].post(
        "/api/v1/sends",
        json=_body(world, local_date="2026-11-27", local_time="08:00"),
        headers={"Accept-Language": language},
    )
    assert response.status_code == 422 and text in response.get_json()["detail"]


def test_refusals_default_to_the_organizations_language(world):
    world["campaign"].status = "archived"
    db.session.commit()
    response = world["writer"].post("/api/v1/sends", json=_body(world))
    assert "Activa la campaña" in response.get_json()["detail"]


# --- idempotency -------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_first_response_and_schedules_nothing(world):
    headers = {"Idempotency-Key": "escuela-envio-7"}
    first = world["writer"].post("/api/v1/sends", json=_body(world), headers=headers)
    again = world["writer"].post("/api/v1/sends", json=_body(world), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert _rows()[:2] == (1, 3)
    other = world["writer"].post(
        "/api/v1/sends", json=_body(world, local_time="18:00"), headers=headers
    )
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    assert _rows()[:2] == (1, 3)


def test_a_refused_request_frees_its_key_for_the_corrected_retry(world):
    headers = {"Idempotency-Key": "k"}
    past = _body(world, local_date="2026-11-27", local_time="08:00")
    assert world["writer"].post("/api/v1/sends", json=past, headers=headers).status_code == 422
    fixed = world["writer"].post("/api/v1/sends", json=_body(world), headers=headers)
    assert fixed.status_code == 201 and _rows() == (1, 3, 1)


def test_cancel_with_an_idempotency_key_replays(world):
    send_id = _schedule(world)["id"]
    headers = {"Idempotency-Key": "cancelar-1"}
    first = world["writer"].post(f"/api/v1/sends/{send_id}/cancel", headers=headers)
    again = world["writer"].post(f"/api/v1/sends/{send_id}/cancel", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json() and first.get_json()["canceled_messages"] == 3


# --- progress, list, ETag ----------------------------------------------------------------------


def test_progress_counts_come_from_the_counters_by_status(world):
    send, _rows_made = make_outbox(world["message"], ["scheduled", "sent", "delivered", "failed"])
    send.fanned_out_at = NOW
    db.session.commit()
    body = world["writer"].get(f"/api/v1/sends/{send.id}").get_json()
    assert body["state"] == "sending" and body["messages"] == 4
    counts = {k: v for k, v in body["counts"].items() if v}
    assert counts == {"scheduled": 1, "sent": 1, "delivered": 1, "failed": 1}


def test_progress_has_an_etag_and_answers_304_until_it_changes(world):
    send_id = _schedule(world)["id"]
    url = f"/api/v1/sends/{send_id}"
    first = world["writer"].get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag
    same = world["writer"].get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.get_data() == b""
    world["writer"].post(f"{url}/cancel")
    changed = world["writer"].get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["state"] == "canceled"
    assert changed.headers["ETag"] != etag


def test_list_is_newest_first_with_a_cursor_and_a_campaign_filter(world):
    ids = [_schedule(world, local_time=f"1{n}:00")["id"] for n in range(3)]
    other_campaign = make_campaign(world["org"])
    make_message(other_campaign)
    writer = world["writer"]
    page = writer.get(f"/api/v1/sends?campaign_id={world['campaign'].id}&limit=2").get_json()
    assert [s["id"] for s in page["data"]] == ids[::-1][:2]
    assert page["data"][0]["counts"]["scheduled"] == 3 and "recipients" not in page["data"][0]
    rest = writer.get(
        f"/api/v1/sends?campaign_id={world['campaign'].id}&limit=2&cursor={page['next_cursor']}"
    ).get_json()
    assert [s["id"] for s in rest["data"]] == [ids[0]] and rest["next_cursor"] is None
    empty = writer.get(f"/api/v1/sends?campaign_id={other_campaign.id}").get_json()
    assert empty == {"data": [], "next_cursor": None}
    assert writer.get("/api/v1/sends?cursor=nope").get_json()["code"] == "invalid_cursor"
    unknown = writer.get("/api/v1/sends?campaign_id=987654")
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "not_found"


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_stops_the_pending_messages_and_nothing_goes_out(app, world):
    send_id = _schedule(world, **NOW_BODY)["id"]
    response = world["writer"].post(f"/api/v1/sends/{send_id}/cancel")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "canceled" and body["status"] == "canceled"
    assert body["canceled_messages"] == 3 and body["with_provider"] == 0
    assert body["counts"]["canceled"] == 3 and body["counts"]["scheduled"] == 0
    assert body["canceled_at"] is not None and body["recipients"] is None
    assert _statuses(send_id) == ["canceled"] * 3
    worker = make_worker(app, Clock(NOW + timedelta(hours=1)))
    worker.run_pass()
    assert worker.gateway.sent == [] and _statuses(send_id) == ["canceled"] * 3


def test_cancelling_twice_changes_nothing(world):
    send_id = _schedule(world)["id"]
    first = world["writer"].post(f"/api/v1/sends/{send_id}/cancel").get_json()
    again = world["writer"].post(f"/api/v1/sends/{send_id}/cancel")
    assert again.status_code == 200
    body = again.get_json()
    assert body["canceled_messages"] == 0 and body["with_provider"] is None
    assert body["canceled_at"] == first["canceled_at"] and body["state"] == "canceled"


def test_cancel_spares_what_the_provider_has_and_stops_the_rest(world):
    send, _made = make_outbox(world["message"], ["scheduled", "held", "claimed", "sent"])
    send.fanned_out_at = NOW
    db.session.commit()
    body = world["writer"].post(f"/api/v1/sends/{send.id}/cancel").get_json()
    assert body["canceled_messages"] == 3
    assert _statuses(send.id) == ["canceled", "canceled", "canceled", "sent"]


def test_cancelling_a_finished_send_is_a_conflict_that_changes_nothing(world):
    send, _made = make_outbox(world["message"], ["delivered", "failed"])
    send.fanned_out_at = NOW
    db.session.commit()
    before = _statuses(send.id)
    response = world["writer"].post(f"/api/v1/sends/{send.id}/cancel")
    assert response.status_code == 409 and response.get_json()["code"] == "conflict"
    db.session.refresh(send)
    assert send.status == "scheduled" and send.canceled_at is None
    assert _statuses(send.id) == before


def test_a_send_cancelled_while_a_worker_prepares_it_gets_no_messages(app, world, run_jobs):
    app.config["OUTREACH_INLINE_FANOUT"] = 2
    send_id = _schedule(world)["id"]
    body = world["writer"].post(f"/api/v1/sends/{send_id}/cancel").get_json()
    assert body["state"] == "canceled" and body["canceled_messages"] == 0
    run_jobs()
    assert _statuses(send_id) == []


def test_answers_match_the_documented_schemas_and_security(app, world):
    scheduled = _schedule(world)
    progress = world["writer"].get(f"/api/v1/sends/{scheduled['id']}").get_json()
    page = world["writer"].get("/api/v1/sends").get_json()
    canceled = world["writer"].post(f"/api/v1/sends/{scheduled['id']}/cancel").get_json()
    assert SendProgress().validate(scheduled) == {} and SendProgress().validate(progress) == {}
    assert SendPage().validate(page) == {} and CancelOut().validate(canceled) == {}
    paths = app.extensions["alcance_api"].spec.to_dict()["paths"]
    reading = [{"bearerAuth": ["sends:write"]}, {"bearerAuth": ["campaigns:read"]}]
    assert paths["/api/v1/sends/{send_id}"]["get"]["security"] == reading
    assert paths["/api/v1/sends"]["post"]["security"] == [{"bearerAuth": ["sends:write"]}]
    assert "409" in paths["/api/v1/sends/{send_id}/cancel"]["post"]["responses"]


def test_completing_the_campaign_cancels_its_sends_with_the_moment(world):
    send_id = _schedule(world)["id"]
    transition_campaign(world["campaign"], "completed", now=NOW + timedelta(hours=2))
    body = world["writer"].get(f"/api/v1/sends/{send_id}").get_json()
    assert body["state"] == "canceled" and body["counts"]["canceled"] == 3
    assert body["canceled_at"] == (NOW + timedelta(hours=2)).isoformat()
