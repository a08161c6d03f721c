import re
from datetime import time
from zoneinfo import available_timezones

from babel.lists import format_list
from flask import current_app
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from app.forms import BaseForm, choices
from app.messaging.gateway import sender_kind
from app.organizations.countries import COUNTRY_LABELS
from app.organizations.link_hosts import MAX_HOSTS, parse_hosts
from app.organizations.models import MAX_REMINDER_HOURS

# "+52 1 664…": Mexico's old mobile form, which some WhatsApp numbers still show.
_MX_MOBILE_1 = re.compile(r"\+521\d{10}")
LANGUAGE_CHOICES = [("es", _l("Spanish")), ("en", _l("English"))]


def _yes(value) -> bool:
    """A yes/no select's value ("1"/"0", or the stored bool). Anything else is not a choice
    (WTForms reports it): read as "no", a typo would turn a safeguard off."""
    if value in (True, "1", "True", "true", "on"):
        return True
    if value in (False, None, "0", "False", "false", ""):
        return False
    raise ValueError(value)


def validate_timezone(form, field):
    if field.data not in available_timezones():
        raise ValidationError(_l("Unknown time zone. Use an IANA name such as America/Tijuana."))


class OrganizationForm(BaseForm):
    """Used by the CLI to create organizations."""

    slug = StringField(
        _l("Short name (slug)"),
        validators=[
            DataRequired(),
            Length(min=2, max=40),
            Regexp(
                r"^[a-z0-9]+(-[a-z0-9]+)*$",
                message=_l("Use lowercase letters, digits and hyphens."),
            ),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    country = SelectField(_l("Country"), choices=choices(COUNTRY_LABELS.items()))
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), validate_timezone])
    default_language = SelectField(_l("Default language"), choices=choices(LANGUAGE_CHOICES))


NOTICE_CHOICES = [
    ("first", _l("On the first message a contact receives")),
    ("always", _l("On every message")),
]


MIN_SMALL_CELL, MAX_SMALL_CELL = 3, 50  # below 3 a single young person can be singled out
MAX_REMINDERS = 3
# Words people put between hours ("24 y 2", "24 and 2"), besides commas and spaces.
LIST_WORDS = {"y", "e", "and", "&"}


def hour_list(text: str | None) -> list[str]:
    """The items of a typed list of hours: "24, 2", "24;2", "24 y 2" → ["24", "2"]."""
    return [t for t in re.split(r"[\s,;]+", text or "") if t and t.lower() not in LIST_WORDS]


def stored_hours(stored: str | None) -> list[str]:
    """The whole hours of a stored list ("24,2"); anything else is ignored, as the reminder
    scheduler ignores it."""
    return [hour for hour in hour_list(stored) if hour.isascii() and hour.isdigit()]


def spoken_hours(stored: str | None) -> str:
    """Stored reminder hours ("24,2") as the UI language lists them ("24 y 2")."""
    return format_list(stored_hours(stored), locale=get_locale() or "es_MX")


def reminder_summary(stored: str | None) -> str:
    """The reminders now in force, as a sentence ("24 y 2 horas antes del inicio.")."""
    hours = stored_hours(stored)
    if not hours:
        return str(_l("No workshop reminders are sent."))
    # One hour reads singular ("1 hora"); a list reads plural ("24 y 1 horas"): 2 stands
    # for "several" in both languages.
    n = int(hours[0]) if len(hours) == 1 else 2
    return ngettext(
        "Now: %(hours)s hour before the start.",
        "Now: %(hours)s hours before the start.",
        n,
        hours=spoken_hours(stored),
    )


