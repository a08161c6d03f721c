"""`flask reports reach`, `flask reports survey` and `flask reports experiment`: the
dashboards', survey results' and experiment reports' figures for scripts (JSON or CSV on
stdout).

The command runs with the server's own access, so it prints exact counts (no
small-cell suppression): whoever can run it can read the database anyway.
"""

import json
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.campaigns.models import Campaign
from app.cli.helpers import fail, localized, validated
from app.errors import DomainError
from app.experiments.services import experiment_of
from app.extensions import db
from app.organizations.services import organization_by_slug
from app.reports import experiment_export
from app.reports.documents import (
    experiment_document,
    reach_document,
    reach_tables,
    survey_document,
)
from app.reports.experiment_tables import experiment_tables, item_labels
from app.reports.experiments import experiment_cells, experiment_figures
from app.reports.exports import csv_text, table_csv
from app.reports.forms import ReportRangeForm
from app.reports.survey_tables import survey_tables
from app.reports.surveys import survey_cells, survey_figures
from app.surveys.models import Survey
from app.timeutil import utcnow

reports_cli = AppGroup("reports", help="Participation and reach figures.")
FORMATS = ("json", "csv")


def _error(message: str):
    click.echo(_("Error: %(message)s", message=message), err=True)
    raise SystemExit(2)


def _org_for_output(org_slug, output):
    """The organization of --org, once --org and --format are valid (else exit 2)."""
    if not org_slug:
        _error(_("Give the organization's slug with --org."))
    if output not in FORMATS:
        _error(_("Unknown format %(format)s: use json or csv.", format=output))
    try:
        return organization_by_slug(org_slug)
    except DomainError as error:
        fail(error)


def _owned_by_id(model, org, raw_id):
    """The organization's row whose ID was typed, or None (not a number: none)."""
    wanted = int(raw_id) if raw_id.isdigit() and len(raw_id) < 10 else -1
    return db.session.scalar(
        select(model).where(model.organization_id == org.id, model.id == wanted)
    )


def _echo_tables_csv(tables: dict) -> None:
    """Every table one after another, each under a line with its key."""
    for key, table in tables.items():
        click.echo(f"# {key}")
        click.echo(table_csv(table).lstrip("\ufeff"), nl=False)


@reports_cli.command("reach")
@click.option("--org", "org_slug", help="Slug of the organization.")
@click.option("--campaign", "campaign_id", help="A campaign ID (default: every campaign).")
@click.option("--from", "date_from", help="First day, YYYY-MM-DD (organization's time zone).")
@click.option("--to", "date_to", help="Last day, YYYY-MM-DD (included).")
@click.option("--granularity", default="", help="Time series points: day or week.")
@click.option("--format", "output", default="json", show_default=True, help="json or csv.")
@localized
def reach(org_slug, campaign_id, date_from, date_to, granularity, output):
    """Print reach figures of an organization, or of one campaign, for a period.

    JSON carries every dashboard table; CSV the headline table (one campaign) or the
    campaigns table (whole organization). Bad arguments exit with status 2.
    """
    if not org_slug:
        _error(_("Give the organization's slug with --org."))
    if output not in FORMATS:
        _error(_("Unknown format %(format)s: use json or csv.", format=output))
    try:
        org = organization_by_slug(org_slug)
    except DomainError as error:
        fail(error)
    campaign = None
    if campaign_id is not None:
        campaign = db.session.scalar(
            select(Campaign).where(
                Campaign.organization_id == org.id,
                Campaign.id == (int(campaign_id) if campaign_id.isdigit() else -1),
            )
        )
        if campaign is None:
            _error(_("No campaign %(id)s in organization %(slug)s.", id=campaign_id, slug=org.slug))
    today = datetime.now(ZoneInfo(org.timezone)).date()
    form = validated(
        partial(ReportRangeForm, today=today),
        **{"from": date_from, "to": date_to, "granularity": granularity},
    )
    period = form.period(org.timezone)

    main, about, tables = reach_tables(
        org,
        period,
        campaign=campaign,
        today=today,
        granularity=form.chosen_granularity(),
        threshold=None,
        language=str(get_locale() or "es"),
    )
    if output == "csv":
        click.echo(table_csv(tables[main]).lstrip("\ufeff"), nl=False)
        return
    document = reach_document(org, period, about, tables)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@reports_cli.command("survey")
@click.option("--org", "org_slug", help="Slug of the organization.")
@click.option("--survey", "survey_id", help="The survey's ID.")
@click.option("--format", "output", default="json", show_default=True, help="json or csv.")
@localized
def survey(org_slug, survey_id, output):
    """Print a survey's results: the funnel, every question's answers and breakdowns, and
    baseline vs follow-up comparisons (exact counts, like `reports reach`).

    JSON carries every table of the results page; CSV every table one after another, each
    under a line with its key. Bad arguments exit with status 2 and change nothing.
    """
    org = _org_for_output(org_slug, output)
    if not survey_id:
        _error(_("Give the survey's ID with --survey."))
    found = _owned_by_id(Survey, org, survey_id)
    if found is None:
        _error(_("No survey %(id)s in organization %(slug)s.", id=survey_id, slug=org.slug))
    language = str(get_locale() or "es")
    if output == "csv":
        figures = survey_figures(org.id, found.id)
        cells = survey_cells(figures, None, org.small_cell_threshold or 5)
        _echo_tables_csv(survey_tables(figures, cells, found.id, language))
        return
    document = survey_document(org, found, threshold=None, language=language)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@reports_cli.command("experiment")
@click.option("--org", "org_slug", help="Slug of the organization.")
@click.option("--campaign", "campaign_id", help="The campaign's ID (its experiment).")
@click.option("--format", "output", default="json", show_default=True, help="json or csv.")
@click.option(
    "--assignments",
    is_flag=True,
    help="CSV: the de-identified arm assignments (one row per contact) instead of the tables.",
)
@localized
def experiment(org_slug, campaign_id, output, assignments):
    """Print a campaign's experiment report: the participant flow, each outcome by arm and
    each arm against the control (exact counts, like `reports reach`).

    JSON carries every table and the pre-registration changes; CSV every table one after
    another, each under a line with its key, or with --assignments the de-identified
    assignments file. Bad arguments exit with status 2 and change nothing.
    """
    org = _org_for_output(org_slug, output)
    if not campaign_id:
        _error(_("Give the campaign's ID with --campaign."))
    campaign = _owned_by_id(Campaign, org, campaign_id)
    if campaign is None:
        _error(_("No campaign %(id)s in organization %(slug)s.", id=campaign_id, slug=org.slug))
    found = experiment_of(campaign)
    if found is None:
        _error(_("Campaign %(id)s runs no experiment.", id=campaign.id))
    now = utcnow()
    today = datetime.now(ZoneInfo(org.timezone)).date()
    if output == "json" and not assignments:
        document = experiment_document(org, campaign, found, threshold=None, now=now, today=today)
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    figures = experiment_figures(found, now=now, today=today)
    if assignments:
        rows = experiment_export.file_rows(
            found,
            figures,
            secret_key=current_app.config["SECRET_KEY"],
            threshold=None,
            now=now,
            today=today,
        )
        click.echo(csv_text(rows), nl=False)
        return
    _echo_tables_csv(
        experiment_tables(figures, experiment_cells(figures, None), item_labels(org.id))
    )
