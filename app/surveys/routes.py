"""The coordinator's survey pages: the list, a new survey (from the bank or by hand), its
questions and branches, the preview of every SMS, scheduling a run and a run's page.

Coordinators and administrators only; every row is reached through the organization's
scope (another organization's survey is a 404). Views read the input, call one service
(app.surveys.builder, app.surveys.services), flash and redirect."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from app.campaigns.models import Campaign
from app.campaigns.services import visible_chars
from app.contacts.models import Audience
from app.errors import attach_to_form
from app.extensions import db
from app.forms import choices, form_status
from app.i18n import current_language
from app.outbox.encoding import counter_label_attrs
from app.permissions import permission_required
from app.surveys import bank, builder, preview, services
from app.surveys.forms import (
    ActionForm,
    BankForm,
    MoveForm,
    NewSurveyForm,
    QuestionForm,
    RunForm,
    SurveyTextsForm,
    branches_form,
)
from app.surveys.labels import (
    QTYPE_LABELS,
    RESPONSE_STATUS_LABELS,
    RUN_KIND_SHORT,
    RUN_STATUS_BADGES,
    RUN_STATUS_LABELS,
)
from app.surveys.models import MAX_QUESTIONS, Survey, SurveyQuestion, SurveyRun
from app.tenancy import get_owned_or_404, scoped
from app.timeutil import utcnow
from app.workshops.models import Workshop

bp = Blueprint("surveys", __name__, url_prefix="/surveys")

# The results page (app.reports, issue 17): linked from a run when the endpoint exists.
RESULTS_ENDPOINT = "reports.survey_results"
WORKSHOP_CHOICES_MAX = 200


@bp.context_processor
def _labels() -> dict:
    return {
        "qtype_label": lambda code: QTYPE_LABELS.get(code, code),
        "construct_label": lambda code: bank.CONSTRUCT_LABELS.get(code, code),
        "run_kind_label": lambda code: RUN_KIND_SHORT.get(code, code),
        "run_status_label": lambda code: RUN_STATUS_LABELS.get(code, code),
        "run_status_badge": lambda code: RUN_STATUS_BADGES.get(code, ""),
        "response_status_label": lambda code: RESPONSE_STATUS_LABELS.get(code, code),
        "survey_title": _title,
        "visible_chars": visible_chars,
        "max_questions": MAX_QUESTIONS,
    }


def _page_language() -> str:
    return "en" if current_language() == "en" else "es"


def _title(survey: Survey, language: str | None = None) -> str:
    return survey.title_en if (language or _page_language()) == "en" else survey.title_es


# The run service's field names -> the run form's.
RUN_FIELDS = {"audience_id": "audience", "campaign_id": "campaign", "workshop_id": "workshop"}


def _fail(form, error) -> None:
    """A service's error, shown on the form (and nothing saved)."""
    db.session.rollback()
    error.field = RUN_FIELDS.get(error.field, error.field)
    attach_to_form(form, error)


def _question_or_404(question_id: int) -> SurveyQuestion:
    return get_owned_or_404(SurveyQuestion, question_id)


def _results_url(survey_id: int) -> str | None:
    if RESULTS_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(RESULTS_ENDPOINT, survey_id=survey_id)


def _back_to(survey_id: int, anchor: str = ""):
    return redirect(url_for("surveys.detail", survey_id=survey_id) + anchor)


# --- the list and a new survey -----------------------------------------------------------


@bp.get("/")
@permission_required("coordinate")
def index():
    surveys = list(db.session.scalars(scoped(Survey).order_by(Survey.created_at.desc())))
    runs = list(
        db.session.scalars(
            scoped(SurveyRun)
            .where(SurveyRun.survey_id.in_([s.id for s in surveys] or [0]))
            .order_by(SurveyRun.starts_at.desc())
        )
    )
    by_survey: dict[int, list] = {}
    for run in runs:
        by_survey.setdefault(run.survey_id, []).append(run)
    return render_template(
        "surveys/index.html",
        active=[s for s in surveys if s.archived_at is None],
        archived=[s for s in surveys if s.archived_at is not None],
        runs=by_survey,
    )


def _bank_groups(exclude=()) -> list[tuple[str, list]]:
    """The bank's questions grouped by construct, in the bank's order."""
    groups: dict[str, list] = {}
    for question in bank.BANK:
        if question.code not in exclude:
            groups.setdefault(question.construct, []).append(question)
    return list(groups.items())


