"""Template context shared by every page: navigation, language switch, labels."""

from urllib.parse import quote, urlencode

from flask import current_app, g, has_request_context, request
from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from app.contacts.forms import LANGUAGE_LABELS
from app.conversations.queries import attention_count
from app.i18n import current_language, html_lang
from app.jobs.labels import job_status_label
from app.organizations.countries import COUNTRY_LABELS
from app.outbox.labels import outbox_labels
from app.outreach.labels import send_labels
from app.timeutil import utcnow

# (endpoint, label, permission); features add their entry here.
NAV_ITEMS = [
    ("main.index", _l("Dashboard"), "view_reports"),
    ("conversations.inbox", _l("Inbox"), "coordinate"),
    ("campaigns.index", _l("Campaigns"), "coordinate"),
    ("contacts.index", _l("Contacts"), "view_contacts"),
    ("audiences.index", _l("Audiences"), "view_contacts"),
    ("workshops.index", _l("Workshops"), "coordinate"),
    ("surveys.index", _l("Surveys"), "coordinate"),
    ("whatsapp.templates", _l("WhatsApp templates"), "coordinate"),
    ("reports.index", _l("Reports"), "view_reports"),
    ("auth.users", _l("Users"), "manage_users"),
    ("outreach.simulator", _l("Phone simulator"), "coordinate"),
    ("organizations.settings", _l("Settings"), "manage_settings"),
]

# The navigation entry each page belongs to (aria-current in the header): endpoints first,
# then the blueprint as a whole. The outreach blueprint is split: its sends and inbox pages
# belong to Campaigns (as does any new page of it), its simulator pages to the phone
# simulator. Pages of no section (sign-in, change password, a background job) highlight
# nothing.
SECTION_BY_ENDPOINT = {
    "main.index": "main.index",
    "main.status": "organizations.settings",
    "auth.users": "auth.users",
    "auth.edit_user": "auth.users",
    "outreach.simulator": "outreach.simulator",
    "outreach.simulator_phone": "outreach.simulator",
    "outreach.simulator_messages": "outreach.simulator",
}
SECTION_BY_BLUEPRINT = {
    "campaigns": "campaigns.index",
    "outreach": "campaigns.index",
    "conversations": "conversations.inbox",
    "conversation_settings": "conversations.inbox",
    "contacts": "contacts.index",
    "contact_imports": "contacts.index",
    "audiences": "audiences.index",
    "workshops": "workshops.index",
    "attendance": "workshops.index",
    "surveys": "surveys.index",
    "whatsapp": "whatsapp.templates",
    "reports": "reports.index",
    "organizations": "organizations.settings",
    "integrations": "organizations.settings",
}


def nav_section(endpoint: str | None) -> str | None:
    """The NAV_ITEMS endpoint of the section `endpoint` belongs to, or None."""
    if not endpoint:
        return None
    if endpoint in SECTION_BY_ENDPOINT:
        return SECTION_BY_ENDPOINT[endpoint]
    return SECTION_BY_BLUEPRINT.get(endpoint.partition(".")[0])


ROLE_LABELS = {
    "admin": _l("Administrator"),
    "coordinator": _l("Coordinator"),
    "evaluator": _l("Evaluator"),
}

ERROR_TITLES = {
    400: _l("The request could not be processed"),
    401: _l("Please sign in"),
    403: _l("You do not have access to this page"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    413: _l("The file is too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong on our side"),
}
ERROR_TEXTS = {
    400: _l("Check what you sent and try again. If you submitted a form, reload the page first."),
    401: _l("Sign in to continue."),
    403: _l("Your role does not include this page. Ask an administrator of your organization."),
    404: _l("The page or record does not exist, or it belongs to another organization."),
    405: _l("Go back and use the buttons on the page."),
    413: _l("Upload a smaller file, or split it into several files."),
    429: _l("Wait a moment and try again."),
    500: _l("The error was recorded. Try again in a few minutes."),
}


def lang_switch_url(code: str) -> str:
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    # Percent-encoded, with one leading slash: browsers read a backslash as "/", so a
    # requested path such as /%5Cevil.example must not become a link off the site.
    path = "/" + quote(request.path.lstrip("/\\"), safe="/")
    return f"{path}?{urlencode(args, doseq=True)}"


def _inbox_label(label):
    """ "Inbox" with the count of conversations that need attention (one COUNT query)."""
    if not (current_user.is_authenticated and current_user.can("coordinate")):
        return label
    try:
        count = attention_count(current_user.organization_id)
    except SQLAlchemyError:  # an error page after a failed transaction: no count
        return label
    if not count:
        return label
    return Markup(
        '{} <span class="badge badge--warn" data-count="inbox"><span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">{}</span></span>'
    ).format(
        str(label),
        count,
        ngettext(
            "%(num)d conversation needs attention", "%(num)d conversations need attention", count
        ),
    )


def _nav_items() -> list:
    simulator = getattr(current_app.extensions.get("sms_gateway"), "name", "") == "simulator"
    return [
        (endpoint, _inbox_label(label), permission)
        if endpoint == "conversations.inbox" and has_request_context()
        else (endpoint, label, permission)
        for endpoint, label, permission in NAV_ITEMS
        if endpoint in current_app.view_functions
        and (simulator or endpoint != "outreach.simulator")
    ]


def template_context() -> dict:
    """The layout's context. Built once per request and locale: a page also renders SMS
    texts (previews, the opt-out line) through templates, and each render would otherwise
    rebuild it, inbox count query included."""
    if not has_request_context():
        return _template_context()
    built = g.setdefault("_ui_context", {})
    locale = str(get_locale())
    if locale not in built:
        built[locale] = _template_context()
    return built[locale]


def _template_context() -> dict:
    return {
        **outbox_labels(),
        **send_labels(),
        # The UI language ("es", "en"), also when the locale is regional (es_MX).
        "current_locale": current_language(),
        "html_lang": html_lang(),  # "es-MX": the browser formats numbers by it
        "nav_items": _nav_items(),
        "nav_section": nav_section(request.endpoint if has_request_context() else None),
        "lang_switch_url": lang_switch_url,
        "role_label": lambda role: ROLE_LABELS.get(role, role),
        "country_label": lambda code: COUNTRY_LABELS.get(code, code),
        "language_label": lambda code: LANGUAGE_LABELS.get(code, code),
        "job_status_label": job_status_label,
        "error_title": lambda code: ERROR_TITLES.get(code, ERROR_TITLES[500]),
        "error_text": lambda code: ERROR_TEXTS.get(code, ERROR_TEXTS[500]),
        "now": utcnow(),
    }
