"""The survey builder (app.surveys.builder): surveys from the bank and by hand, branches,
reordering, locking once sent. Every refusal is a translated BuilderError and changes
nothing in the database."""

from datetime import timedelta

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from app.extensions import db
from app.surveys import bank, builder
from app.surveys.builder import BuilderError, QuestionSpec
from app.surveys.models import Survey, SurveyQuestion, SurveyRun
from tests.factories import make_org
from tests.support import NOW

TEXTS = dict(
    title_es="Antes de la campaña",
    title_en="Before the campaign",
    intro_es="¡Hola! Unas preguntas cortas.",
    intro_en="Hi! A few short questions.",
    thanks_es="¡Gracias!",
    thanks_en="Thanks!",
)


@pytest.fixture
def org(app):
    return make_org()


def new_survey(org, codes=(), **overrides) -> Survey:
    return builder.create_survey(
        organization_id=org.id, now=NOW, bank_codes=codes, **{**TEXTS, **overrides}
    )


def choice(**overrides) -> QuestionSpec:
    values = dict(
        qtype="choice",
        text_es="¿Dónde te enteraste?",
        text_en="Where did you hear about it?",
        options_es=["Escuela", "Redes", "Familia"],
        options_en=["School", "Social media", "Family"],
    )
    values.update(overrides)
    return QuestionSpec(**values)


def yesno(n: int) -> QuestionSpec:
    return QuestionSpec(qtype="yesno", text_es=f"¿Pregunta {n}?", text_en=f"Question {n}?")


def state(survey_id: int) -> dict:
    """Everything a builder call could change, read fresh from the database."""
    db.session.expire_all()
    survey = db.session.get(Survey, survey_id)
    columns = [c.key for c in Survey.__table__.columns]
    question_columns = [c.key for c in SurveyQuestion.__table__.columns]
    questions = db.session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == survey_id)
        .order_by(SurveyQuestion.id)
    )
    return {
        "survey": {c: getattr(survey, c) for c in columns},
        "questions": [{c: getattr(q, c) for c in question_columns} for q in questions],
    }


def refused(call, msgid: str, **values) -> BuilderError:
    """`call()` raises a BuilderError whose message is `msgid` translated (it goes through
    the catalog in either language)."""
    with pytest.raises(BuilderError) as caught:
        call()
    for lang in ("es", "en"):
        with force_locale(lang):
            assert str(caught.value) == gettext(msgid, **values)
    return caught.value


def refused_unchanged(survey, call, msgid: str, **values) -> BuilderError:
    before = state(survey.id)
    error = refused(call, msgid, **values)
    db.session.rollback()
    assert state(survey.id) == before
    return error


def sent(survey) -> SurveyRun:
    run = SurveyRun(
        organization_id=survey.organization_id,
        survey_id=survey.id,
        kind="audience",
        starts_at=NOW - timedelta(days=1),
        status="running",
        fanned_out_at=NOW - timedelta(days=1),
    )
    db.session.add(run)
    db.session.commit()
    return run


# --- creating a survey -----------------------------------------------------------------------


def test_a_survey_from_the_bank_copies_each_question_in_both_languages(org):
    survey = new_survey(org, ["knows_where_help", "risk_fentanyl_once", "refusal_confidence"])
    questions = survey.questions
    # the bank's order, whatever the order chosen
    assert [q.bank_code for q in questions] == [
        "risk_fentanyl_once",
        "refusal_confidence",
        "knows_where_help",
    ]
    assert [q.position for q in questions] == [1, 2, 3]
    risk, refusal, help_ = questions
    bank_risk = bank.BY_CODE["risk_fentanyl_once"]
    assert (risk.qtype, risk.construct, risk.scale_min, risk.scale_max) == (
        "scale",
        "perceived_risk",
        1,
        4,
    )
    for lang in ("es", "en"):
        with force_locale(lang):
            assert getattr(risk, f"text_{lang}") == str(bank_risk.text)
            assert [o[lang] for o in risk.options] == [str(label) for label in bank_risk.options]
            assert refusal.__getattribute__(f"low_{lang}") == str(
                bank.BY_CODE["refusal_confidence"].ends[0]
            )
    assert refusal.options is None and (refusal.scale_min, refusal.scale_max) == (1, 5)
    assert help_.qtype == "yesno" and help_.construct == "help_seeking"
    assert survey.title_es == TEXTS["title_es"] and survey.archived_at is None


