"""Forms of the attendance pages. They only parse input: `contacts.validation.clean_contact`
(through `walk_ins.register_walk_in`) decides what a valid walk-in is."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, SubmitField, TelField
from wtforms.validators import Length, Optional

from app.contacts.forms import (
    AGE_BAND_LABELS,
    CHANNEL_LABELS,
    GENDER_LABELS,
    LANGUAGE_LABELS,
    state_select_choices,
)
from app.forms import BaseForm, choices


class AttendanceActionForm(BaseForm):
    """Check-in and undo buttons: nothing but the CSRF token."""


class RosterSearchForm(BaseForm):
    """The roster's GET search (the server-side fallback of the instant filter)."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Search by name or phone"),
        validators=[Optional(), Length(max=80)],
        render_kw={"type": "search", "autocomplete": "off"},
    )


class WalkInForm(BaseForm):
    """Field names are `clean_contact`'s raw keys, so its errors map back to fields."""

    phone = TelField(
        _l("Mobile phone"), render_kw={"autocomplete": "off", "maxlength": 40, "inputmode": "tel"}
    )
    first_name = StringField(_l("First name"), render_kw={"autocomplete": "off", "maxlength": 80})
    language = SelectField(_l("Preferred language"), choices=choices(LANGUAGE_LABELS.items()))
    birth_year = StringField(_l("Birth year"), render_kw={"inputmode": "numeric", "maxlength": 4})
    age_band = SelectField(
        _l("Age band (when the birth year is unknown)"),
        choices=choices([("", _l("Unknown")), *AGE_BAND_LABELS.items()]),
    )
    gender = SelectField(
        _l("Gender (optional)"), choices=choices([("", _l("Not recorded")), *GENDER_LABELS.items()])
    )
    state = SelectField(_l("State"), choices=[], validate_choice=False)
    municipality = StringField(_l("Municipality"), render_kw={"maxlength": 80})
    guardian_consent = BooleanField(_l("A parent or guardian consented (required under 18)"))
    preferred_channel = SelectField(
        _l("Preferred channel"), choices=choices(CHANNEL_LABELS.items()), default="sms"
    )
    whatsapp_opt_in = BooleanField(_l("The young person agreed to receive messages on WhatsApp"))
    # The label names the organization: set in __init__.
    consent = BooleanField("", render_kw={"required": True})
    submit = SubmitField(_l("Register and check in"))

    def __init__(self, *args, org_country="MX", org_name="", **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = state_select_choices(org_country, _("Not recorded"))
        self.consent.label.text = _(
            "The young person agrees to receive SMS from %(org)s about this program, and knows "
            "they can stop them at any time by replying STOP or BAJA.",
            org=org_name,
        )

    def raw(self) -> dict:
        """The submitted values as `register_walk_in` expects them."""
        raw = {
            name: (field.data or "")
            for name, field in self._fields.items()
            if name
            not in ("csrf_token", "submit", "guardian_consent", "consent", "whatsapp_opt_in")
        }
        raw["guardian_consent"] = "yes" if self.guardian_consent.data else "no"
        raw["whatsapp_opt_in"] = "yes" if self.whatsapp_opt_in.data else "no"
        raw["consent"] = "yes" if self.consent.data else "no"
        return raw


class SignInSheetForm(BaseForm):
    file = FileField(_l("Sign-in sheet (CSV file)"), validators=[FileRequired()])
    submit = SubmitField(_l("Upload and record attendance"))


class CompleteWorkshopForm(BaseForm):
    send_thank_you = BooleanField(_l("Send a thank-you SMS to everyone who attended"))
    # Shown, and required by completion.complete_workshop, before the scheduled end.
    early = BooleanField(_l("Yes, the workshop is over: complete it before its scheduled end"))
    submit = SubmitField(_l("Complete the workshop"))
