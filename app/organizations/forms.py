from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from ..forms import BaseForm, choices
from .models import COUNTRIES

COUNTRY_CHOICES = [("MX", _l("Mexico")), ("US", _l("United States"))]
LANGUAGE_CHOICES = [("es", _l("Spanish")), ("en", _l("English"))]


def validate_timezone(form, field):
    if field.data not in available_timezones():
        raise ValidationError(_l("Unknown time zone. Use an IANA name such as America/Tijuana."))


class OrganizationForm(BaseForm):
    """Used by the CLI to create organizations."""

    slug = StringField(
        _l("Short name (slug)"),
        validators=[
            DataRequired(),
            Length(min=2, max=40),
            Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", message=_l("Use lowercase letters, digits and hyphens.")),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    country = SelectField(_l("Country"), choices=choices(COUNTRY_CHOICES))
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), validate_timezone])
    default_language = SelectField(_l("Default language"), choices=choices(LANGUAGE_CHOICES))


class SettingsForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), validate_timezone])
    default_language = SelectField(_l("Default language"), choices=choices(LANGUAGE_CHOICES))
    submit = SubmitField(_l("Save settings"))


assert {c for c, _ in COUNTRY_CHOICES} == set(COUNTRIES)
