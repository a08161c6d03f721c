"""Forms of the experiment pages: the design (arms, ratios, holdout, stratification,
audience), an arm's variant of a message, the pre-registered outcomes and the sample-size
helper. They read and shape the input; the rules live in app.experiments.services."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from app.experiments.labels import OUTCOME_KIND_LABELS
from app.experiments.models import (
    ARM_KEYS,
    MAX_LABEL,
    MAX_SECONDARY_OUTCOMES,
    MAX_WEIGHT,
    MAX_WINDOW_DAYS,
    OUTCOME_KINDS,
)
from app.experiments.outcomes import item_value
from app.experiments.services import ArmSpec, OutcomeSpec
from app.forms import BaseForm

_WEIGHT = NumberRange(
    min=1, max=MAX_WEIGHT, message=_l("Each ratio must be a whole number from 1 to %(max)d.")
)
_WHOLE = _l("Enter a whole number.")
OUTCOME_ROWS = 1 + MAX_SECONDARY_OUTCOMES


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("Use at most %(max)d characters.", max=maximum))


class DesignForm(BaseForm):
    """Up to four arms (a row without a ratio is not an arm), the holdout, strata and the
    audience randomized at the start."""

    holdout = BooleanField(_l("Keep a holdout group (it receives none of the campaign)"))
    holdout_weight = IntegerField(
        _l("Holdout ratio"), validators=[Optional(), _WEIGHT], render_kw={"min": 1}
    )
    stratify = BooleanField(_l("Balance the arms within each state and age band"))
    audience = SelectField(
        _l("Audience to randomize"), coerce=str, default="", validate_choice=True
    )
    submit = SubmitField(_l("Save the design"))

    def set_audiences(self, audiences) -> None:
        self.audience.choices = [("", _l("Choose an audience"))] + [
            (str(a.id), a.name) for a in audiences
        ]

    def arm_specs(self) -> list[ArmSpec]:
        return [
            ArmSpec(
                label=self[f"label_{k.lower()}"].data or "", weight=self[f"weight_{k.lower()}"].data
            )
            for k in ARM_KEYS
            if self[f"weight_{k.lower()}"].data is not None
        ]

    def holdout_ratio(self) -> int | None:
        return self.holdout_weight.data if self.holdout.data else None

    def audience_id(self) -> int | None:
        return int(self.audience.data) if self.audience.data else None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Here, not as validate_holdout_weight: Optional() ends an empty field's checks.
        if (
            self.holdout.data
            and self.holdout_weight.data is None
            and not self.holdout_weight.errors
        ):
            self.holdout_weight.errors = [str(_l("Give the holdout a ratio."))]
            valid = False
        return valid

    @classmethod
    def data_from(cls, experiment) -> dict:
        data = {
            "stratify": experiment.stratify,
            "audience": str(experiment.audience_id or ""),
            "holdout": experiment.holdout is not None,
            "holdout_weight": experiment.holdout.weight if experiment.holdout else None,
        }
        for arm in experiment.arms:
            if not arm.is_holdout:
                data[f"label_{arm.key.lower()}"] = arm.label
                data[f"weight_{arm.key.lower()}"] = arm.weight
        return data


for _key in ARM_KEYS:
    setattr(
        DesignForm,
        f"label_{_key.lower()}",
        StringField(_l("Label (only staff see it)"), validators=[_length(MAX_LABEL)]),
    )
    setattr(
        DesignForm,
        f"weight_{_key.lower()}",
        IntegerField(_l("Ratio"), validators=[Optional(), _WEIGHT], render_kw={"min": 1}),
    )


class VariantForm(BaseForm):
    body_es = TextAreaField(
        _l("Spanish text"), validators=[_length(2000)], render_kw={"rows": 6, "lang": "es"}
    )
    body_en = TextAreaField(
        _l("English text"), validators=[_length(2000)], render_kw={"rows": 6, "lang": "en"}
    )
    submit = SubmitField(_l("Save the variant"))

    def validate_body_en(self, field):
        if bool((self.body_es.data or "").strip()) != bool((field.data or "").strip()):
            raise ValidationError(
                _l("Write both texts, or leave both empty to send the message's own text.")
            )


def _kind_choices():
    return [("", lazy_pgettext("outcome", "None"))] + [
        (kind, OUTCOME_KIND_LABELS[kind]) for kind in OUTCOME_KINDS
    ]


class OutcomesForm(BaseForm):
    """Row 0 is the primary outcome, rows 1-5 the secondary ones (a row without a kind is
    left out). After the start, `after_start` and `reason` make the change explicit."""

    after_start = BooleanField(_l("I am changing the pre-registration after the start"))
    reason = TextAreaField(_l("Why it changes"), validators=[_length(1000)])
    submit = SubmitField(_l("Save the outcomes"))

    def set_items(self, items) -> None:
        choices = [("", _l("Choose a survey question"))] + [(i.value, i.label) for i in items]
        for row in range(OUTCOME_ROWS):
            self[f"item_{row}"].choices = choices

    def rows(self) -> list[tuple]:
        return [
            (self[f"kind_{r}"], self[f"window_{r}"], self[f"item_{r}"], self[f"top_box_{r}"])
            for r in range(OUTCOME_ROWS)
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.kind_0.data:
            self.kind_0.errors = [*self.kind_0.errors, str(_l("Choose the primary outcome."))]
            valid = False
        for kind, window, item, _top in self.rows():
            if kind.data and window.data is None and not window.errors:
                window.errors = [*window.errors, str(_l("Give the window in days."))]
                valid = False
            if kind.data == "survey_item" and not item.data:
                item.errors = [*item.errors, str(_l("Choose a survey question."))]
                valid = False
        return valid

    def specs(self) -> list[OutcomeSpec]:
        specs = []
        for row, (kind, window, item, top) in enumerate(self.rows()):
            if not kind.data:
                continue
            specs.append(
                OutcomeSpec(
                    kind=kind.data,
                    window_days=window.data,
                    primary=row == 0,
                    survey_item=(item.data or None) if kind.data == "survey_item" else None,
                    top_box=parse_values(top.data) if kind.data == "survey_item" else (),
                )
            )
        return specs

    @classmethod
    def data_from(cls, experiment) -> dict:
        data = {}
        primary = [o for o in experiment.outcomes if o.is_primary]
        others = [o for o in experiment.outcomes if not o.is_primary]
        for row, outcome in enumerate(primary + others):
            data[f"kind_{row}"] = outcome.kind
            data[f"window_{row}"] = outcome.window_days
            data[f"item_{row}"] = item_value(outcome.survey_bank_code, outcome.survey_question_id)
            data[f"top_box_{row}"] = ", ".join(f"{v:g}" for v in outcome.top_box or ())
        return data


def parse_values(text: str | None) -> tuple[float, ...]:
    """Answer values from text: "3, 4" -> (3.0, 4.0); ValueError on anything else."""
    parts = [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]
    return tuple(float(p) for p in parts)


def _check_values(form, field):
    try:
        parse_values(field.data)
    except ValueError:
        raise ValidationError(
            _l("Write the answer values as numbers separated by commas.")
        ) from None


for _row in range(OUTCOME_ROWS):
    setattr(
        OutcomesForm,
        f"kind_{_row}",
        SelectField(_l("Outcome"), choices=_kind_choices, default="", validate_choice=True),
    )
    setattr(
        OutcomesForm,
        f"window_{_row}",
        IntegerField(
            _l("Window (days after the contact's assignment)"),
            validators=[
                Optional(),
                NumberRange(
                    min=1,
                    max=MAX_WINDOW_DAYS,
                    message=_l("The window must be from 1 to %(max)d days."),
                ),
            ],
            render_kw={"min": 1, "max": MAX_WINDOW_DAYS},
        ),
    )
    setattr(
        OutcomesForm,
        f"item_{_row}",
        SelectField(_l("Survey question"), choices=[], validate_choice=False),
    )
    setattr(
        OutcomesForm,
        f"top_box_{_row}",
        StringField(
            _l("Answers that count (values, e.g. 4)"), validators=[_length(100), _check_values]
        ),
    )


class ActionForm(BaseForm):
    """A button's POST (start, finish, delete): CSRF only."""

    confirm = HiddenField()


class SampleSizeForm(BaseForm):
    """The sample-size helper (GET: nothing changes)."""

    class Meta:
        csrf = False

    baseline = DecimalField(
        _l("Baseline rate (%)"),
        places=None,
        validators=[
            Optional(),
            NumberRange(min=0.1, max=99.9, message=_l("Give a percentage between 0.1 and 99.9.")),
        ],
    )
    effect = DecimalField(
        _l("Smallest change worth detecting (percentage points)"),
        places=None,
        validators=[
            Optional(),
            NumberRange(min=0.1, max=99.9, message=_l("Give a percentage between 0.1 and 99.9.")),
        ],
    )
