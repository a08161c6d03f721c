"""The reports as JSON documents: reach (organization or one campaign), survey results and
experiment reports, every table of the page with its rows and total.

One builder per report, used by `flask reports …` (exact counts, `threshold` None) and by
the public API (/api/v1, the evaluator's suppression: `threshold` the organization's).
Suppressed counts are written as the table shows them ("*"); nothing here names a person.
"""

from datetime import date, datetime

from app.reports.campaign import campaign_figures
from app.reports.experiment_tables import experiment_tables, item_labels, outcome_title
from app.reports.experiments import experiment_cells, experiment_figures
from app.reports.organization import organization_figures
from app.reports.period import Period
from app.reports.suppression import Hidden
from app.reports.survey_tables import survey_tables
from app.reports.surveys import TooFew, survey_cells, survey_figures
from app.reports.tables import campaign_tables, conversation_tables, organization_tables


def json_value(value):
    """A table cell as JSON: dates in ISO format, hidden counts as shown ("*")."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Hidden):
        return str(value)
    if isinstance(value, TooFew):
        return None
    if isinstance(value, float):
        return round(value, 6)
    return value


def table_json(table) -> dict:
    keys = [c.key for c in table.spec.columns]
    rows = [dict(zip(keys, map(json_value, row), strict=True)) for row in table.rows]
    result = {"rows": rows}
    if table.total is not None:
        result["total"] = dict(zip(keys, map(json_value, table.total), strict=True))
    return result


def reach_tables(
    org, period: Period, *, campaign=None, today: date, granularity, threshold, language: str
) -> tuple[str, dict, dict]:
    """(main table key, what the figures are about, tables) of a reach report: one
    campaign's dashboard tables, or the organization's."""
    if campaign is not None:
        figures = campaign_figures(campaign, period, today=today, granularity=granularity)
        about = {
            "campaign": {
                "id": campaign.id,
                "name": campaign.name,
                "strategy": campaign.strategy,
                "level": campaign.level,
            }
        }
        return "summary", about, campaign_tables(figures, threshold, language)
    figures = organization_figures(org.id, period)
    # organization_tables are campaign-level (exact); the conversation funnel is suppressed
    tables = {**organization_tables(figures), **conversation_tables(figures, threshold)}
    return "campaigns", {}, tables


def reach_document(org, period: Period, about: dict, tables: dict) -> dict:
    return {
        "organization": org.slug,
        **about,
        "period": {
            "from": json_value(period.start),
            "to": json_value(period.end),
            "timezone": period.tz,
        },
        "tables": {key: table_json(table) for key, table in tables.items()},
    }


def survey_document(org, survey, *, threshold, language: str) -> dict:
    """A survey's results: the funnel, every question's answers and breakdowns, and the
    baseline vs follow-up comparisons."""
    figures = survey_figures(org.id, survey.id)
    cells = survey_cells(figures, threshold, org.small_cell_threshold or 5)
    tables = survey_tables(figures, cells, survey.id, language)
    return {
        "organization": org.slug,
        "survey": {
            "id": survey.id,
            "title": survey.title_en if language == "en" else survey.title_es,
        },
        "tables": {key: table_json(table) for key, table in tables.items()},
    }


def experiment_document(org, campaign, experiment, *, threshold, now, today: date) -> dict:
    """A campaign's experiment report: the participant flow, each outcome by arm and each
    arm against the control, and the pre-registration changes."""
    figures = experiment_figures(experiment, now=now, today=today)
    items = item_labels(org.id)
    tables = experiment_tables(figures, experiment_cells(figures, threshold), items)
    return {
        "organization": org.slug,
        "campaign": {"id": campaign.id, "name": campaign.name},
        "experiment": {
            "id": experiment.id,
            "status": experiment.status,
            "started_at": json_value(experiment.started_at),
            "finished_at": json_value(experiment.finished_at),
            "as_of": json_value(now),
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
        "tables": {key: table_json(table) for key, table in tables.items()},
        "preregistration_changes": [
            {
                "changed_at": json_value(change.changed_at),
                "after_start": change.after_start,
                "reason": change.reason,
                "before": change.before,
                "after": change.after,
            }
            for change in figures.changes
        ],
    }
