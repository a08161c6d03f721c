"""Forms of the conversation settings: saved replies, on-call shifts, local services and a
staff member's own phone for urgent-case alerts."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.contacts.forms import state_select_choices
from app.contacts.phones import InvalidPhone, normalize_phone
from app.conversations.replies import MAX_LENGTH
from app.forms import BaseForm, choices

MAX_AGE = 99
LANGUAGE_CHOICES = [
    ("es", _l("Spanish")),
    ("en", _l("English")),
    ("es,en", _l("Spanish and English")),
]


class SavedReplyForm(BaseForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(max=80)],
        render_kw={"maxlength": 80, "autocomplete": "off"},
    )
    body_es = TextAreaField(
        _l("Text in Spanish"),
        validators=[DataRequired(), Length(max=MAX_LENGTH)],
        render_kw={"rows": 5, "maxlength": MAX_LENGTH, "lang": "es"},
    )
    body_en = TextAreaField(
        _l("Text in English"),
        validators=[DataRequired(), Length(max=MAX_LENGTH)],
        render_kw={"rows": 5, "maxlength": MAX_LENGTH, "lang": "en"},
    )
    submit = SubmitField(_l("Save reply"))

    def clean(self) -> dict:
        return {
            "title": self.title.data.strip(),
            "body_es": self.body_es.data.strip(),
            "body_en": self.body_en.data.strip(),
        }


class ShiftForm(BaseForm):
    """From/to on the organization's local calendar; the view converts them to UTC."""

    user_id = SelectField(_l("Who is on call"), coerce=int, choices=[], validate_choice=True)
    start_date = DateField(_l("From (date)"), validators=[InputRequired()])
    start_time = TimeField(_l("From (time)"), validators=[InputRequired()])
    end_date = DateField(_l("To (date)"), validators=[InputRequired()])
    end_time = TimeField(_l("To (time)"), validators=[InputRequired()])
    submit = SubmitField(_l("Add shift"))

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.user_id.choices = [(user.id, user.email) for user in people]


class LocalServiceForm(BaseForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=120)], render_kw={"maxlength": 120}
    )
    phone = StringField(
        _l("Phone"), validators=[Optional(), Length(max=40)], render_kw={"maxlength": 40}
    )
    address = StringField(
        _l("Address"), validators=[Optional(), Length(max=200)], render_kw={"maxlength": 200}
    )
    hours = StringField(
        _l("Opening hours"), validators=[Optional(), Length(max=120)], render_kw={"maxlength": 120}
    )
    languages = SelectField(_l("Languages spoken"), choices=choices(LANGUAGE_CHOICES))
    min_age = IntegerField(
        _l("Youngest age served"),
        validators=[Optional(), NumberRange(0, MAX_AGE)],
        render_kw={"inputmode": "numeric", "min": 0, "max": MAX_AGE},
    )
    max_age = IntegerField(
        _l("Oldest age served"),
        validators=[Optional(), NumberRange(0, MAX_AGE)],
        render_kw={"inputmode": "numeric", "min": 0, "max": MAX_AGE},
    )
    state_code = SelectField(_l("State"), choices=[])
    municipality = StringField(
        _l("Municipality"), validators=[Optional(), Length(max=80)], render_kw={"maxlength": 80}
    )
    submit = SubmitField(_l("Save service"))

    def __init__(self, *args, org_country="MX", **kwargs):
        super().__init__(*args, **kwargs)
        self.state_code.choices = state_select_choices(org_country, _l("Not recorded"))

    def validate_max_age(self, field):
        low, high = self.min_age.data, field.data
        if low is not None and high is not None and low > high:
            raise ValidationError(_l("The oldest age cannot be below the youngest."))

    def clean(self) -> dict:
        def text(field):
            return (field.data or "").strip() or None

        return {
            "name": self.name.data.strip(),
            "phone": text(self.phone),
            "address": text(self.address),
            "hours": text(self.hours),
            "languages": self.languages.data,
            "min_age": self.min_age.data,
            "max_age": self.max_age.data,
            "state_code": self.state_code.data or None,
            "municipality": text(self.municipality),
        }


class StaffPhoneForm(BaseForm):
    staff_phone = TelField(
        _l("Phone for urgent-case alerts"),
        validators=[Length(max=40)],
        render_kw={"maxlength": 40, "autocomplete": "tel"},
    )
    submit = SubmitField(_l("Save phone"))

    def __init__(self, *args, default_region="MX", **kwargs):
        super().__init__(*args, **kwargs)
        self.default_region = default_region

    def validate_staff_phone(self, field):
        """Blank: no alerts by SMS. Else stored as E.164."""
        raw = (field.data or "").strip()
        if not raw:
            field.data = None
            return
        try:
            field.data = normalize_phone(raw, default_region=self.default_region)
        except InvalidPhone:
            raise ValidationError(
                _l("Write a Mexican or US mobile number, for example 664 123 4567.")
            ) from None
