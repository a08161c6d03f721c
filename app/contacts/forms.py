"""Contact and audience forms, and the translated labels of contact codes.

Forms only parse input: `validation.clean_contact` decides what a valid contact is,
and `audiences.validate_filters` what a valid audience is.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.contacts.eligibility import REASONS
from app.contacts.geography import MX_STATES, STATE_CHOICES, US_STATES, state_name
from app.contacts.models import (
    AGE_BANDS,
    CONSENT_SOURCES,
    CONTACT_CHANNELS,
    GENDERS,
    LANGUAGES,
    OPT_OUT_CHANNELS,
    WHATSAPP_OPT_IN_SOURCES,
)
from app.contacts.validation import MAX_AGE, MIN_AGE
from app.forms import BaseForm, CachedOptionsSelect, choices
from app.organizations.countries import COUNTRY_LABELS

LANGUAGE_LABELS = {"es": _l("Spanish"), "en": _l("English")}
GENDER_LABELS = {
    "female": _l("Female"),
    "male": _l("Male"),
    "nonbinary": _l("Non-binary"),
    "undisclosed": _l("Prefers not to say"),
}
CONSENT_SOURCE_LABELS = {
    "workshop": _l("Workshop sign-up"),
    "school": _l("School program"),
    "web_form": _l("Web form"),
    "sms_keyword": _l("SMS keyword"),
    "imported_list": _l("Imported list"),
}
OPT_OUT_CHANNEL_LABELS = {
    "sms": _l("SMS reply"),
    "web": _l("Web page"),
    "import": _l("CSV import"),
    "carrier": _l("Carrier report"),
    "coordinator": _l("Set by a coordinator"),
    "whatsapp": _l("WhatsApp reply"),
}
CHANNEL_LABELS = {"sms": _l("SMS"), "whatsapp": _l("WhatsApp")}
WHATSAPP_OPT_IN_SOURCE_LABELS = {
    "import": _l("CSV import"),
    "form": _l("Contact form"),
    "walk_in": _l("Workshop walk-in"),
    "keyword": _l("Keyword reply"),
    "whatsapp_message": _l("WhatsApp message"),
}
# TRANSLATORS: age bands are shown as "12–14 years".
AGE_BAND_LABELS = {band: _l("%(band)s years", band=band.replace("-", "–")) for band in AGE_BANDS}
ELIGIBLE = "eligible"

assert set(LANGUAGE_LABELS) == set(LANGUAGES) and set(GENDER_LABELS) == set(GENDERS)
assert set(CONSENT_SOURCE_LABELS) == set(CONSENT_SOURCES)
assert set(OPT_OUT_CHANNEL_LABELS) == set(OPT_OUT_CHANNELS)
assert set(CHANNEL_LABELS) == set(CONTACT_CHANNELS)
assert set(WHATSAPP_OPT_IN_SOURCE_LABELS) == set(WHATSAPP_OPT_IN_SOURCES)


def label_helpers() -> dict:
    """Template helpers turning stored codes into translated labels."""
    return {
        "language_label": lambda code: LANGUAGE_LABELS.get(code, code or ""),
        "gender_label": lambda code: GENDER_LABELS.get(code, code or ""),
        "consent_source_label": lambda code: CONSENT_SOURCE_LABELS.get(code, code or ""),
        "opt_out_channel_label": lambda code: OPT_OUT_CHANNEL_LABELS.get(code, code or ""),
        "contact_channel_label": lambda code: CHANNEL_LABELS.get(code, code or ""),
        "whatsapp_source_label": lambda code: WHATSAPP_OPT_IN_SOURCE_LABELS.get(code, code or ""),
        "opt_out_reason_label": lambda code: OPT_OUT_REASON_LABELS.get(code, code or ""),
        "age_band_label": lambda band: AGE_BAND_LABELS.get(band, band or ""),
        "reason_label": lambda code: REASONS.get(code, code or ""),
        "state_label": lambda country, code: state_name(country, code) if country else code,
    }


def state_select_choices(first_country: str, blank_label) -> list[SelectChoice]:
    """Both countries' states in optgroups, the organization's own country first."""
    order = ("US", "MX") if first_country == "US" else ("MX", "US")
    result = [SelectChoice("", blank_label)] if blank_label is not None else []
    for country in order:
        group = str(COUNTRY_LABELS[country])
        result.extend(
            SelectChoice(code, name, optgroup=group) for code, name in STATE_CHOICES(country)
        )
    return result


class ContactForm(BaseForm):
    """Field names are `clean_contact`'s raw keys, so its errors map back to fields."""

    phone = TelField(_l("Mobile phone"), render_kw={"autocomplete": "off", "maxlength": 40})
    first_name = StringField(
        _l("First name (optional)"), render_kw={"autocomplete": "off", "maxlength": 80}
    )
    last_name = StringField(
        _l("Last name (optional)"), render_kw={"autocomplete": "off", "maxlength": 120}
    )
    language = SelectField(_l("Preferred language"), choices=choices(LANGUAGE_LABELS.items()))
    birth_year = StringField(_l("Birth year"), render_kw={"inputmode": "numeric", "maxlength": 4})
    age_band = SelectField(
        _l("Age band (when the birth year is unknown)"),
        choices=choices([("", _l("Unknown")), *AGE_BAND_LABELS.items()]),
    )
    gender = SelectField(
        _l("Gender (optional)"), choices=choices([("", _l("Not recorded")), *GENDER_LABELS.items()])
    )
    country = SelectField(_l("Country"), choices=choices(COUNTRY_LABELS.items()))
    state = SelectField(_l("State"), choices=[], validate_choice=False)
    municipality = StringField(_l("Municipality"), render_kw={"maxlength": 80})
    timezone = StringField(_l("Time zone"), render_kw={"maxlength": 64})
    tags = StringField(_l("Tags"), render_kw={"maxlength": 1000})
    consent_source = SelectField(
        _l("Consent given through"),
        choices=choices([("", _l("No consent recorded")), *CONSENT_SOURCE_LABELS.items()]),
    )
    consent_basis = TextAreaField(_l("Stated basis of the consent"), validators=[Length(max=2000)])
    consent_date = StringField(_l("Consent date"), render_kw={"type": "date"})
    guardian_consent = BooleanField(_l("A parent or guardian consented (required under 18)"))
    preferred_channel = SelectField(
        _l("Preferred channel"), choices=choices(CHANNEL_LABELS.items()), default="sms"
    )
    whatsapp_opt_in = BooleanField(_l("The young person agreed to receive messages on WhatsApp"))
    submit = SubmitField(_l("Save contact"))

    def __init__(self, *args, org_country="MX", **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = state_select_choices(org_country, _("Not recorded"))

    def raw(self) -> dict:
        """The submitted values as `clean_contact` expects them."""
        raw = {
            name: (field.data or "")
            for name, field in self._fields.items()
            if name not in ("csrf_token", "submit", "guardian_consent", "whatsapp_opt_in")
        }
        raw["guardian_consent"] = "yes" if self.guardian_consent.data else "no"
        raw["whatsapp_opt_in"] = "yes" if self.whatsapp_opt_in.data else "no"
        return raw


class OptOutForm(BaseForm):
    submit = SubmitField(_l("Opt out"))


class OptInForm(BaseForm):
    confirm = BooleanField(
        _l(
            "The young person (and, if under 18, a parent or guardian) consented again to "
            "receive messages."
        ),
        validators=[DataRequired(message=_l("Confirm the renewed consent to opt back in."))],
    )
    submit = SubmitField(_l("Opt back in"))


class EraseForm(BaseForm):
    confirm = BooleanField(
        _l("I understand that the name, phone number, birth year and tags are deleted for good."),
        validators=[DataRequired(message=_l("Confirm the erasure to continue."))],
    )
    submit = SubmitField(_l("Erase personal data"))


BULK_ACTION_LABELS = {
    "add_tag": _l("Add a tag"),
    "remove_tag": _l("Remove a tag"),
    "opt_out": _l("Opt out…"),
    "export": _l("Export to CSV"),
    "erase": _l("Erase on request…"),
}
# Why a coordinator opts contacts out (recorded as a code; no free text, so no personal data).
OPT_OUT_REASON_LABELS = {
    "asked": _l("The young person asked not to be messaged"),
    "guardian": _l("A parent or guardian asked"),
    "wrong_number": _l("Wrong number: the phone is not theirs"),
    "program_left": _l("They left the program"),
    "other": _l("Another reason"),
}


class BulkActionForm(BaseForm):
    """The contact list's bulk actions (one form wrapping the table).

    Only CSRF fails validation: every other field is parsed leniently and judged by the
    bulk service, which answers with a clear message (a form error would only say "Not a
    valid choice"). The list's filters travel as a `ContactSearchForm` with prefix "f".
    """

    scope = RadioField(
        _l("Apply to"),
        choices=choices(
            [
                ("selected", _l("The contacts checked below")),
                ("page", _l("Every contact on this page")),
                ("all", _l("Every contact matching the search")),
            ]
        ),
        default="selected",
        validate_choice=False,
    )
    ids = SelectMultipleField(_l("Select"), choices=[], validate_choice=False)
    page_ids = SelectMultipleField(choices=[], validate_choice=False)
    # Own ids: the search form above the list has a "tag" field too.
    action = SelectField(
        _l("Action"),
        choices=choices([("", _l("Choose an action")), *BULK_ACTION_LABELS.items()]),
        validate_choice=False,
        id="bulk-action",
    )
    tag = StringField(
        _l("Tag to add or remove"),
        render_kw={"maxlength": 40, "autocomplete": "off"},
        id="bulk-tag",
    )
    # The confirmation step of the destructive actions.
    step = HiddenField()
    reason = SelectField(
        _l("Reason"),
        choices=choices([("", _l("Choose a reason")), *OPT_OUT_REASON_LABELS.items()]),
        validate_choice=False,
    )
    confirm = BooleanField(_l("Stop every message to these contacts, now and in the future."))
    confirm_count = StringField(
        _l("Number of contacts to erase"), render_kw={"inputmode": "numeric", "maxlength": 9}
    )
    # Where the list was (its keyset cursors), to return there afterwards.
    after = HiddenField()
    before = HiddenField()
    submit = SubmitField(_l("Apply"))

    @property
    def confirming(self) -> bool:
        return self.step.data == "confirm"

    def chosen_ids(self) -> list[str]:
        """The ids the scope designates, as submitted (the service parses and checks them)."""
        if self.scope.data == "page":
            return list(self.page_ids.data or [])
        return list(self.ids.data or [])

    def cursors(self) -> dict:
        """The list's cursor to return to (only a well-formed one)."""
        for name in ("after", "before"):
            value = self._fields[name].data or ""
            if value.isdigit() and len(value) <= 18:
                return {name: value}
        return {}


class ContactSearchForm(BaseForm):
    """The list's GET filters: no CSRF (nothing changes) and no required field."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Name or phone"), validators=[Optional(), Length(max=80)], render_kw={"type": "search"}
    )
    tag = StringField(_l("Tag"), validators=[Optional(), Length(max=40)])
    language = SelectField(
        _l("Language"),
        validators=[Optional()],
        choices=choices([("", _l("All")), *LANGUAGE_LABELS.items()]),
        widget=CachedOptionsSelect(),
    )
    state = SelectField(
        _l("State"), validators=[Optional()], choices=[], widget=CachedOptionsSelect()
    )
    eligibility = SelectField(
        _l("Messaging"),
        validators=[Optional()],
        choices=choices(
            [
                ("", _l("All")),
                (ELIGIBLE, _l("Can be messaged")),
                *((code, label) for code, label in REASONS.items() if code != "erased"),
            ]
        ),
        widget=CachedOptionsSelect(),
    )
    consent_source = SelectField(
        _l("Consent source"),
        validators=[Optional()],
        choices=choices([("", _l("All")), *CONSENT_SOURCE_LABELS.items()]),
        widget=CachedOptionsSelect(),
    )

    def __init__(self, *args, org_country="MX", **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = state_select_choices(org_country, _("All"))

    def filters(self) -> dict:
        """The valid filters (a field with an invalid value is ignored)."""
        return {
            name: field.data.strip()
            for name, field in self._fields.items()
            if isinstance(field.data, str) and field.data.strip() and not field.errors
        }


def _checkboxes(label, pairs, **kwargs):
    return SelectMultipleField(
        label,
        choices=choices(pairs),
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        **kwargs,
    )


class AudienceForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description (optional)"), validators=[Length(max=2000)])
    languages = _checkboxes(_l("Languages"), LANGUAGE_LABELS.items())
    genders = _checkboxes(_l("Genders"), GENDER_LABELS.items())
    age_min = IntegerField(
        _l("Minimum age"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "min": MIN_AGE, "max": MAX_AGE},
    )
    age_max = IntegerField(
        _l("Maximum age"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "min": MIN_AGE, "max": MAX_AGE},
    )
    country = SelectField(
        _l("Country"),
        validate_choice=False,
        choices=choices([("", _l("Any")), *COUNTRY_LABELS.items()]),
    )
    state_codes = _checkboxes(_l("States"), [])
    municipalities = StringField(_l("Municipalities"), validators=[Length(max=2000)])
    tags = StringField(_l("Tags (any of)"), validators=[Length(max=1000)])
    consent_sources = _checkboxes(_l("Consent sources"), CONSENT_SOURCE_LABELS.items())
    preview = SubmitField(_l("Preview count"))
    submit = SubmitField(_l("Save audience"))

    FILTER_FIELDS = (
        "languages",
        "genders",
        "age_min",
        "age_max",
        "country",
        "state_codes",
        "municipalities",
        "tags",
        "consent_sources",
    )

    def __init__(self, *args, org_country="MX", **kwargs):
        super().__init__(*args, **kwargs)
        self.state_codes.choices = state_select_choices(org_country, None)

    def raw_filters(self) -> dict:
        """The filter fields as submitted; `audiences.validate_filters` checks them."""
        return {name: self._fields[name].data for name in self.FILTER_FIELDS}

    def filter_errors(self) -> dict:
        return {
            name: list(self._fields[name].errors)
            for name in self.FILTER_FIELDS
            if self._fields[name].errors
        }

    def state_groups(self):
        """The state checkboxes grouped by country, the organization's own first."""
        groups = {}
        for option in self.state_codes:
            country = "MX" if option.data in MX_STATES else "US"
            groups.setdefault(country, []).append(option)
        return [(COUNTRY_LABELS[c], groups[c]) for c in groups]


assert set(MX_STATES).isdisjoint(US_STATES)  # state codes alone identify the country
