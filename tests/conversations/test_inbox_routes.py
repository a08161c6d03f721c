"""Issue 16, the web side: the organization's inbox (filters, search, order, pages), the
navigation's count, and who may open what (evaluators 403, other organizations 404)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.conversations import services
from app.conversations.models import Case, Conversation
from app.extensions import db
from app.outbox.inbound import receive_sms
from tests.factories import make_campaign, make_contact, make_outbox_row
from tests.support import NOW, csrf_token

CRISIS = "mi amigo se tomó una pastilla y no respira"
NEEDS_HELP = "necesito ayuda para dejar el cristal"
QUESTION = "¿a qué hora es el taller?"
THANKS = "gracias"
_sid = iter(range(1, 1_000_000))


def sms(contact, body, now=NOW):
    return receive_sms(sid=f"SMr{next(_sid):031d}", from_number=contact.phone, body=body, now=now)


def case_of(contact) -> Case:
    db.session.expire_all()
    return db.session.scalar(select(Case).where(Case.contact_id == contact.id))


def listed(html) -> list[int]:
    """Contact ids of the inbox's rows, in order."""
    return [int(i) for i in re.findall(r'<tr data-contact="(\d+)"', html)]


@pytest.fixture
def world(org, coordinator, make_user):
    """Six conversations, one per inbox situation."""
    other = make_user(org, "coordinator")
    w = {}
    w["urgent"] = make_contact(org, 1, first_name="Ana", last_name="López")
    sms(w["urgent"], CRISIS, NOW - timedelta(minutes=12))
    w["mine"] = make_contact(org, 2, first_name="Beto", language="en")
    sms(w["mine"], "where can I get help to quit vaping, I need help", NOW - timedelta(hours=3))
    services.acknowledge(case_of(w["mine"]), user=coordinator, now=NOW - timedelta(hours=2))
    w["attention"] = make_contact(org, 3, first_name="Carla")
    sms(w["attention"], THANKS, NOW - timedelta(hours=1))
    w["waiting"] = make_contact(org, 4, first_name="Dani")
    sms(w["waiting"], QUESTION, NOW - timedelta(hours=5))
    services.set_waiting(case_of(w["waiting"]), user=other, now=NOW - timedelta(hours=4))
    w["closed"] = make_contact(org, 5, first_name="Eva")
    sms(w["closed"], NEEDS_HELP, NOW - timedelta(days=2))
    services.close(case_of(w["closed"]), "resolved", user=other, now=NOW - timedelta(days=1))
    w["unassigned"] = make_contact(org, 6, first_name="Fer")
    sms(w["unassigned"], NEEDS_HELP, NOW - timedelta(minutes=30))
    for key in ("mine", "waiting", "closed"):
        services.mark_read(
            db.session.scalar(select(Conversation).where(Conversation.contact_id == w[key].id))
        )
    db.session.commit()
    return w


def ids(w, *keys):
    return [w[k].id for k in keys]


def test_needs_attention_is_the_default_urgent_first_then_last_message(client, world):
    response = client.get("/inbox")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    # urgent open case first, then by last message (newest first); the acknowledged case
    # and the read ones without an unacknowledged case are not listed
    assert listed(html) == ids(world, "urgent", "unassigned", "attention")
    assert "12 minutes" in html  # the urgent case's age
    assert "Ana López" in html
    assert "no respira" in html  # coordinators get a short preview


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        ("urgent", ["urgent"]),
        ("mine", ["mine"]),
        ("unassigned", ["urgent", "unassigned"]),
        ("waiting", ["waiting"]),
        ("closed", ["closed"]),
        ("all", ["urgent", "unassigned", "attention", "mine", "waiting", "closed"]),
    ],
)
def test_filters(client, world, show, expected):
    html = client.get(f"/inbox?show={show}").get_data(as_text=True)
    assert listed(html) == ids(world, *expected)
    assert f'data-filter="{show}"' in html


