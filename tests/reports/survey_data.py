"""Survey rows for the results tests, inserted directly (the engine that fills them in
production is tested in tests/surveys): a survey with its questions, runs, and per
contact a response with its answers. Times are relative to tests.support.NOW."""

from datetime import timedelta

from app.extensions import db
from app.surveys.models import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse, SurveyRun
from tests.support import NOW

RISK = [
    {"es": "Ningún riesgo", "en": "No risk"},
    {"es": "Riesgo leve", "en": "Slight risk"},
    {"es": "Riesgo moderado", "en": "Moderate risk"},
    {"es": "Gran riesgo", "en": "Great risk"},
]
HELP = [
    {"es": "Linea de la Vida", "en": "Lifeline"},
    {"es": "Mi familia", "en": "My family"},
    {"es": "No sé", "en": "I don't know"},
]


def make_survey(org, questions=None, *, title="Riesgo percibido") -> Survey:
    """A survey of `org`; default questions: q1 risk scale 1-4 (bank), q2 yes/no (bank),
    q3 choice, q4 free text."""
    survey = Survey(
        organization_id=org.id,
        title_es=title,
        title_en=f"{title} (en)",
        intro_es="Hola",
        intro_en="Hi",
        thanks_es="Gracias",
        thanks_en="Thanks",
    )
    db.session.add(survey)
    db.session.flush()
    specs = questions or [
        dict(
            qtype="scale",
            bank_code="risk_fentanyl_once",
            construct="perceived_risk",
            text_es="¿Cuánto riesgo hay si alguien prueba fentanilo una vez?",
            text_en="How much risk is there if someone tries fentanyl once?",
            options=RISK,
            scale_min=1,
            scale_max=4,
        ),
        dict(
            qtype="yesno",
            bank_code="knows_fake_pills_fentanyl",
            construct="knowledge",
            text_es="¿Una pastilla falsa puede tener fentanilo?",
            text_en="Can a fake pill contain fentanyl?",
        ),
        dict(
            qtype="choice",
            text_es="¿A dónde llamarías?",
            text_en="Where would you call?",
            options=HELP,
        ),
        dict(qtype="text", text_es="¿Algo más?", text_en="Anything else?"),
    ]
    for position, spec in enumerate(specs, start=1):
        db.session.add(
            SurveyQuestion(organization_id=org.id, survey_id=survey.id, position=position, **spec)
        )
    db.session.commit()
    return survey


def question(survey, position) -> SurveyQuestion:
    return next(q for q in survey.questions if q.position == position)


def make_run(survey, kind="audience", *, campaign=None, days_ago=30, status="closed") -> SurveyRun:
    run = SurveyRun(
        organization_id=survey.organization_id,
        survey_id=survey.id,
        kind=kind,
        campaign_id=campaign.id if campaign else None,
        starts_at=NOW - timedelta(days=days_ago),
        status=status,
        fanned_out_at=NOW - timedelta(days=days_ago),
    )
    db.session.add(run)
    db.session.commit()
    return run


def respond(
    run, contact, answers: dict, *, status=None, minutes=10, skipped=(), texts=None
) -> SurveyResponse:
    """`contact`'s response to `run`: {position: value} (None: skipped; positions in
    `skipped` too). Completed when every question has an answer, else partial; `minutes`
    from the first answer to the last."""
    survey = db.session.get(Survey, run.survey_id)
    started = run.starts_at + timedelta(hours=1)
    if status is None:
        status = "completed" if len(answers) == len(survey.questions) else "partial"
    response = SurveyResponse(
        organization_id=run.organization_id,
        run_id=run.id,
        survey_id=run.survey_id,
        contact_id=contact.id,
        status=status,
        language=contact.language or "es",
        invited_at=run.starts_at,
        started_at=started if answers else None,
        completed_at=started + timedelta(minutes=minutes) if status == "completed" else None,
        closed_at=started + timedelta(minutes=minutes) if answers else None,
    )
    db.session.add(response)
    db.session.flush()
    for position, value in answers.items():
        q = question(survey, position)
        skip = value is None or position in skipped
        db.session.add(
            SurveyAnswer(
                organization_id=run.organization_id,
                response_id=response.id,
                question_id=q.id,
                contact_id=contact.id,
                raw_text=f"respuesta cruda {value}",
                value_num=None if skip or q.qtype == "text" else float(value),
                value_text=(texts or {}).get(position) if q.qtype == "text" and not skip else None,
                skipped=skip,
                answered_at=started + timedelta(minutes=position),
            )
        )
    db.session.commit()
    return response
