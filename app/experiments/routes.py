"""Experiment pages: a campaign's experiment (design, variants, pre-registered outcomes,
balance table, sample-size helper, start and finish).

Coordinators and administrators edit; evaluators read the design and the outcomes (never
the message texts, the audience's contacts or the balance counts). Every row is reached
through the organization's scope: another organization's experiment is a 404."""

from decimal import Decimal

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.geography import state_name
from app.contacts.models import Audience
from app.errors import DomainError, attach_to_form
from app.experiments import services
from app.experiments.forms import (
    ActionForm,
    DesignForm,
    OutcomesForm,
    SampleSizeForm,
    VariantForm,
)
from app.experiments.labels import experiment_labels, outcome_text
from app.experiments.models import Experiment, ExperimentArm, ExperimentVariant
from app.experiments.outcomes import survey_items
from app.extensions import db
from app.forms import form_status
from app.outbox.encoding import counter_label_attrs
from app.permissions import permission_required
from app.tenancy import get_owned_or_404, scoped
from app.timeutil import utcnow

bp = Blueprint("experiments", __name__, url_prefix="/experiments")


@bp.context_processor
def _labels() -> dict:
    return {**experiment_labels(), "stratum_label": _stratum_label}


def _stratum_label(stratum: str) -> str:
    place, _sep, band = (stratum or "").partition("|")
    country, _sep, state = place.partition("-")
    where = state_name(country, state) if state and state != "?" else _("Unknown state")
    age = _("Unknown age") if band in ("", "unknown") else band
    return f"{where} · {age}"


def _detail(experiment: Experiment):
    return redirect(url_for("experiments.detail", experiment_id=experiment.id))


def _fail(form, error: DomainError) -> None:
    db.session.rollback()
    attach_to_form(form, error)


def _variants(experiment: Experiment) -> dict:
    """{(arm id, message id): variant}."""
    rows = db.session.scalars(
        scoped(ExperimentVariant).where(
            ExperimentVariant.arm_id.in_([arm.id for arm in experiment.arms] or [0])
        )
    )
    return {(v.arm_id, v.message_id): v for v in rows}


def _sample_size(experiment: Experiment, audience: int | None):
    form = SampleSizeForm(request.args, meta={"csrf": False})
    advice = None
    asked = form.baseline.data is not None and form.effect.data is not None
    if request.args and form.validate() and asked:
        try:
            advice = services.sample_size_advice(
                experiment,
                baseline=float(form.baseline.data / Decimal(100)),
                effect=float(form.effect.data / Decimal(100)),
                audience=audience,
            )
        except DomainError as error:
            attach_to_form(form, error)
    return form, advice


# --- a campaign's experiment -------------------------------------------------------------


