"""The WhatsApp send path (issue 19): per recipient at send time, free-form inside the
24-hour window, the campaign message's approved template outside it, the organization's
no-template rule otherwise; SMS once when the number is not on WhatsApp (at create or in
a status callback), never twice; the template after a 63016; caps, quiet hours and opt-out
across both channels."""

import json
import threading
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.messaging.gateway import PermanentSmsError
from app.outbox.models import OutboxMessage
from app.outbox.status import apply_status_callback
from tests.factories import make_contact, make_outbox_row, make_whatsapp_template
from tests.outreach.helpers import make_worker, schedule_once
from tests.support import Clock, log_in, utc

SCHEDULED_AT = utc(2026, 11, 27, 18, 0)
DUE = utc(2026, 12, 2, 1, 0)  # 17:00 in Tijuana on 1 December
CONTENT_SID = "HX" + "ab12" * 8


def outbox(contact=None):
    db.session.expire_all()
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if contact is not None:
        stmt = stmt.where(OutboxMessage.contact_id == contact.id)
    return db.session.scalars(stmt).all()


def run(app, clock, gateway):
    worker = make_worker(app, clock, gateway)
    try:
        worker.run(once=True)
    finally:
        worker.close()


def whatsapp_contact(org, *, last_in=None, **overrides):
    return make_contact(
        org,
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=utc(2026, 11, 1, 12, 0),
        whatsapp_opt_in_source="form",
        last_whatsapp_in_at=last_in,
        **overrides,
    )


def org_with(make_org, **settings):
    org = make_org()
    for key, value in settings.items():
        setattr(org, key, value)
    db.session.commit()
    return org


def send_to(org, *, template=None, when=None):
    send, _ = schedule_once(org, now=SCHEDULED_AT)
    if template is not None:
        send.message.whatsapp_template_name = template
        db.session.commit()
    return send


def approved(org, *, language="es", name="aviso_taller", **overrides):
    return make_whatsapp_template(
        org,
        name=name,
        language=language,
        status="approved",
        content_sid=CONTENT_SID if language == "es" else "HX" + "cd34" * 8,
        **overrides,
    )


def test_free_form_inside_the_window(app, make_org):
    org = org_with(make_org, whatsapp_sender="+5216640000999")
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=23, minutes=59))
    send_to(org)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    (sent,) = gateway.sent
    assert (sent.channel, sent.to, sent.content_sid) == ("whatsapp", contact.phone, None)
    assert sent.sender == "+5216640000999"  # the organization's WhatsApp sender
    assert sent.body.startswith("Hola Joven, el fentanilo mata.")
    (row,) = outbox(contact)
    assert (row.status, row.channel, row.whatsapp_form, row.content_sid) == (
        "sent",
        "whatsapp",
        "free_form",
        None,
    )


def test_template_outside_the_window_in_each_language(app, make_org):
    org = make_org()
    approved(org, language="es")
    approved(
        org,
        language="en",
        body="Hi {{1}}, {{2}} says hello.",
        variables={"1": "first_name", "2": "org"},
    )
    es = whatsapp_contact(org, last_in=DUE - timedelta(hours=24, minutes=1))
    en = whatsapp_contact(org, language="en", first_name=None)  # never wrote: no window
    send_to(org, template="aviso_taller")
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    by_to = {s.to: s for s in gateway.sent}
    assert by_to[es.phone].content_sid == CONTENT_SID
    assert json.loads(by_to[es.phone].content_variables) == {"1": "Joven"}
    assert by_to[en.phone].content_sid == "HX" + "cd34" * 8
    # No first name: WhatsApp refuses empty variables, a stand-in goes.
    assert json.loads(by_to[en.phone].content_variables) == {"1": "-", "2": org.name}
    rows = {r.contact_id: r for r in outbox()}
    assert rows[es.id].whatsapp_form == "template" and rows[es.id].content_sid == CONTENT_SID
    assert json.loads(rows[en.id].content_variables)["2"] == org.name


