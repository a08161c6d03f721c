"""The coordinator's survey pages (issue 17): list, new survey from the bank, questions
written by hand, branches, order, preview, scheduling a run and its page. Pages answer in
Spanish and English; bad input is a translated 400 that saves nothing; a sent survey is
refused edits and can be duplicated; another organization's rows are 404."""

import re
from datetime import time, timedelta

import pytest
from flask_babel import force_locale, gettext, ngettext, pgettext
from markupsafe import escape
from sqlalchemy import func, select

from app.extensions import db
from app.outbox.encoding import analyze
from app.surveys import bank, builder, texts
from app.surveys.builder import QuestionSpec
from app.surveys.models import Survey, SurveyQuestion, SurveyResponse, SurveyRun
from tests.factories import make_audience, make_contact, make_org, make_user
from tests.support import NOW, TODAY, csrf_token, csrf_token_from

TEXTS = dict(
    title_es="Línea base",
    title_en="Baseline wave",
    intro_es="¡Hola! Unas preguntas cortas.",
    intro_en="Hi! A few short questions.",
    thanks_es="¡Gracias!",
    thanks_en="Thanks!",
)
LOCKED = (
    "This survey was already sent, so its answers must keep their meaning: it can no longer "
    "change. Duplicate it to make a new version."
)


def tr(lang: str, msgid: str, **values) -> str:
    with force_locale(lang):
        return str(escape(gettext(msgid, **values)))


@pytest.fixture
def org(app):
    return make_org()


@pytest.fixture
def coordinator(org, login):
    user = make_user(org, "coordinator", language="en")
    login(user)
    return user


def survey_with(org, codes=("risk_fentanyl_once", "knows_where_help")) -> Survey:
    return builder.create_survey(organization_id=org.id, now=NOW, bank_codes=codes, **TEXTS)


def sent_run(survey, **overrides) -> SurveyRun:
    values = dict(
        organization_id=survey.organization_id,
        survey_id=survey.id,
        kind="audience",
        starts_at=NOW - timedelta(days=1),
        local_date=TODAY - timedelta(days=1),
        local_time=time(17, 0),
        status="running",
        fanned_out_at=NOW - timedelta(days=1),
    )
    values.update(overrides)
    run = SurveyRun(**values)
    db.session.add(run)
    db.session.commit()
    return run


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def post(client, path, data, *, page=None, lang="en"):
    """GET a page (in `lang`) for its CSRF token, then POST the data."""
    response = client.get(f"{page or path}?lang={lang}")
    assert response.status_code == 200, (page or path, response.status_code)
    return client.post(path, data={"csrf_token": csrf_token_from(response), **data})


def body(response) -> str:
    return response.get_data(as_text=True)


# --- pages in both languages ---------------------------------------------------------------


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_page_answers_in_both_languages(client, org, coordinator, lang):
    survey = survey_with(org)
    custom = builder.add_question(
        survey,
        QuestionSpec(
            qtype="choice",
            text_es="¿Dónde?",
            text_en="Where?",
            options_es=["Escuela", "Casa"],
            options_en=["School", "Home"],
        ),
        now=NOW,
    )
    run = sent_run(survey)
    pages = {
        "/surveys/": ("Surveys", "New survey"),
        "/surveys/new": ("New survey", "Questions from the bank"),
        f"/surveys/{survey.id}": ("Questions", "Runs"),
        f"/surveys/{survey.id}/edit": ("Edit survey", "Title in Spanish"),
        f"/surveys/{survey.id}/questions/new": ("New question", "Type of question"),
        f"/surveys/questions/{custom.id}/edit": ("Question in Spanish", "Save the question"),
        f"/surveys/questions/{custom.id}/branches": ("The next question", "End the survey"),
        f"/surveys/{survey.id}/preview": ("Preview the SMS", "Thank-you message"),
        f"/surveys/{survey.id}/runs/new": ("Schedule the survey", "Who is asked"),
        f"/surveys/runs/{run.id}": ("Responses", "Hours to answer each question"),
    }
    for path, strings in pages.items():
        response = client.get(f"{path}?lang={lang}")
        assert response.status_code == 200, path
        html = body(response)
        assert re.search(rf'<html lang="{lang}', html), path
        for msgid in strings:
            assert tr(lang, msgid) in html, (path, msgid)
    # the navigation has the section, marked current on the survey pages
    html = body(client.get(f"/surveys/?lang={lang}"))
    assert re.search(r'<a[^>]*href="/surveys/"[^>]*aria-current="page"', html)


