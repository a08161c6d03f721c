"""The WhatsApp template form. The rules live in app.whatsapp.validation; the form reads
and shapes the input (one select per possible variable, three button rows)."""

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from app.contacts.forms import LANGUAGE_LABELS
from app.forms import BaseForm, choices
from app.outbox.placeholders import PLACEHOLDERS
from app.whatsapp.labels import CATEGORY_LABELS, INTENT_LABELS, PLACEHOLDER_LABELS
from app.whatsapp.models import CATEGORIES, LANGUAGES
from app.whatsapp.validation import BUTTONS_MAX, INTENTS, VARIABLES_MAX


def _length(maximum: int) -> Length:
    # A stop for huge posts only: validation.clean_template has the real limits.
    return Length(max=maximum, message=_l("Use at most %(max)d characters.", max=maximum))


def _placeholder_choices():
    return choices([("", _l("Choose…"))] + [(p, PLACEHOLDER_LABELS[p]) for p in PLACEHOLDERS])


class TemplateForm(BaseForm):
    name = StringField(_l("Name"), validators=[_length(200)])
    language = SelectField(
        _l("Language"), choices=lambda: choices((code, LANGUAGE_LABELS[code]) for code in LANGUAGES)
    )
    category = RadioField(
        _l("Category"),
        choices=lambda: choices((code, CATEGORY_LABELS[code]) for code in CATEGORIES),
        default="utility",
        validators=[Optional()],
    )
    body = TextAreaField(_l("Text"), validators=[_length(4000)])
    submit = SubmitField(_l("Save"))

    def variable_fields(self) -> list:
        return [self[f"var_{n}"] for n in range(1, VARIABLES_MAX + 1)]

    def button_rows(self) -> list[tuple]:
        return [
            (self[f"button_{n}_title"], self[f"button_{n}_intent"], self[f"button_{n}_value"])
            for n in range(1, BUTTONS_MAX + 1)
        ]

    def values(self) -> dict:
        """What the services take (app.whatsapp.validation.clean_template)."""
        return {
            "name": self.name.data,
            "language": self.language.data,
            "category": self.category.data,
            "body": self.body.data,
            "variables": {
                str(n): field.data
                for n, field in enumerate(self.variable_fields(), start=1)
                if field.data
            },
            "buttons": [
                {"title": title.data, "intent": intent.data, "value": value.data}
                for title, intent, value in self.button_rows()
            ],
        }

    def fill_from(self, template, *, language: str | None = None) -> None:
        """Prefill from a saved template (an edit, or the other language of a pair)."""
        self.name.data = template.name
        self.language.data = language or template.language
        self.category.data = template.category
        self.body.data = template.body if language is None else ""
        for n, field in enumerate(self.variable_fields(), start=1):
            field.data = (template.variables or {}).get(str(n), "")
        buttons = list(template.buttons or [])
        for n, (title, intent, value) in enumerate(self.button_rows()):
            button = buttons[n] if n < len(buttons) else {}
            # The other language keeps what each button means, not its words.
            title.data = button.get("title", "") if language is None else ""
            intent.data = button.get("intent", "none")
            value.data = button.get("value", "")


for _n in range(1, VARIABLES_MAX + 1):
    setattr(
        TemplateForm,
        f"var_{_n}",
        SelectField(
            # TRANSLATORS: a numbered variable of a WhatsApp template, as written in its text.
            _l("{{%(n)s}} is filled with", n=_n),
            choices=_placeholder_choices,
            validators=[Optional()],
        ),
    )
for _n in range(1, BUTTONS_MAX + 1):
    setattr(
        TemplateForm,
        f"button_{_n}_title",
        StringField(_l("Button %(n)s: text", n=_n), validators=[_length(100)]),
    )
    setattr(
        TemplateForm,
        f"button_{_n}_intent",
        SelectField(
            _l("Button %(n)s: meaning", n=_n),
            choices=lambda: choices((i, INTENT_LABELS[i]) for i in INTENTS),
            default="none",
        ),
    )
    setattr(
        TemplateForm,
        f"button_{_n}_value",
        StringField(_l("Button %(n)s: answer value", n=_n), validators=[_length(40)]),
    )
del _n
