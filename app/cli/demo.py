"""`flask seed-demo`."""

import click
from flask import current_app
from flask_babel import gettext as _

from app.cli.helpers import localized
from app.demo import demo_logins_if_present, seed_demo_data


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even when the database already has data.")
@localized
def seed_demo(force):
    """Create the demo organization and one user per role, then print their logins."""
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
