"""Shared builders for outreach tests: a scheduled send and a worker with a fake gateway."""

from datetime import UTC, date, datetime, time

from app.messaging.fake import FakeSmsGateway
from app.outbox.dispatch import DispatchSettings
from app.outbox.worker import Worker
from app.outreach.services import schedule_send
from tests.factories import make_audience, make_campaign, make_message


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class NoBudget:
    def acquire(self):
        pass


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def schedule_once(
    org,
    *,
    now,
    when=date(2026, 12, 1),
    at=time(17, 0),
    filters=None,
    campaign=None,
    message=None,
    **kwargs,
):
    campaign = campaign or make_campaign(org)
    message = message or make_message(campaign)
    audience = make_audience(org, filters or {})
    send, created = schedule_send(
        campaign,
        message=message,
        audience=audience,
        kind="once",
        user_id=None,
        now=now,
        local_date=when,
        local_time=at,
        **kwargs,
    )
    return send, created


def make_worker(app, clock, gateway=None, *, worker_id="w1", budget=None, **settings):
    return Worker(
        app,
        gateway=gateway or FakeSmsGateway(clock=clock),
        clock=clock,
        settings=DispatchSettings(**{"concurrency": 2, "batch_size": 50, **settings}),
        budget=budget or NoBudget(),
        worker_id=worker_id,
    )
