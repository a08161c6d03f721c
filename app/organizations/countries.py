"""The countries an organization (and its contacts) may be in, with their translated names."""

from flask_babel import lazy_gettext as _l

from app.organizations.models import COUNTRIES

COUNTRY_LABELS = {"MX": _l("Mexico"), "US": _l("United States")}

assert set(COUNTRY_LABELS) == set(COUNTRIES)
