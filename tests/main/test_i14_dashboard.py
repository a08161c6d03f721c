"""Issue 14: the dashboard is a home page per role (coordinator, evaluator, administrator),
every figure of one organization only."""

import re
from datetime import timedelta

from app.contacts.models import ContactImport
from app.extensions import db
from app.jobs.models import Job
from app.outbox.models import InboundMessage
from app.participation.services import record_event
from tests.factories import (
    make_campaign,
    make_contact,
    make_message,
    make_outbox,
    make_registration,
    make_workshop,
)
from tests.support import NOW


def _reply(contact, campaign, *, review=True, reviewed=False, n=[0]):  # noqa: B006
    n[0] += 1
    row = InboundMessage(
        organization_id=contact.organization_id,
        twilio_sid=f"SMdash{n[0]:030d}",
        contact_id=contact.id,
        campaign_id=campaign.id,
        body="¿Me pueden llamar?",
        intent="other",
        needs_review=review,
        reviewed_at=NOW if reviewed else None,
        received_at=NOW - timedelta(hours=n[0]),
    )
    db.session.add(row)
    db.session.commit()
    return row


def _html(client, path="/dashboard?lang=en"):
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_coordinator_with_nothing_to_do_reads_well(client, login, make_user):
    login(make_user(role="coordinator"))
    html = _html(client)
    assert "Nothing needs your attention." in html
    assert "No active campaigns." in html
    assert "card--link" not in html  # no navigation repeated as cards
    assert "Hoy es" in _html(client, "/dashboard?lang=es")
    assert "Nada requiere tu atención." in _html(client, "/dashboard?lang=es")


def test_coordinator_sees_replies_to_review_per_campaign(client, login, make_org, make_user):
    org, other = make_org(), make_org()
    campaign = make_campaign(org, name="Vapeo no")
    contact = make_contact(org)
    _reply(contact, campaign)
    _reply(contact, campaign)
    _reply(contact, campaign, reviewed=True)  # done: not counted
    _reply(contact, campaign, review=False)  # not flagged
    foreign = make_campaign(other, name="Campaña Ajena")
    _reply(make_contact(other), foreign)
    login(make_user(org, role="coordinator"))
    html = _html(client)
    assert "Nothing needs your attention." not in html
    link = f'href="/campaigns/{campaign.id}/inbox?flagged=1"'
    assert link in html
    assert "2 replies to review in Vapeo no" in html
    assert "Campaña Ajena" not in html
    assert f"/campaigns/{foreign.id}/inbox" not in html


def test_coordinator_sees_sends_of_the_next_48_hours_with_messages_waiting(
    client, login, make_org, make_user
):
    org, other = make_org(), make_org()
    message = make_message(make_campaign(org, name="Fentanilo"), label="Semana 1")
    soon, _rows = make_outbox(message, ["scheduled", "scheduled", "scheduled"], at=NOW)
    late_message = make_message(message.campaign, label="Semana 9")
    make_outbox(late_message, ["scheduled"], at=NOW + timedelta(days=3))  # due in 4 days
    make_outbox(make_message(make_campaign(other, name="Ajena"), label="Ajeno"), ["scheduled"])
    login(make_user(org, role="coordinator"))
    html = _html(client)
    assert f'href="/sends/{soon.id}"' in html
    assert "Fentanilo: Semana 1" in html
    assert re.search(r"· 3 messages waiting", html)
    assert "Semana 9" not in html
    assert "Ajeno" not in html


def test_coordinator_sees_upcoming_workshops_with_seats(client, login, make_org, make_user):
    org, other = make_org(), make_org()
    workshop = make_workshop(org, capacity=12)  # 5 December: within two weeks
    for _ in range(3):
        make_registration(workshop, make_contact(org))
    make_registration(workshop, make_contact(org), status="waitlisted")
    make_workshop(org, starts_at=NOW + timedelta(days=40), title_en="Far away")
    make_workshop(other, title_en="Their workshop")
    login(make_user(org, role="coordinator"))
    html = _html(client)
    assert f'href="/workshops/{workshop.id}"' in html
    assert f'href="/workshops/{workshop.id}/attendance"' in html
    assert "3 of 12 confirmed" in html
    assert "1 on the waitlist" in html
    assert "Far away" not in html
    assert "Their workshop" not in html


def test_coordinator_sees_imports_and_jobs_running_or_failed(client, login, make_org, make_user):
    org, other = make_org(), make_org()

    def an_import(owner, filename, status, created_at=NOW - timedelta(hours=1)):
        imp = ContactImport(
            organization_id=owner.id,
            filename=filename,
            file_sha256="0" * 64,
            status=status,
            created_at=created_at,
        )
        db.session.add(imp)
        db.session.commit()
        return imp

    failed = an_import(org, "escuelas.csv", "failed")
    an_import(org, "viejo.csv", "failed", created_at=NOW - timedelta(days=30))
    an_import(org, "listo.csv", "completed")
    an_import(other, "ajeno.csv", "running")
    job = Job(organization_id=org.id, kind="send_fanout", status="running", payload={})
    db.session.add(job)
    db.session.commit()
    login(make_user(org, role="coordinator"))
    html = _html(client)
    assert "Contact import: escuelas.csv" in html
    assert f'href="/contacts/imports/{failed.id}"' in html
    assert f'href="/jobs/{job.id}"' in html
    assert "viejo.csv" not in html
    assert "listo.csv" not in html
    assert "ajeno.csv" not in html


