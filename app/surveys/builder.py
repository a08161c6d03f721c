"""Build a survey: its texts in both languages, its questions (from the bank or written by
hand), their order and their branches.

Every public function checks everything first, raises `BuilderError` (a translated message,
and the form field it concerns) without changing anything, then commits once.

A survey whose run already went out (fanned out) is locked: its answers must keep their
meaning, so its texts and questions no longer change; `duplicate_survey` makes an editable
copy. Archiving is allowed at any time (it only hides the survey from new runs).

Branches (`SurveyQuestion.branches`): {"<answer value>": <position to go to, or 0 to end>};
a target is always after the question, so a survey never loops. Moving or deleting questions
keeps every branch pointing at the same question (a branch to a deleted question goes to the
one that followed it); a move that would make a branch point backwards is refused.
"""

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import force_locale, pgettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from app.errors import DomainError
from app.extensions import db
from app.surveys import bank
from app.surveys.answers import QTYPES, SCALES, words
from app.surveys.models import (
    BRANCH_END,
    MAX_QUESTIONS,
    RESPONSE_STATUSES,
    Survey,
    SurveyQuestion,
    SurveyResponse,
    SurveyRun,
)

LANGUAGES = ("es", "en")
TITLE_MAX = 120  # Survey.title_* columns
MESSAGE_MAX = 320  # intro and thank-you: at most two GSM-7 SMS
QUESTION_MAX = 300
LABEL_MAX = 40  # an option, or a scale's end (SurveyQuestion.low_* / high_* columns)
OPTIONS_MIN, OPTIONS_MAX = 2, 9
NUMBER_LIMIT = 1_000_000
BRANCH_QTYPES = ("choice", "scale", "yesno")
# A run past these statuses (or fanned out) has sent the survey: it no longer changes.
SENT_RUN_STATUSES = ("running", "closed")


class BuilderError(DomainError):
    """A survey or question the builder refuses: a translated message (lazy, shown in the
    viewer's language) and the form field it concerns, if any."""


@dataclass
class QuestionSpec:
    """A question written by hand, as the form sends it (texts already split per line)."""

    qtype: str
    text_es: str = ""
    text_en: str = ""
    options_es: list[str] = field(default_factory=list)
    options_en: list[str] = field(default_factory=list)
    scale: tuple[int, int] | None = None
    low_es: str = ""
    low_en: str = ""
    high_es: str = ""
    high_en: str = ""
    number_min: int | None = None
    number_max: int | None = None


# --- reading ---------------------------------------------------------------------------------


def is_locked(survey: Survey) -> bool:
    """Whether a run of the survey already went out (its answers must keep their meaning)."""
    sent = db.session.scalar(
        select(func.count())
        .select_from(SurveyRun)
        .where(
            SurveyRun.survey_id == survey.id,
            or_(SurveyRun.fanned_out_at.is_not(None), SurveyRun.status.in_(SENT_RUN_STATUSES)),
        )
    )
    return bool(sent)


def response_counts(run_ids) -> dict[int, dict[str, int]]:
    """{run id: {response status: count}} (every status present, zeros included)."""
    run_ids = list(run_ids)
    counts = {run_id: dict.fromkeys(RESPONSE_STATUSES, 0) for run_id in run_ids}
    if not run_ids:
        return counts
    rows = db.session.execute(
        select(SurveyResponse.run_id, SurveyResponse.status, func.count())
        .where(SurveyResponse.run_id.in_(run_ids))
        .group_by(SurveyResponse.run_id, SurveyResponse.status)
    )
    for run_id, status, n in rows:
        counts[run_id][status] = n
    return counts


def branch_values(question: SurveyQuestion) -> list[str]:
    """The answer values a question can branch on ("1".."n", a scale's points, yes "1" and
    no "0"); none for number and free-text questions."""
    if question.qtype == "choice":
        return [str(n) for n in range(1, len(question.options or []) + 1)]
    if question.qtype == "scale" and question.scale_min is not None:
        return [str(n) for n in range(question.scale_min, question.scale_max + 1)]
    if question.qtype == "yesno":
        return ["1", "0"]
    return []


# --- validation helpers ------------------------------------------------------------------------


def _clean(value) -> str:
    """One line: surrounding and repeated whitespace (newlines included) become one space."""
    return " ".join(str(value or "").split())


