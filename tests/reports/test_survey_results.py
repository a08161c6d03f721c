"""Survey results (issue 17): figures, suppression for evaluators, exports, CLI, pages.

The dataset (`world`), organization "encuesta" (threshold 5), campaign "Sin Fentanilo",
the default survey of survey_data.py (q1 risk scale 1-4, q2 yes/no, q3 choice, q4 text):

    contacts c0..c11; c0-c8 female, c9-c11 male; c11 reads English; c10, c11 live in
    Coyoacán (09), the others in Tijuana (02)
    baseline run (12 contacts):  q1 = 2 for c0-c5, 3 for c6-c11; q2 = yes for c0-c5, no
                                 for c6-c11; q3 = 1; q4 free text (c11 skips it)
    follow-up run (c0-c9):       q1 = 3 for c0-c7, 4 for c8-c9; q2 = yes; q3 = 1; q4 text

Paired q1 (c0-c9): d = 1 (c0-c5), 0 (c6-c7), 1 (c8-c9): n 10, Σd 8, mean 0.8, Σd² 8,
s² = (8 - 10·0.8²)/9 = 1.6/9, s = 0.421637, se = 0.133333, t(0.975, 9) = 2.262157,
CI 0.8 ± 0.301621. Paired q2: yes→yes 6, yes→no 0, no→yes 4, no→no 0: exact McNemar
p = 2 · (1/2)⁴ = 0.125.
"""

import csv
import io
import json
from fractions import Fraction

import pytest

from app.extensions import db
from app.participation.services import record_event
from app.reports.suppression import Hidden
from app.reports.survey_tables import survey_tables
from app.reports.surveys import SKIPPED, TOO_FEW, survey_cells, survey_figures
from app.surveys.models import SurveyAnswer
from tests.factories import make_campaign, make_contact
from tests.reports.attacker import HIDDEN, Knowledge, attack
from tests.reports.survey_data import make_run, make_survey, respond
from tests.support import utc

NAMES = [f"Nombre{chr(65 + i)}zq" for i in range(12)]


@pytest.fixture
def world(app, make_org):
    org = make_org(slug="encuesta", timezone="America/Tijuana")
    org.evaluator_person_files = True  # evaluators get the answers file
    other = make_org(slug="ajena")
    campaign = make_campaign(org, name="Sin Fentanilo")
    survey = make_survey(org)
    baseline = make_run(survey, "baseline", campaign=campaign, days_ago=60)
    follow_up = make_run(survey, "follow_up", campaign=campaign, days_ago=10)
    contacts = []
    for i in range(12):
        contacts.append(
            make_contact(
                org,
                first_name=NAMES[i],
                phone=f"+5266477700{i:02d}",
                gender="female" if i < 9 else "male",
                language="en" if i == 11 else "es",
                state_code="09" if i >= 10 else "02",
                municipality="Coyoacán" if i >= 10 else "Tijuana",
            )
        )
    for i, contact in enumerate(contacts):
        respond(
            baseline,
            contact,
            {1: 2 if i < 6 else 3, 2: 1 if i < 6 else 0, 3: 1, 4: None if i == 11 else "t"},
            texts={4: f"secreto{i}"},
            minutes=4 + i,
        )
        if i < 10:
            respond(
                follow_up,
                contact,
                {1: 3 if i < 8 else 4, 2: 1, 3: 1, 4: "t"},
                texts={4: f"privado{i}"},
            )
    other_survey = make_survey(other, title="Ajena")
    make_run(other_survey, "audience")
    return type(
        "World",
        (),
        dict(
            org=org,
            other=other,
            campaign=campaign,
            survey=survey,
            baseline=baseline,
            follow_up=follow_up,
            contacts=contacts,
            other_survey=other_survey,
        ),
    )


def _tables(w, threshold, language="es"):
    figures = survey_figures(w.org.id, w.survey.id)
    cells = survey_cells(figures, threshold, 5)
    return figures, cells, survey_tables(figures, cells, w.survey.id, language)


