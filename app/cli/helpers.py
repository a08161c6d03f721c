"""Helpers every CLI module uses. Depends on nothing but the kernel's errors and i18n."""

from functools import wraps

import click
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from app.errors import DomainError
from app.i18n import cli_locale, regional_locale


def localized(command):
    """Run a command in the operator's language (ALCANCE_LANG or LANG; Spanish by default)."""

    @wraps(command)
    def wrapped(*args, **kwargs):
        with force_locale(regional_locale(cli_locale())):
            return command(*args, **kwargs)

    return wrapped


def validated(form_class, **values):
    """Validate CLI values with a web form; exit with translated errors when invalid."""
    form = form_class(
        formdata=MultiDict({k: v for k, v in values.items() if v is not None}), meta={"csrf": False}
    )
    if not form.validate():
        for field in form:
            for error in field.errors:
                click.echo(f"{field.label.text}: {error}", err=True)
        raise SystemExit(2)
    return form


def fail(error: DomainError):
    click.echo(_("Error: %(message)s", message=str(error)), err=True)
    raise SystemExit(2)
