"""/api/v1 reports: reach (organization or one campaign), survey results and experiment
results, as `flask reports reach|survey|experiment` prints them (the builders of
`reports.documents`), with the small-cell suppression evaluators get: these scopes are
evaluator-like, so every count below the organization's threshold, and every figure from
which one could be worked out, is "*". No names, phones or message texts."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE
from werkzeug.datastructures import MultiDict

from app.api.common import NOT_MODIFIED, key_org, owned
from app.api.feature_schemas import (
    ExperimentDocument,
    ReachArgs,
    ReachDocument,
    SurveyDocument,
)
from app.api.guard import guard, scope_required
from app.api.problems import ApiProblem
from app.campaigns.models import Campaign
from app.experiments.models import Experiment
from app.extensions import db
from app.i18n import current_language
from app.reports.documents import (
    experiment_document,
    reach_document,
    reach_tables,
    survey_document,
)
from app.reports.forms import ReportRangeForm
from app.surveys.models import Survey
from app.timeutil import utcnow

blp = Blueprint(
    "api_reports",
    __name__,
    url_prefix="/api/v1",
    description="Reports: reach, survey and experiment figures, suppressed as for evaluators.",
)
guard(blp)


def _threshold(org) -> int:
    return org.small_cell_threshold or 5


def _today(org):
    return datetime.now(ZoneInfo(org.timezone)).date()


def _range_form(org, args: dict) -> ReportRangeForm:
    """The report pages' period form (its date range and daily-points rules), or 422."""
    values = {
        "from": args["date_from"].isoformat() if args.get("date_from") else None,
        "to": args["date_to"].isoformat() if args.get("date_to") else None,
        "granularity": args.get("granularity"),
    }
    form = ReportRangeForm(
        formdata=MultiDict({k: v for k, v in values.items() if v is not None}),
        meta={"csrf": False},
        today=_today(org),
    )
    if not form.validate():
        errors = {field.name: list(field.errors) for field in form if field.errors}
        raise ApiProblem(
            "validation_failed",
            _("Some fields are not valid: see errors."),
            errors={"query": errors},
        )
    return form


def _reach(campaign, args: dict) -> dict:
    org = key_org()
    form = _range_form(org, args)
    period = form.period(org.timezone)
    _main, about, tables = reach_tables(
        org,
        period,
        campaign=campaign,
        today=_today(org),
        granularity=form.chosen_granularity(),
        threshold=_threshold(org),
        language=current_language(),
    )
    return reach_document(org, period, about, tables)


@blp.route("/reports/reach", methods=["GET"])
@scope_required(blp, "reports:read")
@blp.arguments(ReachArgs, location="query", unknown=RAISE)
@blp.response(200, ReachDocument)
@blp.doc(responses=NOT_MODIFIED)
def organization_reach(args):
    """The organization's reach for a period (`from`, `to`: whole days in its time zone):
    every table of the reports dashboard."""
    return _reach(None, args)


@blp.route("/campaigns/<int:campaign_id>/reach", methods=["GET"])
@scope_required(blp, "reports:read")
@blp.arguments(ReachArgs, location="query", unknown=RAISE)
@blp.response(200, ReachDocument)
@blp.doc(responses=NOT_MODIFIED)
def campaign_reach(args, campaign_id):
    """One campaign's reach for a period: every table of its report page (headline,
    representation, places, doses, messages, channels, workshop funnel, time series)."""
    campaign = owned(Campaign, campaign_id, _("No campaign with this id."))
    return _reach(campaign, args)


@blp.route("/surveys/<int:survey_id>/results", methods=["GET"])
@scope_required(blp, "reports:read")
@blp.response(200, SurveyDocument)
@blp.doc(responses=NOT_MODIFIED)
def survey_results(survey_id):
    """A survey's results: the funnel, every question's answers and breakdowns, and the
    baseline vs follow-up comparisons."""
    survey = owned(Survey, survey_id, _("No survey with this id."))
    org = key_org()
    return survey_document(org, survey, threshold=_threshold(org), language=current_language())


@blp.route("/experiments/<int:experiment_id>/results", methods=["GET"])
@scope_required(blp, "reports:read")
@blp.response(200, ExperimentDocument)
@blp.doc(responses=NOT_MODIFIED)
def experiment_results(experiment_id):
    """An experiment's report: the participant flow, each outcome by arm, each arm
    against the control, and the changes to its pre-registration."""
    experiment = owned(Experiment, experiment_id, _("No experiment with this id."))
    org = key_org()
    campaign = db.session.get(Campaign, experiment.campaign_id)
    return experiment_document(
        org, campaign, experiment, threshold=_threshold(org), now=utcnow(), today=_today(org)
    )
