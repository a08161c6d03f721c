from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import BaseForm, choices
from app.organizations.events import EVENT_TYPES

EVENT_LABELS = {
    "contact.opted_out": _l("A contact opted out"),
    "contact.opted_in": _l("A contact opted back in"),
    "workshop.registration.changed": _l("A workshop registration changed (RSVP, waitlist)"),
    "case.opened": _l("An urgent conversation case was opened"),
    "survey.completed": _l("A contact completed a survey"),
    "send.completed": _l("A send finished going out"),
}


class NewEndpointForm(BaseForm):
    url = StringField(_l("Address (https://)"), validators=[DataRequired(), Length(max=500)])
    description = StringField(
        _l("Description (optional)"), validators=[Optional(), Length(max=120)]
    )
    events = SelectMultipleField(
        _l("Events"),
        # TRANSLATORS: %(event)s is a technical event name such as contact.opted_out.
        choices=choices(
            (e, _l("%(event)s: %(label)s", event=e, label=EVENT_LABELS[e])) for e in EVENT_TYPES
        ),
        validators=[DataRequired()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    own_system = BooleanField(_l("This is our organization's own system"))
    submit = SubmitField(_l("Add endpoint"))


class EndpointActionForm(BaseForm):
    """CSRF only: enable, disable, rotate the secret, delete, dismiss a notice."""

    submit = SubmitField(_l("Confirm"))