def _required(value: str, name: str, maximum: int, message) -> str:
    value = _clean(value)
    if not value:
        raise BuilderError(message, field=name)
    if len(value) > maximum:
        raise BuilderError(_l("Use at most %(max)d characters.", max=maximum), field=name)
    return value


def _survey_texts(values: dict) -> dict[str, str]:
    checks = {
        "title": (TITLE_MAX, _l("Write the title in Spanish and in English.")),
        "intro": (MESSAGE_MAX, _l("Write the first message in Spanish and in English.")),
        "thanks": (MESSAGE_MAX, _l("Write the thank-you message in Spanish and in English.")),
    }
    texts = {}
    for base, (maximum, message) in checks.items():
        for lang in LANGUAGES:
            name = f"{base}_{lang}"
            texts[name] = _required(values.get(name), name, maximum, message)
    return texts


def _check_editable(survey: Survey) -> None:
    if survey.archived_at is not None:
        raise BuilderError(_l("This survey is archived: restore it to change it."))
    if is_locked(survey):
        raise BuilderError(
            _l(
                "This survey was already sent, so its answers must keep their meaning: it can "
                "no longer change. Duplicate it to make a new version."
            )
        )


def _check_room(survey: Survey, adding: int) -> None:
    if len(survey.questions) + adding > MAX_QUESTIONS:
        raise BuilderError(
            _l(
                "A survey has at most %(max)d questions: this one would have %(n)d.",
                max=MAX_QUESTIONS,
                n=len(survey.questions) + adding,
            )
        )


def _labels(values, name: str) -> list[str]:
    labels = [_clean(v) for v in values or () if _clean(v)]
    for label in labels:
        if len(label) > LABEL_MAX:
            raise BuilderError(
                _l("Each option has at most %(max)d characters.", max=LABEL_MAX), field=name
            )
        if not words(label):
            raise BuilderError(_l("Each option needs letters or numbers."), field=name)
    compared = [" ".join(words(label)) for label in labels]
    if len(set(compared)) < len(compared):
        raise BuilderError(_l("Two options read the same: make each one different."), field=name)
    return labels


def _choice_options(spec: QuestionSpec) -> list[dict]:
    es, en = _labels(spec.options_es, "options_es"), _labels(spec.options_en, "options_en")
    for name, labels in (("options_es", es), ("options_en", en)):
        if not OPTIONS_MIN <= len(labels) <= OPTIONS_MAX:
            raise BuilderError(
                _l(
                    "Write from %(min)d to %(max)d options, one per line.",
                    min=OPTIONS_MIN,
                    max=OPTIONS_MAX,
                ),
                field=name,
            )
    if len(es) != len(en):
        raise BuilderError(
            _l("Write the same number of options in Spanish and in English."), field="options_en"
        )
    return [{"es": a, "en": b} for a, b in zip(es, en, strict=True)]


def _scale_values(spec: QuestionSpec) -> dict:
    if spec.scale is None or tuple(spec.scale) not in SCALES:
        raise BuilderError(_l("Choose a scale: 1 to 4, 1 to 5 or 0 to 10."), field="scale")
    ends = {}
    for name in ("low_es", "low_en", "high_es", "high_en"):
        ends[name] = _required(
            getattr(spec, name),
            name,
            LABEL_MAX,
            _l("Label both ends of the scale in Spanish and in English."),
        )
    return {"scale_min": spec.scale[0], "scale_max": spec.scale[1], **ends}


def _number_values(spec: QuestionSpec) -> dict:
    low, high = spec.number_min, spec.number_max
    for name, value in (("number_min", low), ("number_max", high)):
        if value is not None and abs(value) > NUMBER_LIMIT:
            raise BuilderError(
                _l("Use a number from -%(max)d to %(max)d.", max=NUMBER_LIMIT), field=name
            )
    if low is not None and high is not None and low >= high:
        raise BuilderError(
            _l("The lowest accepted number must be below the highest."), field="number_max"
        )
    return {"number_min": low, "number_max": high}