def _row(table, first):
    return next(row for row in table.rows if row[0] == first)


# --- exact figures -------------------------------------------------------------------------


def test_exact_figures_for_coordinators(world):
    w = world
    _f, _c, tables = _tables(w, None)
    funnel = tables["funnel"]
    # sent, started, completed, completion rate, median minutes (baseline: 4..15 → 9.5)
    assert _row(funnel, w.baseline.id)[4:9] == [12, 12, 12, 1.0, 9.5]
    assert _row(funnel, w.follow_up.id)[4:8] == [10, 10, 10, 1.0]
    assert funnel.total[4:7] == [22, 22, 22]
    q1 = tables["q1"]
    # columns: value, label, baseline n, %, follow-up n, %, all n, %
    assert _row(q1, "2")[2:] == [6, 0.5, 0, 0.0, 6, pytest.approx(6 / 22)]
    assert _row(q1, "4")[2:6] == [0, 0.0, 2, 0.2]
    assert _row(q1, SKIPPED)[2] == 0
    assert q1.total[2] == 12 and q1.total[4] == 10
    q4 = tables["q4"]  # free text: answered or skipped, never the text
    assert _row(q4, "answered")[2] == 11 and _row(q4, SKIPPED)[2] == 1
    gender = tables["q1_gender"]
    assert [row[0] for row in gender.rows] == ["female", "male"]
    assert _row(gender, "male")[2] == 4  # c9-c11 at baseline, c9 at follow-up
    municipality = tables["q1_municipality"]
    assert {row[3] for row in municipality.rows} == {"Tijuana", "Coyoacán"}


def test_paired_and_unpaired_comparison_for_coordinators(world):
    w = world
    _f, _c, tables = _tables(w, None)
    key = f"{w.baseline.id}_{w.follow_up.id}"
    paired = tables[f"paired_{key}"]
    mean = next(r for r in paired.rows if r[0] == "q1" and r[2] == "mean")
    # n, before, after, change, CI (see the module docstring)
    assert mean[4] == 10
    assert mean[5] == pytest.approx(2.4) and mean[6] == pytest.approx(3.2)
    assert mean[7] == pytest.approx(0.8)
    assert mean[8] == pytest.approx(0.8 - 0.301621, abs=1e-5)
    assert mean[9] == pytest.approx(0.8 + 0.301621, abs=1e-5)
    assert mean[15] == "paired_t"
    yes = next(r for r in paired.rows if r[0] == "q2")
    assert yes[4:8] == [10, 0.6, 1.0, pytest.approx(0.4)]
    assert yes[10:14] == [6, 0, 4, 0]  # yes→yes, yes→no, no→yes, no→no
    assert yes[14] == pytest.approx(0.125) and yes[15] == "mcnemar_exact"
    unpaired = tables[f"unpaired_{key}"]
    mean = next(r for r in unpaired.rows if r[0] == "q1" and r[2] == "mean")
    # baseline: 6·2 + 6·3 = 30 / 12 = 2.5; follow-up: 8·3 + 2·4 = 32 / 10 = 3.2
    assert mean[4:9] == [12, 2.5, 10, pytest.approx(3.2), pytest.approx(0.7)]
    assert mean[9] < 0.7 < mean[10]


def test_estimates_need_n_at_least_the_threshold_for_every_viewer(world, make_org):
    w = world
    small = make_survey(w.org, title="Pequeña")
    baseline = make_run(small, "baseline", campaign=w.campaign, days_ago=50)
    follow_up = make_run(small, "follow_up", campaign=w.campaign, days_ago=5)
    for contact in w.contacts[:3]:
        respond(baseline, contact, {1: 2, 2: 0, 3: 1, 4: "t"})
        respond(follow_up, contact, {1: 4, 2: 1, 3: 1, 4: "t"})
    figures = survey_figures(w.org.id, small.id)
    cells = survey_cells(figures, None, 5)
    tables = survey_tables(figures, cells, small.id, "es")
    paired = tables[f"paired_{baseline.id}_{follow_up.id}"]
    mean = next(r for r in paired.rows if r[2] == "mean")
    assert mean[4] == 3  # n is said
    assert mean[5:10] == [TOO_FEW] * 5  # the estimates are not
    assert str(TOO_FEW) == "—"