@bp.route("/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new():
    form = NewSurveyForm(data=None if request.method == "POST" else builder.default_texts())
    if form.validate_on_submit():
        try:
            survey = builder.create_survey(
                organization_id=current_user.organization_id,
                user_id=current_user.id,
                bank_codes=form.bank_codes.data or [],
                now=utcnow(),
                **form.texts(),
            )
        except builder.BuilderError as error:
            _fail(form, error)
        else:
            flash(_("Survey created."), "success")
            return _back_to(survey.id)
    return render_template(
        "surveys/new.html",
        form=form,
        groups=_bank_groups(),
        chosen=set(form.bank_codes.data or []),
        counter_attrs=counter_label_attrs(),
    ), form_status(form)


# --- one survey ------------------------------------------------------------------------------


def _answers_text(question: SurveyQuestion, language: str) -> str:
    """How a question is answered, in `language` (its options, scale or range)."""
    if question.options:
        return " ".join(f"{n}) {o[language]}" for n, o in enumerate(question.options, start=1))
    if question.qtype == "scale":
        low = getattr(question, f"low_{language}") or ""
        high = getattr(question, f"high_{language}") or ""
        return f"{question.scale_min} = {low} … {question.scale_max} = {high}"
    if question.qtype == "yesno":
        with force_locale(language):
            return _("Yes or no")
    if question.qtype == "number" and (
        question.number_min is not None or question.number_max is not None
    ):
        low = "" if question.number_min is None else question.number_min
        high = "" if question.number_max is None else question.number_max
        return f"{low} – {high}"
    return ""


def _branches_text(question: SurveyQuestion) -> list[str]:
    """The question's branches in the page's language ("If 2: go to question 5")."""
    lines = []
    for value in builder.branch_values(question):
        target = (question.branches or {}).get(value)
        if target is None:
            continue
        answer = value
        if question.qtype == "yesno":
            answer = _("yes") if value == "1" else _("no")
        if target == 0:
            lines.append(_("If %(answer)s: end the survey", answer=answer))
        else:
            lines.append(_("If %(answer)s: go to question %(n)d", answer=answer, n=target))
    return lines


@bp.get("/<int:survey_id>")
@permission_required("coordinate")
def detail(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    runs = list(
        db.session.scalars(
            scoped(SurveyRun)
            .where(SurveyRun.survey_id == survey.id)
            .order_by(SurveyRun.starts_at.desc())
        )
    )
    present = {q.bank_code for q in survey.questions if q.bank_code}
    return render_template(
        "surveys/detail.html",
        survey=survey,
        locked=builder.is_locked(survey),
        runs=runs,
        counts=builder.response_counts(r.id for r in runs),
        bank_form=BankForm(formdata=None),
        groups=_bank_groups(exclude=present),
        action=ActionForm(formdata=None),
        move=MoveForm(formdata=None),
        answers_text=_answers_text,
        branches_text=_branches_text,
        can_branch=lambda q: q.qtype in builder.BRANCH_QTYPES,
        results_url=_results_url(survey.id) if runs else None,
    )


@bp.route("/<int:survey_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    form = SurveyTextsForm(obj=survey)
    if form.validate_on_submit():
        try:
            builder.update_survey(survey, now=utcnow(), **form.texts())
        except builder.BuilderError as error:
            _fail(form, error)
        else:
            flash(_("Survey saved."), "success")
            return _back_to(survey.id)
    return render_template(
        "surveys/edit.html",
        survey=survey,
        form=form,
        locked=builder.is_locked(survey),
        counter_attrs=counter_label_attrs(),
    ), form_status(form)


@bp.post("/<int:survey_id>/questions/bank")
@permission_required("coordinate")
def add_bank(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    form = BankForm()
    if not form.validate_on_submit():
        flash(_("Choose questions from the bank's list."), "error")
        return _back_to(survey.id, "#bank")
    try:
        added = builder.add_bank_questions(survey, form.bank_codes.data or [], now=utcnow())
    except builder.BuilderError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _back_to(survey.id, "#bank")
    flash(ngettext("%(num)d question added.", "%(num)d questions added.", len(added)), "success")
    return _back_to(survey.id, "#questions")


def _question_page(survey, form, question=None):
    return render_template(
        "surveys/question.html",
        survey=survey,
        form=form,
        question=question,
        locked=builder.is_locked(survey),
        counter_attrs=counter_label_attrs(),
    ), form_status(form)


@bp.route("/<int:survey_id>/questions/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_question(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    form = QuestionForm()
    if request.method == "GET" and request.args.get("type") in QTYPE_LABELS:
        form.qtype.data = request.args["type"]
    if form.validate_on_submit():
        try:
            question = builder.add_question(survey, form.spec(), now=utcnow())
        except builder.BuilderError as error:
            _fail(form, error)
        else:
            flash(_("Question %(n)d added.", n=question.position), "success")
            return _back_to(survey.id, "#questions")
    return _question_page(survey, form)


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@permission_required("coordinate")
def edit_question(question_id):
    question = _question_or_404(question_id)
    survey = question.survey
    form = QuestionForm() if request.method == "POST" else QuestionForm.from_question(question)
    if form.validate_on_submit():
        try:
            builder.update_question(question, form.spec(), now=utcnow())
        except builder.BuilderError as error:
            _fail(form, error)
        else:
            flash(_("Question %(n)d saved.", n=question.position), "success")
            return _back_to(survey.id, "#questions")
    return _question_page(survey, form, question)


def _branch_targets(question: SurveyQuestion) -> list[tuple[str, str]]:
    count = len(question.survey.questions)
    targets = [("", _("The next question"))]
    targets += [(str(n), _("Question %(n)d", n=n)) for n in range(question.position + 2, count + 1)]
    targets.append(("0", _("End the survey")))
    return targets


def _value_label(question: SurveyQuestion, value: str, language: str) -> str:
    if question.qtype == "yesno":
        return _("Yes") if value == "1" else _("No")
    if question.options:
        index = int(value) - (question.scale_min or 1 if question.qtype == "scale" else 1)
        if 0 <= index < len(question.options):
            return f"{value}) {question.options[index][language]}"
    return value


@bp.route("/questions/<int:question_id>/branches", methods=["GET", "POST"])
@permission_required("coordinate")
def branches(question_id):
    question = _question_or_404(question_id)
    survey = question.survey
    values = builder.branch_values(question)
    form = branches_form(
        values,
        _branch_targets(question),
        question.branches or {},
        **({} if request.method == "POST" else {"formdata": None}),
    )
    if form.validate_on_submit():
        chosen = {v: form[f"branch_{v}"].data for v in values if form[f"branch_{v}"].data}
        try:
            builder.set_branches(question, chosen, now=utcnow())
        except builder.BuilderError as error:
            _fail(form, error)
        else:
            flash(_("Branches of question %(n)d saved.", n=question.position), "success")
            return _back_to(survey.id, "#questions")
    language = _page_language()
    return render_template(
        "surveys/branches.html",
        survey=survey,
        question=question,
        form=form,
        fields=[(form[f"branch_{v}"], _value_label(question, v, language)) for v in values],
        locked=builder.is_locked(survey),
    ), form_status(form)


@bp.post("/questions/<int:question_id>/move")
@permission_required("coordinate")
def move_question(question_id):
    question = _question_or_404(question_id)
    survey_id = question.survey_id
    form = MoveForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return _back_to(survey_id, "#questions")
    offset = -1 if form.direction.data == "up" else 1
    try:
        builder.move_question(question, offset, now=utcnow())
    except builder.BuilderError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Question moved: it is now question %(n)d.", n=question.position), "success")
    return _back_to(survey_id, "#questions")


@bp.post("/questions/<int:question_id>/delete")
@permission_required("coordinate")
def delete_question(question_id):
    question = _question_or_404(question_id)
    survey_id = question.survey_id
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return _back_to(survey_id, "#questions")
    try:
        builder.delete_question(question, now=utcnow())
    except builder.BuilderError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Question deleted."), "success")
    return _back_to(survey_id, "#questions")


def _survey_action(survey_id: int, action, done: str):
    survey = get_owned_or_404(Survey, survey_id)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return _back_to(survey.id)
    try:
        result = action(survey)
    except builder.BuilderError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _back_to(survey.id)
    flash(done, "success")
    return _back_to(result.id if isinstance(result, Survey) else survey.id)


@bp.post("/<int:survey_id>/archive")
@permission_required("coordinate")
def archive(survey_id):
    return _survey_action(
        survey_id,
        lambda s: builder.archive_survey(s, now=utcnow()),
        _("Survey archived: it can no longer be scheduled. Its runs and answers stay."),
    )


@bp.post("/<int:survey_id>/restore")
@permission_required("coordinate")
def restore(survey_id):
    return _survey_action(
        survey_id, lambda s: builder.restore_survey(s, now=utcnow()), _("Survey restored.")
    )


@bp.post("/<int:survey_id>/duplicate")
@permission_required("coordinate")
def duplicate(survey_id):
    return _survey_action(
        survey_id,
        lambda s: builder.duplicate_survey(s, user_id=current_user.id, now=utcnow()),
        _("This is a copy of the survey: you can change it before scheduling it."),
    )


@bp.get("/<int:survey_id>/preview")
@permission_required("coordinate")
def preview_page(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    return render_template(
        "surveys/preview.html", survey=survey, preview=preview.survey_preview(survey)
    )


# --- runs ----------------------------------------------------------------------------------------

RUN_PICKERS = {"audience": "audience", "baseline": "campaign", "follow_up": "campaign"}


def _run_choices(form: RunForm) -> None:
    audiences = db.session.execute(
        scoped(Audience, Audience.id, Audience.name).order_by(Audience.name)
    )
    campaigns = db.session.execute(
        scoped(Campaign, Campaign.id, Campaign.name).order_by(Campaign.name)
    )
    workshops = db.session.scalars(
        scoped(Workshop)
        .where(Workshop.status != "canceled")
        .order_by(Workshop.starts_at.desc())
        .limit(WORKSHOP_CHOICES_MAX)
    )
    language = _page_language()
    none = [("", _("Choose…"))]
    form.audience.choices = choices(none + [(str(i), n) for i, n in audiences])
    form.campaign.choices = choices(none + [(str(i), n) for i, n in campaigns])
    form.workshop.choices = choices(
        none
        + [
            (str(w.id), f"{w.title_for(language)} · {w.starts_at.date().isoformat()}")
            for w in workshops
        ]
    )


@bp.route("/<int:survey_id>/runs/new", methods=["GET", "POST"])
@permission_required("coordinate")
def new_run(survey_id):
    survey = get_owned_or_404(Survey, survey_id)
    form = RunForm()
    _run_choices(form)
    if form.validate_on_submit():
        kind = form.kind.data
        try:
            run = services.schedule_run(
                organization_id=current_user.organization_id,
                survey_id=survey.id,
                kind=kind,
                local_date=form.local_date.data,
                local_time=form.local_time.data,
                campaign_id=form.picked("campaign") if kind in ("baseline", "follow_up") else None,
                audience_id=form.picked("audience") if kind == "audience" else None,
                workshop_id=form.picked("workshop") if kind == "workshop" else None,
                follow_up_days=form.follow_up_days.data if kind == "follow_up" else None,
                window_hours=form.window_hours.data,
                user_id=current_user.id,
                now=utcnow(),
            )
        except services.SurveyError as error:
            _fail(form, error)
        else:
            flash(_("Survey scheduled."), "success")
            return redirect(url_for("surveys.run", run_id=run.id))
    return render_template(
        "surveys/new_run.html", survey=survey, form=form, locked=builder.is_locked(survey)
    ), form_status(form)


def _run_target(run: SurveyRun) -> str:
    if run.audience_id:
        audience = db.session.get(Audience, run.audience_id)
        return audience.name if audience else _("(deleted audience)")
    if run.workshop_id:
        workshop = db.session.get(Workshop, run.workshop_id)
        language = _page_language()
        return workshop.title_for(language) if workshop else ""
    if run.campaign_id:
        campaign = db.session.get(Campaign, run.campaign_id)
        return campaign.name if campaign else ""
    return ""


@bp.get("/runs/<int:run_id>")
@permission_required("coordinate")
def run(run_id):
    survey_run = get_owned_or_404(SurveyRun, run_id)
    return render_template(
        "surveys/run.html",
        run=survey_run,
        survey=survey_run.survey,
        counts=builder.response_counts([survey_run.id])[survey_run.id],
        target=_run_target(survey_run),
        action=ActionForm(formdata=None),
        results_url=_results_url(survey_run.survey_id),
    )


def _run_action(run_id: int, action, done):
    survey_run = get_owned_or_404(SurveyRun, run_id)
    back = redirect(url_for("surveys.run", run_id=survey_run.id))
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return back
    try:
        n = action(survey_run)
    except services.SurveyError as error:
        db.session.rollback()
        flash(str(error), "error")
        return back
    flash(done(n), "success")
    return back


@bp.post("/runs/<int:run_id>/cancel")
@permission_required("coordinate")
def cancel_run(run_id):
    return _run_action(
        run_id,
        lambda r: services.cancel_run(r, now=utcnow()),
        lambda n: ngettext(
            "Survey canceled: %(num)d pending message will not go out.",
            "Survey canceled: %(num)d pending messages will not go out.",
            n,
        ),
    )


@bp.post("/runs/<int:run_id>/close")
@permission_required("coordinate")
def close_run(run_id):
    return _run_action(
        run_id,
        lambda r: services.close_run(r, now=utcnow()),
        lambda n: ngettext(
            "Survey closed: %(num)d unfinished response is kept as partial.",
            "Survey closed: %(num)d unfinished responses are kept as partial.",
            n,
        ),
    )