def question_values(spec: QuestionSpec) -> dict:
    """The columns of a hand-written question, checked (raises BuilderError)."""
    if spec.qtype not in QTYPES:
        raise BuilderError(_l("Choose the type of question."), field="qtype")
    values = dict.fromkeys(
        ("options", "scale_min", "scale_max", "low_es", "low_en", "high_es", "high_en"), None
    )
    values.update(number_min=None, number_max=None, qtype=spec.qtype)
    for lang in LANGUAGES:
        name = f"text_{lang}"
        values[name] = _required(
            getattr(spec, name),
            name,
            QUESTION_MAX,
            _l("Write the question in Spanish and in English."),
        )
    if spec.qtype == "choice":
        values["options"] = _choice_options(spec)
    elif spec.qtype == "scale":
        values.update(_scale_values(spec))
    elif spec.qtype == "number":
        values.update(_number_values(spec))
    return values


# --- the bank ------------------------------------------------------------------------------------


def _bank_columns(question: bank.Question) -> dict:
    texts = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            texts[lang] = {
                "text": str(question.text),
                "options": [str(label) for label in question.options],
                "ends": [str(label) for label in question.ends or ()],
            }
    values = {
        "qtype": question.qtype,
        "bank_code": question.code,
        "construct": question.construct,
        "text_es": texts["es"]["text"],
        "text_en": texts["en"]["text"],
        "options": [
            {"es": es, "en": en}
            for es, en in zip(texts["es"]["options"], texts["en"]["options"], strict=True)
        ]
        or None,
    }
    if question.scale:
        values.update(scale_min=question.scale[0], scale_max=question.scale[1])
    if question.ends:
        values.update(
            low_es=texts["es"]["ends"][0],
            high_es=texts["es"]["ends"][1],
            low_en=texts["en"]["ends"][0],
            high_en=texts["en"]["ends"][1],
        )
    if question.number_range:
        values.update(number_min=question.number_range[0], number_max=question.number_range[1])
    return values


def _bank_batch(survey: Survey | None, codes) -> list[bank.Question]:
    """The bank questions to add, in the bank's order, with the question each one depends on
    ("Who did you talk with?" follows "Did you talk with anyone?") added when missing."""
    present = {q.bank_code for q in survey.questions} if survey is not None else set()
    wanted = set()
    for code in codes:
        if code not in bank.BY_CODE:
            raise BuilderError(_l("Choose questions from the bank's list."), field="bank_codes")
        if code in present:
            raise BuilderError(
                _l(
                    "This survey already has the question “%(text)s”.", text=bank.BY_CODE[code].text
                ),
                field="bank_codes",
            )
        wanted.add(code)
        condition = bank.BY_CODE[code].only_if
        if condition is not None and condition.code not in present:
            wanted.add(condition.code)
    return [question for question in bank.BANK if question.code in wanted]


def _condition_branches(survey: Survey, added: list[SurveyQuestion]) -> None:
    """A bank question asked only after a given answer: the question before it (its
    condition) skips it on the other answers."""
    by_position = {q.position: q for q in survey.questions}
    for question in added:
        condition = bank.BY_CODE[question.bank_code].only_if
        before = by_position.get(question.position - 1)
        if condition is None or before is None or before.bank_code != condition.code:
            continue
        expected = str(int(condition.value))
        after = question.position + 1 if question.position < len(survey.questions) else BRANCH_END
        before.branches = {
            **(before.branches or {}),
            **{value: after for value in branch_values(before) if value != expected},
        }


def _append_bank(survey: Survey, batch: list[bank.Question]) -> list[SurveyQuestion]:
    added = []
    for question in batch:
        row = SurveyQuestion(
            organization_id=survey.organization_id,
            position=len(survey.questions) + 1,
            **_bank_columns(question),
        )
        survey.questions.append(row)
        added.append(row)
    _condition_branches(survey, added)
    return added


# --- surveys ---------------------------------------------------------------------------------


def default_texts() -> dict[str, str]:
    """Suggested first and thank-you messages, in both languages, for a new survey's form."""
    texts = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            # TRANSLATORS: the suggested first SMS of a survey, before its first question.
            # Keep it short and in GSM-7 ("é" is fine, "á", "í", "ó", "ú" are not).
            texts[f"intro_{lang}"] = pgettext(
                "survey SMS", "Hi! We'd like to know what you think: a few short questions."
            )
            texts[f"thanks_{lang}"] = pgettext("survey SMS", "Thank you for your answers!")
    return texts