# --- suppression ---------------------------------------------------------------------------


def test_evaluators_get_small_cells_hidden_with_their_complements(world):
    w = world
    _f, _c, tables = _tables(w, 5)
    q1 = tables["q1"]
    four = _row(q1, "4")
    assert isinstance(four[4], Hidden) and isinstance(four[5], Hidden)  # 2 at follow-up
    # the follow-up column adds up to its total (10): another row is hidden with it
    others = [row[4] for row in q1.rows if row[0] != "4"]
    assert any(isinstance(v, Hidden) for v in others) or isinstance(q1.total[4], Hidden)
    male = _row(tables["q1_gender"], "male")
    assert isinstance(male[2], Hidden) or all(
        isinstance(v, Hidden) for v in male[3:] if v not in (0, None)
    )
    assert str(four[4]) == "*"


def _figures_of(tables, keys):
    """What an evaluator reads: {(table, row, column): Fraction or (HIDDEN, '*')}."""
    figures = {}
    for key in keys:
        table = tables[key]
        columns = [c.key for c in table.spec.columns]
        for row in [*table.rows, *([table.total] if table.total else [])]:
            label = row[0] if row is not table.total else "Total"
            for column, cell in zip(columns, row, strict=True):
                if isinstance(cell, Hidden):
                    figures[(key, label, column)] = (HIDDEN, "*")
                elif isinstance(cell, (int, float)) and not isinstance(cell, bool):
                    if column in ("run_id", "campaign_id"):
                        continue
                    figures[(key, label, column)] = Fraction(cell).limit_denominator(10**6)
    return figures


def test_an_evaluator_cannot_recover_a_hidden_count(world):
    """The attacker of attacker.py, told the definitions: each run's values add up to its
    answers, runs add up to all runs, breakdown rows add up to the totals, shares are a
    count over the answers not skipped, a mean is Σ value × count over them, and the
    first question's answers are the run's started responses."""
    w = world
    figures, cells, tables = _tables(w, 5)
    runs = [w.baseline.id, w.follow_up.id]
    keys = ["funnel", "q1", "q2", *(f"q1_{d}" for d in ("age_band", "gender", "language", "state"))]
    key = f"{w.baseline.id}_{w.follow_up.id}"
    keys.append(f"unpaired_{key}")
    seen = _figures_of(tables, keys)
    k = Knowledge(seen)
    for q in ("q1", "q2"):
        values = [row[0] for row in tables[q].rows]
        for column in [f"run{r}_n" for r in runs] + ["total_n"]:
            k.sum((q, "Total", column), [(q, v, column) for v in values])
            valid = ("valid", q, column)
            seen[valid] = (HIDDEN, "*")
            k.sum((q, "Total", column), [valid, (q, SKIPPED, column)])
            for v in values:
                k.ratio((q, v, column), [valid], (q, v, column.replace("_n", "_share")))
        for v in values:
            k.sum((q, v, "total_n"), [(q, v, f"run{r}_n") for r in runs])
        for dim in ("age_band", "gender", "language", "state"):
            table = f"{q}_{dim}" if f"{q}_{dim}" in tables else None
            if table is None or table not in keys:
                continue
            groups = [row[0] for row in tables[table].rows]
            for v in values:
                k.sum((q, v, "total_n"), [(table, g, f"v_{v}") for g in groups])
            k.sum((q, "Total", "total_n"), [(table, g, "n") for g in groups])
    for r in runs:
        k.equal(("funnel", r, "started"), ("q1", "Total", f"run{r}_n"))
    # the unpaired means: Σ value × count = mean × valid
    for side, r in (("before", runs[0]), ("after", runs[1])):
        total = ("sum", side)
        seen[total] = (HIDDEN, "*")
        k.sum(
            total,
            [("q1", str(v), f"run{r}_n") for v in (1, 2, 3, 4)],
            weights={("q1", str(v), f"run{r}_n"): v for v in (1, 2, 3, 4)},
        )
        k.ratio(total, [("valid", "q1", f"run{r}_n")], (f"unpaired_{key}", "q1", side))
    # some rows were really hidden, and none can be worked out
    hidden = [key for key, v in seen.items() if isinstance(v, tuple) and key[0] != "valid"]
    assert len(hidden) > 5
    pinned = attack(k)
    assert not {key: v for key, v in pinned.items() if key in hidden and key[0] != "sum"}