def test_a_question_asked_only_after_an_answer_brings_its_condition_and_a_branch(org):
    survey = new_survey(org, ["talked_with_whom"])
    talked, whom = survey.questions
    assert (talked.bank_code, whom.bank_code) == ("talked_last_month", "talked_with_whom")
    # "no" skips "who did you talk with?": the last question, so the survey ends
    assert talked.branches == {"0": 0}

    survey = new_survey(org, ["talked_last_month", "talked_with_whom", "knows_where_help"])
    # knows_where_help comes before them in the bank: 1, then talked 2, whom 3
    assert [q.bank_code for q in survey.questions][1:] == ["talked_last_month", "talked_with_whom"]
    assert survey.questions[1].branches == {"0": 0}


def test_creating_refuses_missing_and_long_texts(org):
    for name in TEXTS:
        base = name.split("_")[0]
        msgid = {
            "title": "Write the title in Spanish and in English.",
            "intro": "Write the first message in Spanish and in English.",
            "thanks": "Write the thank-you message in Spanish and in English.",
        }[base]
        error = refused(lambda n=name: new_survey(org, **{n: "   "}), msgid)
        assert error.field == name
    refused(lambda: new_survey(org, title_en="x" * 121), "Use at most %(max)d characters.", max=120)
    refused(lambda: new_survey(org, intro_es="x" * 321), "Use at most %(max)d characters.", max=320)
    refused(lambda: new_survey(org, ["nope"]), "Choose questions from the bank's list.")
    refused(
        lambda: new_survey(org, [q.code for q in bank.BANK]),
        "A survey has at most %(max)d questions: this one would have %(n)d.",
        max=10,
        n=len(bank.BANK),
    )
    assert db.session.scalar(select(Survey.id)) is None


def test_texts_are_kept_on_one_line(org):
    survey = new_survey(org, intro_es="  ¡Hola!\n\n  Unas   preguntas. ")
    assert survey.intro_es == "¡Hola! Unas preguntas."


def test_updating_the_texts(org):
    survey = new_survey(org)
    builder.update_survey(survey, now=NOW, **{**TEXTS, "title_en": "Baseline"})
    assert state(survey.id)["survey"]["title_en"] == "Baseline"
    refused_unchanged(
        survey,
        lambda: builder.update_survey(survey, now=NOW, **{**TEXTS, "thanks_en": ""}),
        "Write the thank-you message in Spanish and in English.",
    )


# --- questions written by hand ---------------------------------------------------------------


def test_every_type_of_question_by_hand(org):
    survey = new_survey(org)
    q1 = builder.add_question(survey, choice(), now=NOW)
    assert q1.options == [
        {"es": "Escuela", "en": "School"},
        {"es": "Redes", "en": "Social media"},
        {"es": "Familia", "en": "Family"},
    ]
    q2 = builder.add_question(
        survey,
        QuestionSpec(
            qtype="scale",
            text_es="¿Qué tan útil?",
            text_en="How useful?",
            scale=(0, 10),
            low_es="nada",
            low_en="not at all",
            high_es="mucho",
            high_en="very",
        ),
        now=NOW,
    )
    assert (q2.scale_min, q2.scale_max, q2.low_es, q2.high_en) == (0, 10, "nada", "very")
    q3 = builder.add_question(survey, yesno(3), now=NOW)
    q4 = builder.add_question(
        survey,
        QuestionSpec(
            qtype="number", text_es="¿Edad?", text_en="Age?", number_min=12, number_max=29
        ),
        now=NOW,
    )
    q5 = builder.add_question(
        survey,
        QuestionSpec(
            qtype="text",
            text_es="¿Algo más?",
            text_en="Anything else?",
            options_es=["ignored", "too"],
            scale=(1, 5),
            number_min=3,
        ),
        now=NOW,
    )
    assert [q.position for q in (q1, q2, q3, q4, q5)] == [1, 2, 3, 4, 5]
    assert (q4.number_min, q4.number_max) == (12, 29)
    # fields of other types are not kept
    assert (q5.options, q5.scale_min, q5.number_min) == (None, None, None)
    assert q3.bank_code is None and q3.construct is None


