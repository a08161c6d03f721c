"""The send's review step (issue 19) says how its recipients would get the message now:
WhatsApp free text or template, SMS, SMS instead of WhatsApp, on hold; the same rules as
preparation (channel_plan.forecast), over the send's own recipients."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.outbox.models import OutboxMessage
from app.timeutil import utcnow
from tests.factories import make_contact, make_whatsapp_template
from tests.outreach.test_i14_schedule import _post
from tests.whatsapp.test_w2_editor import page_text


@pytest.fixture
def whatsapp_world(world):
    org, now = world["org"], utcnow()
    make_whatsapp_template(org, name="aviso", status="approved", content_sid="HX" + "1" * 32)
    world["message"].whatsapp_template_name = "aviso"
    opted_in = dict(preferred_channel="whatsapp", whatsapp_opt_in_at=now - timedelta(days=30))
    make_contact(org, **opted_in, last_whatsapp_in_at=now - timedelta(hours=2))  # free text
    make_contact(org, **opted_in)  # template (es)
    make_contact(org, preferred_channel="whatsapp")  # no opt-in: SMS instead of WhatsApp
    db.session.commit()
    return world


def test_review_counts_the_ways_of_the_recipients(client, login, whatsapp_world):
    w = whatsapp_world
    w["user"].language = "en"
    db.session.commit()
    login(w["user"])
    text = page_text(_post(client, w, submit="1"))
    assert "SMS or WhatsApp, if it went now" in text
    for count, label in (
        (1, "WhatsApp, free text"),
        (1, "WhatsApp, approved template"),
        (3, "SMS: they prefer SMS"),
        (1, "SMS instead of WhatsApp: they prefer WhatsApp but have not opted in"),
    ):
        assert f"{count} {label}" in text, label
    assert db.session.query(OutboxMessage).count() == 0  # a review creates nothing


def test_an_sms_only_audience_gets_no_channel_section(client, login, world):
    world["user"].language = "en"
    db.session.commit()
    login(world["user"])
    text = page_text(_post(client, world, submit="1"))
    assert "SMS or WhatsApp, if it went now" not in text
