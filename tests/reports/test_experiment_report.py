"""The experiment report (issue 18): hand-computed figures, the participant flow, outcome
windows, suppression for evaluators, the assignments file and its codebook, the CLI and
the pages. The experiment is described in tests/reports/experiment_data.py.

Hand computations (z = 1.959964, z² = 3.841459; Wilson: centre (p + z²/2n)/(1 + z²/n),
half-width z/(1 + z²/n)·√(p(1−p)/n + z²/4n²)):

    o1 A 8/20: p 0.4, z²/n 0.192073, centre 0.496036/1.192073 = 0.416114,
               half 1.644164·√(0.012 + 0.002401) = 0.197306 → [0.218807, 0.613418]
    o1 B 4/20: p 0.2, centre 0.296036/1.192073 = 0.248337,
               half 1.644164·√(0.008 + 0.002401) = 0.167679 → [0.080658, 0.416017]
    o1 holdout 2/10: z²/n 0.384146, centre 0.392073/1.384146 = 0.283259,
               half 1.416011·√(0.016 + 0.009604) = 0.226577 → [0.056682, 0.509838]
    Newcombe A − holdout: d 0.2, lower 0.2 − √((0.4 − 0.218807)² + (0.509838 − 0.2)²)
               = 0.2 − √(0.032831 + 0.095999) = 0.2 − 0.358929 = −0.158929,
               upper 0.2 + √((0.613418 − 0.4)² + (0.2 − 0.056682)²)
               = 0.2 + √(0.045547 + 0.020540) = 0.2 + 0.257075 = 0.457075
    Newcombe B − holdout: d 0, [−0.332027, 0.259236]
    Relative risk A/holdout: 2, se √(1/8 − 1/20 + 1/2 − 1/10) = √0.475 = 0.689202,
               exp(ln 2 ± 1.959964·0.689202) → [0.518060, 7.721118]
    Bonferroni (two arms against the holdout): each at 97.5% (z = 2.241403):
               A − holdout [−0.205406, 0.484403]
    o3 clicked: holdout 0/10 → relative risk none (no events in the control)
    o4 means: A 3.6 (Σ 36, Σ² 132, s² 0.266667), holdout 16/6 (Σ² 46, s² 0.666667):
               difference 0.933333, se √(0.026667 + 0.111111) = 0.371184,
               df 7.4496, t 2.336 → [0.066247, 1.800419]
"""

import csv
import io
import json
from datetime import timedelta
from fractions import Fraction

import pytest

from app.experiments.models import PreregistrationChange
from app.extensions import db
from app.reports.experiment_export import plan_file
from app.reports.experiment_tables import experiment_tables, item_labels, multiplicity_note
from app.reports.experiments import experiment_cells, experiment_figures
from app.reports.suppression import Hidden
from tests.factories import make_campaign, make_experiment
from tests.reports.attacker import HIDDEN, Knowledge, attack
from tests.reports.experiment_data import START, build_world
from tests.support import NOW


@pytest.fixture
def world(app, make_org):
    return build_world(make_org)


def _report(w, threshold=None, now=NOW):
    figures = experiment_figures(w.experiment, now=now, today=now.date())
    cells = experiment_cells(figures, threshold)
    return figures, experiment_tables(figures, cells, item_labels(w.org.id))


def _rows(table) -> dict:
    keys = [c.key for c in table.spec.columns]
    return {row[0]: dict(zip(keys, row, strict=True)) for row in table.rows}


# --- exact figures -------------------------------------------------------------------------


