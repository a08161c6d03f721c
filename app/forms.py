"""BaseForm: CSRF from Flask-WTF, and WTForms' own messages in the current locale."""

import threading

from babel import support
from flask import has_request_context
from flask_babel import get_locale
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import SelectChoice
from wtforms.i18n import messages_path
from wtforms.meta import DefaultMeta
from wtforms.widgets import Select, html_params

# WTForms' own catalog per locale, loaded once per process: Flask-WTF loads and parses it
# again on every request that renders or validates a form.
_wtforms_catalogs: dict[str, support.Translations] = {}


def _wtforms_translations(locale: str) -> support.Translations:
    found = _wtforms_catalogs.get(locale)
    if found is None:
        found = support.Translations.load(messages_path(), [locale], domain="wtforms")
        _wtforms_catalogs[locale] = found
    return found


class BaseForm(FlaskForm):
    class Meta:
        def get_translations(self, form):
            if has_request_context():
                return _wtforms_translations(str(get_locale() or "es"))
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


class CachedOptionsSelect(Select):
    """A single-choice <select> whose <option>s are rendered once per locale and list of
    choice values, then reused with the chosen option marked.

    Only for fields whose labels are fixed translations of their values (a label map, the
    states' names): the cache key is the locale and the values, not the labels. The output
    is the stock widget's, byte for byte (tests/test_forms_widgets.py); WTForms renders
    every option through html_params and escaping on every request, which was a tenth of
    the contact list's time (its filters have ~106 options).
    """

    MAX_ENTRIES = 64  # locales × choice lists (a state list per organization country)

    def __init__(self):
        super().__init__(multiple=False)
        self._options: dict[tuple, str] = {}
        self._lock = threading.Lock()

    def __call__(self, field, **kwargs):
        if not _cacheable(field):
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in dir(flags):
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        options = self._cached_options(field)
        if isinstance(field.data, str):
            unselected = f'<option value="{escape(field.data)}">'
            options = options.replace(
                unselected, f'<option selected value="{escape(field.data)}">', 1
            )
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")

    def _cached_options(self, field) -> str:
        key = (str(get_locale()), tuple(_choice_values(field.choices)))
        found = self._options.get(key)
        if found is None:
            found = self._render_options(field)
            with self._lock:
                if len(self._options) >= self.MAX_ENTRIES:
                    self._options.clear()
                self._options[key] = found
        return found

    def _render_options(self, field) -> str:
        """The options with none selected, as the stock widget renders them."""
        render = type(self)._dispatch_render_option()
        html = []
        if field.has_groups():
            for optgroup, group in field._iter_groups_normalized():
                if optgroup is not None:
                    html.append(f"<optgroup {html_params(label=optgroup)}>")
                html.extend(render(choice._replace(selected=False)) for choice in group)
                if optgroup is not None:
                    html.append("</optgroup>")
        else:
            for choice in field._iter_choices_normalized():
                html.append(render(choice._replace(selected=False)))
        return "".join(html)


def _cacheable(field) -> bool:
    """Choices as a list of plain options with str coercion: the cases whose selection
    the string replacement in CachedOptionsSelect reproduces exactly."""
    if getattr(field, "coerce", str) is not str or not isinstance(field.choices, list):
        return False
    return not any(isinstance(c, SelectChoice) and c.render_kw for c in field.choices)


def _choice_values(field_choices):
    for choice in field_choices or ():
        if isinstance(choice, SelectChoice):
            yield (choice.value, choice.optgroup)
        elif isinstance(choice, (tuple, list)):
            yield (choice[0], None)
        else:
            yield (choice, None)
