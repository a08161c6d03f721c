"""A campaign's figures by channel (issue 19): reach by channel, read rates per message and
channel, and the estimated spend.

Reach by channel splits the contacts reached by a delivered message (the rollups'
`delivered`, the existing definition of reach: reach.py) into SMS only, WhatsApp only and
both, next to the contacts reached in workshops only. Which deliveries went on WhatsApp is
read from the outbox rows (channel "whatsapp", status delivered), not from the events:
WhatsApp's read receipts, prices and channel live on the outbox row. These statements read
the campaign's outbox rows (through ix_outbox_campaign_status), so they run only in the
cached figures path (`campaign_figures`, cached by cache.py), never per page view.

- reach: per reached contact, deliveries from the rollups minus WhatsApp deliveries from
  the outbox: SMS only (no WhatsApp delivery), WhatsApp only (every delivery on WhatsApp),
  both. Workshop only is the reach figure's own (no delivered message).
- read rates: WhatsApp messages read (`read_at`) over delivered, per message; a
  message's other deliveries (the rollups' count minus WhatsApp's) are SMS, which has no
  read receipts (None: shown "—").
- spend: per channel, what Twilio reported (`price`) where known, else the estimate from
  the organization's prices (organizations.prices): segments × the SMS price, one message
  × the WhatsApp price, by the recipient's country. Rows without a known segment count
  (the simulator) are measured from their text (`outbox.encoding.analyze`), one per
  distinct text.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import format_number
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select

from app.contacts.models import Contact
from app.extensions import db
from app.organizations.prices import money, price_list
from app.outbox.encoding import analyze
from app.outbox.models import ANSWERS, OutboxMessage
from app.reports.period import Period, period_hours
from app.reports.reach import _per_contact, _per_contact_all_time, _per_contact_in_hours
from app.reports.sql import count_if, in_period

CHANNELS = ("sms", "whatsapp")
REACH_CHANNELS = ("sms_only", "whatsapp_only", "sms_and_whatsapp", "workshop_only")
# Statuses the provider charges for (a failed message never left Twilio).
CHARGED = ("sent", "delivered", "undelivered")


@dataclass
class MessageChannel:
    message_id: int | None
    channel: str
    delivered: int
    read: int | None  # None: no read receipts on this channel (SMS)

    @property
    def read_rate(self) -> float | None:
        if self.read is None or not self.delivered:
            return None
        return self.read / self.delivered


@dataclass
class Spend:
    channel: str
    messages: int  # charged messages (sent, delivered, undelivered)
    reported: Decimal  # what Twilio reported, for the messages with a price
    reported_messages: int
    estimated: Decimal  # the estimate, for the messages without one
    unpriced: int  # messages without a reported price nor a configured one

    @property
    def total(self) -> Decimal:
        return self.reported + self.estimated


@dataclass
class ChannelFigures:
    reach: dict = field(default_factory=dict)  # REACH_CHANNELS -> contacts
    messages: list = field(default_factory=list)  # MessageChannel, per message then channel
    whatsapp: dict = field(default_factory=dict)  # message id -> WhatsApp (delivered, read)
    spend: list = field(default_factory=list)  # Spend per channel with charged messages
    currency: str = "USD"

    @property
    def spend_total(self) -> Decimal:
        return sum((s.total for s in self.spend), Decimal(0))


def _campaign_rows(org_id: int, campaign_id: int):
    return (
        OutboxMessage.organization_id == org_id,
        OutboxMessage.campaign_id == campaign_id,
        OutboxMessage.purpose.not_in(ANSWERS),
    )


def _whatsapp_deliveries(org_id: int, campaign_id: int, period: Period):
    """WhatsApp deliveries per contact (delivery time: the row's final status)."""
    return (
        select(OutboxMessage.contact_id.label("contact_id"), func.count().label("n"))
        .where(
            *_campaign_rows(org_id, campaign_id),
            OutboxMessage.status == "delivered",
            OutboxMessage.channel == "whatsapp",
            *in_period(OutboxMessage.final_at, period),
        )
        .group_by(OutboxMessage.contact_id)
        .subquery("whatsapp")
    )


def reach_by_channel(
    org_id: int, campaign_id: int, period: Period, *, workshop_only: int
) -> dict[str, int]:
    """Contacts reached by messages on SMS only, WhatsApp only, both; and `workshop_only`
    (the reach figure's). Per contact, from the same rollup rows as `campaign_reach`."""
    hours = period_hours(period)
    if hours is None:
        per_contact = _per_contact(org_id, campaign_id, period, [])
    elif hours == (None, None):
        per_contact = _per_contact_all_time(org_id, campaign_id)
    else:
        per_contact = _per_contact_in_hours(org_id, campaign_id, hours, [])
    wa = _whatsapp_deliveries(org_id, campaign_id, period)
    c = per_contact.c
    on_whatsapp = func.coalesce(wa.c.n, 0)
    row = db.session.execute(
        select(
            count_if(on_whatsapp == 0).label("sms_only"),
            count_if(on_whatsapp >= c.delivered).label("whatsapp_only"),
            count_if(and_(on_whatsapp > 0, on_whatsapp < c.delivered)).label("both"),
        )
        .select_from(per_contact)
        .outerjoin(wa, wa.c.contact_id == c.contact_id)
        .where(c.delivered > 0)
    ).one()
    return {
        "sms_only": int(row.sms_only or 0),
        "whatsapp_only": int(row.whatsapp_only or 0),
        "sms_and_whatsapp": int(row.both or 0),
        "workshop_only": workshop_only,
    }


def whatsapp_per_message(
    org_id: int, campaign_id: int, period: Period, message_ids: list[int | None]
) -> dict[int | None, tuple[int, int]]:
    """WhatsApp deliveries and reads per message (None: without a known message)."""
    known = [m for m in message_ids if m is not None]
    key = case((OutboxMessage.message_id.in_(known or [-1]), OutboxMessage.message_id))
    rows = db.session.execute(
        select(
            key.label("message_id"),
            func.count().label("delivered"),
            count_if(OutboxMessage.read_at.is_not(None)).label("read"),
        )
        .where(
            *_campaign_rows(org_id, campaign_id),
            OutboxMessage.status == "delivered",
            OutboxMessage.channel == "whatsapp",
            *in_period(OutboxMessage.final_at, period),
        )
        .group_by(key)
    ).all()
    return {r.message_id: (int(r.delivered), int(r.read)) for r in rows}


def message_channels(messages, whatsapp: dict) -> list[MessageChannel]:
    """Per message (`messages`: the report's MessageFigures, in order) and channel: its
    deliveries (the report's, from the rollups) split into WhatsApp's (outbox rows) and
    the rest (SMS), with WhatsApp's reads. SMS rows have no reads (no receipts)."""
    result = []
    for m in messages:
        wa_delivered, wa_read = whatsapp.get(m.message_id, (0, 0))
        sms = max(m.delivered - wa_delivered, 0)
        if sms or not wa_delivered:
            result.append(MessageChannel(m.message_id, "sms", sms, None))
        if wa_delivered:
            result.append(MessageChannel(m.message_id, "whatsapp", wa_delivered, wa_read))
    return result


def campaign_spend(org_id: int, campaign_id: int, period: Period) -> tuple[list[Spend], str]:
    """Spend per channel: reported prices where Twilio gave one, else the estimate."""
    prices = price_list(org_id)
    reported = OutboxMessage.price.is_not(None)
    base = (
        *_campaign_rows(org_id, campaign_id),
        OutboxMessage.status.in_(CHARGED),
        *in_period(OutboxMessage.sent_at, period),
    )
    groups = db.session.execute(
        select(
            OutboxMessage.channel,
            Contact.country,
            OutboxMessage.segments,
            reported.label("reported"),
            func.count().label("n"),
            func.sum(OutboxMessage.price).label("price"),
        )
        .join(Contact, Contact.id == OutboxMessage.contact_id)
        .where(*base)
        .group_by(OutboxMessage.channel, Contact.country, OutboxMessage.segments, reported)
    ).all()
    spend = {ch: Spend(ch, 0, Decimal(0), 0, Decimal(0), 0) for ch in CHANNELS}
    unmeasured = []  # SMS rows without a segment count: measured from their text below
    for g in groups:
        s = spend.setdefault(g.channel, Spend(g.channel, 0, Decimal(0), 0, Decimal(0), 0))
        n = int(g.n)
        s.messages += n
        if g.reported:
            s.reported += Decimal(g.price or 0)
            s.reported_messages += n
            continue
        price = prices.price(g.channel, g.country)
        if price is None:
            s.unpriced += n
        elif g.channel == "whatsapp":
            s.estimated += price * n
        elif g.segments:
            s.estimated += price * g.segments * n
        else:
            unmeasured.append(g.country)
    if unmeasured:
        texts = db.session.execute(
            select(Contact.country, OutboxMessage.body, func.count().label("n"))
            .join(Contact, Contact.id == OutboxMessage.contact_id)
            .where(
                *base,
                OutboxMessage.channel == "sms",
                OutboxMessage.segments.is_(None),
                OutboxMessage.price.is_(None),
                *([] if None in unmeasured else [Contact.country.in_(sorted(set(unmeasured)))]),
            )
            .group_by(Contact.country, OutboxMessage.body)
        ).all()
        for country, body, n in texts:
            price = prices.price("sms", country)
            if price is not None:
                spend["sms"].estimated += price * analyze(body or "").segments * int(n)
    return [spend[ch] for ch in spend if spend[ch].messages], prices.currency


def channel_figures(
    org_id: int,
    campaign_id: int,
    period: Period,
    message_ids: list[int | None],
    *,
    workshop_only: int,
) -> ChannelFigures:
    spend, currency = campaign_spend(org_id, campaign_id, period)
    return ChannelFigures(
        reach=reach_by_channel(org_id, campaign_id, period, workshop_only=workshop_only),
        whatsapp=whatsapp_per_message(org_id, campaign_id, period, message_ids),
        spend=spend,
        currency=currency,
    )


def spend_view(figures: ChannelFigures | None, *, exact: bool) -> dict | None:
    """The spend as the page shows it: per channel for viewers of exact counts; the
    total only for evaluators (per channel, a spend divided by a price would tell a
    small number of messages that their tables hide)."""
    if figures is None or not figures.spend:
        return None
    labels = {"sms": _("SMS"), "whatsapp": _("WhatsApp")}
    rows = [
        {
            "label": labels.get(s.channel, s.channel),
            "messages": format_number(s.messages),
            "amount": money(s.total, figures.currency),
        }
        for s in figures.spend
    ]
    return {"rows": rows if exact else [], "total": money(figures.spend_total, figures.currency)}