def test_hand_computed_report_for_coordinators(world):
    figures, tables = _report(world)
    assert figures.control.key == "holdout"
    o1 = _rows(tables["o1"])
    assert [(o1[k]["n"], o1[k]["events"]) for k in ("A", "B", "holdout")] == [
        (20, 8),
        (20, 4),
        (10, 2),
    ]
    for key, (p, low, high) in {
        "A": (0.4, 0.218807, 0.613418),
        "B": (0.2, 0.080658, 0.416017),
        "holdout": (0.2, 0.056682, 0.509838),
    }.items():
        assert (o1[key]["proportion"], o1[key]["ci_low"], o1[key]["ci_high"]) == pytest.approx(
            (p, low, high), abs=1e-6
        )
    effects = _rows(tables["o1_effects"])
    assert set(effects) == {"A", "B"}  # each arm against the control, not the control itself
    a = effects["A"]
    assert (a["difference"], a["ci_low"], a["ci_high"]) == pytest.approx(
        (0.2, -0.158929, 0.457075), abs=1e-6
    )
    assert (a["adj_ci_low"], a["adj_ci_high"]) == pytest.approx((-0.205406, 0.484403), abs=1e-6)
    assert (a["relative_risk"], a["rr_ci_low"], a["rr_ci_high"]) == pytest.approx(
        (2.0, 0.518060, 7.721118), abs=1e-6
    )
    b = effects["B"]
    assert (b["difference"], b["ci_low"], b["ci_high"]) == pytest.approx(
        (0.0, -0.332027, 0.259236), abs=1e-6
    )
    # Secondary outcomes are not adjusted; the holdout never clicks: no relative risk.
    assert "adj_ci_low" not in _rows(tables["o2_effects"])["A"]
    o2 = _rows(tables["o2"])
    assert [(o2[k]["n"], o2[k]["events"]) for k in ("A", "B", "holdout")] == [
        (20, 5),
        (20, 3),
        (10, 1),
    ]
    o3 = _rows(tables["o3"])
    assert [(o3[k]["n"], o3[k]["events"]) for k in ("A", "B", "holdout")] == [
        (20, 6),
        (22, 3),
        (10, 0),
    ]
    clicked = _rows(tables["o3_effects"])["A"]
    assert clicked["relative_risk"] is None and clicked["difference"] == pytest.approx(0.3)
    # The survey item: n are those who answered, top box 4, means and Welch.
    o4 = _rows(tables["o4"])
    assert [(o4[k]["n"], o4[k]["events"]) for k in ("A", "B", "holdout")] == [
        (10, 6),
        (8, 3),
        (6, 1),
    ]
    assert o4["A"]["mean"] == pytest.approx(3.6) and o4["holdout"]["mean"] == pytest.approx(16 / 6)
    means = _rows(tables["o4_effects"])["A"]
    assert (means["mean_difference"], means["mean_ci_low"], means["mean_ci_high"]) == pytest.approx(
        (0.933333, 0.066247, 1.800419), abs=1e-6
    )
    # 2 arms × 4 outcomes compared; the note says the intervals are not adjusted.
    assert figures.comparisons() == 8
    assert "8" in multiplicity_note(figures)


def test_consort_flow(world):
    _figures, tables = _report(world)
    flow = _rows(tables["flow"])
    got = {
        k: (r["assigned"], r["eligible"], r["delivered"], r["measured"], r["pending"])
        for k, r in flow.items()
    }
    # A: a19 had only a skipped row; holdout: eligible today but h9 opted out, and h0's
    # delivered survey question is not a delivery of the campaign.
    assert got == {
        "A": (20, 19, 17, 20, 0),
        "B": (22, 22, 20, 20, 2),
        "holdout": (10, 9, 0, 10, 0),
    }
    assert tables["flow"].total[2:] == [52, 50, 37, 50, 2]


def test_click_through_so_far_per_arm(world):
    _figures, tables = _report(world)
    clicks = _rows(tables["clicks"])
    got = {k: (r["delivered"], r["clicked"], r["click_through"]) for k, r in clicks.items()}
    assert got == {
        "A": (17, 7, pytest.approx(7 / 17)),
        "B": (20, 3, pytest.approx(0.15)),
        "holdout": (0, 0, None),
    }
    assert tables["clicks"].total[2:] == [37, 10, pytest.approx(10 / 37)]
    # Evaluators: B's 3 clickers are hidden, and so is the rate computed from them.
    _figures, hidden = _report(world, threshold=5)
    b = _rows(hidden["clicks"])["B"]
    assert isinstance(b["clicked"], Hidden) and isinstance(b["click_through"], Hidden)


def test_no_clicks_table_without_tracked_links(world):
    world.campaign.messages[0].track_links = False
    db.session.commit()
    _figures, tables = _report(world)
    assert "clicks" not in tables


def test_windows_count_from_time_zero_and_wait_until_they_end(world):
    w = world
    figures, tables = _report(w)
    # b20, b21 joined 10 days ago: their 30- and 14-day windows are still open (out of n),
    # their 7-day one has ended (b21's click 2 days after its time zero counts).
    assert _rows(tables["o1"])["B"]["pending"] == 2 and _rows(tables["o2"])["B"]["n"] == 20
    assert _rows(tables["o3"])["B"]["n"] == 22 and _rows(tables["o3"])["B"]["events"] == 3
    # Twenty days later both are measurable: b20's attendance 5 days ago (5 days after its
    # time zero) counts, a8's on day 35 after the start still does not.
    later = NOW + timedelta(days=20)
    _f, tables = _report(w, now=later)
    o1 = _rows(tables["o1"])
    assert (o1["B"]["n"], o1["B"]["events"], o1["B"]["pending"]) == (22, 5, 0)
    assert o1["A"]["events"] == 8
    # Before the primary window of anyone ended, nobody is measurable yet.
    _f, tables = _report(w, now=START + timedelta(days=29))
    assert _rows(tables["o1"])["A"]["n"] == 0 and _rows(tables["o1"])["A"]["pending"] == 20
    assert _rows(tables["o1_effects"])["A"]["difference"] is None


