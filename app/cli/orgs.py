"""`flask orgs create` and `flask users create`."""

import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.auth.forms import NewUserForm
from app.auth.services import create_user
from app.cli.helpers import fail, localized, validated
from app.errors import DomainError
from app.organizations.forms import OrganizationForm
from app.organizations.services import create_organization, organization_by_slug

orgs_cli = AppGroup("orgs", help="Manage organizations.")
users_cli = AppGroup("users", help="Manage users.")


@orgs_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--country", default="MX", show_default=True)
@click.option("--timezone", "tz", default="America/Mexico_City", show_default=True)
@click.option("--language", default="es", show_default=True)
@localized
def orgs_create(slug, name, country, tz, language):
    """Create an organization."""

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