@bp.get("/campaigns/<int:campaign_id>")
@permission_required("view_reports")
def for_campaign(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    experiment = services.experiment_of(campaign)
    if experiment is not None:
        return _detail(experiment)
    return render_template("experiments/none.html", campaign=campaign, form=ActionForm())


@bp.post("/campaigns/<int:campaign_id>/new")
@permission_required("coordinate")
def create(campaign_id):
    campaign = get_owned_or_404(Campaign, campaign_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        experiment = services.create_experiment(campaign, user_id=current_user.id, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("experiments.for_campaign", campaign_id=campaign.id))
    flash(_("Experiment created as a draft with two equal arms."), "success")
    return _detail(experiment)


@bp.get("/<int:experiment_id>")
@permission_required("view_reports")
def detail(experiment_id):
    experiment = get_owned_or_404(Experiment, experiment_id)
    coordinator = current_user.can("coordinate")
    now = utcnow()
    audience = services.audience_size(experiment, now=now) if coordinator else None
    sample_form, advice = _sample_size(experiment, audience)
    items = {item.value: item.label for item in survey_items(experiment.organization_id)}
    return render_template(
        "experiments/detail.html",
        experiment=experiment,
        campaign=experiment.campaign,
        coordinator=coordinator,
        outcomes=[(o, outcome_text(o, items)) for o in experiment.outcomes],
        changes=services.preregistration_changes(experiment),
        balance=services.balance(experiment, now=now) if coordinator else None,
        audience_size=audience,
        variants=_variants(experiment) if coordinator else {},
        problems=services.start_problems(experiment) if coordinator else [],
        sample_form=sample_form,
        advice=advice,
        action=ActionForm(),
    ), form_status(sample_form)


# --- design, variants, outcomes ------------------------------------------------------------


@bp.route("/<int:experiment_id>/design", methods=["GET", "POST"])
@permission_required("coordinate")
def design(experiment_id):
    experiment = get_owned_or_404(Experiment, experiment_id)
    if experiment.status != "draft":
        flash(
            _("The experiment has started: its arms, ratios and audience can no longer change."),
            "error",
        )
        return _detail(experiment)
    data = DesignForm.data_from(experiment) if request.method == "GET" else None
    form = DesignForm(data=data)
    form.set_audiences(db.session.scalars(scoped(Audience).order_by(Audience.name)))
    if form.validate_on_submit():
        try:
            services.save_design(
                experiment,
                arms=form.arm_specs(),
                holdout_weight=form.holdout_ratio(),
                stratify=form.stratify.data,
                audience_id=form.audience_id(),
            )
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Design saved."), "success")
            return _detail(experiment)
    return render_template(
        "experiments/design.html", experiment=experiment, form=form
    ), form_status(form)


@bp.route(
    "/<int:experiment_id>/arms/<int:arm_id>/messages/<int:message_id>", methods=["GET", "POST"]
)
@permission_required("coordinate")
def variant(experiment_id, arm_id, message_id):
    experiment = get_owned_or_404(Experiment, experiment_id)
    arm = get_owned_or_404(ExperimentArm, arm_id)
    message = get_owned_or_404(CampaignMessage, message_id)
    if arm.experiment_id != experiment.id or message.campaign_id != experiment.campaign_id:
        abort(404)
    if arm.is_holdout:
        abort(404)
    existing = _variants(experiment).get((arm.id, message.id))
    form = VariantForm(obj=existing) if request.method == "GET" else VariantForm()
    if form.validate_on_submit():
        try:
            saved = services.save_variant(
                experiment,
                arm,
                message,
                body_es=form.body_es.data,
                body_en=form.body_en.data,
                now=utcnow(),
            )
        except DomainError as error:
            _fail(form, error)
        else:
            flash(
                _("Variant saved.") if saved else _("This arm sends the message's own text."),
                "success",
            )
            return _detail(experiment)
    return render_template(
        "experiments/variant.html",
        experiment=experiment,
        arm=arm,
        message=message,
        form=form,
        counter_attrs=counter_label_attrs(),
    ), form_status(form)


@bp.route("/<int:experiment_id>/outcomes", methods=["GET", "POST"])
@permission_required("coordinate")
def outcomes(experiment_id):
    experiment = get_owned_or_404(Experiment, experiment_id)
    if experiment.status == "finished":
        flash(_("A finished experiment cannot be changed."), "error")
        return _detail(experiment)
    data = OutcomesForm.data_from(experiment) if request.method == "GET" else None
    form = OutcomesForm(data=data)
    items = survey_items(experiment.organization_id)
    form.set_items(items)
    if form.validate_on_submit():
        try:
            changed = services.save_outcomes(
                experiment,
                form.specs(),
                user_id=current_user.id,
                now=utcnow(),
                after_start=form.after_start.data,
                reason=form.reason.data or "",
            )
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Outcomes saved.") if changed else _("Nothing changed."), "success")
            return _detail(experiment)
    return render_template(
        "experiments/outcomes.html", experiment=experiment, form=form, items=items
    ), form_status(form)


# --- start, finish, delete -----------------------------------------------------------------


def _action(experiment_id):
    experiment = get_owned_or_404(Experiment, experiment_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return experiment


@bp.post("/<int:experiment_id>/start")
@permission_required("coordinate")
def start(experiment_id):
    experiment = _action(experiment_id)
    try:
        assigned, job = services.request_start(
            experiment,
            now=utcnow(),
            user_id=current_user.id,
            inline_max=current_app.config["EXPERIMENT_INLINE_START"],
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        if job is not None:
            flash(
                ngettext(
                    "Starting: a worker is assigning %(num)d contact. The outcomes lock when "
                    "it is done.",
                    "Starting: a worker is assigning %(num)d contacts. The outcomes lock when "
                    "it is done.",
                    job.total or 0,
                ),
                "success",
            )
            return redirect(url_for("jobs.detail", job_id=job.id))
        flash(
            ngettext(
                "Experiment started: %(num)d contact assigned. The outcomes are now locked.",
                "Experiment started: %(num)d contacts assigned. The outcomes are now locked.",
                assigned,
            ),
            "success",
        )
    return _detail(experiment)


@bp.post("/<int:experiment_id>/finish")
@permission_required("coordinate")
def finish(experiment_id):
    experiment = _action(experiment_id)
    try:
        services.finish_experiment(experiment, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Experiment finished. The holdout still receives none of the campaign."), "success")
    return _detail(experiment)


@bp.post("/<int:experiment_id>/delete")
@permission_required("coordinate")
def delete(experiment_id):
    experiment = _action(experiment_id)
    campaign_id = experiment.campaign_id
    try:
        services.delete_experiment(experiment)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _detail(experiment)
    flash(_("Experiment deleted."), "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