@pytest.mark.parametrize(
    "overrides, msgid, values, field",
    [
        ({"qtype": "slider"}, "Choose the type of question.", {}, "qtype"),
        ({"text_es": ""}, "Write the question in Spanish and in English.", {}, "text_es"),
        ({"text_en": "x" * 301}, "Use at most %(max)d characters.", {"max": 300}, "text_en"),
        (
            {"options_es": ["Solo una"], "options_en": ["Only one"]},
            "Write from %(min)d to %(max)d options, one per line.",
            {"min": 2, "max": 9},
            "options_es",
        ),
        (
            {"options_es": [str(n) + "a" for n in range(10)]},
            "Write from %(min)d to %(max)d options, one per line.",
            {"min": 2, "max": 9},
            "options_es",
        ),
        (
            {"options_en": ["School", "Social media"]},
            "Write the same number of options in Spanish and in English.",
            {},
            "options_en",
        ),
        (
            {"options_es": ["Escuela", "escuela!", "Familia"]},
            "Two options read the same: make each one different.",
            {},
            "options_es",
        ),
        (
            {"options_es": ["Escuela", "x" * 41, "Familia"]},
            "Each option has at most %(max)d characters.",
            {"max": 40},
            "options_es",
        ),
        (
            {"options_en": ["School", "!!!", "Family"]},
            "Each option needs letters or numbers.",
            {},
            "options_en",
        ),
        (
            {"qtype": "scale", "scale": (1, 7)},
            "Choose a scale: 1 to 4, 1 to 5 or 0 to 10.",
            {},
            "scale",
        ),
        (
            {"qtype": "scale", "scale": (1, 5), "low_es": "a", "low_en": "b", "high_es": "c"},
            "Label both ends of the scale in Spanish and in English.",
            {},
            "high_en",
        ),
        (
            {"qtype": "number", "number_min": 10, "number_max": 10},
            "The lowest accepted number must be below the highest.",
            {},
            "number_max",
        ),
        (
            {"qtype": "number", "number_max": 10**7},
            "Use a number from -%(max)d to %(max)d.",
            {"max": 1_000_000},
            "number_max",
        ),
    ],
)
def test_a_question_by_hand_is_checked(org, overrides, msgid, values, field):
    survey = new_survey(org, ["knows_where_help"])
    error = refused_unchanged(
        survey, lambda: builder.add_question(survey, choice(**overrides), now=NOW), msgid, **values
    )
    assert error.field == field


def test_at_most_ten_questions(org):
    survey = new_survey(org, [q.code for q in bank.BANK][:9])
    builder.add_question(survey, yesno(10), now=NOW)
    refused_unchanged(
        survey,
        lambda: builder.add_question(survey, yesno(11), now=NOW),
        "A survey has at most %(max)d questions: this one would have %(n)d.",
        max=10,
        n=11,
    )
    assert len(state(survey.id)["questions"]) == 10


