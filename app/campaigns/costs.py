"""Estimated cost per channel, as the send confirmation and the message editor show it
(issue 19). The figures come from `estimates.estimate_send` (a send) or `message_cost`
(one message to one recipient); prices from `organizations.prices` (estimates unless the
organization saved its own)."""

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _

from app.organizations.prices import PriceList, money, price_list
from app.outbox.encoding import analyze


@dataclass(frozen=True)
class MessageCost:
    channel: str  # "sms" or "whatsapp"
    country: str
    units: int  # SMS segments, or 1 WhatsApp message
    encoding: str | None  # "GSM-7" / "UCS-2" for SMS
    price: Decimal | None  # per segment / per message; None: no price for the country
    cost: Decimal | None


def message_cost(channel: str, text: str, country: str, prices: PriceList) -> MessageCost:
    """One message to one recipient in `country`: SMS is segments × the price per
    segment (GSM-7 160/153, UCS-2 70/67 characters: outbox.encoding), WhatsApp one
    message × the price per message, whatever its length."""
    price = prices.price(channel, country)
    if channel == "whatsapp":
        units, encoding = 1, None
    else:
        info = analyze(text)
        units, encoding = info.segments, info.encoding
    return MessageCost(
        channel, country, units, encoding, price, None if price is None else price * units
    )


def channel_label(channel: str) -> str:
    return _("WhatsApp") if channel == "whatsapp" else _("SMS")


def _price_text(prices: PriceList, channel: str) -> str:
    return ", ".join(
        f"{country} {money(price, prices.currency, exact=True)}"
        for country, price in prices.for_channel(channel).items()
    )


def send_cost_view(estimate, org_id: int) -> dict:
    """The send confirmation's cost rows, one per channel, in the UI locale's format."""
    prices = price_list(org_id)
    rows = []
    for c in estimate.channels:
        rows.append(
            {
                "channel": c.channel,
                "label": channel_label(c.channel),
                "recipients": c.recipients,
                "messages": c.messages,
                "segments": c.segments if c.channel == "sms" else None,
                "cost": money(c.cost, estimate.currency)
                if c.recipients > c.unpriced or not c.recipients
                else None,
                "unpriced": c.unpriced,
            }
        )
    return {
        "rows": rows,
        "sms_prices": _price_text(prices, "sms"),
        "whatsapp_prices": _price_text(prices, "whatsapp"),
        "defaults": bool(prices.defaults),
    }


def message_cost_view(bodies: dict[str, str], org_id: int, countries=("MX", "US")) -> list[dict]:
    """The message editor's figures: per language version and country, what one message
    costs on SMS (segments, encoding) and on WhatsApp. `bodies`: language -> text."""
    prices = price_list(org_id)
    rows = []
    for language, text in bodies.items():
        if not text:
            continue
        for country in countries:
            sms = message_cost("sms", text, country, prices)
            whatsapp = message_cost("whatsapp", text, country, prices)
            rows.append(
                {
                    "language": language,
                    "country": country,
                    "segments": sms.units,
                    "encoding": sms.encoding,
                    "sms": None if sms.cost is None else money(sms.cost, prices.currency),
                    "whatsapp": None
                    if whatsapp.cost is None
                    else money(whatsapp.cost, prices.currency, exact=True),
                }
            )
    return rows