def test_only_approved_templates_go(app, make_org):
    org = make_org()
    make_whatsapp_template(org, name="aviso_taller", status="pending", content_sid=CONTENT_SID)
    contact = whatsapp_contact(org)
    send_to(org, template="aviso_taller")
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    (sent,) = gateway.sent  # the "sms" rule (the default): the text by SMS
    assert sent.channel == "sms" and sent.to == contact.phone
    assert outbox(contact)[0].channel == "sms"


def test_no_template_hold(app, make_org):
    org = org_with(make_org, whatsapp_no_template="hold")
    contact = whatsapp_contact(org)
    send_to(org)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    assert gateway.sent == []
    (row,) = outbox(contact)
    assert (row.status, row.skip_reason, row.prepared_at) == ("held", "no_whatsapp_template", None)


def test_no_template_sms(app, make_org):
    org = org_with(make_org, whatsapp_no_template="sms")
    contact = whatsapp_contact(org)
    sms_contact = make_contact(org)
    send_to(org)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    assert {(s.to, s.channel) for s in gateway.sent} == {
        (contact.phone, "sms"),
        (sms_contact.phone, "sms"),
    }
    assert {r.whatsapp_form for r in outbox()} == {None}


def fallbacks_of(row_id):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.fallback_of_id == row_id)
    ).all()


