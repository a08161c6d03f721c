"""Issue 19, demo: `flask seed-demo` has contacts on WhatsApp with opt-in, a bilingual
template with quick-reply buttons approved through the fake templates gateway (and a
rejected one), the campaign's first message delivered to them on WhatsApp and mostly
read, so the campaign report shows read rates and reach by channel."""

from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.contacts.models import Contact
from app.demo.whatsapp import REJECTED, TEMPLATE, WHATSAPP_CONTACTS
from app.extensions import db
from app.outbox.models import InboundMessage, OutboxMessage
from app.reports.campaign import campaign_figures
from app.reports.period import Period
from app.whatsapp.models import WhatsAppTemplate
from tests.support import NOW


def test_the_demo_has_whatsapp_contacts_templates_and_read_messages(app, seeded_demo):
    on_whatsapp = db.session.scalars(
        select(Contact).where(Contact.preferred_channel == "whatsapp")
    ).all()
    assert len(on_whatsapp) == WHATSAPP_CONTACTS
    assert all(c.whatsapp_opt_in_at and c.whatsapp_opt_in_source for c in on_whatsapp)
    templates = {(t.name, t.language): t for t in db.session.scalars(select(WhatsAppTemplate))}
    for language in ("es", "en"):
        approved = templates[(TEMPLATE, language)]
        assert approved.status == "approved" and len(approved.buttons) == 2
    assert templates[(REJECTED, "es")].status == "rejected"
    assert templates[(REJECTED, "es")].rejection_reason

    campaign = db.session.scalar(select(Campaign).where(Campaign.name.like("Una sola dosis%")))
    whatsapp = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.channel == "whatsapp",
            OutboxMessage.status == "delivered",
        )
    ).all()
    assert whatsapp and all(row.whatsapp_form == "template" for row in whatsapp)
    read = [row for row in whatsapp if row.read_at is not None]
    assert 0 < len(read) < len(whatsapp)
    # A tapped button came back on WhatsApp.
    assert db.session.scalar(select(func.count()).where(InboundMessage.channel == "whatsapp")) >= 1

    figures = campaign_figures(campaign, Period(), today=NOW.date())
    reach = figures.by_channel.reach
    # Every WhatsApp recipient is reached by WhatsApp only, or also by SMS (an invitation).
    on_both = reach["whatsapp_only"] + reach["sms_and_whatsapp"]
    assert on_both == len({row.contact_id for row in whatsapp}) >= WHATSAPP_CONTACTS // 2
    assert reach["sms_only"] > 0
    rates = [m for m in figures.by_channel.messages if m.channel == "whatsapp"]
    assert rates and rates[0].read == len(read) and 0 < rates[0].read_rate < 1
