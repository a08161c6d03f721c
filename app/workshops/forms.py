"""Workshop forms. They parse input; `services` decides what is valid."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.contacts.geography import MX_STATES, STATE_CHOICES, US_STATES, derive_timezone
from app.forms import BaseForm, choices
from app.organizations.countries import COUNTRY_LABELS
from app.workshops.labels import DELIVERY_LANGUAGE_LABELS, KIND_LABELS
from app.workshops.services import MAX_ADDRESS, MAX_CAPACITY, local_parts

# Zones of split states' border municipalities (US daylight saving rules), besides each
# state's own zone.
BORDER_ZONES = (
    "America/Ciudad_Juarez",
    "America/Ojinaga",
    "America/Matamoros",
    "America/Bahia_Banderas",
)
ZONES = sorted({s.timezone for s in (*MX_STATES.values(), *US_STATES.values())} | set(BORDER_ZONES))


def _state_choices(form, field) -> list[SelectChoice]:
    """Both countries' states in optgroups (the organization's country first); a value is
    "MX:14" or "US:TX"."""
    org = getattr(current_user, "organization", None)
    order = ("US", "MX") if org is not None and org.country == "US" else ("MX", "US")
    result = [SelectChoice("", _("Choose a state"))]
    for country in order:
        group = str(COUNTRY_LABELS[country])
        result.extend(
            SelectChoice(f"{country}:{code}", name, optgroup=group)
            for code, name in STATE_CHOICES(country)
        )
    return result


def _zone_choices(form, field) -> list[SelectChoice]:
    result = [SelectChoice("", _("Automatic, from the state and municipality"))]
    result.extend(SelectChoice(zone, zone.replace("_", " ")) for zone in ZONES)
    return result


class WorkshopForm(BaseForm):
    """The workshop's details. Field names match the service's keywords (errors map back)."""

    title_es = StringField(
        _l("Title in Spanish"),
        validators=[Length(max=160)],
        render_kw={"maxlength": 160, "lang": "es", "autocomplete": "off"},
    )
    title_en = StringField(
        _l("Title in English"),
        validators=[Length(max=160)],
        render_kw={"maxlength": 160, "lang": "en", "autocomplete": "off"},
    )
    kind = SelectField(
        _l("Kind of workshop"), choices=choices([("", _l("Choose a kind")), *KIND_LABELS.items()])
    )
    venue_name = StringField(
        _l("Venue"), validators=[Length(max=160)], render_kw={"maxlength": 160}
    )
    venue_address = TextAreaField(
        _l("Address (optional)"),
        validators=[Optional(), Length(max=MAX_ADDRESS)],
        render_kw={"rows": 2, "maxlength": MAX_ADDRESS},
    )
    state = SelectField(_l("State"), choices=_state_choices)
    municipality = StringField(
        _l("Municipality"),
        validators=[Length(max=80)],
        render_kw={"maxlength": 80, "autocomplete": "off"},
    )
    timezone = SelectField(_l("Time zone of the venue"), choices=_zone_choices)
    capacity = IntegerField(
        _l("Capacity (people)"),
        validators=[InputRequired(), NumberRange(1, MAX_CAPACITY)],
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_CAPACITY},
    )
    facilitator = StringField(
        _l("Facilitator (optional)"),
        validators=[Optional(), Length(max=120)],
        render_kw={"maxlength": 120},
    )
    language = SelectField(
        _l("Language of the workshop"), choices=choices(DELIVERY_LANGUAGE_LABELS.items())
    )
    submit = SubmitField(_l("Save workshop"))

    DETAILS = (
        "title_es",
        "title_en",
        "kind",
        "venue_name",
        "venue_address",
        "municipality",
        "timezone",
        "capacity",
        "facilitator",
        "language",
    )

    def service_kwargs(self) -> dict:
        country, _sep, code = (self.state.data or "").partition(":")
        return {name: self._fields[name].data for name in self.DETAILS} | {
            "country": country,
            "state_code": code,
        }

    @classmethod
    def data_from(cls, workshop) -> dict:
        data = {name: getattr(workshop, name) for name in cls.DETAILS}
        if workshop.timezone == derive_timezone(
            workshop.country, workshop.state_code, workshop.municipality
        ):
            data["timezone"] = ""  # automatic: follows the place when it is edited
        data["state"] = f"{workshop.country}:{workshop.state_code}" if workshop.state_code else ""
        return data


class NewWorkshopForm(WorkshopForm):
    campaign_id = SelectField(_l("Campaign"), coerce=int, validators=[InputRequired()])
    local_date = DateField(_l("Date"), validators=[Optional()])
    start_time = TimeField(_l("Starts at"), validators=[Optional()])
    end_time = TimeField(_l("Ends at"), validators=[Optional()])

    def time_kwargs(self) -> dict:
        return {
            "local_date": self.local_date.data,
            "start_time": self.start_time.data,
            "end_time": self.end_time.data,
        }


class RescheduleForm(BaseForm):
    local_date = DateField(_l("New date"), validators=[Optional()])
    start_time = TimeField(_l("Starts at"), validators=[Optional()])
    end_time = TimeField(_l("Ends at"), validators=[Optional()])
    submit = SubmitField(_l("Reschedule and notify"))

    @classmethod
    def data_from(cls, workshop) -> dict:
        local_date, start, end = local_parts(workshop)
        return {"local_date": local_date, "start_time": start, "end_time": end}


class InviteForm(BaseForm):
    message = SelectField(_l("Message"), coerce=int, validators=[InputRequired()])
    audience = SelectField(_l("Audience"), coerce=int, validators=[InputRequired()])
    local_date = DateField(_l("Date of the invitation"), validators=[Optional()])
    local_time = TimeField(_l("Time (each recipient's local time)"), validators=[Optional()])
    submit = SubmitField(_l("Schedule invitations"))


class ActionForm(BaseForm):
    """A bare CSRF-protected POST (cancel, regenerate the calendar link)."""

    submit = SubmitField(_l("Confirm"))


class InvitationMessageForm(BaseForm):
    """The invitation message written from the invite page (campaigns.services rules)."""

    label = StringField(
        _l("Label (only you see it)"),
        validators=[InputRequired(), Length(max=120)],
        render_kw={"maxlength": 120},
    )
    body_es = TextAreaField(
        _l("Spanish text"), render_kw={"rows": 5, "lang": "es", "spellcheck": "true"}
    )
    body_en = TextAreaField(
        _l("English text"), render_kw={"rows": 5, "lang": "en", "spellcheck": "true"}
    )
    submit = SubmitField(_l("Save the invitation message"))
