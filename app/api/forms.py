from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.api.models import SCOPES
from app.forms import BaseForm, choices

SCOPE_LABELS = {
    "contacts:read": _l("Read contacts, with names and phone numbers"),
    "contacts:write": _l("Create, update, opt out and erase contacts"),
    "sends:write": _l("Schedule and cancel sends"),
    "campaigns:read": _l("Read campaigns"),
    "workshops:write": _l("Register contacts for workshops"),
    "reports:read": _l("Read de-identified reports"),
    "events:read": _l("Read the de-identified participation events"),
}


class NewKeyForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    scopes = SelectMultipleField(
        _l("Scopes"),
        # TRANSLATORS: %(scope)s is a technical scope name such as contacts:read.
        choices=choices(
            (s, _l("%(scope)s: %(label)s", scope=s, label=SCOPE_LABELS[s])) for s in SCOPES
        ),
        validators=[DataRequired()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    expires_on = DateField(_l("Expires on (optional)"), validators=[Optional()])
    submit = SubmitField(_l("Create key"))


class RevokeKeyForm(BaseForm):
    submit = SubmitField(_l("Revoke"))
