"""Report pages and exports: read-only, for evaluators, coordinators and administrators.

Nothing here selects a name or a phone number. Users who may not see contacts
(evaluators) get small counts suppressed (see suppression.py); the others, exact counts.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_date, format_decimal, format_number, format_percent
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from app.campaigns.models import Campaign
from app.campaigns.services import LEVEL_LABELS, STATUS_LABELS, STRATEGY_LABELS
from app.experiments.labels import experiment_labels
from app.experiments.services import experiment_of
from app.forms import form_status
from app.i18n import current_language
from app.jobs.models import Job
from app.jobs.views import job_view
from app.permissions import permission_required
from app.reports import charts, experiment_export, export_jobs, exports
from app.reports.anonymity import plan_export
from app.reports.cache import cached, cached_fragment
from app.reports.campaign import campaign_figures
from app.reports.channels import spend_view
from app.reports.experiment_tables import (
    experiment_charts,
    experiment_tables,
    item_labels,
    multiplicity_note,
    spec_text,
)
from app.reports.experiments import (
    experiment_cells,
    experiment_figures,
    experiments_with_reports,
)
from app.reports.forms import ReportRangeForm
from app.reports.metrics import METRICS
from app.reports.organization import cached_organization_figures, organization_key
from app.reports.period import Period
from app.reports.specs import CAMPAIGN_TABLES, ORGANIZATION_TABLES, SPECS
from app.reports.suppression import is_hidden
from app.reports.survey_tables import (
    DIMENSION_LABELS,
    answer_rows,
    codebook_rows,
    method_notes,
    run_label,
    survey_tables,
    value_label,
)
from app.reports.surveys import (
    DIMENSIONS,
    SKIPPED,
    survey_cells,
    survey_figures,
    surveys_with_results,
)
from app.reports.tables import campaign_tables, conversation_tables, organization_tables
from app.surveys.models import Survey
from app.tenancy import get_owned_or_404
from app.timeutil import utcnow

bp = Blueprint("reports", __name__, url_prefix="/reports")


# --- helpers -----------------------------------------------------------------------------


def _org():
    return current_user.organization


def _threshold() -> int | None:
    """Suppression threshold for the viewer: None (exact) for users who may see contacts."""
    if current_user.can("view_contacts"):
        return None
    return _org().small_cell_threshold or 5


def person_files_allowed() -> bool:
    """Per-person files (events, survey answers, experiment assignments) for this viewer:
    always for those who see contacts; for evaluators, when an administrator allowed it."""
    return _threshold() is None or bool(_org().evaluator_person_files)


@bp.context_processor
def _person_files_context():
    return {"person_files": person_files_allowed}


def _person_files_or_403() -> None:
    if not person_files_allowed():
        message = _(
            "Your organization does not share per-person files with evaluators. The report "
            "pages and their tables have the figures; an administrator can allow these files "
            "in Settings under a data-sharing agreement."
        )
        page = render_template("errors/error.html", code=403, message=message)
        abort(make_response(page, 403))


def _today():
    return datetime.now(ZoneInfo(_org().timezone)).date()


def _campaign_key(campaign, period: Period, granularity) -> tuple:
    return ("campaign", campaign.organization_id, campaign.id, period, _today(), granularity)


def _campaign_figures(campaign, period: Period, granularity):
    """The campaign's figures and when they were computed (cache.py)."""
    key = _campaign_key(campaign, period, granularity)
    today = key[4]
    return cached(
        key, lambda: campaign_figures(campaign, period, today=today, granularity=granularity)
    )


def _fragment(figures_key: tuple, computed, threshold, range_args: dict, render) -> Markup:
    """The report's tables and charts as HTML, rendered once per figures and viewer
    variant (suppression threshold, language, period links) and reused (cache.py)."""
    variant = (
        threshold,
        _language(),
        tuple(sorted(range_args.items())),
        person_files_allowed(),
    )
    return Markup(cached_fragment(figures_key, computed, variant, render))


def _range_form() -> ReportRangeForm:
    return ReportRangeForm(formdata=request.args, today=_today())


def _valid_range_or_400() -> ReportRangeForm:
    """For exports: a bad period is a bad request (the pages show the form's errors)."""
    form = _range_form()
    if not form.validate():
        abort(400)
    return form


def _language() -> str:
    return current_language()