class HourListField(StringField):
    """A list of hours stored as "24,2" and shown as the UI language lists it ("24 y 2")."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]  # what was typed, when the form is shown again
        return spoken_hours(self.data)


class SettingsForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), validate_timezone])
    default_language = SelectField(_l("Default language"), choices=choices(LANGUAGE_CHOICES))
    quiet_start = TimeField(_l("Send no earlier than"), validators=[InputRequired()])
    quiet_end = TimeField(_l("Send no later than"), validators=[InputRequired()])
    cap_messages = IntegerField(
        _l("At most this many messages per contact"),
        validators=[InputRequired(), NumberRange(1, 20)],
    )
    cap_days = IntegerField(
        _l("…in this many days"), validators=[InputRequired(), NumberRange(1, 30)]
    )
    opt_out_notice = SelectField(_l("Add the opt-out instruction"), choices=choices(NOTICE_CHOICES))
    contact_line = StringField(
        _l("Contact line named in HELP replies"), validators=[Optional(), Length(max=60)]
    )
    sms_sender = StringField(_l("Own SMS sender"), validators=[Optional(), Length(max=40)])
    reminder_hours = HourListField(
        _l("Workshop reminders, hours before the start"), validators=[Optional(), Length(max=40)]
    )
    thank_you_sms = BooleanField(_l("Send a thank-you SMS to attendees when a workshop is closed"))
    small_cell_threshold = IntegerField(
        _l("Hide counts smaller than this from evaluators"),
        validators=[InputRequired(), NumberRange(MIN_SMALL_CELL, MAX_SMALL_CELL)],
    )
    # A select, like the WhatsApp safeguards below: a POST without it keeps the stored value.
    evaluator_person_files = SelectField(
        _l("Per-person files for evaluators"),
        choices=choices(
            [
                ("0", _l("Not shared: evaluators get the pages and their tables (recommended)")),
                ("1", _l("Shared, under a data-sharing agreement")),
            ]
        ),
        coerce=_yes,
    )
    # A POST without these fields (an older form) keeps the stored values: the form is built
    # from the organization, and a missing field leaves its value as it was.
    case_ack_minutes = IntegerField(
        _l("Alert when an urgent case is not acknowledged within (minutes)"),
        validators=[DataRequired(), NumberRange(1, 240)],
        render_kw={"inputmode": "numeric", "min": 1, "max": 240},
    )
    referral_follow_up_days = IntegerField(
        _l("Remind to follow up a referral after (days)"),
        validators=[DataRequired(), NumberRange(1, 60)],
        render_kw={"inputmode": "numeric", "min": 1, "max": 60},
    )
    link_hosts = TextAreaField(
        _l("Hosts tracked links may lead to"),
        validators=[Optional(), Length(max=8000)],
        render_kw={"rows": 4, "spellcheck": "false", "autocapitalize": "none"},
    )
    link_expiry_days = IntegerField(
        _l("Tracked links stop working after (days)"),
        validators=[DataRequired(), NumberRange(1, 730)],
        render_kw={"inputmode": "numeric", "min": 1, "max": 730},
    )
    # WhatsApp (issue 19). Selects, not checkboxes: a POST without them (an older form)
    # keeps the stored values, where a missing checkbox would turn a safeguard off.
    whatsapp_sender = StringField(
        _l("Own WhatsApp sender"), validators=[Optional(), Length(max=40)]
    )
    whatsapp_fallback_sms = SelectField(
        _l("When a number is not on WhatsApp"),
        choices=choices(
            [("1", _l("Send the message by SMS instead (once)")), ("0", _l("Do not send it"))]
        ),
        coerce=_yes,
    )
    whatsapp_no_template = SelectField(
        _l("Outside WhatsApp's 24-hour window, without an approved template"),
        choices=choices([("sms", _l("Send the message by SMS")), ("hold", _l("Hold the message"))]),
    )
    opt_out_all_channels = SelectField(
        _l("STOP or BAJA sent on WhatsApp"),
        choices=choices(
            [
                ("1", _l("Stops every channel (recommended)")),
                ("0", _l("Stops WhatsApp only; the contact gets SMS")),
            ]
        ),
        coerce=_yes,
    )
    submit = SubmitField(_l("Save settings"))

    def validate_whatsapp_sender(self, field):
        """Blank: the Messaging Service or the shared sender. Else the E.164 number registered
        with WhatsApp, stored normalized (Mexico's old mobile "1" dropped: "+526641234567")."""
        value = "".join((field.data or "").split())
        if not value:
            field.data = None
            return
        if value.lower().startswith("whatsapp:"):
            value = value[len("whatsapp:") :]
        if value.startswith("+"):
            value = "+" + "".join(ch for ch in value[1:] if ch not in "()-.")
        if _MX_MOBILE_1.fullmatch(value):
            value = "+52" + value[4:]  # as inbound.py matches it (contacts.phones' rule)
        if sender_kind(value) != "number":
            raise ValidationError(
                _l("Write the WhatsApp number in E.164 form, such as +526641234567.")
            )
        field.data = value

    def validate_link_hosts(self, field):
        """One host per line ("example.org", or "*.example.org" for it and its subdomains),
        stored in ASCII form, one per line (app/organizations/link_hosts.py)."""
        entries, bad = parse_hosts(field.data)
        if bad:
            # gettext, not a lazy string: Jinja takes a lazy string for safe markup, and the
            # message quotes what was typed.
            raise ValidationError(
                gettext(
                    "Not a host name: %(lines)s. Write one host per line, such as "
                    "example.org or *.example.org, without https:// or a path.",
                    lines=", ".join(bad[:5]),
                )
            )
        if len(entries) > MAX_HOSTS:
            raise ValidationError(gettext("List at most %(n)d hosts.", n=MAX_HOSTS))
        field.data = "\n".join(entries) or None

    def validate_reminder_hours(self, field):
        """Blank: no reminders. Else up to three whole hours, e.g. "24, 2" or "24 y 2", stored
        as "24,2"."""
        parts = hour_list(field.data)
        if not all(p.isdigit() and 1 <= int(p) <= MAX_REMINDER_HOURS for p in parts):
            raise ValidationError(
                _l(
                    "Write whole hours between 1 and %(max)d separated by commas, "
                    "for example 24, 2.",
                    max=MAX_REMINDER_HOURS,
                )
            )
        hours = sorted({int(p) for p in parts}, reverse=True)
        if len(hours) > MAX_REMINDERS:
            raise ValidationError(_l("At most %(n)d reminders.", n=MAX_REMINDERS))
        field.data = ",".join(str(h) for h in hours)

    def validate_sms_sender(self, field):
        """Blank: the shared default sender. Else an E.164 number or a Messaging Service SID,
        stored normalized ("+526645550100", "MG" + lowercase hex)."""
        value = "".join((field.data or "").split())
        if value[:2].upper() == "MG":
            value = "MG" + value[2:].lower()
        elif value.startswith("+"):
            value = "+" + "".join(ch for ch in value[1:] if ch not in "()-.")
        if value and sender_kind(value) is None:
            raise ValidationError(
                _l(
                    "Write an E.164 number such as +526641234567 or a Messaging "
                    "Service SID (MG followed by 32 characters)."
                )
            )
        shared = {
            current_app.config.get("TWILIO_MESSAGING_SERVICE_SID"),
            current_app.config.get("TWILIO_FROM_NUMBER"),
        } - {"", None}
        if value and value.lower() in {s.lower() for s in shared}:
            raise ValidationError(
                _l("This is the shared default sender. Leave the field blank to use it.")
            )
        field.data = value or None

    def validate_quiet_end(self, field):
        start, end = self.quiet_start.data, field.data
        if start and end and not (time(6) <= start < end <= time(22)):
            raise ValidationError(
                _l("The window must start before it ends, between 06:00 and 22:00.")
            )
        if start and start >= time(19, 30):
            raise ValidationError(
                _l("Start before 19:30 so Florida and Oklahoma (until 20:00) keep a window.")
            )