def test_adding_from_the_bank_to_a_survey(org):
    survey = new_survey(org, ["risk_fentanyl_once"])
    builder.add_question(survey, yesno(2), now=NOW)
    added = builder.add_bank_questions(survey, ["talked_with_whom"], now=NOW)
    assert [(q.bank_code, q.position) for q in added] == [
        ("talked_last_month", 3),
        ("talked_with_whom", 4),
    ]
    assert added[0].branches == {"0": 0}
    refused_unchanged(
        survey,
        lambda: builder.add_bank_questions(survey, ["risk_fentanyl_once"], now=NOW),
        "This survey already has the question “%(text)s”.",
        text=bank.BY_CODE["risk_fentanyl_once"].text,
    )
    refused_unchanged(
        survey,
        lambda: builder.add_bank_questions(survey, [], now=NOW),
        "Choose at least one question.",
    )


def test_a_bank_question_keeps_its_wording(org):
    survey = new_survey(org, ["knows_where_help"])
    question = survey.questions[0]
    refused_unchanged(
        survey,
        lambda: builder.update_question(question, yesno(1), now=NOW),
        "A question from the bank keeps its wording, so that results compare across surveys. "
        "Delete it and write your own question instead.",
    )


def test_editing_a_question_keeps_the_branches_that_still_apply(org):
    survey = new_survey(org)
    question = builder.add_question(survey, choice(), now=NOW)
    for n in (2, 3, 4):
        builder.add_question(survey, yesno(n), now=NOW)
    builder.set_branches(question, {"2": 3, "3": 0}, now=NOW)
    two_options = choice(options_es=["Escuela", "Redes"], options_en=["School", "Social media"])
    builder.update_question(question, two_options, now=NOW)
    assert state(survey.id)["questions"][0]["branches"] == {"2": 3}
    builder.update_question(question, yesno(1), now=NOW)  # another type: no branch applies
    assert state(survey.id)["questions"][0]["branches"] is None


# --- branches ----------------------------------------------------------------------------------


def survey_of(org, n: int) -> Survey:
    survey = new_survey(org)
    builder.add_question(survey, choice(), now=NOW)
    for k in range(2, n + 1):
        builder.add_question(survey, yesno(k), now=NOW)
    return survey


def test_branches_go_forward_or_end(org):
    survey = survey_of(org, 5)
    first, second = survey.questions[0], survey.questions[1]
    builder.set_branches(first, {"1": 4, "2": 0, "3": 2}, now=NOW)  # 2 = the next: not stored
    assert state(survey.id)["questions"][0]["branches"] == {"1": 4, "2": 0}
    builder.set_branches(second, {"0": 5}, now=NOW)
    assert state(survey.id)["questions"][1]["branches"] == {"0": 5}
    builder.set_branches(second, {}, now=NOW)
    assert state(survey.id)["questions"][1]["branches"] is None


@pytest.mark.parametrize(
    "position, branches, msgid, values",
    [
        (1, {"4": 3}, "Choose the branches among the question's answers.", {}),
        (2, {"2": 3}, "Choose the branches among the question's answers.", {}),
        (
            2,
            {"1": 2},
            "A branch goes to a later question (%(first)d to %(last)d) or ends the survey.",
            {"first": 3, "last": 4},
        ),
        (
            3,
            {"1": 1},
            "A branch goes to a later question (%(first)d to %(last)d) or ends the survey.",
            {"first": 4, "last": 4},
        ),
        (
            1,
            {"1": 5},
            "A branch goes to a later question (%(first)d to %(last)d) or ends the survey.",
            {"first": 2, "last": 4},
        ),
        (
            1,
            {"1": "tres"},
            "A branch goes to a later question (%(first)d to %(last)d) or ends the survey.",
            {"first": 2, "last": 4},
        ),
    ],
)
def test_bad_branches_are_refused(org, position, branches, msgid, values):
    survey = survey_of(org, 4)
    question = survey.questions[position - 1]
    refused_unchanged(
        survey, lambda: builder.set_branches(question, branches, now=NOW), msgid, **values
    )