# --- suppression ---------------------------------------------------------------------------


def test_evaluators_get_small_cells_hidden_and_no_estimate_from_them(world):
    _f, tables = _report(world, threshold=5)
    o1 = _rows(tables["o1"])
    assert isinstance(o1["holdout"]["events"], Hidden)  # 2: small
    assert isinstance(o1["B"]["events"], Hidden)  # 4: small
    for key in ("A", "B", "holdout"):
        assert isinstance(o1[key]["proportion"], Hidden)
    for row in tables["o1_effects"].rows:
        assert all(isinstance(v, Hidden) for v in row[3:])
    # Zero stays 0 and its estimates stay when nothing they use is hidden.
    o3 = _rows(tables["o3"])
    assert o3["holdout"]["events"] == 0 and o3["holdout"]["ci_high"] == pytest.approx(0.277533)
    flow = _rows(tables["flow"])
    assert isinstance(flow["B"]["pending"], Hidden)  # 2 not yet measurable: small
    assert flow["A"]["assigned"] == 20


def _figures_of(tables) -> dict:
    figures = {}
    for key, table in tables.items():
        columns = [c for c in table.spec.columns if c.numeric]
        for row, label in [(r, r[0]) for r in table.rows] + [(table.total, "Total")]:
            if row is None:
                continue
            cells = dict(zip([c.key for c in table.spec.columns], row, strict=True))
            for column in columns:
                value = cells[column.key]
                if isinstance(value, Hidden):
                    figures[(key, label, column.key)] = (HIDDEN, "*")
                elif isinstance(value, (int, float)):
                    figures[(key, label, column.key)] = Fraction(value).limit_denominator(10**6)
    return figures


def test_an_evaluator_cannot_recover_a_hidden_count(world):
    """The attacker of attacker.py, told the definitions: arms add up to the totals, each
    flow step is part of the one before, assigned = measured + not yet measurable (the
    outcomes counted among everyone whose window ended), events are part of n, and a
    proportion is events over n. Small counts without the outcome must stay hidden too."""
    figures, tables = _report(world, threshold=5)
    exact_figures, exact = _report(world)
    seen = _figures_of(tables)
    truth = _figures_of(exact)
    k = Knowledge(seen)
    arms = ["A", "B", "holdout"]
    slack = {"slack": True}
    for key, table in tables.items():
        for column in [c.key for c in table.spec.columns if c.kind == "people"]:
            k.sum((key, "Total", column), [(key, arm, column) for arm in arms])
    for label in [*arms, "Total"]:
        f = ("flow", label)
        k.sum((*f, "assigned"), [(*f, "eligible")], **slack)
        k.sum((*f, "eligible"), [(*f, "delivered")], **slack)
        k.sum((*f, "assigned"), [(*f, "measured"), (*f, "pending")])
        k.equal((*f, "measured"), ("o1", label, "n"))
        for o in figures.outcomes:
            code = o.code
            k.sum((*f, "assigned"), [(code, label, "n"), (code, label, "pending")], **slack)
            if o.kind != "survey_item":
                k.sum((*f, "assigned"), [(code, label, "n"), (code, label, "pending")])
            without = (code, label, "non_events")
            seen[without] = (HIDDEN, "*")
            k.sum((code, label, "n"), [(code, label, "events"), without])
            if label != "Total":
                k.ratio((code, label, "events"), [(code, label, "n")], (code, label, "proportion"))
            true_without = truth[(code, label, "n")] - truth[(code, label, "events")]
            truth[without] = true_without
    hidden = {key for key, v in seen.items() if isinstance(v, tuple) and 0 < truth.get(key, 0) < 5}
    assert len(hidden) > 5
    pinned = attack(k)
    assert not {key: v for key, v in pinned.items() if key in hidden}


# --- the assignments file and its codebook ---------------------------------------------------


