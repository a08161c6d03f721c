"""Issue 16: the dashboard puts urgent cases nobody has acknowledged yet at the very top
(first name, campaign, age in minutes, assignee, link to the thread), then the normal
cases that need a person and the follow-ups due; evaluators only see the funnel's
counts, never a name. Every case is of the signed-in user's organization."""

from datetime import timedelta

from sqlalchemy import select

from app.conversations.models import Case
from app.conversations.referrals import refer
from app.conversations.services import acknowledge
from app.extensions import db
from app.main.dashboard import cases_attention, safe_url
from app.outbox.inbound import receive_sms
from tests.factories import make_campaign, make_contact, make_outbox_row
from tests.support import NOW

CRISIS = "mi amigo no respira"
HELP = "¿dónde me pueden ayudar con el cristal?"
_sid = iter(range(1, 1_000_000))


def _case(contact, text, at, campaign=None) -> Case:
    if campaign is not None:
        make_outbox_row(
            contact,
            campaign_id=campaign.id,
            purpose="campaign",
            status="sent",
            sent_at=at - timedelta(days=1),
            due_at=at - timedelta(days=1),
        )
    receive_sms(sid=f"SM{next(_sid):032d}", from_number=contact.phone, body=text, now=at)
    db.session.commit()
    return db.session.scalar(select(Case).where(Case.contact_id == contact.id))


def _html(client, path="/dashboard?lang=en"):
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_urgent_cases_lead_the_page_with_their_age_in_minutes(client, login, make_org, make_user):
    org, other = make_org(), make_org()
    coordinator = make_user(org, role="coordinator", email="co@example.org")
    campaign = make_campaign(org, name="Rutas Seguras")
    _case(make_contact(org, first_name="Xiadani"), CRISIS, NOW - timedelta(minutes=42), campaign)
    older = _case(make_contact(org, first_name="Nayeli"), CRISIS, NOW - timedelta(minutes=95))
    older.assigned_user_id = coordinator.id
    db.session.commit()
    done = _case(make_contact(org, first_name="Itzel"), CRISIS, NOW - timedelta(minutes=5))
    acknowledge(done, user=coordinator, now=NOW)
    _case(make_contact(org, first_name="Zyanya"), HELP, NOW - timedelta(minutes=30))
    _case(make_contact(other, first_name="Forastera"), CRISIS, NOW - timedelta(minutes=7))
    db.session.commit()

    login(coordinator)
    html = _html(client)
    top = html.index('id="urgent-heading"')
    assert top < html.index('id="attention-heading"')  # the very top of the dashboard
    urgent = html[top : html.index('id="normal-cases-heading"')]
    # Oldest first; the acknowledged one and the normal one are not urgent-open.
    assert urgent.index("Nayeli") < urgent.index("Xiadani")
    assert "Itzel" not in urgent and "Zyanya" not in urgent
    assert "95 minutes" in urgent and "42 minutes" in urgent
    assert "Rutas Seguras" in urgent and "Assigned to co@example.org" in urgent
    assert "Forastera" not in html  # another organization's case
    assert "1 open case" in html  # Zyanya's request for help waits for a person
    for text in (CRISIS, HELP):
        assert text not in html


def test_the_urgent_list_shows_without_campaigns(client, login, make_org, make_user):
    org = make_org()
    coordinator = make_user(org, role="coordinator")
    _case(make_contact(org, first_name="Citlali"), CRISIS, NOW - timedelta(minutes=3))
    login(coordinator)
    html = _html(client)
    assert "No active campaigns." in html
    assert "Citlali" in html and "3 minutes" in html


def test_follow_ups_due_and_thread_links(app, client, login, make_org, make_user):
    org = make_org()
    admin = make_user(org, role="admin")
    case = _case(make_contact(org, first_name="Tonatiuh"), HELP, NOW - timedelta(days=5))
    refer(case, "linea_vida", user=admin, now=NOW - timedelta(days=4))
    db.session.commit()
    with app.test_request_context():
        found = cases_attention(org.id, now=NOW)
        assert [item.first_name for item in found.follow_ups] == ["Tonatiuh"]
        assert found.urgent == [] and found.normal_open == 0
        assert found.follow_ups[0].url == safe_url(
            "conversations.thread", contact_id=case.contact_id
        )
        assert safe_url("no.such_endpoint") == "#"
    login(admin)
    html = _html(client)
    follow_ups = html[html.index('id="follow-ups-heading"') :]
    assert "Tonatiuh" in follow_ups


def test_evaluators_see_no_case_and_no_name(client, login, make_org, make_user):
    org = make_org()
    _case(make_contact(org, first_name="Yaretzi"), CRISIS, NOW - timedelta(minutes=10))
    login(make_user(org, role="evaluator"))
    html = _html(client)
    assert "Yaretzi" not in html and "Urgent cases" not in html
    assert 'id="funnel-heading"' in html  # the funnel's counts, suppressed (1 case: "*")
    assert "<dt>Cases</dt><dd>*</dd>" in html
