"""What one message costs, per organization, channel and recipient country (issue 19).

An organization may set its own prices (the Twilio console or Pricing API shows its
account's prices); a channel and country without a saved price use the defaults below.

Defaults are ESTIMATES, placeholders to be edited, never quotes:
- SMS, per segment: the configuration's SMS_PRICE_PER_SEGMENT (SMS_PRICE_MX, SMS_PRICE_US;
  Twilio's public list prices when they were written: Mexico about US$0.1150, US long code
  US$0.0083 plus carrier fees).
- WhatsApp, per message: WHATSAPP_PRICE_PER_MESSAGE below, overridable by the environment
  (WHATSAPP_PRICE_MX, WHATSAPP_PRICE_US): roughly Meta's marketing-template rate for the
  country plus Twilio's per-message fee (about US$0.005). Utility templates and free-form
  replies inside the 24-hour window cost less (free-form replies: Twilio's fee only), so
  the estimate errs high. Prices that were current in 2026 could not be checked when this
  was written: check them and save the organization's own.
All prices are in one currency, SMS_PRICE_CURRENCY (ISO 4217, default USD).
"""

import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency
from flask import current_app
from flask_babel import get_locale
from sqlalchemy import Numeric, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.organizations.models import COUNTRIES
from app.tenancy import OrgOwned

PRICED_CHANNELS = ("sms", "whatsapp")  # sms: per segment; whatsapp: per message
# Estimates (see the module docstring): Meta's marketing rate + Twilio's fee, in USD.
WHATSAPP_DEFAULTS = {"MX": "0.0355", "US": "0.0300"}
MAX_PRICE = Decimal("100")


class ChannelPrice(OrgOwned, db.Model):
    """An organization's own price of one SMS segment or one WhatsApp message in a country."""

    __tablename__ = "channel_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    country: Mapped[str] = mapped_column(String(2))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 5))

    __table_args__ = (
        db.UniqueConstraint("organization_id", "channel", "country", name="uq_channel_price"),
    )


@dataclass(frozen=True)
class PriceList:
    """Prices by (channel, country), the currency, and which ones are the defaults."""

    prices: dict  # (channel, country) -> Decimal
    currency: str
    defaults: frozenset  # (channel, country) keys still on the default estimate

    def price(self, channel: str, country: str | None) -> Decimal | None:
        return self.prices.get((channel, (country or "").upper()))

    def for_channel(self, channel: str) -> dict[str, Decimal]:
        return {c: p for (ch, c), p in sorted(self.prices.items()) if ch == channel}


def _decimal(value) -> Decimal | None:
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and 0 <= price <= MAX_PRICE else None


def default_prices() -> dict:
    """The configured defaults: SMS per segment, WhatsApp per message, by country."""
    result = {}
    config = current_app.config
    for country, value in (config.get("SMS_PRICE_PER_SEGMENT") or {}).items():
        if (price := _decimal(value)) is not None:
            result[("sms", str(country).upper())] = price
    whatsapp = config.get("WHATSAPP_PRICE_PER_MESSAGE") or {
        country: os.environ.get(f"WHATSAPP_PRICE_{country}") or default
        for country, default in WHATSAPP_DEFAULTS.items()
    }
    for country, value in whatsapp.items():
        if (price := _decimal(value)) is not None:
            result[("whatsapp", str(country).upper())] = price
    return result


def price_list(org_id: int | None) -> PriceList:
    """The organization's prices: its own where saved, the default estimates elsewhere."""
    prices = default_prices()
    defaults = set(prices)
    if org_id is not None:
        for row in db.session.scalars(
            select(ChannelPrice).where(ChannelPrice.organization_id == org_id)
        ):
            prices[(row.channel, row.country)] = Decimal(row.price)
            defaults.discard((row.channel, row.country))
    return PriceList(
        prices=prices,
        currency=current_app.config.get("SMS_PRICE_CURRENCY") or "USD",
        defaults=frozenset(defaults),
    )


def save_prices(org_id: int, values: dict) -> None:
    """Save the organization's prices: {(channel, country): Decimal or None}; None goes
    back to the default estimate. One unit of work (commits)."""
    for (channel, country), value in values.items():
        if channel not in PRICED_CHANNELS or country not in COUNTRIES:
            raise ValueError(f"unknown price {channel}/{country}")
        db.session.execute(
            delete(ChannelPrice).where(
                ChannelPrice.organization_id == org_id,
                ChannelPrice.channel == channel,
                ChannelPrice.country == country,
            )
        )
        if value is not None:
            db.session.add(
                ChannelPrice(organization_id=org_id, channel=channel, country=country, price=value)
            )
    db.session.commit()


def money(amount, currency: str, *, exact: bool = False) -> str:
    """An amount in the UI locale's currency format: "US$0.04" in es_MX, "$0.04" in en_US
    (Babel); `exact` keeps every decimal (a price per message such as 0.0355)."""
    return format_currency(amount, currency, locale=get_locale(), decimal_quantization=not exact)
