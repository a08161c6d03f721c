from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, Email, InputRequired, Length

from app.forms import BaseForm, choices

ROLE_CHOICES = [
    ("coordinator", _l("Coordinator")),
    ("evaluator", _l("Evaluator")),
    ("admin", _l("Administrator")),
]
LANGUAGE_CHOICES = [("es", _l("Spanish")), ("en", _l("English"))]


class LoginForm(BaseForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("Sign in"))


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("Change password"))


class NewUserForm(BaseForm):
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(), Length(max=254), Email(check_deliverability=False)],
    )
    role = SelectField(_l("Role"), choices=choices(ROLE_CHOICES), validators=[InputRequired()])
    language = SelectField(_l("Language"), choices=choices(LANGUAGE_CHOICES))
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("Create user"))


class EditUserForm(BaseForm):
    role = SelectField(_l("Role"), choices=choices(ROLE_CHOICES), validators=[InputRequired()])
    active = BooleanField(_l("Active (can sign in)"))
    submit = SubmitField(_l("Save"))


class LogoutForm(BaseForm):
    submit = SubmitField(_l("Sign out"))
