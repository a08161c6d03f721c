"""How WhatsApp templates take part in sending (connected when the app is built): the
outbox asks for the approved template of a WhatsApp message outside the 24-hour window
(app/outbox/channel_plan.py), and gets its content SID and its variables' values."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.models import Contact
from app.contacts.names import greeting_name
from app.extensions import db
from app.organizations.models import Organization
from app.outbox.channel_plan import (
    TemplateChoice,
    TemplateRequest,
    register_template_catalog,
    register_template_picker,
)
from app.outbox.placeholders import fallback_values, workshop_values_of
from app.whatsapp.models import WhatsAppTemplate


def _names(model, ids: set) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def template_names(message_ids: set[int]) -> dict[int, str]:
    """{campaign message id: its WhatsApp template's name} for the messages that name one."""
    if not message_ids:
        return {}
    return {
        message_id: name
        for message_id, name in db.session.execute(
            select(CampaignMessage.id, CampaignMessage.whatsapp_template_name).where(
                CampaignMessage.id.in_(message_ids),
                CampaignMessage.whatsapp_template_name.is_not(None),
            )
        )
    }


def pick(requests: list[TemplateRequest], now: datetime) -> dict[int, TemplateChoice]:
    """The approved template (in the row's language) of each row's campaign message, with
    its numbered variables filled from the recipient's values. Workshop fields are the
    row's workshop's (an invitation or reminder), in the row's language and the recipient's
    country formats like its SMS text; without a workshop they take their fallback text. A
    blank value goes as channel_plan.EMPTY_VARIABLE."""
    names = template_names({r.message_id for r in requests if r.message_id is not None})
    wanted = [r for r in requests if r.message_id in names]
    if not wanted:
        return {}
    templates = {
        (t.organization_id, t.name, t.language): t
        for t in db.session.scalars(
            select(WhatsAppTemplate).where(
                WhatsAppTemplate.organization_id.in_({r.organization_id for r in wanted}),
                WhatsAppTemplate.name.in_({names[r.message_id] for r in wanted}),
                WhatsAppTemplate.status == "approved",
                WhatsAppTemplate.content_sid.is_not(None),
            )
        )
    }
    people = {
        contact_id: (first_name, country)
        for contact_id, first_name, country in db.session.execute(
            select(Contact.id, Contact.first_name, Contact.country).where(
                Contact.id.in_({r.contact_id for r in wanted})
            )
        )
    }
    campaigns = _names(Campaign, {r.campaign_id for r in wanted})
    orgs = _names(Organization, {r.organization_id for r in wanted})
    fallbacks: dict[str, dict] = {}
    workshops: dict[tuple, dict] = {}  # (org, workshop, language, country) -> values
    chosen = {}
    for r in wanted:
        template = templates.get((r.organization_id, names[r.message_id], r.language))
        if template is None:
            continue
        if r.language not in fallbacks:
            fallbacks[r.language] = fallback_values(r.language)
        first_name, country = people.get(r.contact_id, (None, None))
        event = {}
        if r.workshop_id is not None:
            key = (r.organization_id, r.workshop_id, r.language, country)
            if key not in workshops:
                workshops[key] = workshop_values_of(*key)
            event = {k: v for k, v in workshops[key].items() if v}
        values = {
            **fallbacks[r.language],
            **event,
            "first_name": greeting_name(first_name) or "",
            "campaign": campaigns.get(r.campaign_id) or fallbacks[r.language]["campaign"],
            "org": orgs.get(r.organization_id) or fallbacks[r.language]["org"],
        }
        chosen[r.id] = TemplateChoice(
            template.content_sid,
            {number: values.get(name) or "" for number, name in (template.variables or {}).items()},
        )
    return chosen


register_template_picker(pick)


def catalog(organization_id: int) -> dict[str, frozenset]:
    """{name: languages} of the organization's approved templates (with a content)."""
    found: dict[str, set] = {}
    for name, language in db.session.execute(
        select(WhatsAppTemplate.name, WhatsAppTemplate.language).where(
            WhatsAppTemplate.organization_id == organization_id,
            WhatsAppTemplate.status == "approved",
            WhatsAppTemplate.content_sid.is_not(None),
        )
    ):
        found.setdefault(name, set()).add(language)
    return {name: frozenset(languages) for name, languages in found.items()}


register_template_catalog(catalog)
