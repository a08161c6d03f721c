"""Template services against the fake template gateway: create and edit rules, submit and
the status that follows (pending → approved; rejected with its reason), idempotent submits,
the periodic refresh, approved templates for the send path, organizations kept apart."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.errors import InvalidFields
from app.extensions import db
from app.messaging.templates import NO_ANSWER, UNREACHABLE, TemplateGatewayError
from app.whatsapp import services
from app.whatsapp.models import WhatsAppTemplate
from tests.factories import make_org, make_user, make_whatsapp_template
from tests.support import NOW

VALUES = {
    "name": "taller_invitacion",
    "language": "es",
    "category": "marketing",
    "body": "Hola {{1}}, {{2}} te invita al taller del {{3}}.",
    "variables": {"1": "first_name", "2": "org", "3": "workshop_date"},
    "buttons": [
        {"title": "Sí, voy", "intent": "rsvp_yes", "value": ""},
        {"title": "No puedo", "intent": "rsvp_no", "value": ""},
    ],
}


@pytest.fixture
def org(app):
    return make_org(name="Jóvenes Tijuana")


def create(org, **changes):
    return services.create_template(
        organization_id=org.id, user_id=None, values={**VALUES, **changes}, now=NOW
    )


def submit(template, gateway, now=NOW):
    return services.submit_template(
        template.id, organization_id=template.organization_id, now=now, gateway=gateway
    )


def reload(template):
    db.session.expire_all()
    return db.session.get(WhatsAppTemplate, template.id)


# --- create and edit -------------------------------------------------------------------------


def test_create_saves_a_draft(org):
    user = make_user(org)
    template = services.create_template(
        organization_id=org.id, user_id=user.id, values=VALUES, now=NOW
    )
    template = reload(template)
    assert (template.status, template.content_sid, template.created_by) == ("draft", None, user.id)
    assert template.variables == VALUES["variables"]
    assert [b["id"] for b in template.buttons] == ["rsvp_yes", "rsvp_no"]


def test_bad_input_saves_nothing(org):
    with pytest.raises(InvalidFields):
        create(org, body="{{1}} hola", variables={})
    assert db.session.scalar(select(WhatsAppTemplate.id)) is None


def test_a_name_is_unique_per_language_in_an_organization(org):
    create(org)
    pair = create(org, language="en", body="Hi {{1}}, {{2}} invites you on {{3}}.")
    assert pair.name == VALUES["name"]
    with pytest.raises(services.TemplateError) as info:
        create(org, body="Otra vez {{1}}, ven.", variables={"1": "first_name"})
    assert info.value.field == "name"
    # another organization may use the same name
    assert create(make_org()).name == VALUES["name"]


@pytest.mark.parametrize("status", ["draft", "rejected"])
def test_edit_while_draft_or_rejected_makes_a_fresh_draft(org, status):
    template = make_whatsapp_template(
        org,
        status=status,
        rejection_reason="Bad variables" if status == "rejected" else None,
        content_sid="HX" + "1" * 32,
        content_name="alcance_old",
    )
    services.update_template(template, values=VALUES, now=NOW + timedelta(hours=1))
    template = reload(template)
    assert (template.status, template.rejection_reason) == ("draft", None)
    assert (template.content_sid, template.content_name) == (None, None)  # a new content
    assert template.body == VALUES["body"] and template.updated_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize("status", ["pending", "approved", "paused", "disabled"])
def test_no_edit_or_delete_once_submitted(org, status):
    template = make_whatsapp_template(org, status=status, content_sid="HX" + "1" * 32)
    with pytest.raises(services.TemplateError):
        services.update_template(template, values=VALUES, now=NOW)
    with pytest.raises(services.TemplateError):
        services.delete_template(template)
    assert reload(template).body == "Hola {{1}}, te esperamos en el taller."


# --- submit and status ------------------------------------------------------------------------


def test_submit_creates_the_content_and_asks_for_approval(org, templates_gateway, caplog):
    caplog.set_level(logging.DEBUG)
    template = create(org)
    submit(template, templates_gateway)
    template = reload(template)
    assert template.status == "pending"
    assert template.submitted_at == NOW and template.status_checked_at == NOW
    stored = templates_gateway.contents[template.content_sid]
    content = stored.content
    assert content.language == "es" and content.body == VALUES["body"]
    assert content.friendly_name == template.content_name
    assert template.content_name.startswith(f"alcance_{org.id}_{template.id}_")
    # WhatsApp's reviewers see a sample for each variable, in the template's language
    assert content.samples == {
        "1": "Alex",
        "2": "Jóvenes Tijuana",
        "3": content.samples["3"],
    }
    assert "diciembre" in content.samples["3"]  # a week after the frozen Friday 27 November
    assert [(b.title, b.id) for b in content.buttons] == [
        ("Sí, voy", "rsvp_yes"),
        ("No puedo", "rsvp_no"),
    ]
    assert (stored.approval_name, stored.category) == ("taller_invitacion", "marketing")
    # the logs name the template, never its text
    assert "taller_invitacion" in caplog.text and "te invita" not in caplog.text


def test_pending_then_approved(org, templates_gateway):
    template = create(org)
    submit(template, templates_gateway)
    later = NOW + timedelta(hours=3)
    services.refresh_status(reload(template), now=later, gateway=templates_gateway)
    assert reload(template).status == "pending"
    templates_gateway.approve(reload(template).content_sid)
    services.refresh_status(reload(template), now=later, gateway=templates_gateway)
    template = reload(template)
    assert (template.status, template.status_checked_at) == ("approved", later)
    assert services.approved_templates(org.id, "es") == [template]
    assert services.approved_templates(org.id, "en") == []


def test_rejected_with_its_reason_then_edited_and_submitted_again(org, templates_gateway):
    template = create(org)
    submit(template, templates_gateway)
    first_sid = reload(template).content_sid
    templates_gateway.reject(first_sid, "INVALID_FORMAT: too many variables")
    services.refresh_status(reload(template), now=NOW, gateway=templates_gateway)
    template = reload(template)
    assert template.status == "rejected"
    assert template.rejection_reason == "INVALID_FORMAT: too many variables"
    assert services.approved_templates(org.id, "es") == []

    services.update_template(template, values={**VALUES, "body": "Hola {{1}}, ven."}, now=NOW)
    submit(reload(template), templates_gateway)
    template = reload(template)
    assert template.status == "pending" and template.rejection_reason is None
    assert template.content_sid != first_sid
    assert templates_gateway.contents[template.content_sid].content.body == "Hola {{1}}, ven."


def test_refresh_leaves_a_draft_alone(org, templates_gateway):
    template = create(org)
    services.refresh_status(template, now=NOW, gateway=templates_gateway)
    assert reload(template).status_checked_at is None and templates_gateway.calls == []


@pytest.mark.parametrize("status", ["paused", "disabled"])
def test_whatsapp_may_stop_an_approved_template(org, templates_gateway, status):
    template = create(org)
    submit(template, templates_gateway)
    templates_gateway.approve(reload(template).content_sid)
    services.refresh_status(reload(template), now=NOW, gateway=templates_gateway)
    templates_gateway.set_status(reload(template).content_sid, status)
    services.refresh_status(reload(template), now=NOW, gateway=templates_gateway)
    assert reload(template).status == status
    assert services.approved_templates(org.id, "es") == []


# --- idempotent submit -------------------------------------------------------------------


def test_a_second_submit_changes_nothing(org, templates_gateway):
    template = create(org)
    submit(template, templates_gateway)
    sid = reload(template).content_sid
    submit(reload(template), templates_gateway, now=NOW + timedelta(minutes=5))
    template = reload(template)
    assert template.content_sid == sid and template.submitted_at == NOW
    assert len(templates_gateway.contents) == 1
    assert templates_gateway.contents[sid].approval_requests == 1


def test_failed_approval_request_keeps_the_content_for_the_retry(org, templates_gateway):
    template = create(org)
    # the create succeeds, the approval request fails
    original = templates_gateway.request_approval
    calls = []

    def failing_once(sid, **kwargs):
        if not calls:
            calls.append(sid)
            raise TemplateGatewayError(UNREACHABLE, retryable=True)
        return original(sid, **kwargs)

    templates_gateway.request_approval = failing_once
    with pytest.raises(TemplateGatewayError):
        submit(template, templates_gateway)
    template = reload(template)
    assert template.status == "draft" and template.content_sid == calls[0]

    submit(template, templates_gateway, now=NOW + timedelta(minutes=1))
    template = reload(template)
    assert template.status == "pending" and template.content_sid == calls[0]
    assert len(templates_gateway.created(template.content_name)) == 1
    # the retry asked first whether the approval request had arrived
    assert [op for op, _ in templates_gateway.calls] == ["create", "fetch", "approve"]


def test_an_approval_request_whose_answer_was_lost_is_not_made_twice(org, templates_gateway):
    template = create(org)
    original = templates_gateway.request_approval

    def arrived_but_lost(sid, **kwargs):
        original(sid, **kwargs)
        raise TemplateGatewayError(NO_ANSWER, outcome_unknown=True)

    templates_gateway.request_approval = arrived_but_lost
    with pytest.raises(TemplateGatewayError):
        submit(template, templates_gateway)
    templates_gateway.request_approval = original
    submit(reload(template), templates_gateway, now=NOW + timedelta(minutes=2))
    template = reload(template)
    assert template.status == "pending"
    assert templates_gateway.contents[template.content_sid].approval_requests == 1


def test_a_create_whose_answer_was_lost_is_found_not_made_twice(org, templates_gateway):
    template = create(org)
    templates_gateway.fail_next(TemplateGatewayError(NO_ANSWER, outcome_unknown=True), created=True)
    with pytest.raises(TemplateGatewayError) as info:
        submit(template, templates_gateway)
    assert info.value.outcome_unknown
    template = reload(template)
    assert template.content_sid is None and template.content_requested_at == NOW
    name = template.content_name

    # right away: another submit may still be creating it
    with pytest.raises(services.TemplateError) as info:
        submit(template, templates_gateway, now=NOW + timedelta(seconds=30))
    assert str(info.value) == str(services.BEING_SUBMITTED)

    submit(reload(template), templates_gateway, now=NOW + timedelta(minutes=2))
    template = reload(template)
    assert template.status == "pending" and template.content_name == name
    assert len(templates_gateway.created(name)) == 1
    assert [op for op, _ in templates_gateway.calls] == ["create", "find", "approve"]


def test_a_create_refused_for_sure_is_simply_made_again(org, templates_gateway):
    template = create(org)
    templates_gateway.fail_next(TemplateGatewayError(UNREACHABLE, retryable=True))
    with pytest.raises(TemplateGatewayError):
        submit(template, templates_gateway)
    template = reload(template)
    assert template.content_requested_at is None and template.status == "draft"
    submit(template, templates_gateway, now=NOW + timedelta(seconds=10))
    assert reload(template).status == "pending"
    assert [op for op, _ in templates_gateway.calls] == ["create", "create", "approve"]
    assert len(templates_gateway.contents) == 1


def test_submit_checks_the_stored_template_again(org, templates_gateway):
    # saved before a rule existed: the variable at the very end
    template = make_whatsapp_template(org, body="Te esperamos, {{1}}")
    with pytest.raises(InvalidFields):
        submit(template, templates_gateway)
    assert templates_gateway.calls == [] and reload(template).content_requested_at is None


def test_submit_of_another_organizations_template_is_refused(org, templates_gateway):
    template = create(make_org())
    with pytest.raises(LookupError):
        services.submit_template(
            template.id, organization_id=org.id, now=NOW, gateway=templates_gateway
        )
    assert templates_gateway.calls == [] and reload(template).status == "draft"


# --- the periodic refresh ---------------------------------------------------------------------


def test_periodic_refresh_checks_pending_templates_every_ten_minutes(org, templates_gateway):
    pending = make_whatsapp_template(
        org, status="pending", content_sid="HX" + "a" * 32, status_checked_at=NOW
    )
    fresh = make_whatsapp_template(
        org, status="pending", content_sid="HX" + "b" * 32, status_checked_at=None
    )
    approved = make_whatsapp_template(
        org, status="approved", content_sid="HX" + "c" * 32, status_checked_at=NOW
    )
    draft = make_whatsapp_template(org)  # never submitted: nothing to ask
    for t in (pending, fresh, approved):
        templates_gateway.contents[t.content_sid] = _fake_content(t)
    templates_gateway.approve(fresh.content_sid)
    templates_gateway.reject(pending.content_sid, "Policy")
    templates_gateway.set_status(approved.content_sid, "paused")

    soon = NOW + timedelta(minutes=5)
    assert services.refresh_due_templates(now=soon, gateway=templates_gateway) == 1
    assert reload(fresh).status == "approved" and reload(pending).status == "pending"

    later = NOW + timedelta(minutes=10)
    assert services.refresh_due_templates(now=later, gateway=templates_gateway) == 1
    assert (reload(pending).status, reload(pending).rejection_reason) == ("rejected", "Policy")
    assert reload(approved).status == "approved"  # checked once a day

    # a day after its last check, the approved one (the other was checked 5 minutes later)
    next_day = NOW + timedelta(hours=24)
    assert services.refresh_due_templates(now=next_day, gateway=templates_gateway) == 1
    assert reload(approved).status == "paused"
    assert reload(draft).status_checked_at is None


def test_periodic_refresh_stops_when_twilio_is_unreachable(org, templates_gateway, caplog):
    rows = [
        make_whatsapp_template(org, status="pending", content_sid=f"HX{n:032x}") for n in range(3)
    ]
    for t in rows:
        templates_gateway.contents[t.content_sid] = _fake_content(t)
    templates_gateway.fail_next(TemplateGatewayError(UNREACHABLE, retryable=True))
    assert services.refresh_due_templates(now=NOW, gateway=templates_gateway) == 0
    assert [op for op, _ in templates_gateway.calls] == ["fetch"]
    assert "status not refreshed" in caplog.text
    assert services.refresh_due_templates(now=NOW, gateway=templates_gateway) == 3


def test_the_periodic_task_is_registered(app):
    from app.schedule import maintenance_tasks

    tasks = {t.name: t for t in maintenance_tasks(app.config)}
    assert tasks["refresh_whatsapp_templates"].every == timedelta(minutes=5)


def test_the_periodic_task_uses_the_apps_gateway(org, templates_gateway):
    from app.schedule import maintenance_tasks

    template = make_whatsapp_template(org, status="pending", content_sid="HX" + "d" * 32)
    templates_gateway.contents[template.content_sid] = _fake_content(template)
    templates_gateway.approve(template.content_sid)
    task = next(t for t in maintenance_tasks({}) if t.name == "refresh_whatsapp_templates")
    task.run(NOW)
    assert reload(template).status == "approved"


def _fake_content(template):
    from app.messaging.fake_templates import FakeContent
    from app.messaging.templates import TemplateContent

    return FakeContent(
        sid=template.content_sid,
        content=TemplateContent(friendly_name="x", language=template.language, body=template.body),
        status=template.status,
    )


def test_simultaneous_submits_create_one_content_and_ask_once(
    app, org, templates_gateway, postgres_only
):
    import threading
    import time

    template = create(org)
    original = templates_gateway.create_template

    def slow_create(content):
        time.sleep(0.3)  # the other clicks arrive while Twilio is answering
        return original(content)

    templates_gateway.create_template = slow_create
    outcomes, barrier = [], threading.Barrier(3)

    def click():
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(submit(template, templates_gateway).status)
            except services.TemplateError as error:
                outcomes.append(str(error))
            db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    template = reload(template)
    assert template.status == "pending"
    assert len(templates_gateway.contents) == 1
    assert templates_gateway.contents[template.content_sid].approval_requests == 1
    assert outcomes.count("pending") >= 1
    assert set(outcomes) <= {"pending", str(services.BEING_SUBMITTED)}
