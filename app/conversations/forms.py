"""Forms of the inbox and the thread: filters, the reply composer and the case actions."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.conversations.replies import MAX_LENGTH
from app.forms import BaseForm, choices

FILTER_LABELS = {
    "attention": lazy_pgettext("inbox filter", "Needs attention"),
    "urgent": lazy_pgettext("inbox filter", "Urgent"),
    "mine": lazy_pgettext("inbox filter", "Assigned to me"),
    "unassigned": lazy_pgettext("inbox filter", "Unassigned"),
    "waiting": lazy_pgettext("inbox filter", "Waiting on the young person"),
    "closed": lazy_pgettext("inbox filter", "Closed"),
    "all": lazy_pgettext("inbox filter", "All"),
}
CLOSE_REASON_LABELS = {
    "resolved": _l("Resolved"),
    "referred": _l("Referred to a service"),
    "no_response": _l("No response from the young person"),
    "not_needed": _l("No action needed"),
    "duplicate": _l("Duplicate"),
    "other": _l("Other reason"),
}


class SearchForm(BaseForm):
    """The inbox's filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    show = SelectField(_l("Show"), validators=[Optional()])
    campaign = SelectField(_l("Campaign"), validators=[Optional()])
    language = SelectField(_l("Language"), validators=[Optional()])
    q = StringField(
        _l("Name or last digits of the phone"),
        validators=[Optional(), Length(max=80, message=_l("Use at most 80 characters."))],
    )


class ReplyForm(BaseForm):
    saved = SelectField(_l("Saved reply"), validators=[Optional()])
    body = TextAreaField(
        _l("Reply"),
        validators=[
            Length(max=MAX_LENGTH, message=_l("Use at most %(max)d characters.", max=MAX_LENGTH))
        ],
    )
    use = SubmitField(_l("Use this saved reply"))
    send = SubmitField(_l("Send reply"))


class ActionForm(BaseForm):
    """A button that only needs the CSRF token (acknowledge, waiting, reopen, opt out)."""


class AssignForm(BaseForm):
    assignee = SelectField(_l("Assigned to"), validators=[Optional()])


class NoteForm(BaseForm):
    note = TextAreaField(
        _l("Note"),
        validators=[
            DataRequired(message=_l("Write the note.")),
            Length(max=2000, message=_l("Use at most %(max)d characters.", max=2000)),
        ],
    )


class CloseForm(BaseForm):
    reason = SelectField(
        _l("Reason for closing"),
        choices=choices(CLOSE_REASON_LABELS.items()),
        validators=[InputRequired(message=_l("Choose a reason."))],
    )


class ReferForm(BaseForm):
    service = SelectField(
        _l("Service"), validators=[InputRequired(message=_l("Choose a service."))]
    )
    send_details = BooleanField(_l("Send the details by SMS"))
