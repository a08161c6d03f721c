"""`flask reports reach`: the dashboards' figures for scripts."""

import csv
import io
import json

import pytest


def test_campaign_reach_as_json(runner, dataset):
    result = runner.invoke(
        args=[
            "reports",
            "reach",
            "--org",
            "frontera",
            "--campaign",
            str(dataset.c1.id),
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["campaign"]["name"] == "Sin Fentanilo"
    assert data["period"] == {
        "from": "2026-03-01",
        "to": "2026-03-31",
        "timezone": "America/Mexico_City",
    }
    summary = {r["metric"]: r["value"] for r in data["tables"]["summary"]["rows"]}
    # The same figures as the dashboard (see test_metrics.py), exact.
    assert summary["reached"] == 9 and summary["reached_both"] == 3
    assert summary["reach_proportion"] == pytest.approx(0.09)
    assert summary["delivery_rate"] == pytest.approx(10 / 13, abs=1e-6)
    assert summary["opt_outs"] == 2
    languages = data["tables"]["language"]["rows"]
    assert [(r["language"], r["reached"]) for r in languages] == [("es", 7), ("en", 2)]
    assert data["tables"]["time_series"]["rows"][1] == {
        "period_start": "2026-03-02",
        "newly_reached": 7,
        "cumulative_reach": 7,
    }


def test_campaign_reach_as_csv(runner, dataset):
    result = runner.invoke(
        args=[
            "reports",
            "reach",
            "--org",
            "frontera",
            "--campaign",
            str(dataset.c1.id),
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--format",
            "csv",
        ]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["metric", "label", "value", "unit"]
    assert ["reached", "Reached", "9", "people"] in rows
    assert ["delivery_rate", "Delivery rate", "0.7692", "proportion"] in rows


def test_organization_reach(runner, dataset):
    result = runner.invoke(
        args=[
            "reports",
            "reach",
            "--org",
            "frontera",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--format",
            "csv",
        ]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    by_name = {r[1]: r for r in rows[1:]}
    assert by_name["Sin Fentanilo"][5] == "9" and by_name["Escuela sin Vapeo"][5] == "2"
    assert "Sin Fentanilo B" not in by_name
    result = runner.invoke(args=["reports", "reach", "--org", "frontera"])
    assert result.exit_code == 0
    assert json.loads(result.output)["tables"]["org_summary"]["rows"][1]["value"] == 9


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "--org"),
        (["--org", "nope"], "No organization"),
        (["--org", "frontera", "--campaign", "999"], "No campaign 999"),
        (["--org", "frontera", "--campaign", "x"], "No campaign x"),
        (["--org", "otra", "--campaign", "CAMPAIGN"], "No campaign"),
        (["--org", "frontera", "--format", "xml"], "Unknown format xml"),
        (["--org", "frontera", "--from", "2026-02-30"], "Not a valid date value"),
        (["--org", "frontera", "--from", "2026-03-10", "--to", "2026-03-01"], "before the start"),
        (["--org", "frontera", "--from", "1990-01-01"], "Choose a date between"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(runner, dataset, args, message, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    args = [a.replace("CAMPAIGN", str(dataset.c1.id)) for a in args]
    result = runner.invoke(args=["reports", "reach", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_errors_in_spanish(runner, dataset, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "es")
    result = runner.invoke(args=["reports", "reach", "--org", "frontera", "--from", "2026-02-30"])
    assert result.exit_code == 2
    assert "No es una fecha válida" in result.output
    result = runner.invoke(args=["reports", "reach", "--org", "nope"])
    assert result.exit_code == 2 and "Error:" in result.output