def test_only_choice_scale_and_yes_no_branch(org):
    survey = new_survey(org)
    question = builder.add_question(
        survey, QuestionSpec(qtype="text", text_es="¿Algo?", text_en="Anything?"), now=NOW
    )
    builder.add_question(survey, yesno(2), now=NOW)
    refused_unchanged(
        survey,
        lambda: builder.set_branches(question, {"1": 0}, now=NOW),
        "Only choice, scale and yes/no questions can branch.",
    )


# --- order -------------------------------------------------------------------------------------


def positions(survey_id: int) -> list[tuple]:
    return [
        (q["text_en"], q["position"], q["branches"])
        for q in sorted(state(survey_id)["questions"], key=lambda q: q["position"])
    ]


def test_moving_keeps_branches_on_their_questions(org):
    survey = survey_of(org, 5)
    builder.set_branches(survey.questions[0], {"1": 4}, now=NOW)  # -> "Question 4?"
    builder.move_question(survey.questions[4], -1, now=NOW)  # 5 above 4
    assert positions(survey.id) == [
        ("Where did you hear about it?", 1, {"1": 5}),
        ("Question 2?", 2, None),
        ("Question 3?", 3, None),
        ("Question 5?", 4, None),
        ("Question 4?", 5, None),
    ]
    db.session.expire_all()
    builder.move_question(db.session.get(Survey, survey.id).questions[1], -1, now=NOW)
    assert positions(survey.id)[:2] == [
        ("Question 2?", 1, None),
        ("Where did you hear about it?", 2, {"1": 5}),
    ]


def test_a_question_moves_one_place_at_a_time_within_the_survey(org):
    survey = survey_of(org, 4)
    builder.set_branches(survey.questions[0], {"1": 3}, now=NOW)
    db.session.expire_all()
    survey = db.session.get(Survey, survey.id)
    # "Question 3?" right after the first: its branch is now the default (next) one
    builder.move_question(survey.questions[2], -1, now=NOW)
    assert positions(survey.id)[:2] == [
        ("Where did you hear about it?", 1, None),
        ("Question 3?", 2, None),
    ]
    db.session.expire_all()
    survey = db.session.get(Survey, survey.id)
    for question, offset in ((survey.questions[0], -1), (survey.questions[3], 1)):
        refused_unchanged(
            survey,
            lambda q=question, o=offset: builder.move_question(q, o, now=NOW),
            "This question cannot move further.",
        )
    refused_unchanged(
        survey,
        lambda: builder.move_question(survey.questions[1], 2, now=NOW),
        "This question cannot move further.",
    )


def test_deleting_a_question_points_its_branches_at_the_next_one(org):
    survey = survey_of(org, 5)
    builder.set_branches(survey.questions[0], {"1": 3, "2": 5}, now=NOW)
    db.session.expire_all()
    survey = db.session.get(Survey, survey.id)
    builder.delete_question(survey.questions[2], now=NOW)  # "Question 3?"
    assert positions(survey.id) == [
        # to 3 -> to the one that followed it, now 3 (the next after 2: stored, 3 > 2)
        ("Where did you hear about it?", 1, {"1": 3, "2": 4}),
        ("Question 2?", 2, None),
        ("Question 4?", 3, None),
        ("Question 5?", 4, None),
    ]
    db.session.expire_all()
    survey = db.session.get(Survey, survey.id)
    builder.delete_question(survey.questions[3], now=NOW)  # the last: its branch ends
    assert positions(survey.id)[0] == ("Where did you hear about it?", 1, {"1": 3, "2": 0})
    db.session.expire_all()
    survey = db.session.get(Survey, survey.id)
    builder.delete_question(survey.questions[1], now=NOW)  # "Question 2?": 3 -> 2, the next
    assert positions(survey.id)[0] == ("Where did you hear about it?", 1, {"2": 0})


# --- sent, archived, duplicated ----------------------------------------------------------------

LOCKED = (
    "This survey was already sent, so its answers must keep their meaning: it can no longer "
    "change. Duplicate it to make a new version."
)


