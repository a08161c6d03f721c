from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from app.forms import BaseForm, choices

DUPLICATE_CHOICES = [
    ("update", _l("Update the existing contact with the file's values (tags are added)")),
    ("skip", _l("Keep the existing contact as it is (skip the row)")),
]
CONSENT_SOURCE_CHOICES = [
    ("workshop", _l("Workshop sign-up")),
    ("school", _l("School program")),
    ("web_form", _l("Web form")),
    ("sms_keyword", _l("SMS keyword")),
    ("imported_list", _l("Imported list (state the basis)")),
]


class ImportOptionsForm(BaseForm):
    """How to apply a file; the CLI validates its options with this form."""

    duplicate_rule = SelectField(
        _l("When a phone number is already known"),
        choices=choices(DUPLICATE_CHOICES),
        default="update",
        validators=[InputRequired()],
    )
    consent_source = SelectField(
        _l("Consent source for this list"),
        choices=choices([("", _l("None: only what the file says")), *CONSENT_SOURCE_CHOICES]),
        default="",
    )
    consent_basis = TextAreaField(_l("Basis of consent"), validators=[Length(max=500)])

    def validate_consent_basis(self, field):
        if self.consent_source.data == "imported_list" and not (field.data or "").strip():
            raise ValidationError(
                _l("State on what basis the people on this list agreed to be contacted.")
            )


class ImportUploadForm(ImportOptionsForm):
    # In the web UI the coordinator must say where the list's consent comes from.
    consent_source = SelectField(
        _l("Consent source for this list"),
        choices=choices([("", _l("Choose…")), *CONSENT_SOURCE_CHOICES]),
        validators=[DataRequired()],
    )
    file = FileField(_l("CSV file"), validators=[FileRequired()])
    submit = SubmitField(_l("Upload and preview"))
