"""`flask reports reach`, `flask reports survey` and `flask reports experiment`: the
dashboards', survey results' and experiment reports' figures for scripts (JSON or CSV on
stdout).

The command runs with the server's own access, so it prints exact counts (no
small-cell suppression): whoever can run it can read the database anyway.
"""

import json
from datetime import date, datetime
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
from app.reports.campaign import campaign_figures
from app.reports.experiment_tables import experiment_tables, item_labels, outcome_title
from app.reports.experiments import experiment_cells, experiment_figures
from app.reports.exports import csv_text, table_csv
from app.reports.forms import ReportRangeForm
from app.reports.organization import organization_figures
from app.reports.suppression import Hidden
from app.reports.survey_tables import survey_tables
from app.reports.surveys import TooFew, survey_cells, survey_figures
from app.reports.tables import campaign_tables, organization_tables
from app.surveys.models import Survey
from app.timeutil import utcnow

reports_cli = AppGroup("reports", help="Participation and reach figures.")
FORMATS = ("json", "csv")


def _error(message: str):
    click.echo(_("Error: %(message)s", message=message), err=True)
    raise SystemExit(2)


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Hidden):
        return str(value)
    if isinstance(value, TooFew):
        return None
    if isinstance(value, float):
        return round(value, 6)
    return value


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


def _table_json(table) -> dict:
    keys = [c.key for c in table.spec.columns]
    rows = [dict(zip(keys, map(_json_value, row), strict=True)) for row in table.rows]
    result = {"rows": rows}
    if table.total is not None:
        result["total"] = dict(zip(keys, map(_json_value, table.total), strict=True))
    return result


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

    if campaign is not None:
        figures = campaign_figures(
            campaign, period, today=today, granularity=form.chosen_granularity()
        )
        tables = campaign_tables(figures, None, str(get_locale() or "es"))
        main, about = (
            "summary",
            {
                "campaign": {
                    "id": campaign.id,
                    "name": campaign.name,
                    "strategy": campaign.strategy,
                    "level": campaign.level,
                }
            },
        )
    else:
        tables = organization_tables(organization_figures(org.id, period))
        main, about = "campaigns", {}

    if output == "csv":
        click.echo(table_csv(tables[main]).lstrip("\ufeff"), nl=False)
        return
    document = {
        "organization": org.slug,
        **about,
        "period": {
            "from": _json_value(period.start),
            "to": _json_value(period.end),
            "timezone": period.tz,
        },
        "tables": {key: _table_json(table) for key, table in tables.items()},
    }
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
    figures = survey_figures(org.id, found.id)
    cells = survey_cells(figures, None, org.small_cell_threshold or 5)
    tables = survey_tables(figures, cells, found.id, language)
    if output == "csv":
        _echo_tables_csv(tables)
        return
    document = {
        "organization": org.slug,
        "survey": {
            "id": found.id,
            "title": found.title_en if language == "en" else found.title_es,
        },
        "tables": {key: _table_json(table) for key, table in tables.items()},
    }
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
    figures = experiment_figures(found, now=now, today=today)
    items = item_labels(org.id)
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
    tables = experiment_tables(figures, experiment_cells(figures, None), items)
    if output == "csv":
        _echo_tables_csv(tables)
        return
    document = {
        "organization": org.slug,
        "campaign": {"id": campaign.id, "name": campaign.name},
        "experiment": {
            "id": found.id,
            "status": found.status,
            "started_at": _json_value(found.started_at),
            "finished_at": _json_value(found.finished_at),
            "as_of": _json_value(now),
            "control_arm": figures.control.key if figures.control else None,
            "comparisons": figures.comparisons(),
            "outcomes": [
                {
                    "code": o.code,
                    "kind": o.kind,
                    "window_days": o.window_days,
                    "primary": o.is_primary,
                    "text": outcome_title(o, items),
                }
                for o in figures.outcomes
            ],
        },
        "tables": {key: _table_json(table) for key, table in tables.items()},
        "preregistration_changes": [
            {
                "changed_at": _json_value(change.changed_at),
                "after_start": change.after_start,
                "reason": change.reason,
                "before": change.before,
                "after": change.after,
            }
            for change in figures.changes
        ],
    }
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
