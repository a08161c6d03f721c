"""BaseForm: CSRF from Flask-WTF, and WTForms' own messages in the current locale."""

from flask import has_request_context
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import SelectChoice
from wtforms.meta import DefaultMeta


class BaseForm(FlaskForm):
    class Meta:
        def get_translations(self, form):
            if has_request_context():
                return super().get_translations(form)  # Flask-WTF: request locale
            # CLI commands validate through the same forms, under force_locale().
            self.locales = [str(get_locale() or "es")]
            return DefaultMeta.get_translations(self, form)


def form_status(form) -> int:
    """HTTP status for a rendered form: 400 once it was submitted with errors."""
    has_errors = bool(form.form_errors) or any(field.errors for field in form)
    return 400 if has_errors else 200


def choices(pairs) -> list[SelectChoice]:
    """SelectField choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]
