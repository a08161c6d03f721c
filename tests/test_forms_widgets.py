"""CachedOptionsSelect renders exactly what WTForms' stock Select renders, for every kind
of submitted value, in both languages, with and without option groups."""

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice, SelectField
from wtforms.widgets import Select

from app.contacts.forms import ContactSearchForm, state_select_choices
from app.forms import BaseForm, CachedOptionsSelect, choices

PLAIN = [("", _l("All")), ("es", _l("Spanish")), ("en", _l("English")), ('x"<b>', "x&y")]


def _form(choice_list, widget):
    class Form(BaseForm):
        class Meta:
            csrf = False

        pick = SelectField(_l("Language"), choices=choices(choice_list), widget=widget)

    return Form


def _grouped_form(country, widget):
    class Form(BaseForm):
        class Meta:
            csrf = False

        pick = SelectField(_l("State"), choices=[], widget=widget)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.pick.choices = state_select_choices(country, _l("All"))

    return Form


SUBMITTED = [None, "", "es", "en", "zz", 'x"<b>', "02", "TX", "<script>"]


@pytest.mark.parametrize("locale", ["es", "en"])
@pytest.mark.parametrize("submitted", SUBMITTED)
def test_plain_choices_render_as_the_stock_widget(app, locale, submitted):
    cached = CachedOptionsSelect()
    data = MultiDict() if submitted is None else MultiDict({"pick": submitted})
    with app.test_request_context(), force_locale(locale):
        for _attempt in range(2):  # the miss, then the hit
            got = _form(PLAIN, cached)(data)
            want = _form(PLAIN, Select())(data)
            assert str(got.pick(**{"aria-invalid": "true"})) == str(
                want.pick(**{"aria-invalid": "true"})
            )


@pytest.mark.parametrize("country", ["MX", "US"])
@pytest.mark.parametrize("submitted", SUBMITTED)
def test_grouped_choices_render_as_the_stock_widget(app, country, submitted):
    cached = CachedOptionsSelect()
    data = MultiDict() if submitted is None else MultiDict({"pick": submitted})
    for locale in ("es", "en", "es"):
        with app.test_request_context(), force_locale(locale):
            got = _grouped_form(country, cached)(data)
            want = _grouped_form(country, Select())(data)
            assert str(got.pick()) == str(want.pick())


def test_the_cache_follows_the_locale_and_the_choice_values(app):
    cached = CachedOptionsSelect()
    with app.test_request_context():
        with force_locale("en"):
            english = str(_grouped_form("MX", cached)(MultiDict()).pick())
        with force_locale("es"):
            spanish = str(_grouped_form("MX", cached)(MultiDict()).pick())
            us_first = str(_grouped_form("US", cached)(MultiDict()).pick())
    assert ">Mexico</optgroup>" not in english  # optgroup labels are attributes
    assert 'label="Mexico"' in english and 'label="México"' in spanish
    assert spanish.index('label="México"') < spanish.index('label="Estados Unidos"')
    assert us_first.index('label="Estados Unidos"') < us_first.index('label="México"')


def test_fields_it_cannot_reproduce_fall_back_to_the_stock_widget(app):
    class Form(BaseForm):
        class Meta:
            csrf = False

        number = SelectField(
            "n",
            choices=[SelectChoice(1, "one"), SelectChoice(2, "two")],
            coerce=int,
            widget=CachedOptionsSelect(),
        )
        styled = SelectField(
            "s",
            choices=[SelectChoice("a", "A", render_kw={"data-x": "1"}), SelectChoice("b", "B")],
            widget=CachedOptionsSelect(),
        )

    with app.test_request_context():
        form = Form(MultiDict({"number": "2", "styled": "a"}))
        assert '<option selected value="2">two</option>' in str(form.number())
        assert '<option data-x="1" selected value="a">A</option>' in str(form.styled())


def test_the_contact_filters_use_it_and_keep_the_submitted_choice(app):
    with app.test_request_context(), force_locale("es"):
        form = ContactSearchForm(MultiDict({"state": "TX", "language": "en"}), org_country="MX")
        assert isinstance(form.state.widget, CachedOptionsSelect)
        assert '<option selected value="TX">Texas</option>' in str(form.state())
        assert '<option selected value="en">Inglés</option>' in str(form.language())