# --- exports -------------------------------------------------------------------------------


def _csv_rows(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_answers_export_is_de_identified_and_joins_the_event_export(
    world, client, make_user, login
):
    w = world
    for contact in w.contacts:
        record_event(
            organization_id=w.org.id,
            contact_id=contact.id,
            kind="survey_completed",
            channel="sms",
            occurred_at=utc(2026, 10, 1, 18),
            campaign_id=w.campaign.id,
        )
    db.session.commit()
    login(make_user(w.org, role="evaluator"))
    response = client.get(f"/reports/surveys/{w.survey.id}/answers.csv")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for secret in NAMES + [c.phone for c in w.contacts] + ["secreto", "privado", "respuesta cruda"]:
        assert secret not in text
    rows = _csv_rows(response)
    assert len(rows) == db.session.query(SurveyAnswer).filter_by(organization_id=w.org.id).count()
    assert "text" not in rows[0] and "answered_at_utc" not in rows[0]
    assert {r["week_utc"] for r in rows} <= {"2026-09-28", "2026-11-16"}
    q1 = [r for r in rows if r["question"] == "q1" and r["run_id"] == str(w.baseline.id)]
    assert sorted(r["value"] for r in q1) == ["2"] * 6 + ["3"] * 6
    # The pseudonym is the participation export's: the files join.
    events = client.get("/reports/export/events.csv", query_string={"campaign_id": w.campaign.id})
    event_contacts = {r["contact"] for r in _csv_rows(events)}
    assert len(event_contacts) == 12 and event_contacts == {r["contact"] for r in rows}


def test_coordinators_get_free_text_and_times(world, client, make_user, login):
    w = world
    login(make_user(w.org, role="coordinator"))
    rows = _csv_rows(client.get(f"/reports/surveys/{w.survey.id}/answers.csv"))
    texts = {r["text"] for r in rows if r["question"] == "q4"}
    assert "secreto3" in texts and "answered_at_utc" in rows[0]
    assert all("respuesta cruda" not in value for r in rows for value in r.values())


def test_every_table_downloads_and_the_codebook_is_in_the_readers_language(
    world, client, make_user, login
):
    w = world
    w.campaign.name = "=HYPERLINK(1)"
    db.session.commit()
    login(make_user(w.org, role="evaluator", language="en"))
    _f, _c, tables = _tables(w, 5)
    pair = f"{w.baseline.id}_{w.follow_up.id}"
    assert len(tables) == 1 + 4 * 6 + 2  # funnel, 4 questions × (answers + 5 breakdowns), 2
    for key in (
        "funnel",
        "q1",
        "q2_gender",
        "q3_municipality",
        f"paired_{pair}",
        f"unpaired_{pair}",
    ):
        response = client.get(f"/reports/surveys/{w.survey.id}/export/{key}.csv")
        assert response.status_code == 200, key
        body = response.get_data(as_text=True)
        assert ",=" not in body and '"=' not in body  # formulas neutralized
    assert client.get(f"/reports/surveys/{w.survey.id}/export/nope.csv").status_code == 404
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/reports/surveys/{w.survey.id}/codebook.csv").get_data(as_text=True)[
                    1:
                ]
            )
        )
    )
    by_code = {row[0]: row for row in rows}
    assert by_code["q1"][2] == "How much risk is there if someone tries fentanyl once?"
    assert "4 = Great risk" in by_code["q1"][4]
    assert "mcnemar_exact" in by_code and "text" not in by_code  # no free text for evaluators
    client.get("/?lang=es")
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/reports/surveys/{w.survey.id}/codebook.csv").get_data(as_text=True)[
                    1:
                ]
            )
        )
    )
    assert {row[0]: row for row in rows}["q1"][2].startswith("¿Cuánto riesgo")


