"""The organization's prices per channel and country (issue 19): one field each, blank
for the default estimate."""

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, SubmitField
from wtforms.validators import NumberRange, Optional

from app.forms import BaseForm
from app.organizations.prices import MAX_PRICE, PRICED_CHANNELS

COUNTRIES_PRICED = ("MX", "US")
FIELD_LABELS = {
    ("sms", "MX"): _l("SMS to Mexico, per segment"),
    ("sms", "US"): _l("SMS to the United States, per segment"),
    ("whatsapp", "MX"): _l("WhatsApp to Mexico, per message"),
    ("whatsapp", "US"): _l("WhatsApp to the United States, per message"),
}


def field_name(channel: str, country: str) -> str:
    return f"{channel}_{country.lower()}"


class PricesForm(BaseForm):
    submit = SubmitField(_l("Save prices"))

    def values(self) -> dict:
        """{(channel, country): Decimal or None (blank: the default estimate)}."""
        return {
            (channel, country): getattr(self, field_name(channel, country)).data
            for channel in PRICED_CHANNELS
            for country in COUNTRIES_PRICED
        }


for _channel in PRICED_CHANNELS:
    for _country in COUNTRIES_PRICED:
        setattr(
            PricesForm,
            field_name(_channel, _country),
            DecimalField(
                FIELD_LABELS[(_channel, _country)],
                places=5,
                validators=[Optional(), NumberRange(min=0, max=MAX_PRICE)],
            ),
        )