def create_survey(
    *,
    organization_id: int,
    now: datetime,
    user_id: int | None = None,
    bank_codes=(),
    **texts,
) -> Survey:
    """A new survey with its texts (title_es/en, intro_es/en, thanks_es/en) and, optionally,
    questions from the bank (`bank_codes`, added in the bank's order). Commits.

    Raises:
        BuilderError: a text is missing or too long, an unknown or repeated bank code, more
            than MAX_QUESTIONS questions.
    """
    values = _survey_texts(texts)
    batch = _bank_batch(None, bank_codes)
    if len(batch) > MAX_QUESTIONS:
        raise BuilderError(
            _l(
                "A survey has at most %(max)d questions: this one would have %(n)d.",
                max=MAX_QUESTIONS,
                n=len(batch),
            ),
            field="bank_codes",
        )
    survey = Survey(
        organization_id=organization_id,
        created_by=user_id,
        created_at=now,
        updated_at=now,
        **values,
    )
    db.session.add(survey)
    _append_bank(survey, batch)
    db.session.commit()
    return survey


def update_survey(survey: Survey, *, now: datetime, **texts) -> Survey:
    """Change a survey's title, first message and thank-you message. Commits."""
    _check_editable(survey)
    values = _survey_texts(texts)
    for name, value in values.items():
        setattr(survey, name, value)
    survey.updated_at = now
    db.session.commit()
    return survey


def archive_survey(survey: Survey, *, now: datetime) -> None:
    """Hide a survey from new runs (its runs and answers stay). Commits."""
    if survey.archived_at is not None:
        raise BuilderError(_l("This survey is already archived."))
    survey.archived_at = now
    survey.updated_at = now
    db.session.commit()


def restore_survey(survey: Survey, *, now: datetime) -> None:
    """Undo `archive_survey`. Commits."""
    if survey.archived_at is None:
        raise BuilderError(_l("This survey is not archived."))
    survey.archived_at = None
    survey.updated_at = now
    db.session.commit()


_COPIED = (
    "qtype",
    "bank_code",
    "construct",
    "text_es",
    "text_en",
    "options",
    "scale_min",
    "scale_max",
    "low_es",
    "low_en",
    "high_es",
    "high_en",
    "number_min",
    "number_max",
    "position",
)


def _copy_title(title: str, lang: str) -> str:
    with force_locale(lang):
        # TRANSLATORS: the title of a duplicated survey.
        copy = pgettext("survey title", "%(title)s (copy)", title=title)
    return copy if len(copy) <= TITLE_MAX else title