def test_a_sent_survey_no_longer_changes(org):
    survey = survey_of(org, 3)
    builder.set_branches(survey.questions[0], {"1": 3}, now=NOW)
    assert not builder.is_locked(survey)
    sent(survey)
    assert builder.is_locked(survey)
    first, second = survey.questions[0], survey.questions[1]
    for call in (
        lambda: builder.update_survey(survey, now=NOW, **TEXTS),
        lambda: builder.add_question(survey, yesno(4), now=NOW),
        lambda: builder.add_bank_questions(survey, ["knows_where_help"], now=NOW),
        lambda: builder.update_question(first, choice(), now=NOW),
        lambda: builder.set_branches(first, {}, now=NOW),
        lambda: builder.move_question(second, 1, now=NOW),
        lambda: builder.delete_question(second, now=NOW),
    ):
        refused_unchanged(survey, call, LOCKED)


def test_a_scheduled_run_that_has_not_gone_out_does_not_lock(org):
    survey = survey_of(org, 2)
    run = sent(survey)
    run.status, run.fanned_out_at = "scheduled", None
    db.session.commit()
    assert not builder.is_locked(survey)


def test_duplicating_makes_an_editable_copy(org):
    survey = new_survey(org, ["talked_last_month", "talked_with_whom"])
    builder.add_question(survey, choice(), now=NOW)
    sent(survey)
    copy = builder.duplicate_survey(survey, now=NOW + timedelta(hours=1), user_id=None)
    assert copy.id != survey.id and not builder.is_locked(copy)
    with force_locale("es"):
        assert copy.title_es == gettext("%(title)s (copy)", title=TEXTS["title_es"]) or (
            copy.title_es.startswith(TEXTS["title_es"])
        )
    original, duplicated = state(survey.id), state(copy.id)
    keep = ("qtype", "bank_code", "construct", "text_es", "options", "branches", "position")
    assert [{k: q[k] for k in keep} for q in duplicated["questions"]] == [
        {k: q[k] for k in keep} for q in original["questions"]
    ]
    builder.add_question(copy, yesno(4), now=NOW)  # the copy changes, the original does not
    assert len(state(survey.id)["questions"]) == 3


def test_archiving_and_restoring(org):
    survey = survey_of(org, 2)
    sent(survey)
    builder.archive_survey(survey, now=NOW)  # allowed once sent: it changes no answer
    assert state(survey.id)["survey"]["archived_at"] is not None
    refused_unchanged(
        survey,
        lambda: builder.archive_survey(survey, now=NOW),
        "This survey is already archived.",
    )
    survey = survey_of(org, 1)
    builder.archive_survey(survey, now=NOW)
    refused_unchanged(
        survey,
        lambda: builder.add_question(survey, yesno(2), now=NOW),
        "This survey is archived: restore it to change it.",
    )
    builder.restore_survey(survey, now=NOW)
    refused_unchanged(
        survey, lambda: builder.restore_survey(survey, now=NOW), "This survey is not archived."
    )
    builder.add_question(survey, yesno(2), now=NOW)


def test_response_counts_have_every_status(org):
    survey = survey_of(org, 1)
    run = sent(survey)
    assert builder.response_counts([run.id]) == {
        run.id: {
            s: 0 for s in ("invited", "started", "completed", "partial", "stopped", "canceled")
        }
    }
    assert builder.response_counts([]) == {}


def test_the_preview_shows_each_questions_reask_and_reminder(app, make_org):
    from app.surveys import texts
    from app.surveys.preview import survey_preview
    from tests.factories import make_survey

    survey = make_survey(make_org())
    preview = survey_preview(survey)
    for language in ("es", "en"):
        shown = [sms.text for sms in preview[language]]
        for question in survey.questions:
            reask = texts.reask_sms(question, language)
            reminder = texts.reminder_sms(question, language)
            assert reask in shown and reminder in shown, (language, question.position)
        assert shown[-1] == texts.thanks_sms(survey, language)
        assert shown.index(texts.reask_sms(survey.questions[0], language)) == 1
