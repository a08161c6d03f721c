"""Issue 14: a campaign's page links to its Outreach (sends) and Inbox, with the replies still
to review and the sends scheduled; campaign statuses agree with "campaña" in Spanish."""

import re
from datetime import timedelta
from html import unescape
from itertools import count

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from app.campaigns import services
from app.errors import DomainError
from app.extensions import db
from app.outbox.models import InboundMessage
from tests.campaigns.helpers import PO
from tests.factories import make_campaign, make_contact, make_message, make_outbox
from tests.support import NOW

_sids = count(1)


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).split())


def reply(campaign, *, needs_review=True, reviewed=False, contact=None):
    row = InboundMessage(
        organization_id=campaign.organization_id,
        twilio_sid=f"SM{next(_sids):032d}",
        contact_id=(contact or make_contact(campaign.organization)).id,
        campaign_id=campaign.id,
        body="¿Me ayudas?",
        intent="other",
        needs_review=needs_review,
        reviewed_at=NOW - timedelta(hours=1) if reviewed else None,
    )
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def signed_in(client, login, coordinator):
    login(coordinator)
    return coordinator


@pytest.fixture
def busy(org, make_org):
    """An active campaign with 2 replies to review (plus a reviewed one, one not flagged and
    one of another campaign), two sends with messages still to go and one that is done."""
    campaign = make_campaign(org)
    other = make_campaign(org, name="Otra")
    reply(campaign)
    reply(campaign)
    reply(campaign, reviewed=True)
    reply(campaign, needs_review=False)
    reply(other)
    first, second = make_message(campaign), make_message(campaign, label="Dos")
    make_outbox(first, ["scheduled", "scheduled", "delivered"])
    make_outbox(second, ["held"])
    make_outbox(second, ["delivered", "canceled"])  # nothing left to go
    make_outbox(make_message(other), ["scheduled"])
    return campaign


def test_activity_counts(app, busy):
    activity = services.campaign_activity(busy)
    assert activity.replies_to_review == 2
    assert activity.sends_scheduled == 2
    assert activity.messages_scheduled == 3


def test_page_links_to_outreach_and_inbox_with_counts(client, signed_in, busy):
    response = client.get(f"/campaigns/{busy.id}")
    html = response.get_data(as_text=True)
    assert f'href="/campaigns/{busy.id}/sends"' in html
    # The organization's Inbox, this campaign's conversations (needing attention first).
    assert f'href="/inbox?campaign={busy.id}"' in html
    page = text(response)
    assert "Outreach 2 sends scheduled · 3 messages waiting to go" in page
    assert "Inbox 2 replies to review" in page
    # The links lead to the outreach pages and the Inbox.
    assert client.get(f"/campaigns/{busy.id}/sends").status_code == 200
    assert client.get(f"/inbox?campaign={busy.id}").status_code == 200


def test_quiet_campaign_still_links_both_pages(client, signed_in, org):
    campaign = make_campaign(org, status="draft")
    response = client.get(f"/campaigns/{campaign.id}")
    html = response.get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}/sends"' in html
    assert f'href="/inbox?campaign={campaign.id}"' in html
    page = text(response)
    assert "0 sends scheduled" in page and "No replies to review" in page
    assert "waiting to go" not in page


def test_counts_in_spanish(client, login, make_user, org, busy):
    login(make_user(org, role="coordinator", language="es"))
    page = text(client.get(f"/campaigns/{busy.id}?lang=es"))
    assert "Difusión 2 envíos programados · 3 mensajes por salir" in page
    assert "Bandeja de entrada 2 respuestas por revisar" in page


def test_another_organizations_replies_are_not_counted(app, busy, make_org):
    foreign = make_org(name="Ajena")
    row = reply(busy, contact=make_contact(foreign))
    row.organization_id = foreign.id
    db.session.commit()
    assert services.campaign_activity(busy).replies_to_review == 2


# --- Status labels agree with "campaña" --------------------------------------------------


def catalog_entry(msgid: str, context: str):
    with open(PO, "rb") as f:
        return read_po(f).get(msgid, context=context)


@pytest.mark.parametrize(
    "msgid, spanish",
    [
        ("Active", "Activa"),
        ("Archived", "Archivada"),
        ("Completed", "Concluida"),
        ("Draft", "Borrador"),
        ("Paused", "En pausa"),
    ],
)
def test_catalog_has_feminine_campaign_statuses(msgid, spanish):
    entry = catalog_entry(msgid, "campaign status")
    assert entry is not None and entry.string == spanish


@pytest.mark.parametrize(
    "msgid, spanish",
    [
        ("Current", "Vigentes"),
        ("Active", "Activas"),
        ("Archived", "Archivadas"),
        ("Completed", "Concluidas"),
        ("Drafts", "Borradores"),
        ("All", "Todas"),
    ],
)
def test_catalog_has_plural_campaign_filters(msgid, spanish):
    entry = catalog_entry(msgid, "campaign filter")
    assert entry is not None and entry.string == spanish


@pytest.mark.parametrize(
    "status, spanish", [("active", "Activa"), ("archived", "Archivada"), ("completed", "Concluida")]
)
def test_spanish_pages_use_feminine_statuses(client, login, make_user, org, status, spanish):
    login(make_user(org, role="coordinator", language="es"))
    campaign = make_campaign(org, status=status)
    detail = text(client.get(f"/campaigns/{campaign.id}?lang=es"))
    assert f"Estado de esta campaña: {spanish}." in detail
    listing = text(client.get("/campaigns/?status=all&lang=es"))
    assert f"{campaign.name} {spanish}" in listing
    assert "Activo" not in detail and "Archivado" not in detail and "Concluido" not in detail


def test_transition_error_uses_campaign_statuses(app, org):
    campaign = make_campaign(org, status="archived")
    with force_locale("es"), pytest.raises(DomainError) as error:
        services.transition_campaign(campaign, "active", now=NOW)
    with force_locale("es"):
        assert "«Archivada» a «Activa»" in str(error.value)