def test_the_list_shows_current_and_archived_surveys(client, org, coordinator):
    current = survey_with(org)
    old = survey_with(org, ("knows_where_help",))
    builder.update_survey(old, now=NOW, **{**TEXTS, "title_en": "Old wave"})
    builder.archive_survey(old, now=NOW)
    html = body(client.get("/surveys/?lang=en"))
    assert f'href="/surveys/{current.id}"' in html and "Old wave" in html
    assert html.index("Baseline wave") < html.index("Archived surveys") < html.index("Old wave")


# --- building ----------------------------------------------------------------------------------


def test_a_survey_from_the_bank(client, org, coordinator):
    data = {**TEXTS, "bank_codes": ["knows_where_help", "risk_meth_once", "talked_with_whom"]}
    response = post(client, "/surveys/new", data)
    assert response.status_code == 302
    survey = db.session.scalar(select(Survey))
    assert response.headers["Location"].endswith(f"/surveys/{survey.id}")
    assert (survey.title_es, survey.organization_id) == ("Línea base", org.id)
    assert [q.bank_code for q in survey.questions] == [
        "risk_meth_once",
        "knows_where_help",
        "talked_last_month",
        "talked_with_whom",
    ]
    html = body(client.get(response.headers["Location"] + "?lang=en"))
    assert str(escape(bank.BY_CODE["risk_meth_once"].text)) in html
    assert "If no: end the survey" in html  # the condition's branch


def test_the_new_survey_form_groups_the_bank_by_construct(client, org, coordinator):
    html = body(client.get("/surveys/new?lang=es"))
    with force_locale("es"):
        for construct in bank.CONSTRUCTS:
            assert f"<legend>{escape(str(bank.CONSTRUCT_LABELS[construct]))}</legend>" in html
        intro = pgettext(
            "survey SMS", "Hi! We'd like to know what you think: a few short questions."
        )
    for question in bank.BANK:
        assert f'value="{question.code}"' in html
    # the suggested first message is filled in, in each language
    assert re.search(
        rf'<textarea[^>]*name="intro_es"[^>]*>\s*{re.escape(str(escape(intro)))}', html
    )
    assert 'lang="en"' in re.search(r'<textarea[^>]*name="intro_en"[^>]*>', html).group(0)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_new_survey_with_bad_input_is_a_translated_400(client, org, coordinator, lang):
    cases = [
        ({**TEXTS, "title_es": " "}, "Write the title in Spanish and in English."),
        ({**TEXTS, "bank_codes": ["nope"]}, "Not a valid choice."),
        (
            {**TEXTS, "bank_codes": [q.code for q in bank.BANK]},
            "A survey has at most %(max)d questions: this one would have %(n)d.",
        ),
    ]
    for data, msgid in cases:
        response = post(client, "/surveys/new", data, lang=lang)
        assert response.status_code == 400, data
        if msgid == "Not a valid choice.":
            continue  # WTForms' own message (its catalog)
        expected = tr(lang, msgid, max=10, n=len(bank.BANK))
        assert expected in body(response)
    assert count(Survey) == 0