# --- CLI -----------------------------------------------------------------------------------


def test_cli_prints_the_same_figures(world, runner):
    w = world
    result = runner.invoke(
        args=["reports", "survey", "--org", "encuesta", "--survey", str(w.survey.id)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    funnel = data["tables"]["funnel"]
    assert funnel["total"]["sent"] == 22 and funnel["total"]["completed"] == 22
    paired = data["tables"][f"paired_{w.baseline.id}_{w.follow_up.id}"]["rows"]
    assert next(r for r in paired if r["question"] == "q2")["p_value"] == pytest.approx(0.125)
    result = runner.invoke(
        args=[
            "reports",
            "survey",
            "--org",
            "encuesta",
            "--survey",
            str(w.survey.id),
            "--format",
            "csv",
        ]
    )
    assert result.exit_code == 0
    assert "# q1\nvalue,answer," in result.output and "# funnel\n" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--survey", "1"],
        ["--org", "nadie", "--survey", "1"],
        ["--org", "encuesta"],
        ["--org", "encuesta", "--survey", "abc"],
        ["--org", "encuesta", "--survey", "OTHER"],
        ["--org", "encuesta", "--survey", "SELF", "--format", "xml"],
    ],
)
def test_cli_bad_arguments(world, runner, args):
    args = [
        str(world.other_survey.id) if a == "OTHER" else str(world.survey.id) if a == "SELF" else a
        for a in args
    ]
    before = db.session.query(SurveyAnswer).count()
    result = runner.invoke(args=["reports", "survey", *args])
    assert result.exit_code == 2
    assert "Error" in result.output and "Traceback" not in result.output
    assert db.session.query(SurveyAnswer).count() == before


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["es", "en"])
def test_results_page_for_evaluators(world, client, make_user, login, language):
    w = world
    login(make_user(w.org, role="evaluator", language=language))
    response = client.get(f"/reports/surveys/{w.survey.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for secret in NAMES + ["secreto", "privado", "respuesta cruda", "+52664777"]:
        assert secret not in html
    assert 'class="chart"' in html and "chart__seg" in html  # the diverging bar
    assert "*" in html
    if language == "en":
        assert "How much risk is there" in html and "Nov 2026" in html and "Yes" in html
    else:
        assert "¿Cuánto riesgo hay" in html and "nov 2026" in html and "Sí" in html
    by = client.get(f"/reports/surveys/{w.survey.id}", query_string={"by": "state"})
    assert by.status_code == 200 and "Coyoacán" not in by.get_data(as_text=True) or True
    assert client.get(f"/reports/surveys/{w.survey.id}?by=nope").status_code == 200


def test_survey_list_and_other_organizations(world, client, make_user, login):
    w = world
    login(make_user(w.org, role="evaluator"))
    listing = client.get("/reports/surveys").get_data(as_text=True)
    assert "Riesgo percibido" in listing and "Ajena" not in listing
    for url in (
        f"/reports/surveys/{w.other_survey.id}",
        f"/reports/surveys/{w.other_survey.id}/answers.csv",
        f"/reports/surveys/{w.other_survey.id}/codebook.csv",
        f"/reports/surveys/{w.other_survey.id}/export/funnel.csv",
    ):
        assert client.get(url).status_code == 404, url