def test_coordinator_headline_figures_of_active_campaigns(client, login, make_org, make_user):
    org, other = make_org(), make_org()
    active = make_campaign(org, name="Activa")
    paused = make_campaign(org, name="Pausada", status="paused")
    for campaign, n in ((active, 3), (paused, 2)):
        for _ in range(n):
            record_event(
                organization_id=org.id,
                contact_id=make_contact(org).id,
                kind="sms_delivered",
                channel="sms",
                occurred_at=NOW - timedelta(days=2),
                campaign_id=campaign.id,
            )
    db.session.commit()
    make_campaign(other, name="Activa de otra")
    login(make_user(org, role="coordinator"))
    html = _html(client)
    figures = re.search(r'<dl class="dash-figures">(.*?)</dl>', html, re.S).group(1)
    values = re.findall(r"<dd>([^<]*)</dd>", figures)
    assert values == ["1", "3", "100.0%", "0"]  # campaigns, delivered, rate, opt-outs
    assert f'href="/campaigns/{active.id}"' in html
    assert "Pausada" not in html
    assert "Activa de otra" not in html


def _stats(html):
    return re.findall(r'<p class="stat">([^<]*)</p>', html)


def test_evaluator_sees_the_reports_figures_and_campaign_links(client, login, make_org, make_user):
    org, other = make_org(), make_org()
    campaign = make_campaign(org, name="Para evaluar")
    # Fewer people than the small-cell threshold (5): the reports page shows organization
    # totals exactly to evaluators too (anchors, see app/reports/suppression.py), and so
    # does the dashboard, from the same figures.
    for i in range(3):
        record_event(
            organization_id=org.id,
            contact_id=make_contact(org).id,
            kind="sms_delivered" if i < 2 else "sms_failed",
            channel="sms",
            occurred_at=NOW - timedelta(days=3),
            campaign_id=campaign.id,
        )
    other_campaign = make_campaign(other, name="No es tuya")
    record_event(
        organization_id=other.id,
        contact_id=make_contact(other).id,
        kind="sms_delivered",
        channel="sms",
        occurred_at=NOW - timedelta(days=3),
        campaign_id=other_campaign.id,
    )
    db.session.commit()
    login(make_user(org, role="evaluator"))
    html = _html(client)
    reports = _html(client, "/reports/?lang=en")
    assert _stats(html) == _stats(reports) == ["2", "2", "0"]
    assert "Delivery rate: 66.7%" in html and "Delivery rate: 66.7%" in reports
    assert f'href="/reports/campaigns/{campaign.id}"' in html
    assert "No es tuya" not in html
    # Nothing of a coordinator's or an administrator's page.
    assert "Needs your attention" not in html
    assert "Users and settings" not in html
    assert "/inbox" not in html


def test_admin_sees_users_and_settings(app, client, login, make_org, make_user):
    org, other = make_org(), make_org()
    admin = make_user(org, role="admin", email="jefa@example.org")
    make_user(org, role="coordinator")
    make_user(org, role="coordinator")
    make_user(org, role="evaluator")
    stranger = make_user(other, role="coordinator", email="ajeno@example.org")
    login(stranger, c=app.test_client())  # signed in lately, in another organization
    login(admin)
    html = _html(client)
    users = re.search(r'id="users-heading".*?<dl class="facts">(.*?)</dl>', html, re.S).group(1)
    assert re.findall(r"<dd>([^<]*)</dd>", users) == ["1", "2", "1"]
    assert "jefa@example.org" in html  # the latest sign-in (and in the header)
    assert "ajeno@example.org" not in html
    assert "08:00 to 21:00" in html
    assert "The shared default sender" in html
    assert 'href="/organization/settings"' in html
    assert 'href="/users"' in html
    assert "America/Tijuana" in html


def test_a_sends_first_due_message_is_the_earliest_of_scheduled_and_held(app, make_org):
    """The first due time is looked up per pending status (one index entry each) and the
    earliest kept: a held message due before the scheduled ones comes first; a send with
    only held messages, or only scheduled ones, is listed too."""
    from app.main.dashboard import upcoming_sends

    org = make_org()
    campaign = make_campaign(org)
    mixed, rows = make_outbox(make_message(campaign), ["scheduled", "held"])
    rows[0].due_at, rows[1].due_at = NOW + timedelta(hours=5), NOW + timedelta(hours=2)
    only_held, held_rows = make_outbox(make_message(campaign), ["held"])
    held_rows[0].due_at = NOW + timedelta(hours=9)
    only_sched, sched_rows = make_outbox(make_message(campaign), ["scheduled"])
    sched_rows[0].due_at = NOW + timedelta(hours=1)
    db.session.commit()
    listed = {item.send_id: item for item in upcoming_sends(org.id, now=NOW)}
    assert set(listed) == {mixed.id, only_held.id, only_sched.id}
    firsts = [(s.send_id, s.first_due_at) for s in upcoming_sends(org.id, now=NOW)]
    assert firsts == [
        (only_sched.id, NOW + timedelta(hours=1)),
        (mixed.id, NOW + timedelta(hours=2)),
        (only_held.id, NOW + timedelta(hours=9)),
    ]