def test_language_and_campaign_filters(client, world, org):
    html = client.get("/inbox?show=all&language=en").get_data(as_text=True)
    assert listed(html) == ids(world, "mine")
    campaign = make_campaign(org, name="Sin Fentanilo")
    contact = make_contact(org, 7, first_name="Gil")
    make_outbox_row(contact, campaign_id=campaign.id, status="delivered", sent_at=NOW)
    sms(contact, THANKS, NOW + timedelta(seconds=1))
    html = client.get(f"/inbox?show=all&campaign={campaign.id}").get_data(as_text=True)
    assert listed(html) == [contact.id]
    assert "Sin Fentanilo" in html


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ("show=nonsense", "Unknown filter"),
        ("campaign=abc", "Unknown campaign"),
        ("campaign=99999", "Unknown campaign"),
        ("language=fr", "Unknown language"),
        ("page=-3", "Unknown page"),
    ],
)
def test_a_bad_filter_value_falls_back_with_a_notice(client, world, query, notice):
    response = client.get(f"/inbox?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert notice in html
    if "show" in query:
        assert listed(html) == ids(world, "urgent", "unassigned", "attention")


def test_a_bad_filter_notice_is_translated(client, world, coordinator):
    html = client.get("/inbox?show=nonsense&lang=es").get_data(as_text=True)
    assert "Filtro desconocido" in html


def test_another_organizations_campaign_is_not_a_filter(client, world, make_org):
    foreign = make_campaign(make_org())
    html = client.get(f"/inbox?show=all&campaign={foreign.id}").get_data(as_text=True)
    assert "Unknown campaign" in html and len(listed(html)) == 6


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ana lopez", ["urgent"]),  # accents ignored
        ("LÓPEZ", ["urgent"]),
        ("beto", ["mine"]),
        ("0000002", ["mine"]),  # the last digits of the phone
        ("664 000 0003", ["attention"]),
        ("zzz", []),
    ],
)
def test_search_by_name_or_last_digits(client, world, q, expected):
    html = client.get("/inbox", query_string={"show": "all", "q": q}).get_data(as_text=True)
    assert listed(html) == ids(world, *expected)


def test_the_middle_digits_of_a_phone_do_not_match(client, world):
    html = client.get("/inbox", query_string={"show": "all", "q": "52664"}).get_data(as_text=True)
    assert listed(html) == []


def test_pages_of_fifty(client, org, coordinator):
    contacts = [make_contact(org) for _ in range(51)]
    for n, contact in enumerate(contacts):
        sms(contact, THANKS, NOW - timedelta(minutes=n))
    first = client.get("/inbox").get_data(as_text=True)
    assert listed(first) == [c.id for c in contacts[:50]]
    assert 'rel="next"' in first
    second = client.get("/inbox?page=2").get_data(as_text=True)
    assert listed(second) == [contacts[50].id]
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_erased_contacts_are_not_listed(client, world):
    from app.contacts.models import Contact

    db.session.get(Contact, world["attention"].id).erased_at = NOW
    db.session.commit()
    assert world["attention"].id not in listed(client.get("/inbox?show=all").get_data(as_text=True))


def test_other_organizations_conversations_never_show(client, world, make_org):
    stranger = make_contact(make_org(), 8, first_name="Extraña")
    sms(stranger, CRISIS)
    html = client.get("/inbox?show=all&q=extra").get_data(as_text=True)
    assert listed(html) == [] and "Extraña" not in html


# --- the navigation's count -------------------------------------------------------------------


def nav_count(html):
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    match = re.search(r'data-count="inbox"><span aria-hidden="true">(\d+)</span>', nav)
    return int(match.group(1)) if match else 0


def test_nav_has_the_inbox_with_the_needs_attention_count(client, world):
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/inbox"' in html
    assert nav_count(html) == 3
    assert "3 conversations need attention" in html
    client.get(f"/conversations/{world['attention'].id}")  # read: one less
    assert nav_count(client.get("/dashboard").get_data(as_text=True)) == 2


def test_an_unacknowledged_case_counts_even_when_read(client, world):
    client.get(f"/conversations/{world['urgent'].id}")  # read, not acknowledged
    assert nav_count(client.get("/dashboard").get_data(as_text=True)) == 3


def test_inbox_pages_are_the_inbox_section(client, world):
    html = client.get(f"/conversations/{world['urgent'].id}").get_data(as_text=True)
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    assert re.search(r'<a href="/inbox"\s*aria-current="true"', nav)


def test_evaluators_have_no_inbox_in_the_nav(client, org, make_user, login):
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(make_user(org, "evaluator"))
    contact = make_contact(org)
    sms(contact, CRISIS)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/inbox"' not in html and 'data-count="inbox"' not in html
