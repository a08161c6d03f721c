"""Outreach helpers: schedule a send through the service or through the page, and a worker
with a fake gateway (clocks and `utc` are in tests/support.py, rows in tests/factories.py)."""

from datetime import date, time

from app.messaging.fake import FakeSmsGateway
from app.outbox.dispatch import DispatchSettings
from app.outbox.worker import Worker
from app.outreach.services import schedule_send
from tests.factories import make_audience, make_campaign, make_message
from tests.support import csrf_token_from


class NoBudget:
    def acquire(self):
        pass


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


def schedule(client, world, **data):
    """Post the "new send" form of the `world` fixture's campaign (data overrides fields),
    confirming at once (the page's review step is skipped)."""
    url = f"/campaigns/{world['campaign'].id}/sends/new"
    token = csrf_token_from(client.get(url))
    payload = {
        "csrf_token": token,
        "message": world["message"].id,
        "audience": world["audience"].id,
        "kind": "once",
        "timing": "local",
        "local_date": "2026-12-01",
        "local_time": "17:00",
        "confirm": "1",
    }
    payload.update(data)
    return client.post(url, data=payload)
