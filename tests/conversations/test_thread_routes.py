"""Issue 16, the web side: one contact's thread (messages both ways with their status and
purpose, keyword actions, the case), the reply composer (free text or a saved reply, in the
contact's language, now or at the next allowed hour) and the one-click opt-out of a
flagged "please stop" message. Evaluators get 403 everywhere, other organizations 404."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.contacts.models import Contact
from app.conversations.models import Case, CaseEvent, Conversation, SavedReply
from app.extensions import db
from app.outbox.models import InboundMessage, OutboxMessage
from app.participation.models import ParticipationEvent
from tests.factories import make_campaign, make_contact, make_message, make_outbox_row
from tests.support import NOW, csrf_token

CRISIS = "mi amigo se tomó una pastilla y no respira"
STOP = "ya no me manden mensajes"
# 03:00 in Tijuana (UTC-8) the day after NOW; 09:00 there (Mexico's window opens) is 17:00 UTC.
AT_THREE = (NOW + timedelta(days=1)).replace(hour=11, minute=0)
NINE_THAT_MORNING = AT_THREE.replace(hour=17)
_sid = iter(range(1, 1_000_000))


def sms(contact, body, now=NOW):
    from app.outbox.inbound import receive_sms

    return receive_sms(sid=f"SMt{next(_sid):031d}", from_number=contact.phone, body=body, now=now)


def replies_of(contact) -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.contact_id == contact.id, OutboxMessage.purpose == "reply")
        .order_by(OutboxMessage.id)
    ).all()


def conversation_of(contact) -> Conversation:
    db.session.expire_all()
    return db.session.scalar(select(Conversation).where(Conversation.contact_id == contact.id))


@pytest.fixture
def contact(org):
    return make_contact(org, 1, first_name="Ana", last_name="López")


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


# --- the thread --------------------------------------------------------------------------------


def test_thread_shows_both_ways_in_order_with_status_purpose_and_campaign(
    client, org, coordinator, contact
):
    campaign = make_campaign(org, name="Sin Fentanilo")
    message = make_message(campaign)
    make_outbox_row(
        contact,
        campaign_id=campaign.id,
        message_id=message.id,
        purpose="campaign",
        body="Hola Ana, el fentanilo mata.",
        status="delivered",
        due_at=NOW - timedelta(hours=2),
        sent_at=NOW - timedelta(hours=2),
    )
    sms(contact, "SI", NOW - timedelta(hours=1))  # a keyword-like RSVP answer
    sms(contact, CRISIS, NOW - timedelta(minutes=5))
    make_outbox_row(
        contact, purpose="reply", body="Te escribo a las 9.", due_at=NOW + timedelta(hours=3)
    )
    response = client.get(f"/conversations/{contact.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    order = [
        html.index("el fentanilo mata"),
        html.index('data-keyword="rsvp_yes"'),
        html.index("no respira"),
        html.index("Te escribo a las 9."),
    ]
    assert order == sorted(order)
    assert "Campaign message" in html and "Sin Fentanilo" in html
    assert "Delivered" in html
    assert "Automatic reply" in html  # the crisis reply
    assert "Coordinator reply" in html and "Scheduled for" in html
    assert "RSVP yes" in html
    # the case: urgent, open, matched terms
    assert 'data-state="open"' in html and "Urgent" in html
    assert '<span class="tag" data-matched>no respira</span>' in html
    assert "Case opened" in html and "Automatic crisis reply sent" in html


def test_opening_the_thread_marks_it_read(client, coordinator, contact):
    sms(contact, "gracias")
    assert conversation_of(contact).needs_attention and conversation_of(contact).unread == 1
    client.get(f"/conversations/{contact.id}")
    conversation = conversation_of(contact)
    assert not conversation.needs_attention and conversation.unread == 0


def test_a_thread_without_messages_or_case(client, coordinator, contact):
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert "No messages yet." in html and "No case" in html
    assert conversation_of(contact) is None  # opening creates nothing


def test_the_contact_page_links_to_the_conversation(client, coordinator, contact):
    html = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert f'href="/conversations/{contact.id}"' in html


def test_the_campaign_page_links_to_its_inbox(client, org, coordinator):
    campaign = make_campaign(org)
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="/inbox?campaign={campaign.id}"' in html


def test_an_erased_contact_has_no_thread(client, coordinator, contact):
    db.session.get(Contact, contact.id).erased_at = NOW
    db.session.commit()
    assert client.get(f"/conversations/{contact.id}").status_code == 404


# --- replies -------------------------------------------------------------------------------


def test_reply_within_an_hour_goes_out_now_even_at_three_in_the_morning(
    client, coordinator, contact, frozen_clock, login
):
    frozen_clock.move_to(AT_THREE)
    login(coordinator)  # a day later: a new session
    sms(contact, "¿sigue en pie lo del sábado?", AT_THREE - timedelta(minutes=30))
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert 'data-due="now"' in html and "Goes out now." in html
    response = post(client, f"/conversations/{contact.id}/reply", body="Sí, a las 5.", send="1")
    assert response.status_code == 302
    (row,) = replies_of(contact)
    assert row.purpose == "reply" and row.status == "scheduled" and row.body == "Sí, a las 5."
    assert AT_THREE <= row.due_at < AT_THREE + timedelta(minutes=1)
    assert row.language == "es"
    assert "goes out now" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_later_reply_waits_for_the_allowed_hours(
    client, coordinator, contact, frozen_clock, login
):
    frozen_clock.move_to(AT_THREE)
    login(coordinator)  # a day later: a new session
    sms(contact, "¿sigue en pie lo del sábado?", AT_THREE - timedelta(hours=2))
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert 'data-due="later"' in html
    assert "Goes out at" in html and "9:00" in html  # 09:00 in Tijuana
    post(client, f"/conversations/{contact.id}/reply", body="Sí, a las 5.", send="1")
    (row,) = replies_of(contact)
    assert row.due_at == NINE_THAT_MORNING


@pytest.fixture
def saved(org):
    reply = SavedReply(
        organization_id=org.id,
        title="Gracias",
        body_es="Gracias por escribir. Te leemos.",
        body_en="Thanks for writing. We read you.",
    )
    db.session.add(reply)
    db.session.commit()
    return reply


def test_a_saved_reply_fills_the_composer_in_the_contacts_language(client, org, coordinator, saved):
    english = make_contact(org, 2, language="en")
    response = post(client, f"/conversations/{english.id}/reply", saved=str(saved.id), use="1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Thanks for writing. We read you.</textarea>" in html
    assert replies_of(english) == []  # filled in, not sent


def test_a_saved_reply_without_javascript_is_sent_in_the_contacts_language(
    client, org, coordinator, saved
):
    english = make_contact(org, 2, language="en")
    sms(english, "hi")
    post(client, f"/conversations/{english.id}/reply", saved=str(saved.id), body="", send="1")
    (row,) = replies_of(english)
    assert row.body == "Thanks for writing. We read you." and row.language == "en"


def test_another_organizations_saved_reply_is_not_a_choice(client, coordinator, contact, make_org):
    foreign = SavedReply(organization_id=make_org().id, title="X", body_es="x", body_en="x")
    db.session.add(foreign)
    db.session.commit()
    response = post(client, f"/conversations/{contact.id}/reply", saved=str(foreign.id), send="1")
    assert response.status_code == 400 and replies_of(contact) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("   ", "Write a reply or choose a saved reply."),
        ("x" * 641, "Use at most 640 characters."),
    ],
)
def test_a_bad_reply_is_refused_and_nothing_is_queued(client, coordinator, contact, body, error):
    response = post(client, f"/conversations/{contact.id}/reply", body=body, send="1")
    assert response.status_code == 400
    assert error in response.get_data(as_text=True)
    assert replies_of(contact) == []


def test_no_reply_to_an_opted_out_contact(client, org, coordinator):
    gone = make_contact(org, 3, opted_out_at=NOW - timedelta(days=1), opt_out_channel="sms")
    html = client.get(f"/conversations/{gone.id}").get_data(as_text=True)
    assert "no reply can be sent" in html
    response = post(client, f"/conversations/{gone.id}/reply", body="Hola", send="1")
    assert response.status_code == 400
    assert "opted out or was erased" in response.get_data(as_text=True)
    assert replies_of(gone) == []


def test_reply_errors_are_translated(client, coordinator, contact):
    response = client.post(
        f"/conversations/{contact.id}/reply?lang=es",
        data={"csrf_token": csrf_token(client), "body": " ", "send": "1"},
    )
    assert response.status_code == 400
    assert "Escribe una respuesta" in response.get_data(as_text=True)


def test_the_composer_has_the_sms_counter(client, coordinator, contact):
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert "js/sms_counter.js" in html
    assert 'data-sms-counter="body-count"' in html
    assert re.search(r'<output id="body-count"[^>]*data-label-segments=', html)


def test_a_reply_acknowledges_the_case_and_is_in_its_trail(client, coordinator, contact):
    sms(contact, CRISIS)
    post(client, f"/conversations/{contact.id}/reply", body="Aquí estoy. ¿Estás a salvo?", send="1")
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.contact_id == contact.id))
    assert case.acknowledged_by == coordinator.id and case.state == "acknowledged"
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert "Replied" in html and coordinator.email in html


# --- one-click opt-out from a flagged message ----------------------------------------------------


def test_one_click_opt_out_from_a_please_stop_message(client, org, coordinator, contact):
    campaign = make_campaign(org)
    make_outbox_row(
        contact, campaign_id=campaign.id, status="delivered", sent_at=NOW - timedelta(days=1)
    )
    pending = make_outbox_row(
        contact, campaign_id=campaign.id, purpose="campaign", due_at=NOW + timedelta(days=2)
    )
    sms(contact, STOP)
    inbound = db.session.scalar(
        select(InboundMessage).where(InboundMessage.contact_id == contact.id)
    )
    assert inbound.intent == "stop_request"
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert f'action="/conversations/messages/{inbound.id}/opt-out"' in html

    response = post(client, f"/conversations/messages/{inbound.id}/opt-out")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/conversations/{contact.id}")
    db.session.expire_all()
    c = db.session.get(Contact, contact.id)
    assert c.opted_out_at is not None and c.opt_out_channel == "sms"
    assert c.opt_out_reason == f"message #{inbound.id}"
    assert db.session.get(OutboxMessage, pending.id).status == "canceled"
    assert db.session.get(InboundMessage, inbound.id).reviewed_at is not None
    event = db.session.scalar(
        select(ParticipationEvent).where(
            ParticipationEvent.contact_id == contact.id, ParticipationEvent.kind == "opt_out"
        )
    )
    assert event.channel == "sms" and event.campaign_id == campaign.id
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert "/opt-out" not in html and "data-opted-out" in html


def test_the_opt_out_button_is_only_on_unreviewed_stop_requests(client, coordinator, contact):
    sms(contact, "gracias")
    html = client.get(f"/conversations/{contact.id}").get_data(as_text=True)
    assert "/opt-out" not in html
    inbound = db.session.scalar(
        select(InboundMessage).where(InboundMessage.contact_id == contact.id)
    )
    response = post(client, f"/conversations/messages/{inbound.id}/opt-out")
    assert response.status_code == 302
    assert db.session.get(Contact, contact.id).opted_out_at is None


def test_opt_out_from_a_message_records_it_on_the_open_case(client, coordinator, contact):
    sms(contact, CRISIS)
    sms(contact, STOP, NOW + timedelta(minutes=1))
    inbound = db.session.scalars(
        select(InboundMessage).where(InboundMessage.intent == "stop_request")
    ).one()
    post(client, f"/conversations/messages/{inbound.id}/opt-out")
    actions = db.session.scalars(select(CaseEvent.action).order_by(CaseEvent.id)).all()
    assert actions[-1] == "opted_out"


# --- who may open what ----------------------------------------------------------------------


def _urls(contact, case, inbound):
    return [
        ("GET", "/inbox"),
        ("GET", f"/conversations/{contact.id}"),
        ("POST", f"/conversations/{contact.id}/reply"),
        ("POST", f"/conversations/messages/{inbound.id}/opt-out"),
        *(
            ("POST", f"/cases/{case.id}/{action}")
            for action in ("acknowledge", "assign", "waiting", "note", "close", "reopen", "refer")
        ),
    ]


@pytest.fixture
def flagged(org, contact):
    sms(contact, CRISIS)
    sms(contact, STOP, NOW + timedelta(minutes=1))
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.contact_id == contact.id))
    inbound = db.session.scalars(
        select(InboundMessage).where(InboundMessage.intent == "stop_request")
    ).one()
    return case, inbound


def _fingerprint(contact):
    db.session.expire_all()
    return (
        db.session.scalars(select(CaseEvent.id).order_by(CaseEvent.id)).all(),
        db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all(),
        db.session.get(Contact, contact.id).opted_out_at,
        db.session.get(Conversation, conversation_of(contact).id).unread,
    )


def test_evaluators_get_403_on_every_route_and_see_no_message_text(
    client, org, make_user, login, contact, flagged
):
    login(make_user(org, "evaluator"))
    case, inbound = flagged
    before = _fingerprint(contact)
    token = csrf_token(client)
    for method, url in _urls(contact, case, inbound):
        data = {"csrf_token": token, "body": "x", "note": "x", "reason": "resolved"}
        response = client.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 403, url
        html = response.get_data(as_text=True)
        assert "no respira" not in html and "Ana" not in html and contact.phone not in html
    assert _fingerprint(contact) == before
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert (
        "no respira" not in dashboard and STOP not in dashboard and 'href="/inbox"' not in dashboard
    )


def test_another_organization_gets_404_on_every_owned_route(
    client, make_org, make_user, login, contact, flagged
):
    login(make_user(make_org(), "coordinator"))
    case, inbound = flagged
    before = _fingerprint(contact)
    token = csrf_token(client)
    for method, url in _urls(contact, case, inbound)[1:]:
        data = {"csrf_token": token, "body": "x", "note": "x", "reason": "resolved"}
        response = client.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 404, url
        assert "no respira" not in response.get_data(as_text=True)
    assert _fingerprint(contact) == before
    html = client.get("/inbox?show=all").get_data(as_text=True)
    assert "Ana" not in html and "no respira" not in html


def test_anonymous_visitors_are_sent_to_sign_in(client, contact, flagged):
    case, inbound = flagged
    for method, url in _urls(contact, case, inbound):
        response = client.open(url, method=method)
        assert response.status_code in (302, 400), url
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]
