"""At send preparation each recipient's copy gets its own short links, once per outbox row,
and the final text is stored before the provider call."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.links import finalize
from app.links.models import TrackedLink
from app.links.text import CODE_ALPHABET, CODE_LENGTH
from app.messaging.fake import FakeSmsGateway
from app.outbox.dispatch import DispatchSettings, claim_due, recover_expired_leases
from app.outbox.finalizers import Draft
from app.outbox.models import OutboxMessage
from app.outbox.preparing import prepare_batch
from app.outbox.worker import Worker
from tests.factories import make_campaign, make_contact, make_message, make_outbox_row
from tests.support import NOW, Clock

SHORT = re.compile(r"https://alcance\.example\.org/l/([0-9A-Za-z]+)")
LEASE = timedelta(minutes=5)
BODY = "Hola, lee {link:https://Allowed.org/guía} o https://allowed.org/faq."


def setup(make_org, n=2, *, track_links=True, body=BODY):
    org = make_org()
    org.link_hosts, org.link_expiry_days = "allowed.org", 30
    campaign = make_campaign(org)
    message = make_message(campaign, body_es=body, track_links=track_links)
    rows = [
        make_outbox_row(
            make_contact(org), campaign_id=campaign.id, message_id=message.id, body=body
        )
        for _ in range(n)
    ]
    return org, rows


def prepare(now=NOW, worker="w1"):
    ids = claim_due(worker, now=now, limit=100, lease=LEASE)
    return prepare_batch(ids, worker_id=worker, now=now)


def links() -> list[TrackedLink]:
    db.session.expire_all()
    return list(db.session.scalars(select(TrackedLink).order_by(TrackedLink.id)))


def bodies() -> dict[int, str]:
    db.session.expire_all()
    return dict(db.session.execute(select(OutboxMessage.id, OutboxMessage.body)).all())


def test_each_recipient_gets_own_short_links(app, make_org):
    org, rows = setup(make_org)
    ready = prepare()
    stored = bodies()
    assert {p.id: p.body for p in ready} == stored  # what goes out is what is stored
    made = links()
    assert len(made) == 4  # two links for each of the two recipients
    codes = [link.code for link in made]
    assert len(set(codes)) == 4
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    for row in rows:
        text = stored[row.id]
        mine = [link for link in made if link.outbox_id == row.id]
        assert SHORT.findall(text) == [link.code for link in mine]
        assert text.startswith(f"Hola, lee https://alcance.example.org/l/{mine[0].code} o ")
        assert text.endswith(".\nResponde BAJA para dejar de recibir mensajes.")
        assert [link.destination for link in mine] == [
            "https://allowed.org/gu%C3%ADa",
            "https://allowed.org/faq",
        ]
        assert {(link.contact_id, link.message_id, link.campaign_id) for link in mine} == {
            (row.contact_id, row.message_id, row.campaign_id)
        }
        assert all(link.expires_at == NOW + timedelta(days=30) for link in mine)
        assert all(
            (link.clicks, link.previews, link.first_click_at) == (0, 0, None) for link in mine
        )


def test_plain_addresses_stay_when_the_message_does_not_track_them(app, make_org):
    setup(make_org, n=1, track_links=False)
    (ready,) = prepare()
    assert "https://allowed.org/faq." in ready.body
    assert len(SHORT.findall(ready.body)) == 1
    assert len(links()) == 1


def test_a_row_prepared_again_keeps_its_text_and_links(app, make_org):
    _org, rows = setup(make_org, n=1)
    prepare()
    first_text, first_links = bodies()[rows[0].id], [link.code for link in links()]
    later = NOW + LEASE + timedelta(seconds=1)
    assert recover_expired_leases(now=later) == (1, 0)  # the worker died before sending
    (again,) = prepare(now=later, worker="w2")
    assert again.body == first_text == bodies()[rows[0].id]
    assert [link.code for link in links()] == first_links


def test_finalize_is_idempotent_per_outbox_row(app, make_org):
    _org, rows = setup(make_org, n=1)
    prepare()
    row = db.session.get(OutboxMessage, rows[0].id)
    draft = Draft(
        row.id,
        row.organization_id,
        row.contact_id,
        row.campaign_id,
        row.message_id,
        "es",
        "campaign",
        BODY,
    )
    assert finalize.finalize([draft], NOW) == {}
    assert len(links()) == 2


def test_codes_never_repeat_an_existing_one(app, make_org, monkeypatch):
    _org, rows = setup(make_org, n=1)
    prepare()
    taken = links()[0].code
    drawn = iter([taken, taken, "Zz000001", "Zz000002"])
    monkeypatch.setattr(finalize, "new_code", lambda: next(drawn))
    assert sorted(finalize.new_codes(2)) == ["Zz000001", "Zz000002"]


def test_the_worker_sends_the_final_text(app, make_org):
    _org, rows = setup(make_org, n=1)
    clock = Clock(NOW)
    gateway = FakeSmsGateway(clock=clock)
    worker = Worker(
        app,
        gateway=gateway,
        clock=clock,
        settings=DispatchSettings(concurrency=2, batch_size=50),
        budget=None,
        worker_id="w1",
    )
    try:
        worker.run(once=True)
    finally:
        worker.close()
    (sent,) = gateway.sent
    assert sent.body == bodies()[rows[0].id]
    assert len(SHORT.findall(sent.body)) == 2 and "{link:" not in sent.body
    assert db.session.scalar(select(func.count()).select_from(TrackedLink)) == 2
