"""Campaign and message forms. They parse input; `services` decides what is valid."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.campaigns.services import (
    AGE_MAX,
    AGE_MIN,
    LANGUAGE_LABELS,
    LEVEL_LABELS,
    MAX_PLACES,
    MAX_TEXT,
    STRATEGY_LABELS,
    TOPIC_LABELS,
    PlaceSpec,
    body_problem,
)
from app.contacts.geography import STATE_CHOICES
from app.forms import BaseForm, choices
from app.organizations.countries import COUNTRY_LABELS

EXTRA_PLACE_ROWS = 3  # blank rows offered after the campaign's places


def _blank(label):
    return [("", label)]


def _state_choices(form, field) -> list[SelectChoice]:
    """Both countries' states in optgroups (the organization's country first). A value is
    "MX:14" or "US:TX", so one list serves both countries."""
    first = getattr(current_user, "organization", None)
    order = ("US", "MX") if first is not None and first.country == "US" else ("MX", "US")
    result = [SelectChoice("", _("No place (leave the row empty)"))]
    for country in order:
        group = str(COUNTRY_LABELS[country])
        result.extend(
            SelectChoice(f"{country}:{code}", name, optgroup=group)
            for code, name in STATE_CHOICES(country)
        )
    return result


class PlaceRowForm(BaseForm):
    """One target place: a state, optionally a municipality and its target population."""

    class Meta:
        csrf = False  # part of CampaignForm, which carries the token

    state = SelectField(_l("State"), choices=_state_choices)
    municipality = StringField(
        _l("Municipality (optional)"),
        validators=[Length(max=80)],
        render_kw={"maxlength": 80, "autocomplete": "off"},
    )
    target_population = IntegerField(
        _l("Target population (optional)"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "min": 0},
    )

    def is_empty(self) -> bool:
        return not (
            self.state.data
            or (self.municipality.data or "").strip()
            or self.target_population.data is not None
        )


class CampaignForm(BaseForm):
    """Field names are `services.create_campaign`'s keywords, so errors map back to fields."""

    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=120)], render_kw={"maxlength": 120}
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=MAX_TEXT)])
    objectives = TextAreaField(_l("Objectives"), validators=[Length(max=MAX_TEXT)])
    topic = SelectField(
        _l("Topic"),
        validators=[DataRequired()],
        choices=choices(_blank(_l("Choose a topic")) + list(TOPIC_LABELS.items())),
    )
    strategy = SelectField(
        _l("Prevention strategy (CSAP)"),
        validators=[DataRequired()],
        choices=choices(_blank(_l("Choose a strategy")) + list(STRATEGY_LABELS.items())),
    )
    level = SelectField(
        _l("Prevention level"),
        validators=[DataRequired()],
        choices=choices(_blank(_l("Choose a level")) + list(LEVEL_LABELS.items())),
    )
    target_age_min = IntegerField(
        _l("Youngest age"),
        default=12,
        validators=[InputRequired()],
        render_kw={"inputmode": "numeric", "min": AGE_MIN, "max": AGE_MAX},
    )
    target_age_max = IntegerField(
        _l("Oldest age"),
        default=29,
        validators=[InputRequired()],
        render_kw={"inputmode": "numeric", "min": AGE_MIN, "max": AGE_MAX},
    )
    target_population = IntegerField(
        _l("Target population (optional)"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "min": 0},
    )
    start_date = DateField(_l("Start date"), validators=[Optional()])
    end_date = DateField(_l("End date"), validators=[Optional()])
    default_language = SelectField(
        _l("Default language of the messages"), choices=choices(LANGUAGE_LABELS.items())
    )
    places = FieldList(FormField(PlaceRowForm), max_entries=MAX_PLACES)
    more_places = SubmitField(_l("Add more place rows"))
    submit = SubmitField(_l("Save campaign"))

    FIELDS = (
        "name",
        "description",
        "objectives",
        "topic",
        "strategy",
        "level",
        "target_age_min",
        "target_age_max",
        "target_population",
        "start_date",
        "end_date",
        "default_language",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_submitted():
            self.add_place_rows(EXTRA_PLACE_ROWS)

    def add_place_rows(self, n: int) -> None:
        for _i in range(n):
            if len(self.places.entries) >= MAX_PLACES:
                break
            self.places.append_entry()

    def place_specs(self) -> list[PlaceSpec] | None:
        """The filled-in place rows, or None after marking half-filled rows as errors."""
        specs, ok = [], True
        for entry in self.places.entries:
            row = entry.form
            if row.is_empty():
                continue
            country, _sep, code = (row.state.data or "").partition(":")
            if not code:
                row.state.errors = [*row.state.errors, _("Choose a state, or clear the row.")]
                ok = False
                continue
            specs.append(
                PlaceSpec(
                    country=country,
                    state=code,
                    municipality=row.municipality.data,
                    target_population=row.target_population.data,
                )
            )
        if not ok:
            self.places.errors = [*self.places.errors, _("Check the highlighted place rows.")]
            return None
        return specs

    def service_kwargs(self, places: list[PlaceSpec]) -> dict:
        return {name: self._fields[name].data for name in self.FIELDS} | {"places": places}

    @classmethod
    def data_from(cls, campaign) -> dict:
        """Initial data for editing `campaign` (its places as row values)."""
        data = {name: getattr(campaign, name) for name in cls.FIELDS}
        data["places"] = [
            {
                "state": f"{p.country}:{p.state_code}",
                "municipality": p.municipality,
                "target_population": p.target_population,
            }
            for p in campaign.places
        ]
        return data


def _body_validator(language: str):
    def validate(form, field):
        problem = body_problem(
            (field.data or "").replace("\r\n", "\n").replace("\r", "\n").strip(),
            language,
            organization_id=getattr(current_user, "organization_id", None),
            track_links=bool(form.track_links.data),
        )
        if problem:
            raise ValidationError(str(problem))

    return validate


class MessageForm(BaseForm):
    label = StringField(
        _l("Label (only you see it)"),
        validators=[DataRequired(), Length(max=120)],
        render_kw={"maxlength": 120},
    )
    body_es = TextAreaField(
        _l("Spanish text"),
        validators=[_body_validator("es")],
        render_kw={"rows": 6, "lang": "es", "spellcheck": "true"},
    )
    body_en = TextAreaField(
        _l("English text"),
        validators=[_body_validator("en")],
        render_kw={"rows": 6, "lang": "en", "spellcheck": "true"},
    )
    track_links = BooleanField(
        _l("Track the web addresses written in the text as well"),
        render_kw={"data-sms-track-links": "1"},
    )
    # Choices: "" (none) and the organization's approved templates, set by the page.
    whatsapp_template = SelectField(
        _l("WhatsApp template (outside the 24-hour window)"), choices=[], validate_choice=False
    )
    preview = SubmitField(_l("Preview"))
    submit = SubmitField(_l("Save message"))