def _csv(response):
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_assignments_file_for_coordinators(world, client, make_user, login):
    w = world
    login(make_user(w.org, role="coordinator"))
    response = client.get(f"/reports/experiments/{w.campaign.id}/assignments.csv")
    rows = _csv(response)
    text = response.get_data(as_text=True)
    assert "Secreto" not in text and "+52664" not in text and "Mensaje secreto" not in text
    assert len(rows) == 52
    assert rows == sorted(rows, key=lambda r: r["contact"])  # not in assignment order
    by_arm = {}
    for row in rows:
        by_arm.setdefault(row["arm"], []).append(row)
    assert {arm: len(r) for arm, r in by_arm.items()} == {"A": 20, "B": 22, "holdout": 10}
    assert {r["holdout"] for r in by_arm["holdout"]} == {"1"}
    assert sum(r["o1"] == "1" for r in by_arm["A"]) == 8
    assert sum(r["o1"] == "" for r in by_arm["B"]) == 2  # not yet measurable
    assert sorted(r["o4_value"] for r in by_arm["holdout"] if r["o4_value"]) == [
        "2",
        "2",
        "2",
        "3",
        "3",
        "4",
    ]
    late = [r for r in by_arm["B"] if r["assigned_date"] != START.date().isoformat()]
    assert [r["time_zero_date"] for r in late] == [
        (NOW - timedelta(days=10)).date().isoformat()
    ] * 2
    assert {r["stratum"] for r in rows} == {"MX-02|18-24", "MX-09|15-17", "MX-09|12-14"}


def test_evaluators_get_the_event_exports_policy(world, client, make_user, login):
    """Weeks instead of days; a stratum shared by fewer than 5 contacts is generalized (the
    two Coyoacán strata of 3 become one 12-17 band of 6); a week shared by fewer than 5
    contacts of a stratum is suppressed (b20, b21), and then the next smallest too."""
    w = world
    login(make_user(w.org, role="evaluator"))
    rows = _csv(client.get(f"/reports/experiments/{w.campaign.id}/assignments.csv"))
    assert len(rows) == 52
    assert "assigned_date" not in rows[0] and "assigned_week_utc" in rows[0]
    strata = {}
    for row in rows:
        strata.setdefault(row["stratum"], []).append(row)
    assert {s: len(r) for s, r in strata.items()} == {"MX-02|18-24": 46, "MX-09|12-17": 6}
    young_weeks = {(r["assigned_week_utc"], r["time_zero_week_utc"]) for r in strata["MX-09|12-17"]}
    monday = (START - timedelta(days=START.weekday())).date().isoformat()
    assert young_weeks == {(monday, monday)}
    assert {r["assigned_week_utc"] for r in strata["MX-02|18-24"]} == {"suppressed"}
    plan = plan_file(w.experiment, 5)
    assert plan.stats["stratum"] == 6 and plan.stats["weeks"] == 46


