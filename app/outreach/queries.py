"""Read-only queries behind the outreach pages (always filtered by organization)."""

from sqlalchemy import exists, func, or_, select

from app.contacts.channels import whatsapp_usable
from app.contacts.models import Contact
from app.extensions import db
from app.outbox import api as outbox
from app.outbox.models import InboundMessage, OutboxMessage
from app.outreach.models import OutreachSend

PAGE = 50


def sends_of(campaign) -> list[OutreachSend]:
    return db.session.scalars(
        select(OutreachSend)
        .where(
            OutreachSend.organization_id == campaign.organization_id,
            OutreachSend.campaign_id == campaign.id,
        )
        .order_by(OutreachSend.id.desc())
    ).all()


def outbox_page(send, *, after_id: int | None, status: str | None):
    """One page of a send's recipient messages, keyset-paginated by id: (row, first name,
    phone, the contact's time zone)."""
    stmt = (
        select(OutboxMessage, Contact.first_name, Contact.phone, Contact.timezone)
        .join(Contact, Contact.id == OutboxMessage.contact_id)
        .where(
            OutboxMessage.organization_id == send.organization_id, OutboxMessage.send_id == send.id
        )
    )
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if after_id:
        stmt = stmt.where(OutboxMessage.id > after_id)
    rows = db.session.execute(stmt.order_by(OutboxMessage.id).limit(PAGE + 1)).all()
    return rows[:PAGE], (rows[PAGE - 1][0].id if len(rows) > PAGE else None)


def inbox_of(campaign, *, flagged_only: bool):
    stmt = (
        select(InboundMessage, Contact.first_name, Contact.phone)
        .join(Contact, Contact.id == InboundMessage.contact_id)
        .where(
            InboundMessage.organization_id == campaign.organization_id,
            InboundMessage.campaign_id == campaign.id,
        )
    )
    if flagged_only:
        stmt = stmt.where(
            InboundMessage.needs_review.is_(True), InboundMessage.reviewed_at.is_(None)
        )
    return db.session.execute(stmt.order_by(InboundMessage.received_at.desc()).limit(200)).all()


def unreviewed_count(campaign) -> int:
    return outbox.unreviewed_replies(
        organization_id=campaign.organization_id, campaign_id=campaign.id
    )


# Enough for the demo (~290) and a pilot; the page filters them as you type.
SIMULATOR_CONTACTS = 1000


def simulator_contacts(org_id: int) -> list:
    """Contacts with a recent message exchange, newest first (phone simulator index)."""
    last = (
        select(OutboxMessage.contact_id, func.max(OutboxMessage.id).label("last_id"))
        .where(
            OutboxMessage.organization_id == org_id,
            or_(OutboxMessage.sent_at.is_not(None), OutboxMessage.status == "scheduled"),
        )
        .group_by(OutboxMessage.contact_id)
        .subquery()
    )
    return (
        db.session.execute(
            select(Contact)
            .join(last, last.c.contact_id == Contact.id)
            .where(Contact.erased_at.is_(None))
            .order_by(last.c.last_id.desc())
            .limit(SIMULATOR_CONTACTS)
        )
        .scalars()
        .all()
    )


def conversation(contact) -> list[tuple]:
    """(moment, direction, text, status) of a contact's SMS exchange, oldest first."""
    out = db.session.execute(
        select(OutboxMessage).where(
            OutboxMessage.contact_id == contact.id, OutboxMessage.sent_at.is_not(None)
        )
    ).scalars()
    inbound = db.session.execute(
        select(InboundMessage).where(InboundMessage.contact_id == contact.id)
    ).scalars()
    items = [(m.sent_at, "out", m.body, m.status) for m in out]
    items += [(m.received_at, "in", m.body, m.intent) for m in inbound]
    return sorted(items, key=lambda item: item[0])


def is_whatsapp_contact(contact) -> bool:
    """The phone simulator shows a WhatsApp chat when the contact is on WhatsApp today or
    got WhatsApp messages (issue 19)."""
    if whatsapp_usable(contact):
        return True
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    OutboxMessage.contact_id == contact.id, OutboxMessage.channel == "whatsapp"
                )
            )
        )
    )
