"""Two (or eight) first clicks at the same moment on PostgreSQL: every click is counted and
the participation event "clicked" is recorded once."""

import threading
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.links.clicks import follow
from app.links.models import TrackedLink
from app.participation.models import ParticipationEvent
from tests.factories import (
    make_campaign,
    make_contact,
    make_message,
    make_outbox_row,
    make_tracked_link,
)
from tests.support import NOW

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148 Safari/604.1"
CLICKERS = 8


def test_simultaneous_first_clicks_record_one_event(app, make_org, postgres_only):
    org = make_org()
    org.link_hosts = "example.org"
    campaign = make_campaign(org)
    message = make_message(campaign)
    contact = make_contact(org)
    row = make_outbox_row(
        contact,
        campaign_id=campaign.id,
        message_id=message.id,
        status="delivered",
        sent_at=NOW - timedelta(hours=2),
        final_at=NOW - timedelta(hours=2),
    )
    link = make_tracked_link(
        contact, outbox_id=row.id, campaign_id=campaign.id, message_id=message.id
    )
    code, link_id, contact_id = link.code, link.id, contact.id
    db.session.remove()  # the threads open their own sessions
    start, outcomes, errors = threading.Barrier(CLICKERS), [], []

    def click():
        try:
            with app.app_context():
                start.wait(timeout=10)
                visit = follow(code, method="GET", user_agent=BROWSER, now=NOW)
                outcomes.append(visit.counted)
                db.session.remove()
        except Exception as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(CLICKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(outcomes) == ["click"] * (CLICKERS - 1) + ["first_click"]
    stored = db.session.get(TrackedLink, link_id)
    assert (stored.clicks, stored.first_click_at) == (CLICKERS, NOW)
    events = db.session.scalar(
        select(func.count())
        .select_from(ParticipationEvent)
        .where(ParticipationEvent.kind == "clicked", ParticipationEvent.contact_id == contact_id)
    )
    assert events == 1