@pytest.mark.parametrize("language", ["es", "en"])
def test_codebook_in_the_readers_language(world, client, make_user, login, language):
    w = world
    login(make_user(w.org, role="evaluator", language=language))
    response = client.get(f"/reports/experiments/{w.campaign.id}/codebook.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True)[1:])))
    codes = [r[0] for r in rows[1:]]
    for code in ("contact", "arm", "stratum", "assigned_week_utc", "o1", "o4_value", "A"):
        assert code in codes
    text = response.get_data(as_text=True)
    if language == "en":
        assert rows[0][:2] == ["Code", "Meaning"]
        assert "Attended a workshop within 30 days" in text and "Primary outcome" in text
    else:
        assert rows[0][:2] == ["Código", "Significado"]
        assert "Asistió a un taller en 30 días" in text and "Resultado principal" in text
    assert f"{w.campaign.id}-codebook-{language}.csv" in response.headers["Content-Disposition"]


def test_table_exports(world, client, make_user, login):
    w = world
    login(make_user(w.org, role="evaluator"))
    for table in ("flow", "o1", "o1_effects", "o4_effects"):
        rows = _csv(client.get(f"/reports/experiments/{w.campaign.id}/export/{table}.csv"))
        assert rows and "arm" in rows[0]
    flow = _csv(client.get(f"/reports/experiments/{w.campaign.id}/export/flow.csv"))
    assert next(r for r in flow if r["arm"] == "B")["pending"] == "*"
    assert client.get(f"/reports/experiments/{w.campaign.id}/export/nope.csv").status_code == 404


# --- the CLI -------------------------------------------------------------------------------


def test_cli_json_and_csv(world, runner):
    w = world
    args = ["reports", "experiment", "--org", "experimento", "--campaign", str(w.campaign.id)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["experiment"]["control_arm"] == "holdout"
    assert [o["code"] for o in data["experiment"]["outcomes"]] == ["o1", "o2", "o3", "o4"]
    a = next(r for r in data["tables"]["o1_effects"]["rows"] if r["arm"] == "A")
    assert a["difference"] == pytest.approx(0.2) and a["ci_low"] == pytest.approx(-0.158929)
    assert data["tables"]["flow"]["total"]["assigned"] == 52  # exact for scripts
    result = runner.invoke(args=[*args, "--format", "csv"])
    assert result.exit_code == 0
    assert "# flow\narm,arm_label,assigned," in result.output and "# o4_effects\n" in result.output
    result = runner.invoke(args=[*args, "--assignments"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("contact,arm,holdout,stratum,assigned_date") and len(lines) == 53


@pytest.mark.parametrize(
    "args",
    [
        ["--campaign", "1"],
        ["--org", "nadie", "--campaign", "1"],
        ["--org", "experimento"],
        ["--org", "experimento", "--campaign", "abc"],
        ["--org", "experimento", "--campaign", "OTHER"],
        ["--org", "experimento", "--campaign", "PLAIN"],
        ["--org", "experimento", "--campaign", "SELF", "--format", "xml"],
    ],
)
def test_cli_bad_arguments(world, make_org, runner, args):
    other = build_world(make_org, slug="ajeno")
    plain = make_campaign(world.org, name="Sin experimento")
    values = {"OTHER": other.campaign.id, "PLAIN": plain.id, "SELF": world.campaign.id}
    args = [str(values.get(a, a)) for a in args]
    result = runner.invoke(args=["reports", "experiment", *args])
    assert result.exit_code == 2
    assert "Error" in result.output and "Traceback" not in result.output


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["es", "en"])
def test_report_page(world, client, make_user, login, language):
    w = world
    login(make_user(w.org, role="coordinator", language=language))
    html = client.get(f"/reports/experiments/{w.campaign.id}").get_data(as_text=True)
    assert "Secreto" not in html and "Mensaje secreto" not in html
    assert 'class="chart"' in html and "<circle" in html and "consort" in html
    assert "40.0%" in html  # Mexican Spanish writes decimals with a point too
    if language == "en":
        assert "Participant flow" in html and "Primary" in html and 'lang="en' in html
    else:
        assert 'lang="es-MX"' in html and "Flujo de participantes" in html and "Principal" in html
    campaign_page = client.get(f"/reports/campaigns/{w.campaign.id}").get_data(as_text=True)
    assert f"/reports/experiments/{w.campaign.id}" in campaign_page
    listing = client.get("/reports/experiments").get_data(as_text=True)
    assert "Mensajes" in listing


def test_evaluator_page_and_preregistration_audit(world, client, make_user, login):
    w = world
    db.session.add(
        PreregistrationChange(
            organization_id=w.org.id,
            experiment_id=w.experiment.id,
            changed_at=START + timedelta(days=3),
            before=[{"kind": "attended", "window_days": 14, "primary": True}],
            after=[{"kind": "attended", "window_days": 30, "primary": True}],
            after_start=True,
            reason="Los talleres se movieron",
        )
    )
    db.session.commit()
    login(make_user(w.org, role="evaluator", language="en"))
    html = client.get(f"/reports/experiments/{w.campaign.id}").get_data(as_text=True)
    assert "Secreto" not in html and "+52664" not in html and "Mensaje secreto" not in html
    assert "*" in html and "Changed after the start" in html and "Los talleres se movieron" in html
    assert "changed 1 time after the experiment started" in html


def test_no_experiment_draft_and_other_organizations(world, client, make_user, login, make_org):
    w = world
    other = build_world(make_org, slug="ajeno")
    plain = make_campaign(w.org, name="Sin experimento")
    draft_campaign = make_campaign(w.org, name="Borrador")
    make_experiment(draft_campaign)
    login(make_user(w.org, role="evaluator", language="en"))
    assert client.get(f"/reports/experiments/{plain.id}").status_code == 200
    draft = client.get(f"/reports/experiments/{draft_campaign.id}")
    assert draft.status_code == 200 and "has not started" in draft.get_data(as_text=True)
    for url in (
        f"/reports/experiments/{other.campaign.id}",
        f"/reports/experiments/{other.campaign.id}/assignments.csv",
        f"/reports/experiments/{other.campaign.id}/codebook.csv",
        f"/reports/experiments/{other.campaign.id}/export/flow.csv",
        f"/reports/experiments/{plain.id}/assignments.csv",
    ):
        assert client.get(url).status_code == 404, url
    listing = client.get("/reports/experiments").get_data(as_text=True)
    assert "Mensajes" in listing and "Borrador" in listing
    # The other organization's identical experiment never shows up in these figures.
    figures, _tables = _report(w)
    assert sum(figures.flow[("assigned", arm.id)] for arm in figures.arms) == 52
