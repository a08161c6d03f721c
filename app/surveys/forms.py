"""Forms of the survey builder: a survey's texts, questions from the bank, a question
written by hand, its branches, and a run's schedule. The rules live in app.surveys.builder
and app.surveys.services; the forms only read and shape the input."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import BaseForm, choices
from app.surveys import bank
from app.surveys.builder import (
    LABEL_MAX,
    MESSAGE_MAX,
    NUMBER_LIMIT,
    QUESTION_MAX,
    TITLE_MAX,
    QuestionSpec,
)
from app.surveys.labels import QTYPE_LABELS, RUN_KIND_LABELS, SCALE_LABELS

# Lengths are checked again by the builder (with its own messages); these stop huge posts.
_TEXT = Length(max=2000, message=_l("Use at most %(max)d characters.", max=2000))


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("Use at most %(max)d characters.", max=maximum))


def bank_choices() -> list:
    """Every bank question as a checkbox choice (value: its code)."""
    return [(question.code, question.text) for question in bank.BANK]


def _bank_field():
    return SelectMultipleField(
        _l("Questions from the bank"),
        choices=bank_choices,
        validators=[Optional()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class SurveyTextsForm(BaseForm):
    title_es = StringField(_l("Title in Spanish"), validators=[_length(TITLE_MAX)])
    title_en = StringField(_l("Title in English"), validators=[_length(TITLE_MAX)])
    intro_es = TextAreaField(_l("First message in Spanish"), validators=[_length(MESSAGE_MAX)])
    intro_en = TextAreaField(_l("First message in English"), validators=[_length(MESSAGE_MAX)])
    thanks_es = TextAreaField(_l("Thank-you message in Spanish"), validators=[_length(MESSAGE_MAX)])
    thanks_en = TextAreaField(_l("Thank-you message in English"), validators=[_length(MESSAGE_MAX)])
    submit = SubmitField(_l("Save"))

    TEXT_FIELDS = ("title_es", "title_en", "intro_es", "intro_en", "thanks_es", "thanks_en")

    def texts(self) -> dict[str, str]:
        return {name: self[name].data or "" for name in self.TEXT_FIELDS}


class NewSurveyForm(SurveyTextsForm):
    bank_codes = _bank_field()
    submit = SubmitField(_l("Create the survey"))


class BankForm(BaseForm):
    bank_codes = _bank_field()
    submit = SubmitField(_l("Add the chosen questions"))


def _number(label):
    return IntegerField(
        label,
        validators=[
            Optional(),
            NumberRange(
                -NUMBER_LIMIT,
                NUMBER_LIMIT,
                message=_l("Use a number from -%(max)d to %(max)d.", max=NUMBER_LIMIT),
            ),
        ],
    )


class QuestionForm(BaseForm):
    qtype = SelectField(
        _l("Type of question"),
        choices=choices(QTYPE_LABELS.items()),
        validators=[InputRequired(message=_l("Choose the type of question."))],
    )
    text_es = TextAreaField(_l("Question in Spanish"), validators=[_length(QUESTION_MAX)])
    text_en = TextAreaField(_l("Question in English"), validators=[_length(QUESTION_MAX)])
    options_es = TextAreaField(_l("Options in Spanish, one per line"), validators=[_TEXT])
    options_en = TextAreaField(_l("Options in English, one per line"), validators=[_TEXT])
    scale = SelectField(
        _l("Scale"), choices=choices(SCALE_LABELS.items()), default="1-5", validators=[Optional()]
    )
    low_es = StringField(_l("Lowest point, in Spanish"), validators=[_length(LABEL_MAX)])
    low_en = StringField(_l("Lowest point, in English"), validators=[_length(LABEL_MAX)])
    high_es = StringField(_l("Highest point, in Spanish"), validators=[_length(LABEL_MAX)])
    high_en = StringField(_l("Highest point, in English"), validators=[_length(LABEL_MAX)])
    number_min = _number(_l("Lowest number accepted (optional)"))
    number_max = _number(_l("Highest number accepted (optional)"))
    submit = SubmitField(_l("Save the question"))

    @classmethod
    def from_question(cls, question):
        options = question.options or []
        scale = (
            f"{question.scale_min}-{question.scale_max}" if question.scale_min is not None else None
        )
        return cls(
            data={
                "qtype": question.qtype,
                "text_es": question.text_es,
                "text_en": question.text_en,
                "options_es": "\n".join(o["es"] for o in options),
                "options_en": "\n".join(o["en"] for o in options),
                "scale": scale or "1-5",
                "low_es": question.low_es or "",
                "low_en": question.low_en or "",
                "high_es": question.high_es or "",
                "high_en": question.high_en or "",
                "number_min": question.number_min,
                "number_max": question.number_max,
            }
        )

    def spec(self) -> QuestionSpec:
        scale = None
        if self.scale.data in SCALE_LABELS:
            low, _sep, high = self.scale.data.partition("-")
            scale = (int(low), int(high))
        return QuestionSpec(
            qtype=self.qtype.data,
            text_es=self.text_es.data or "",
            text_en=self.text_en.data or "",
            options_es=(self.options_es.data or "").splitlines(),
            options_en=(self.options_en.data or "").splitlines(),
            scale=scale,
            low_es=self.low_es.data or "",
            low_en=self.low_en.data or "",
            high_es=self.high_es.data or "",
            high_en=self.high_en.data or "",
            number_min=self.number_min.data,
            number_max=self.number_max.data,
        )


class BranchesForm(BaseForm):
    """One select per answer value (fields `branch_<value>`), added by `branches_form`."""

    submit = SubmitField(_l("Save the branches"))


def branches_form(values: list[str], targets: list[tuple[str, str]], current: dict, **kwargs):
    """A BranchesForm with a select for each answer value: "" (the next question), a later
    position, or "0" (end the survey)."""

    class Form(BranchesForm):
        pass

    for value in values:
        setattr(
            Form,
            f"branch_{value}",
            SelectField(choices=choices(targets), default="", validators=[Optional()]),
        )
    data = {f"branch_{value}": str(current.get(value, "")) for value in values}
    return Form(data=data, **kwargs)


class MoveForm(BaseForm):
    direction = StringField(validators=[AnyOf(("up", "down"))])


class ActionForm(BaseForm):
    """A button that only needs the CSRF token (archive, restore, duplicate, delete)."""


class RunForm(BaseForm):
    kind = RadioField(
        _l("Who is asked"),
        choices=choices(RUN_KIND_LABELS.items()),
        default="audience",
        validators=[InputRequired(message=_l("Choose who is asked."))],
    )
    audience = SelectField(_l("Audience"), validators=[Optional()])
    campaign = SelectField(_l("Campaign"), validators=[Optional()])
    workshop = SelectField(_l("Workshop"), validators=[Optional()])
    follow_up_days = IntegerField(
        _l("Days after each contact's last campaign message"),
        validators=[Optional(), NumberRange(1, 365)],
    )
    local_date = DateField(_l("Date"), validators=[Optional()])
    local_time = TimeField(_l("Time (each contact's local time)"), validators=[Optional()])
    window_hours = IntegerField(
        _l("Hours to answer each question"),
        default=24,
        validators=[InputRequired(), NumberRange(1, 168)],
    )
    submit = SubmitField(_l("Schedule"))

    def picked(self, name: str) -> int | None:
        value = self[name].data
        return int(value) if value and value.isdigit() else None