def test_questions_written_by_hand(client, org, coordinator):
    survey = survey_with(org, ())
    path = f"/surveys/{survey.id}/questions/new"
    questions = [
        {
            "qtype": "choice",
            "text_es": "¿Dónde te enteraste?",
            "text_en": "Where did you hear?",
            "options_es": "Escuela\r\nRedes\r\n\r\nFamilia",
            "options_en": "School\nSocial media\nFamily",
        },
        {
            "qtype": "scale",
            "text_es": "¿Qué tan útil?",
            "text_en": "How useful?",
            "scale": "0-10",
            "low_es": "nada",
            "low_en": "not at all",
            "high_es": "mucho",
            "high_en": "very",
        },
        {"qtype": "yesno", "text_es": "¿Volverías?", "text_en": "Would you come back?"},
        {
            "qtype": "number",
            "text_es": "¿Cuántos años tienes?",
            "text_en": "How old are you?",
            "number_min": "12",
            "number_max": "29",
        },
        {"qtype": "text", "text_es": "¿Algo más?", "text_en": "Anything else?"},
    ]
    for data in questions:
        response = post(client, path, data)
        assert response.status_code == 302, body(response)[:2000]
    rows = db.session.scalars(
        select(SurveyQuestion).where(SurveyQuestion.survey_id == survey.id)
    ).all()
    assert [q.qtype for q in sorted(rows, key=lambda q: q.position)] == [
        "choice",
        "scale",
        "yesno",
        "number",
        "text",
    ]
    by_type = {q.qtype: q for q in rows}
    assert [o["en"] for o in by_type["choice"].options] == ["School", "Social media", "Family"]
    assert (by_type["scale"].scale_min, by_type["scale"].scale_max) == (0, 10)
    assert (by_type["number"].number_min, by_type["number"].number_max) == (12, 29)
    # the type can be chosen from the list's link
    html = body(client.get(f"{path}?type=yesno&lang=en"))
    assert re.search(r'<option selected value="yesno">', html)

    # editing a question written by hand
    choice = by_type["choice"]
    response = post(
        client,
        f"/surveys/questions/{choice.id}/edit",
        {**questions[0], "text_en": "Where did you first hear?"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SurveyQuestion, choice.id).text_en == "Where did you first hear?"


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_bad_question_is_a_translated_400_and_saves_nothing(client, org, coordinator, lang):
    survey = survey_with(org, ())
    path = f"/surveys/{survey.id}/questions/new"
    base = {"qtype": "choice", "text_es": "¿Dónde?", "text_en": "Where?"}
    cases = [
        (
            {**base, "options_es": "Escuela\nCasa", "options_en": "School"},
            "Write from %(min)d to %(max)d options, one per line.",
        ),
        (
            {**base, "options_es": "Escuela\nCasa", "options_en": "School\nHome\nPark"},
            "Write the same number of options in Spanish and in English.",
        ),
        (
            {**base, "qtype": "scale", "scale": "1-5"},
            "Label both ends of the scale in Spanish and in English.",
        ),
        ({**base, "text_en": ""}, "Write the question in Spanish and in English."),
        (
            {**base, "qtype": "number", "number_min": "30", "number_max": "12"},
            "The lowest accepted number must be below the highest.",
        ),
    ]
    for data, msgid in cases:
        response = post(client, path, data, lang=lang)
        assert response.status_code == 400, data
        assert tr(lang, msgid, min=2, max=9) in body(response), (data, msgid)
    response = post(client, path, {**base, "number_min": "abc"}, lang=lang)
    assert response.status_code == 400
    assert count(SurveyQuestion) == 0


def test_a_bank_question_cannot_be_reworded(client, org, coordinator):
    survey = survey_with(org)
    question = survey.questions[0]
    response = post(
        client,
        f"/surveys/questions/{question.id}/edit",
        {"qtype": "yesno", "text_es": "¿Otra?", "text_en": "Another?"},
    )
    assert response.status_code == 400
    assert "A question from the bank keeps its wording" in body(response)
    db.session.expire_all()
    assert db.session.get(SurveyQuestion, question.id).qtype == "scale"


def test_branching(client, org, coordinator):
    survey = survey_with(org, ("knows_where_help", "knows_helpline", "talked_last_month"))
    first = survey.questions[0]  # yes/no: "no" skips the helpline question
    path = f"/surveys/questions/{first.id}/branches"
    html = body(client.get(f"{path}?lang=en"))
    assert 'name="branch_1"' in html and 'name="branch_0"' in html
    assert '<option value="3">Question 3</option>' in html
    assert '<option value="2">' not in html  # the next one is the default
    response = post(client, path, {"branch_1": "", "branch_0": "3"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SurveyQuestion, first.id).branches == {"0": 3}
    assert "If no: go to question 3" in body(client.get(f"/surveys/{survey.id}?lang=en"))
    spanish = tr("es", "If %(answer)s: go to question %(n)d", answer=tr("es", "no"), n=3)
    assert spanish in body(client.get(f"/surveys/{survey.id}?lang=es"))
    # a target that is not offered is refused; nothing changes
    response = post(client, path, {"branch_1": "1"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(SurveyQuestion, first.id).branches == {"0": 3}
    # a question that cannot branch
    text = builder.add_question(
        db.session.get(Survey, survey.id),
        QuestionSpec(qtype="text", text_es="¿Algo?", text_en="Anything?"),
        now=NOW,
    )
    html = body(client.get(f"/surveys/questions/{text.id}/branches?lang=en"))
    assert "Only choice, scale and yes/no questions can branch." in html


def test_moving_and_deleting_questions(client, org, coordinator):
    survey = survey_with(org, ("risk_fentanyl_once", "risk_meth_once", "knows_where_help"))
    page = f"/surveys/{survey.id}"
    first, second, third = (q.id for q in survey.questions)
    response = post(client, f"/surveys/questions/{third}/move", {"direction": "up"}, page=page)
    assert response.status_code == 302
    db.session.expire_all()
    assert [q.id for q in db.session.get(Survey, survey.id).questions] == [first, third, second]
    response = post(client, f"/surveys/questions/{first}/move", {"direction": "up"}, page=page)
    assert response.status_code == 302  # cannot move further: a flash, nothing changes
    html = body(client.get(f"{page}?lang=en"))
    assert "This question cannot move further." in html
    response = post(
        client, f"/surveys/questions/{first}/move", {"direction": "sideways"}, page=page
    )
    db.session.expire_all()
    assert [q.id for q in db.session.get(Survey, survey.id).questions] == [first, third, second]
    response = post(client, f"/surveys/questions/{third}/delete", {}, page=page)
    assert response.status_code == 302
    db.session.expire_all()
    questions = db.session.get(Survey, survey.id).questions
    assert [(q.id, q.position) for q in questions] == [(first, 1), (second, 2)]


def test_editing_texts(client, org, coordinator):
    survey = survey_with(org)
    response = post(client, f"/surveys/{survey.id}/edit", {**TEXTS, "intro_en": "Hello there"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Survey, survey.id).intro_en == "Hello there"
    response = post(client, f"/surveys/{survey.id}/edit", {**TEXTS, "intro_en": "x" * 400})
    assert response.status_code == 400
    assert db.session.get(Survey, survey.id).intro_en == "Hello there"


# --- preview --------------------------------------------------------------------------------------


def test_the_preview_shows_every_sms_with_its_segments(client, org, coordinator):
    survey = survey_with(org, ("risk_fentanyl_once", "knows_where_help"))
    long = builder.add_question(
        survey,
        QuestionSpec(
            qtype="yesno", text_es="¿Sabías que " + "á" * 80 + "?", text_en="Did you know?"
        ),
        now=NOW,
    )
    html = body(client.get(f"/surveys/{survey.id}/preview?lang=en"))
    for lang in ("es", "en"):
        first = texts.first_sms(survey, survey.questions[0], lang)
        assert str(escape(first)) in html
        second = texts.question_sms(survey.questions[1], lang)
        assert f'<p class="cmp-sms-bubble" lang="{lang}">{escape(second)}</p>' in html
        assert str(escape(texts.thanks_sms(survey, lang))) in html
    info = analyze(texts.question_sms(survey.questions[1], "en"))
    assert info.segments == 1 and info.is_gsm
    assert "GSM-7 (standard)" in html and "UCS-2 (Unicode, shorter SMS)" in html
    # the long Spanish question does not fit one GSM-7 SMS: said once, for Spanish
    long_info = analyze(texts.question_sms(long, "es"))
    assert long_info.segments > 1
    assert html.count('data-warning="segments"') == 1
    assert f"{long_info.segments} SMS" in html


# --- sent surveys ---------------------------------------------------------------------------------


def test_a_sent_survey_is_refused_edits_and_can_be_duplicated(client, org, coordinator):
    survey = survey_with(org)
    sent_run(survey)
    question = survey.questions[0]
    page = f"/surveys/{survey.id}"
    html = body(client.get(f"{page}?lang=en"))
    assert "Duplicate it to make a new version." in html
    assert f"/surveys/questions/{question.id}/branches" not in html
    response = post(client, f"/surveys/{survey.id}/edit", {**TEXTS, "title_en": "Changed"})
    assert response.status_code == 400 and str(escape(LOCKED)) in body(response)
    response = post(
        client,
        f"/surveys/{survey.id}/questions/new",
        {"qtype": "yesno", "text_es": "¿Sí?", "text_en": "Yes?"},
    )
    assert response.status_code == 400
    response = post(
        client, f"/surveys/questions/{question.id}/branches", {"branch_1": "0"}, page=page
    )
    assert response.status_code == 400
    for path, data in (
        (f"/surveys/{survey.id}/questions/bank", {"bank_codes": "risk_meth_once"}),
        (f"/surveys/questions/{question.id}/move", {"direction": "down"}),
        (f"/surveys/questions/{question.id}/delete", {}),
    ):
        response = post(client, path, data, page=page)
        assert response.status_code == 302
    assert str(escape(LOCKED)) in body(client.get(f"{page}?lang=en"))
    db.session.expire_all()
    kept = db.session.get(Survey, survey.id)
    assert kept.title_en == TEXTS["title_en"] and len(kept.questions) == 2
    assert kept.questions[0].id == question.id and kept.questions[0].branches is None

    response = post(client, f"/surveys/{survey.id}/duplicate", {}, page=page)
    assert response.status_code == 302
    copy = db.session.scalar(select(Survey).where(Survey.id != survey.id))
    assert response.headers["Location"].endswith(f"/surveys/{copy.id}")
    assert [q.bank_code for q in copy.questions] == [q.bank_code for q in kept.questions]
    response = post(client, f"/surveys/{copy.id}/edit", {**TEXTS, "title_en": "Follow-up"})
    assert response.status_code == 302


def test_archiving_and_restoring(client, org, coordinator):
    survey = survey_with(org)
    page = f"/surveys/{survey.id}"
    assert post(client, f"{page}/archive", {}, page=page).status_code == 302
    db.session.expire_all()
    assert db.session.get(Survey, survey.id).archived_at is not None
    html = body(client.get(f"{page}?lang=en"))
    assert f"{page}/runs/new" not in html and f"{page}/restore" in html
    assert post(client, f"{page}/restore", {}, page=page).status_code == 302
    db.session.expire_all()
    assert db.session.get(Survey, survey.id).archived_at is None


# --- runs ---------------------------------------------------------------------------------------


def test_scheduling_a_run_for_an_audience(client, org, coordinator):
    survey = survey_with(org)
    audience = make_audience(org, name="Secundaria 12")
    path = f"/surveys/{survey.id}/runs/new"
    html = body(client.get(f"{path}?lang=en"))
    assert f'<option value="{audience.id}">Secundaria 12</option>' in html
    data = {
        "kind": "audience",
        "audience": str(audience.id),
        "local_date": (TODAY + timedelta(days=3)).isoformat(),
        "local_time": "17:00",
        "window_hours": "24",
    }
    response = post(client, path, data)
    assert response.status_code == 302, body(response)[:3000]
    run = db.session.scalar(select(SurveyRun))
    assert response.headers["Location"].endswith(f"/surveys/runs/{run.id}")
    assert (run.kind, run.audience_id, run.local_time, run.status) == (
        "audience",
        audience.id,
        time(17, 0),
        "scheduled",
    )


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_bad_run_is_a_translated_400_on_its_field(client, org, coordinator, lang):
    survey = survey_with(org)
    path = f"/surveys/{survey.id}/runs/new"
    later = (TODAY + timedelta(days=3)).isoformat()
    cases = [
        ({"kind": "audience", "local_date": later, "local_time": "17:00"}, "Choose an audience."),
        ({"kind": "baseline", "local_date": later, "local_time": "17:00"}, "Choose a campaign."),
        (
            {"kind": "audience", "audience": "999999", "local_date": later, "local_time": "9:00"},
            None,  # not a choice: WTForms' own message
        ),
        ({"kind": "weekly", "local_date": later, "local_time": "17:00"}, None),
        ({"kind": "audience", "local_date": "2026-02-30", "local_time": "17:00"}, None),
        ({"kind": "audience", "window_hours": "0"}, None),
    ]
    for data, msgid in cases:
        response = post(client, path, {"window_hours": "24", **data}, lang=lang)
        assert response.status_code == 400, data
        html = body(response)
        assert "field--error" in html or "alert--error" in html
        if msgid:
            assert tr(lang, msgid) in html
    assert count(SurveyRun) == 0


def test_the_run_page_counts_responses_and_cancels(client, org, coordinator):
    survey = survey_with(org)
    run = sent_run(survey)
    statuses = ["invited"] * 3 + ["started"] * 2 + ["completed"] * 4 + ["partial", "stopped"]
    for status in statuses:
        contact = make_contact(org)
        db.session.add(
            SurveyResponse(
                organization_id=org.id,
                run_id=run.id,
                survey_id=survey.id,
                contact_id=contact.id,
                status=status,
                language="es",
                position=1,
            )
        )
    db.session.commit()
    html = body(client.get(f"/surveys/runs/{run.id}?lang=en"))
    for status, n in (("invited", 3), ("started", 2), ("completed", 4), ("partial", 1)):
        assert re.search(
            rf'data-status="{status}"><th scope="row">[^<]+</th><td class="num">{n}</td>', html
        ), status
    assert f'href="/reports/surveys/{survey.id}"' in html  # the results page
    response = post(client, f"/surveys/runs/{run.id}/cancel", {}, page=f"/surveys/runs/{run.id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SurveyRun, run.id).status == "canceled"
    html = body(client.get(f"/surveys/runs/{run.id}?lang=en"))
    assert f"/surveys/runs/{run.id}/cancel" not in html
    # once over, closing is refused with the service's message
    response = post(client, f"/surveys/runs/{run.id}/close", {}, page=f"/surveys/runs/{run.id}")
    assert response.status_code == 302
    assert "This survey run is already over." in body(client.get(f"/surveys/runs/{run.id}"))


def test_closing_a_running_run(client, org, coordinator):
    survey = survey_with(org)
    run = sent_run(survey)
    response = post(client, f"/surveys/runs/{run.id}/close", {}, page=f"/surveys/runs/{run.id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SurveyRun, run.id).status == "closed"
    with force_locale("en"):
        done = ngettext(
            "Survey closed: %(num)d unfinished response is kept as partial.",
            "Survey closed: %(num)d unfinished responses are kept as partial.",
            0,
        )
    assert str(escape(done)) in body(client.get(f"/surveys/runs/{run.id}?lang=en"))


# --- access ------------------------------------------------------------------------------------


def test_another_organizations_surveys_are_404(client, org, coordinator):
    other = make_org()
    survey = survey_with(other)
    question = survey.questions[0]
    run = sent_run(survey)
    token = csrf_token(client)
    for path in (
        f"/surveys/{survey.id}",
        f"/surveys/{survey.id}/edit",
        f"/surveys/{survey.id}/preview",
        f"/surveys/{survey.id}/runs/new",
        f"/surveys/questions/{question.id}/edit",
        f"/surveys/questions/{question.id}/branches",
        f"/surveys/runs/{run.id}",
    ):
        assert client.get(path).status_code == 404, path
    for path in (
        f"/surveys/{survey.id}/archive",
        f"/surveys/{survey.id}/duplicate",
        f"/surveys/questions/{question.id}/delete",
        f"/surveys/runs/{run.id}/cancel",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert count(Survey) == 1
    assert "Baseline wave" not in body(client.get("/surveys/"))


def test_evaluators_have_no_survey_builder(client, org, login):
    login(make_user(org, "evaluator", language="en"))
    survey = survey_with(org)
    assert client.get("/surveys/").status_code == 403
    assert client.get(f"/surveys/{survey.id}").status_code == 403
    assert 'href="/surveys/"' not in body(client.get("/dashboard"))
