"""Fixed SMS texts (templates/outreach/sms/*.txt) in the recipient's language."""

from flask import render_template
from flask_babel import force_locale


def sms_text(template: str, language: str, **context) -> str:
    """A system SMS (templates/outreach/sms/<template>.txt) in `language`, on one line."""
    with force_locale(language):
        return " ".join(render_template(f"outreach/sms/{template}.txt", **context).split())


def opt_out_notice(language: str) -> str:
    """The opt-out instruction added to a contact's first message (and always, if the
    organization chooses): the exact line the worker appends."""
    return sms_text("opt_out_notice", language)