def duplicate_survey(survey: Survey, *, now: datetime, user_id: int | None = None) -> Survey:
    """An editable copy of a survey (texts, questions and branches; no runs). Commits."""
    copy = Survey(
        organization_id=survey.organization_id,
        title_es=_copy_title(survey.title_es, "es"),
        title_en=_copy_title(survey.title_en, "en"),
        intro_es=survey.intro_es,
        intro_en=survey.intro_en,
        thanks_es=survey.thanks_es,
        thanks_en=survey.thanks_en,
        created_by=user_id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(copy)
    for question in survey.questions:
        row = SurveyQuestion(organization_id=survey.organization_id)
        for name in _COPIED:
            setattr(row, name, getattr(question, name))
        row.options = [dict(option) for option in question.options or []] or None
        row.branches = dict(question.branches) if question.branches else None
        copy.questions.append(row)
    db.session.commit()
    return copy


# --- questions -------------------------------------------------------------------------------


def add_bank_questions(survey: Survey, codes, *, now: datetime) -> list[SurveyQuestion]:
    """Append questions from the bank (in the bank's order; a question that depends on an
    earlier answer brings that question along and is skipped on the other answers). Commits."""
    _check_editable(survey)
    if not codes:
        raise BuilderError(_l("Choose at least one question."), field="bank_codes")
    batch = _bank_batch(survey, codes)
    _check_room(survey, len(batch))
    added = _append_bank(survey, batch)
    survey.updated_at = now
    db.session.commit()
    return added


def add_question(survey: Survey, spec: QuestionSpec, *, now: datetime) -> SurveyQuestion:
    """Append a question written by hand. Commits."""
    _check_editable(survey)
    _check_room(survey, 1)
    values = question_values(spec)
    row = SurveyQuestion(
        organization_id=survey.organization_id, position=len(survey.questions) + 1, **values
    )
    survey.questions.append(row)
    survey.updated_at = now
    db.session.commit()
    return row


def update_question(question: SurveyQuestion, spec: QuestionSpec, *, now: datetime) -> None:
    """Change a question written by hand. Its branches on answers it no longer has are
    dropped (all of them when its type changes). A bank question keeps its wording, so that
    results compare across surveys: write a new question instead. Commits."""
    survey = question.survey
    _check_editable(survey)
    if question.bank_code:
        raise BuilderError(
            _l(
                "A question from the bank keeps its wording, so that results compare across "
                "surveys. Delete it and write your own question instead."
            )
        )
    values = question_values(spec)
    type_changed = values["qtype"] != question.qtype
    for name, value in values.items():
        setattr(question, name, value)
    if question.branches:
        kept = {} if type_changed else question.branches
        valid = set(branch_values(question))
        question.branches = {k: v for k, v in kept.items() if k in valid} or None
    survey.updated_at = now
    db.session.commit()


def set_branches(question: SurveyQuestion, branches: dict, *, now: datetime) -> None:
    """Replace a question's branches: {answer value: position after it, or 0 to end}. A
    branch to the next question is the default and is not stored. Commits."""
    survey = question.survey
    _check_editable(survey)
    cleaned = {}
    if branches and question.qtype not in BRANCH_QTYPES:
        raise BuilderError(_l("Only choice, scale and yes/no questions can branch."))
    valid = set(branch_values(question))
    count = len(survey.questions)
    for value, target in (branches or {}).items():
        value = str(value)
        if value not in valid:
            raise BuilderError(_l("Choose the branches among the question's answers."))
        try:
            target = int(target)
        except (TypeError, ValueError):
            target = -1
        if target != BRANCH_END and not question.position < target <= count:
            raise BuilderError(
                _l(
                    "A branch goes to a later question (%(first)d to %(last)d) or ends the survey.",
                    first=question.position + 1,
                    last=count,
                ),
                field=f"branch_{value}",
            )
        if target != question.position + 1:
            cleaned[value] = target
    question.branches = cleaned or None
    survey.updated_at = now
    db.session.commit()


def _reorder(survey: Survey, ordered: list[SurveyQuestion], removed=None) -> None:
    """Renumber `survey`'s questions to `ordered` (without `removed`), keeping every branch
    on the question it pointed at. Raises BuilderError (changing nothing) when a branch
    would then point backwards."""
    old = {q.position: q for q in survey.questions}
    new_position = {id(q): n for n, q in enumerate(ordered, start=1)}

    def new_target(target: int) -> int:
        if target == BRANCH_END:
            return BRANCH_END
        question = old.get(target)
        while question is removed and question is not None:  # the one that followed it
            question = old.get(question.position + 1)
        return BRANCH_END if question is None else new_position[id(question)]

    remapped = {}
    for question in ordered:
        branches = {k: new_target(v) for k, v in (question.branches or {}).items()}
        mine = new_position[id(question)]
        for target in branches.values():
            if target != BRANCH_END and target <= mine:
                raise BuilderError(
                    _l(
                        "Question %(n)d would then jump back to question %(m)d: change its "
                        "branches first.",
                        n=mine,
                        m=target,
                    )
                )
        remapped[id(question)] = {k: v for k, v in branches.items() if v != mine + 1} or None
    if removed is not None:
        survey.questions.remove(removed)
        db.session.flush()  # its DELETE first: its position is free for the next one
    # Two steps: the (survey, position) unique constraint holds at every flush.
    for question in ordered:
        question.position = new_position[id(question)] + 100
    db.session.flush()
    for question in ordered:
        question.position = new_position[id(question)]
        question.branches = remapped[id(question)]


def move_question(question: SurveyQuestion, offset: int, *, now: datetime) -> None:
    """Move a question up (-1) or down (+1). Commits."""
    survey = question.survey
    _check_editable(survey)
    ordered = list(survey.questions)
    index = ordered.index(question)
    target = index + offset
    if offset not in (-1, 1) or not 0 <= target < len(ordered):
        raise BuilderError(_l("This question cannot move further."))
    ordered[index], ordered[target] = ordered[target], ordered[index]
    _reorder(survey, ordered)
    survey.updated_at = now
    db.session.commit()


def delete_question(question: SurveyQuestion, *, now: datetime) -> None:
    """Delete a question; the questions after it move up. A branch to it now goes to the
    question that followed it (or ends the survey). Commits."""
    survey = question.survey
    _check_editable(survey)
    ordered = [q for q in survey.questions if q is not question]
    _reorder(survey, ordered, removed=question)
    survey.updated_at = now
    db.session.commit()