def test_not_on_whatsapp_at_create_falls_back_to_sms_once(app, make_org):
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send_to(org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(PermanentSmsError("not on WhatsApp", code=63003, status=400))
    run(app, clock, gateway)
    assert gateway.sent == []
    failed, fallback = outbox(contact)
    assert (failed.status, failed.error_code, failed.channel) == ("failed", "63003", "whatsapp")
    assert (fallback.status, fallback.channel, fallback.fallback_of_id) == (
        "scheduled",
        "sms",
        failed.id,
    )
    db.session.refresh(contact)
    assert contact.whatsapp_unreachable_at == DUE
    # A late failed callback for the same message (Twilio says it too) changes nothing.
    run(app, clock, gateway)
    run(app, clock, gateway)
    (sent,) = gateway.sent
    assert (sent.channel, sent.to) == ("sms", contact.phone)
    # The SMS keeps the failed row's final text: one opt-out line, not two.
    assert sent.body == failed.body and sent.body.count("BAJA") == 1
    assert len(outbox(contact)) == 2
    # channel_for gives SMS from then on.
    send_to(org)
    clock.now = DUE + timedelta(days=1)
    run(app, clock, gateway)
    assert [s.channel for s in gateway.sent] == ["sms", "sms"]


def test_failed_status_callback_falls_back_once_even_when_repeated(app, make_org):
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send_to(org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    (row,) = outbox(contact)
    for _ in range(3):  # Twilio retries callbacks; undelivered after failed changes nothing
        apply_status_callback(row.twilio_sid, "failed", "63024", now=DUE + timedelta(minutes=1))
    apply_status_callback(row.twilio_sid, "undelivered", "63003", now=DUE + timedelta(minutes=2))
    (fallback,) = fallbacks_of(row.id)
    clock.now = DUE + timedelta(minutes=3)
    run(app, clock, gateway)
    run(app, clock, gateway)
    assert [s.channel for s in gateway.sent] == ["whatsapp", "sms"]
    db.session.refresh(fallback)
    assert fallback.status == "sent"
    # The fallback itself failing never creates another one.
    apply_status_callback(fallback.twilio_sid, "failed", "30003", now=DUE + timedelta(minutes=4))
    assert fallbacks_of(fallback.id) == []


def test_crash_after_the_fallback_is_recorded_never_doubles_it(app, make_org):
    """The fallback row commits with the failure; a worker crashing while sending it leaves
    it claimed, recovery and reconciliation resolve it; no second fallback appears."""
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send_to(org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    (row,) = outbox(contact)
    apply_status_callback(row.twilio_sid, "failed", "63003", now=DUE)
    # The fallback SMS: accepted by the provider, the answer lost (outcome unknown).
    from app.messaging.gateway import OutcomeUnknownSmsError

    gateway.fail_next(OutcomeUnknownSmsError("answer lost"), sent=True)
    run(app, clock, gateway)
    clock.now = DUE + timedelta(hours=1)
    for _ in range(3):
        run(app, clock, gateway)
    apply_status_callback(row.twilio_sid, "failed", "63003", now=clock.now)  # again
    sms = [s for s in gateway.sent if s.channel == "sms"]
    assert len(sms) == 1
    rows = outbox(contact)
    assert len(rows) == 2 and rows[1].status == "sent" and rows[1].twilio_sid == sms[0].sid


def test_no_fallback_when_the_organization_turned_it_off(app, make_org):
    org = org_with(make_org, whatsapp_fallback_sms=False)
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send_to(org)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    gateway.fail_next(PermanentSmsError("not on WhatsApp", code=63003, status=400))
    run(app, Clock(DUE), gateway)
    (row,) = outbox(contact)
    assert row.status == "failed"
    db.session.refresh(contact)
    assert contact.whatsapp_unreachable_at == DUE  # still: SMS from the next message on


def test_window_error_retries_with_the_template(app, make_org):
    org = make_org()
    approved(org)
    # Our record says the window is open; WhatsApp says it is not (63016).
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=2))
    send_to(org, template="aviso_taller")
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(PermanentSmsError("outside the window", code=63016, status=400))
    run(app, clock, gateway)
    run(app, clock, gateway)
    (sent,) = gateway.sent
    assert (sent.channel, sent.content_sid) == ("whatsapp", CONTENT_SID)
    failed, retry = outbox(contact)
    assert (failed.status, retry.status, retry.fallback_of_id) == ("failed", "sent", failed.id)
    assert retry.whatsapp_form == "template"
    db.session.refresh(contact)
    assert contact.whatsapp_unreachable_at is None


def test_window_error_without_template_follows_the_no_template_rule(app, make_org):
    org = org_with(make_org, whatsapp_no_template="hold")
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=2))
    send_to(org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    (row,) = outbox(contact)
    apply_status_callback(row.twilio_sid, "failed", "63016", now=DUE)
    run(app, clock, gateway)
    _, retry = outbox(contact)
    assert (retry.status, retry.skip_reason) == ("held", "no_whatsapp_template")
    assert len(gateway.sent) == 1


def test_opt_out_still_stops_whatsapp(app, make_org):
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send_to(org)
    contact.opted_out_at = SCHEDULED_AT + timedelta(hours=1)
    db.session.commit()
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    assert gateway.sent == []
    assert outbox(contact)[0].status in ("skipped", "canceled")


def test_whatsapp_opt_out_alone_sends_sms(app, make_org):
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    contact.whatsapp_opted_out_at = SCHEDULED_AT
    db.session.commit()
    send_to(org)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    assert [s.channel for s in gateway.sent] == ["sms"]


def test_frequency_cap_counts_both_channels(app, make_org):
    """One message a week: an SMS sent yesterday keeps today's WhatsApp message back, and a
    WhatsApp message sent yesterday keeps today's SMS back."""
    org = org_with(make_org, cap_messages=1, cap_days=7)
    on_whatsapp = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    on_sms = make_contact(org)
    for contact, channel in ((on_whatsapp, "sms"), (on_sms, "whatsapp")):
        make_outbox_row(
            contact,
            channel=channel,
            purpose="campaign",
            status="delivered",
            prepared_at=DUE - timedelta(days=1),
            send_started_at=DUE - timedelta(days=1),
            sent_at=DUE - timedelta(days=1),
        )
    send_to(org)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    assert gateway.sent == []
    for contact in (on_whatsapp, on_sms):
        row = outbox(contact)[-1]
        assert row.status != "sent" and row.prepared_at is None


def test_quiet_hours_hold_whatsapp_too(app, make_org):
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    night = utc(2026, 12, 2, 11, 0)  # 03:00 in Tijuana
    make_outbox_row(contact, purpose="campaign", due_at=night)
    gateway = FakeSmsGateway(clock=Clock(night))
    run(app, Clock(night), gateway)
    assert gateway.sent == []
    (row,) = outbox(contact)
    assert row.status == "scheduled" and row.due_at > night


def test_reply_keeps_its_channel(app, make_org):
    org = make_org()
    contact = make_contact(org)  # prefers SMS, but wrote on WhatsApp
    contact.last_whatsapp_in_at = DUE - timedelta(minutes=5)
    db.session.commit()
    make_outbox_row(contact, purpose="reply", channel="whatsapp", due_at=DUE)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    (sent,) = gateway.sent
    assert sent.channel == "whatsapp" and sent.content_sid is None


def test_concurrent_failed_callbacks_create_one_fallback(app, make_org, postgres_only):
    org = make_org()
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send_to(org)
    gateway = FakeSmsGateway(clock=Clock(DUE))
    run(app, Clock(DUE), gateway)
    (row,) = outbox(contact)
    sid, barrier, errors = row.twilio_sid, threading.Barrier(6), []

    def callback(code):
        try:
            with app.app_context():
                barrier.wait()
                apply_status_callback(sid, "failed", code, now=DUE)
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=callback, args=(c,)) for c in ["63003", "63024"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(fallbacks_of(row.id)) == 1


def test_fallback_is_visible_on_the_send_recipient_list(app, client, make_org, make_user):
    org = make_org()
    user = make_user(org, language="en")
    contact = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    other = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send = send_to(org)
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(PermanentSmsError("not on WhatsApp", code=63003, status=400))
    run(app, clock, gateway)
    run(app, clock, gateway)
    log_in(client, user)
    html = client.get(f"/sends/{send.id}").get_data(as_text=True)
    assert html.count('<span class="badge" data-way>Not reachable on WhatsApp</span>') == 1
    assert html.count('<span class="badge" data-way>SMS instead of WhatsApp</span>') == 1
    assert html.count('<span class="badge" data-way>WhatsApp</span>') == 1
    assert {r.contact_id for r in outbox()} == {contact.id, other.id}


def test_rows_held_for_a_template_go_once_it_is_approved(app, make_org, templates_gateway):
    from app.messaging.templates import TemplateContent
    from app.whatsapp import services as templates

    org = org_with(make_org, whatsapp_no_template="hold")
    contact = whatsapp_contact(org)
    template = make_whatsapp_template(org, name="aviso_taller", status="pending")
    sid = templates_gateway.create_template(
        TemplateContent(friendly_name="x", language="es", body=template.body, samples={})
    )
    templates_gateway.request_approval(sid, name="aviso_taller", category="utility")
    template.content_sid = sid
    db.session.commit()
    send_to(org, template="aviso_taller")
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    run(app, clock, gateway)
    assert outbox(contact)[0].status == "held"
    templates_gateway.approve(sid)
    templates.refresh_status(template, now=DUE, gateway=templates_gateway)
    (row,) = outbox(contact)
    assert (row.status, row.skip_reason) == ("scheduled", None)
    run(app, clock, gateway)
    (sent,) = gateway.sent
    assert (sent.channel, sent.content_sid) == ("whatsapp", sid)


def test_experiment_holdout_still_stops_whatsapp_and_its_fallback(app, make_org):
    from app.experiments.models import ExperimentAssignment
    from tests.factories import make_experiment

    org = make_org()
    held_out = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    failing = whatsapp_contact(org, last_in=DUE - timedelta(hours=1))
    send = send_to(org)
    experiment = make_experiment(
        send.campaign, holdout=1, status="running", started_at=SCHEDULED_AT
    )
    holdout = next(a for a in experiment.arms if a.is_holdout)
    db.session.add(
        ExperimentAssignment(
            organization_id=org.id,
            experiment_id=experiment.id,
            contact_id=held_out.id,
            arm_id=holdout.id,
        )
    )
    db.session.commit()
    clock = Clock(DUE)
    gateway = FakeSmsGateway(clock=clock)
    gateway.fail_next(PermanentSmsError("not on WhatsApp", code=63003, status=400))
    run(app, clock, gateway)
    assert gateway.sent == []  # the held-out contact got nothing; the other one failed
    (row,) = outbox(held_out)
    assert row.status == "canceled" and row.skip_reason == "experiment_holdout"
    failed, fallback = outbox(failing)
    # The contact joins the holdout before the fallback goes: it does not go either.
    db.session.add(
        ExperimentAssignment(
            organization_id=org.id,
            experiment_id=experiment.id,
            contact_id=failing.id,
            arm_id=holdout.id,
        )
    )
    db.session.commit()
    run(app, clock, gateway)
    assert gateway.sent == []
    db.session.refresh(fallback)
    assert fallback.status == "canceled"