def _rate(value) -> str:
    if is_hidden(value):
        return str(value)
    return "—" if value is None else format_percent(value, "#,##0.0%")


def _download(body, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _period_slug(period: Period) -> str:
    return "{}_{}".format(
        period.start.isoformat() if period.start else "start",
        period.end.isoformat() if period.end else "now",
    )


@bp.context_processor
def report_helpers() -> dict:
    return {
        "fmt_rate": _rate,
        "fmt_number": format_number,
        "fmt_count": lambda v: str(v) if is_hidden(v) else format_number(v),
        "fmt_decimal": lambda v: (
            "—" if v is None else str(v) if is_hidden(v) else format_decimal(v, "#,##0.0#")
        ),
        "strategy_label": lambda code: STRATEGY_LABELS.get(code, code),
        "level_label": lambda code: LEVEL_LABELS.get(code, code),
        "status_label": lambda code: STATUS_LABELS.get(code, code),
        "export_url": export_url,
        "is_hidden": is_hidden,
        **experiment_labels(),
    }


# --- pages -------------------------------------------------------------------------------


@bp.get("/")
@permission_required("view_reports")
def index():
    org = _org()
    form = _range_form()
    figures = body = computed_at = None
    range_args, threshold = _range_args(form), _threshold()
    if form.validate():
        period = form.period(org.timezone)
        computed = cached_organization_figures(org, period)
        figures, computed_at = computed.value, computed.computed_at
        body = _fragment(
            organization_key(org, period),
            computed,
            threshold,
            range_args,
            lambda: render_template(
                "reports/_index_body.html",
                figures=figures,
                tables={**organization_tables(figures), **conversation_tables(figures, threshold)},
                range_args=range_args,
                threshold=threshold,
            ),
        )
    return render_template(
        "reports/index.html",
        form=form,
        figures=figures,
        body=body,
        computed_at=computed_at,
    ), form_status(form)


@bp.get("/campaigns/<int:campaign_id>")
@permission_required("view_reports")
def campaign(campaign_id):
    org = _org()
    campaign = get_owned_or_404(Campaign, campaign_id)
    form = _range_form()
    figures = body = computed_at = None
    range_args, threshold = _range_args(form), _threshold()
    if form.validate():
        key = _campaign_key(campaign, form.period(org.timezone), form.chosen_granularity())
        computed = _campaign_figures(campaign, key[3], key[5])
        figures, computed_at = computed.value, computed.computed_at
        body = _fragment(
            key,
            computed,
            threshold,
            range_args,
            lambda: _render_campaign_body(campaign, figures, threshold, range_args),
        )
    return render_template(
        "reports/campaign.html",
        campaign=campaign,
        experiment=experiment_of(campaign),
        form=form,
        figures=figures,
        body=body,
        computed_at=computed_at,
        range_args=range_args,
    ), form_status(form)


def _render_campaign_body(campaign, figures, threshold, range_args: dict) -> str:
    tables = campaign_tables(figures, threshold, _language())
    return render_template(
        "reports/_campaign_body.html",
        spend=spend_view(figures.by_channel, exact=threshold is None),
        campaign=campaign,
        figures=figures,
        tables=tables,
        charts=_campaign_charts(figures, tables),
        headline={row[0]: row[2] for row in tables["summary"].rows},
        threshold=threshold,
        range_args=range_args,
    )


def _range_args(form: ReportRangeForm) -> dict:
    """The valid period's query arguments, for export links."""
    if form.errors:
        return {}
    args = form.period("UTC").as_args()
    if form.chosen_granularity():
        args["granularity"] = form.chosen_granularity()
    return args


def _campaign_charts(figures, tables) -> dict:
    def short_date(day):
        pattern = (
            "d MMM" if figures.granularity == "day" or len(figures.series) < 60 else "MMM yyyy"
        )
        return format_date(day, pattern)

    points = [(p.start, p.cumulative) for p in figures.series]
    new = [(p.start, p.new) for p in figures.series]
    same_data = _("The table next to the chart has the same data.")

    def shares(table, label_column):
        labels = table.column_values(label_column)
        return [
            (str(label), [r, t])
            for label, r, t in zip(
                labels,
                table.column_values("reached_share"),
                table.column_values("targeted_share"),
                strict=True,
            )
        ]

    # The funnel chart draws the table's total row: the same hidden values ("*").
    totals = dict(
        zip([c.key for c in tables["funnel"].spec.columns], tables["funnel"].total, strict=True)
    )
    funnel_rows = [
        (label, [totals[key]])
        for key, label in (
            ("invited", _("Invited")),
            ("rsvp_yes", _("RSVP yes")),
            ("attended", _("Attended")),
            ("attended_after_rsvp", _("Attended after RSVP")),
            ("walk_ins", _("Walk-ins")),
            ("no_shows", _("No-shows")),
        )
    ]
    series = [_("Reached"), _("Targeted")]
    return {
        "cumulative": charts.time_chart(
            "chart-cumulative",
            _("Cumulative reach"),
            _("Line chart of contacts reached so far, by date.") + " " + same_data,
            points,
            kind="line",
            fmt=lambda v: format_number(round(v)),
            date_fmt=short_date,
        ),
        "new": charts.time_chart(
            "chart-new",
            _("Newly reached"),
            _("Bar chart of contacts reached for the first time, by date.") + " " + same_data,
            new,
            kind="bars",
            fmt=lambda v: format_number(round(v)),
            date_fmt=short_date,
        ),
        "age_band": charts.bar_chart(
            "chart-age",
            _("Reached and targeted by age band"),
            _(
                "Bars compare the share of reached contacts with the share of the targeted "
                "audience in each age band."
            )
            + " "
            + same_data,
            shares(tables["age_band"], "label"),
            series=series,
            fmt=_rate,
        ),
        "state": charts.bar_chart(
            "chart-state",
            _("Reached and targeted by state"),
            _(
                "Bars compare the share of reached contacts with the share of the targeted "
                "audience in each state."
            )
            + " "
            + same_data,
            shares(tables["state"], "state"),
            series=series,
            fmt=_rate,
        ),
        "funnel": charts.bar_chart(
            "chart-funnel",
            _("Workshop funnel"),
            _("Bars show how many contacts reached each step, all workshops together.")
            + " "
            + same_data,
            funnel_rows,
            series=[_("Contacts")],
            fmt=format_number,
        ),
    }


@bp.get("/glossary")
@permission_required("view_reports")
def glossary():
    return render_template(
        "reports/glossary.html",
        metrics=METRICS,
        threshold=_threshold(),
        org_threshold=_org().small_cell_threshold or 5,
    )


@bp.get("/codebook")
@permission_required("view_reports")
def codebook():
    export = request.args.get("export") or None
    if export is not None and export != "events" and export not in SPECS:
        abort(404)
    threshold = _threshold()
    stats, scope_args = _export_stats(export, threshold)
    if request.args.get("format") == "csv":
        if export is None:
            abort(404)
        return _download(
            exports.codebook_csv(export, threshold, stats),
            f"alcance-codebook-{export}-{_language()}.csv",
        )
    keys = [export] if export else ["events", *CAMPAIGN_TABLES, *ORGANIZATION_TABLES]
    books = [
        (
            key,
            SPECS[key].title if key != "events" else _("Participation events"),
            exports.codebook_entries(key, threshold, stats if key == "events" else None),
        )
        for key in keys
    ]
    return render_template(
        "reports/codebook.html",
        books=books,
        threshold=threshold,
        stats=stats,
        scope_args=scope_args,
    )


def _export_stats(export, threshold) -> tuple[dict | None, dict]:
    """For an evaluator's codebook of one event export (campaign_id or all=1, and the
    period, as in the export's link): what its k-anonymous copy generalized."""
    if (
        export != "events"
        or not threshold
        or not (request.args.get("campaign_id") or request.args.get("all"))
    ):
        return None, {}
    org = _org()
    form = _valid_range_or_400()
    campaign_id = None
    args = _range_args(form)
    if request.args.get("campaign_id"):
        campaign_id = get_owned_or_404(Campaign, request.args.get("campaign_id")).id
        args["campaign_id"] = campaign_id
    else:
        args["all"] = 1
    plan = plan_export(org.id, campaign_id, form.period(org.timezone), threshold)
    return dict(plan.stats), args


# --- exports -----------------------------------------------------------------------------


@bp.get("/export/<table>.csv")
@permission_required("view_reports")
def export_table(table):
    if table not in SPECS:
        abort(404)
    org = _org()
    form = _valid_range_or_400()
    period = form.period(org.timezone)
    if SPECS[table].scope == "organization":
        figures = cached_organization_figures(org, period).value
        built = {**organization_tables(figures), **conversation_tables(figures, _threshold())}
        name = f"alcance-{org.slug}-{table}-{_period_slug(period)}.csv"
    else:
        campaign = get_owned_or_404(Campaign, request.args.get("campaign_id"))
        figures = _campaign_figures(campaign, period, form.chosen_granularity()).value
        built = campaign_tables(figures, _threshold(), _language())
        name = f"alcance-{org.slug}-campaign{campaign.id}-{table}-{_period_slug(period)}.csv"
    return _download(exports.table_csv(built[table]), name)


@bp.get("/export/events.csv")
@permission_required("view_reports")
def export_events():
    org = _org()
    form = _valid_range_or_400()
    period = form.period(org.timezone)
    campaign_id = None
    if request.args.get("campaign_id"):
        campaign_id = get_owned_or_404(Campaign, request.args.get("campaign_id")).id
    _person_files_or_403()
    scope = f"campaign{campaign_id}" if campaign_id else "all"
    filename = f"alcance-{org.slug}-events-{scope}-{_period_slug(period)}.csv"
    total = export_jobs.count_events(org.id, campaign_id=campaign_id, period=period)
    if total > current_app.config["EXPORT_INLINE_MAX_EVENTS"]:  # a worker writes it
        job = export_jobs.queue_event_export(
            org.id,
            user_id=current_user.id,
            campaign_id=campaign_id,
            period=period,
            threshold=_threshold(),
            locale=_language(),
            filename=filename,
            total=total,
            now=utcnow(),
        )
        return redirect(url_for(".export_job", job_id=job.id))
    rows = exports.event_rows(
        org.id,
        campaign_id=campaign_id,
        period=period,
        secret_key=current_app.config["SECRET_KEY"],
        threshold=_threshold(),
    )
    return _download(stream_with_context(exports.stream_csv(rows)), filename)


def _export_job_or_404(job_id: int) -> Job:
    job = get_owned_or_404(Job, job_id)
    if not export_jobs.may_download(job, current_user):
        abort(404)
    return job


@bp.get("/exports/<int:job_id>")
@permission_required("view_reports")
def export_job(job_id):
    job = _export_job_or_404(job_id)
    _person_files_or_403()
    p = job.payload
    codebook_args = {
        "export": "events",
        **({"campaign_id": p["campaign_id"]} if p.get("campaign_id") else {"all": 1}),
    }
    codebook_args.update({k: v for k, v in (("from", p.get("start")), ("to", p.get("end"))) if v})
    return render_template(
        "reports/export_job.html",
        job=job,
        ready=export_jobs.export_file(job) is not None,
        codebook_url=url_for(".codebook", **codebook_args),
        status_url=url_for(".export_job_status", job_id=job.id),
    )


@bp.get("/exports/<int:job_id>/status")
@permission_required("view_reports")
def export_job_status(job_id):
    return jsonify(job_view(_export_job_or_404(job_id)))


@bp.get("/exports/<int:job_id>/events.csv")
@permission_required("view_reports")
def export_download(job_id):
    job = _export_job_or_404(job_id)
    _person_files_or_403()
    export = export_jobs.export_file(job)
    if export is None:
        abort(404)
    response = _download(export_jobs.csv_chunks(export), export.filename)
    response.headers["Content-Length"] = str(export.size)
    return response


def export_url(table: str, campaign_id: int | None, range_args: dict) -> str:
    args = dict(range_args)
    if campaign_id is not None:
        args["campaign_id"] = campaign_id
    return url_for("reports.export_table", table=table, **args)


# --- survey results (issue 17) --------------------------------------------------------------


def _min_n() -> int:
    """Estimates need at least this n, for every viewer (the organization's threshold)."""
    return _org().small_cell_threshold or 5


def _survey_results(survey):
    # Suppression over every linked table is the slow part (seconds for a big survey read
    # by an evaluator): figures and cells are reused like the other reports' figures.
    threshold, min_n = _threshold(), _min_n()

    def compute():
        figures = survey_figures(survey.organization_id, survey.id)
        return figures, survey_cells(figures, threshold, min_n)

    computed = cached(("survey", survey.organization_id, survey.id, threshold, min_n), compute)
    figures, cells = computed.value
    return figures, cells, survey_tables(figures, cells, survey.id, _language())


def _survey_title(survey) -> str:
    return survey.title_en if _language() == "en" else survey.title_es


@bp.get("/surveys")
@permission_required("view_reports")
def surveys():
    return render_template(
        "reports/surveys.html",
        rows=surveys_with_results(_org().id),
        survey_title=_survey_title,
    )


@bp.get("/surveys/<int:survey_id>")
@permission_required("view_reports")
def survey_results(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    by = request.args.get("by", DIMENSIONS[0])
    if by not in DIMENSIONS:
        by = DIMENSIONS[0]
    figures, cells, tables = _survey_results(survey)
    questions = figures.questions_of(survey.id)
    return render_template(
        "reports/survey.html",
        survey=survey,
        title=_survey_title(survey),
        language=_language(),
        figures=figures,
        questions=questions,
        tables=tables,
        charts=_survey_charts(figures, tables, survey.id),
        comparisons=[
            (c, run_label(c.baseline, _language()), run_label(c.follow_up, _language()))
            for c in figures.comparisons_of(survey.id)
        ],
        by=by,
        dimensions=[(name, DIMENSION_LABELS[name]) for name in DIMENSIONS],
        threshold=_threshold(),
        min_n=_min_n(),
        notes=method_notes(_min_n()),
    )


def _survey_charts(figures, tables, survey_id) -> dict:
    same_data = _("The table next to the chart has the same data.")
    language = _language()
    runs = figures.runs_of(survey_id)
    result = {}
    funnel = dict(
        zip(
            [c.key for c in tables["funnel"].spec.columns],
            tables["funnel"].total or [],
            strict=False,
        )
    )
    result["funnel"] = charts.bar_chart(
        "chart-survey-funnel",
        _("Response funnel"),
        _("Bars show how many contacts reached each step, every run together.") + " " + same_data,
        [
            (_("Sent"), [funnel.get("sent")]),
            (_("Started"), [funnel.get("started")]),
            (_("Completed"), [funnel.get("completed")]),
        ],
        series=[_("Contacts")],
        fmt=lambda v: format_number(v),
    )
    for q in figures.questions_of(survey_id):
        table = tables[q.code]
        rows = [row for row in table.rows if row[0] != SKIPPED]
        if q.qtype == "scale" and rows:
            points = [value_label(q, v, language) for v in q.values]
            bars = [
                (run_label(run, language), [row[3 + 2 * index] for row in rows])
                for index, run in enumerate(runs)
            ]
            bars.append((_("All runs"), [row[-1] for row in rows]))
            result[q.code] = charts.diverging_chart(
                f"chart-{q.code}",
                _("%(code)s: answers on the scale", code=q.code.upper()),
                _(
                    "Diverging bars: the share of answers below the middle of the scale to "
                    "the left of the centre line, above it to the right, per run."
                )
                + " "
                + same_data,
                bars,
                points=points,
                fmt=_rate,
            )
        elif q.qtype in ("choice", "yesno", "number") and rows:
            result[q.code] = charts.bar_chart(
                f"chart-{q.code}",
                _("%(code)s: share of answers", code=q.code.upper()),
                _("Bars show the share of each answer, every run together.") + " " + same_data,
                [(row[1], [row[-1]]) for row in rows],
                series=[_("All runs")],
                fmt=_rate,
                scale_max=1,
            )
    return result


def _survey_csv_name(survey, what: str) -> str:
    return f"alcance-{_org().slug}-survey{survey.id}-{what}-{_language()}.csv"


@bp.get("/surveys/<int:survey_id>/export/<table>.csv")
@permission_required("view_reports")
def survey_export(survey_id, table):
    survey = get_owned_or_404(Survey, survey_id)
    _figures, _cells, tables = _survey_results(survey)
    if table not in tables:
        abort(404)
    return _download(exports.table_csv(tables[table]), _survey_csv_name(survey, table))


@bp.get("/surveys/<int:survey_id>/answers.csv")
@permission_required("view_reports")
def survey_answers(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    _person_files_or_403()
    figures = survey_figures(survey.organization_id, survey.id)
    rows = answer_rows(
        survey.organization_id,
        survey.id,
        secret_key=current_app.config["SECRET_KEY"],
        threshold=_threshold(),
        questions=figures.questions,
    )
    return _download(
        stream_with_context(exports.stream_csv(rows)), _survey_csv_name(survey, "answers")
    )


@bp.get("/surveys/<int:survey_id>/codebook.csv")
@permission_required("view_reports")
def survey_codebook(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    figures = survey_figures(survey.organization_id, survey.id)
    rows = codebook_rows(figures, survey.id, _threshold(), _min_n(), _language())
    return _download(exports.BOM + exports.csv_text(rows), _survey_csv_name(survey, "codebook"))


# --- experiment report (issue 18) -----------------------------------------------------------


def _experiment_report(campaign):
    """(experiment, figures, tables, items) of the campaign's experiment, or Nones."""
    experiment = experiment_of(campaign)
    if experiment is None:
        return None, None, None, {}
    threshold, today = _threshold(), _today()
    design = tuple(
        (o.id, o.kind, o.window_days, o.is_primary, o.survey_bank_code, o.survey_question_id)
        + tuple(o.top_box or ())
        for o in experiment.outcomes
    )
    key = (
        "experiment",
        experiment.organization_id,
        experiment.id,
        experiment.status,
        experiment.started_at,
        experiment.finished_at,
        design,
        threshold,
        today,
    )

    def compute():
        # Suppression over every linked count is the slow part, as for surveys.
        figures = experiment_figures(experiment, now=utcnow(), today=today)
        return figures, experiment_cells(figures, threshold)

    figures, cells = cached(key, compute).value
    items = item_labels(campaign.organization_id)
    return experiment, figures, experiment_tables(figures, cells, items), items


@bp.get("/experiments")
@permission_required("view_reports")
def experiments():
    return render_template("reports/experiments.html", rows=experiments_with_reports(_org().id))


@bp.get("/experiments/<int:campaign_id>")
@permission_required("view_reports")
def experiment(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    experiment, figures, tables, items = _experiment_report(campaign)
    return render_template(
        "reports/experiment.html",
        campaign=campaign,
        experiment=experiment,
        figures=figures,
        tables=tables or {},
        charts=experiment_charts(figures, tables, _rate) if figures else {},
        multiplicity=multiplicity_note(figures) if figures else None,
        notes=experiment_export.method_notes(figures) if figures else [],
        spec_text=lambda spec: spec_text(spec, items),
        threshold=_threshold(),
    )


def _experiment_csv_name(campaign, what: str) -> str:
    return f"alcance-{_org().slug}-experiment{campaign.id}-{what}-{_language()}.csv"


@bp.get("/experiments/<int:campaign_id>/export/<table>.csv")
@permission_required("view_reports")
def experiment_export_table(campaign_id, table):
    campaign = get_owned_or_404(Campaign, campaign_id)
    _experiment, _figures, tables, _items = _experiment_report(campaign)
    if not tables or table not in tables:
        abort(404)
    return _download(exports.table_csv(tables[table]), _experiment_csv_name(campaign, table))


def _experiment_file(campaign):
    experiment = experiment_of(campaign)
    if experiment is None:
        abort(404)
    figures = experiment_figures(experiment, now=utcnow(), today=_today())
    threshold = _threshold()
    plan = experiment_export.plan_file(experiment, threshold) if threshold else None
    return experiment, figures, threshold, plan


@bp.get("/experiments/<int:campaign_id>/assignments.csv")
@permission_required("view_reports")
def experiment_assignments(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    _person_files_or_403()
    experiment, figures, threshold, plan = _experiment_file(campaign)
    rows = experiment_export.file_rows(
        experiment,
        figures,
        secret_key=current_app.config["SECRET_KEY"],
        threshold=threshold,
        now=figures.now,
        today=_today(),
        plan=plan,
    )
    return _download(
        stream_with_context(exports.stream_csv(rows)),
        _experiment_csv_name(campaign, "assignments"),
    )


@bp.get("/experiments/<int:campaign_id>/codebook.csv")
@permission_required("view_reports")
def experiment_codebook(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    _experiment, figures, threshold, plan = _experiment_file(campaign)
    rows = experiment_export.codebook_rows(
        figures, threshold, item_labels(campaign.organization_id), plan
    )
    return _download(
        exports.BOM + exports.csv_text(rows), _experiment_csv_name(campaign, "codebook")
    )
