from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import BaseForm, choices

KIND_CHOICES = [
    ("once", _l("Once, at a date and time")),
    ("recurring", _l("Recurring, on weekdays for some weeks")),
    ("sequence", _l("Sequence: a number of days after each contact joins")),
]
TIMING_CHOICES = [
    ("local", _l("At the recipient's local time")),
    ("fixed", _l("At one fixed moment (organization's time zone)")),
]
WEEKDAY_CHOICES = [
    ("0", _l("Monday")),
    ("1", _l("Tuesday")),
    ("2", _l("Wednesday")),
    ("3", _l("Thursday")),
    ("4", _l("Friday")),
    ("5", _l("Saturday")),
    ("6", _l("Sunday")),
]


class ScheduleForm(BaseForm):
    message = SelectField(_l("Message"), coerce=int, validators=[InputRequired()])
    audience = SelectField(_l("Audience"), coerce=int, validators=[InputRequired()])
    kind = RadioField(
        _l("When"), choices=choices(KIND_CHOICES), default="once", validators=[InputRequired()]
    )
    timing = RadioField(_l("Time meaning"), choices=choices(TIMING_CHOICES), default="local")
    local_date = DateField(_l("Date (first date for recurring sends)"), validators=[Optional()])
    local_time = TimeField(_l("Time"), validators=[Optional()])
    weekdays = SelectMultipleField(
        _l("Weekdays"),
        choices=choices(WEEKDAY_CHOICES),
        validators=[Optional()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    weeks = IntegerField(_l("Number of weeks"), validators=[Optional(), NumberRange(1, 52)])
    day_offset = IntegerField(
        _l("Days after joining (0 = the day they join)"),
        validators=[Optional(), NumberRange(0, 365)],
    )
    send_now = HiddenField()  # "1": the coordinator chose "Send now" (kept through review)
    submit = SubmitField(_l("Review before scheduling"))
    now = SubmitField(_l("Send now…"))
    confirm = SubmitField(_l("Confirm and schedule"))
    change = SubmitField(_l("Change"))


class EditSendForm(BaseForm):
    """Change a send's message and time (until its first message goes out)."""

    message = SelectField(_l("Message"), coerce=int, validators=[InputRequired()])
    timing = RadioField(_l("Time meaning"), choices=choices(TIMING_CHOICES), default="local")
    local_date = DateField(_l("Date (first date for recurring sends)"), validators=[Optional()])
    local_time = TimeField(_l("Time"), validators=[Optional()])
    submit = SubmitField(_l("Save changes"))
    now = SubmitField(_l("Send now"))


class ActionForm(BaseForm):
    """A bare CSRF-protected POST (cancel, mark reviewed)."""

    submit = SubmitField(_l("Confirm"))


class SimulatorReplyForm(BaseForm):
    body = TextAreaField(
        _l("Reply as this young person"), validators=[DataRequired(), Length(max=1600)]
    )
    submit = SubmitField(_l("Send reply"))


class SimulatorPickForm(BaseForm):
    phone = StringField(_l("Phone number"), validators=[DataRequired(), Length(max=32)])
