"""Flask CLI commands. Each validates its arguments with the same forms the web UI uses."""

import subprocess
import sys
from functools import wraps

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from .errors import DomainError
from .i18n import cli_locale

orgs_cli = AppGroup("orgs", help="Manage organizations.")
users_cli = AppGroup("users", help="Manage users.")
i18n_cli = AppGroup("i18n", help="Extract, update and compile translation catalogs.")


def localized(command):
    """Run a command in the operator's language (ALCANCE_LANG or LANG; Spanish by default)."""

    @wraps(command)
    def wrapped(*args, **kwargs):
        with force_locale(cli_locale()):
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


@orgs_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--country", default="MX", show_default=True)
@click.option("--timezone", "tz", default="America/Mexico_City", show_default=True)
@click.option("--language", default="es", show_default=True)
@localized
def orgs_create(slug, name, country, tz, language):
    """Create an organization."""
    from .organizations.forms import OrganizationForm
    from .organizations.services import create_organization

    form = validated(
        OrganizationForm,
        slug=slug,
        name=name,
        country=country.upper(),
        timezone=tz,
        default_language=language,
    )
    try:
        org = create_organization(
            slug=form.slug.data,
            name=form.name.data,
            country=form.country.data,
            timezone=form.timezone.data,
            default_language=form.default_language.data,
        )
    except DomainError as error:
        fail(error)
    click.echo(_("Organization %(slug)s created.", slug=org.slug))


@users_cli.command("create")
@click.option("--org", "org_slug", required=True)
@click.option("--email", required=True)
@click.option("--role", required=True)
@click.option("--language", default="es", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@localized
def users_create(org_slug, email, role, language, password_stdin):
    """Create a user; the password is prompted for (or read from stdin)."""
    from .auth.forms import NewUserForm
    from .auth.services import create_user
    from .organizations.services import organization_by_slug

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    form = validated(NewUserForm, email=email, role=role, language=language, password=password)
    try:
        org = organization_by_slug(org_slug)
        user = create_user(
            org,
            email=form.email.data,
            role=form.role.data,
            password=password,
            language=form.language.data,
        )
    except DomainError as error:
        fail(error)
    click.echo(_("User %(email)s created with role %(role)s.", email=user.email, role=user.role))


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even when the database already has data.")
@localized
def seed_demo(force):
    """Create the demo organization and one user per role, then print their logins."""
    from .demo import demo_logins_if_present, seed_demo_data

    if current_app.config["ENV_NAME"] == "production" and not force:
        click.echo(_("Refusing to seed demo data in production without --force."), err=True)
        raise SystemExit(2)
    logins = seed_demo_data(only_if_empty=not force)
    if logins is None:
        click.echo(_("The database already has data; demo not seeded."))
        logins = demo_logins_if_present()
        if logins is None:
            return
    click.echo(_("Demo organization ready. Sign in at %(url)s with:", url="http://127.0.0.1:5000"))
    for role, email, password in logins:
        click.echo(f"  {role:<12} {email:<32} {password}")


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True)


@i18n_cli.command("extract")
def i18n_extract():
    """Extract messages into translations/messages.pot."""
    _pybabel(
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "_l",
        "-k",
        "lazy_gettext",
        "-k",
        "lazy_ngettext:1,2",
        "-c",
        "TRANSLATORS:",
        "--no-location",
        "--sort-output",
        "-o",
        "translations/messages.pot",
        ".",
    )


@i18n_cli.command("update")
def i18n_update():
    """Merge messages.pot into every language catalog."""
    _pybabel(
        "update", "-i", "translations/messages.pot", "-d", "translations", "--no-fuzzy-matching"
    )


@i18n_cli.command("compile")
def i18n_compile():
    """Compile the .po catalogs into .mo files."""
    _pybabel("compile", "-d", "translations")


def register_cli(app) -> None:
    from .contacts.cli import contacts_cli
    from .outreach.cli import outreach_cli
    from .reports.cli import reports_cli

    for command in (
        orgs_cli,
        users_cli,
        i18n_cli,
        seed_demo,
        contacts_cli,
        outreach_cli,
        reports_cli,
    ):
        app.cli.add_command(command)
