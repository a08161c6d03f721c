"""`flask stats`: JSON on stdout; bad input gets a translated message and exit code 2."""

import json

import pytest


def _run(runner, *args):
    return runner.invoke(args=["stats", *args])


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_proportion_prints_the_wilson_interval(runner):
    record = _json(_run(runner, "proportion", "81/263"))
    assert record == {
        "events": 81,
        "n": 263,
        "estimate": 0.307985,
        "lower": 0.255289,
        "upper": 0.36621,
        "level": 0.95,
        "method": "wilson",
    }


def test_proportion_at_another_level(runner):
    record = _json(_run(runner, "proportion", " 0 / 20 ", "--level", "0.99"))
    assert (record["lower"], record["level"]) == (0.0, 0.99)
    assert record["upper"] > 0.1611  # wider than at 95 %


def test_diff_proportions_prints_the_difference_and_the_relative_risk(runner):
    record = _json(_run(runner, "diff-proportions", "--a", "56/70", "--b", "48/80"))
    assert record["a"] == {
        "events": 56,
        "n": 70,
        "estimate": 0.8,
        "lower": 0.691834,
        "upper": 0.876953,
    }
    assert record["b"]["n"] == 80
    assert record["difference"] == {
        "estimate": 0.2,
        "lower": 0.052431,
        "upper": 0.333873,
        "method": "newcombe_hybrid_score",
    }
    assert record["relative_risk"] == {
        "estimate": 1.333333,
        "lower": 1.076626,
        "upper": 1.651249,
        "method": "katz_log",
    }
    assert record["level"] == 0.95


def test_diff_proportions_with_no_events_in_arm_b(runner):
    record = _json(_run(runner, "diff-proportions", "--a", "5/56", "--b", "0/29"))
    assert (record["difference"]["lower"], record["difference"]["upper"]) == (-0.038137, 0.19256)
    assert record["relative_risk"] == {
        "estimate": None,
        "lower": None,
        "upper": None,
        "method": "katz_log",
    }


def test_sample_size(runner):
    record = _json(_run(runner, "sample-size", "--baseline", "0.5", "--effect", "0.1"))
    assert record == {
        "baseline": 0.5,
        "alpha": 0.05,
        "power": 0.8,
        "effect": 0.1,
        "target": 0.6,
        "per_arm": 388,
        "method": "normal_pooled_h0_unpooled_h1",
    }
    record = _json(
        _run(runner, "sample-size", "--baseline", "0.5", "--effect", "0.25", "--power", "0.9")
    )
    assert record["per_arm"] == 77


def test_sample_size_inverse(runner):
    record = _json(_run(runner, "sample-size", "--baseline", "0.5", "--n", "50", "--power", "0.9"))
    assert record["per_arm"] == 50
    assert record["minimum_detectable_rise"] == pytest.approx(0.3026, abs=5e-5)
    assert record["minimum_detectable_drop"] == pytest.approx(0.3026, abs=5e-5)  # p = 0.5


BAD_INPUT = [
    (
        ["proportion", "5/3"],
        "EVENTS/N",
        "No puede haber más eventos (5) que N (3).",
        "There cannot be more events (5) than N (3).",
    ),
    (
        ["proportion", "abc"],
        "EVENTS/N",
        "Escribe los conteos como EVENTOS/N",
        "Write the counts as EVENTS/N",
    ),
    (
        ["proportion", "1.5/5"],
        "EVENTS/N",
        "Escribe los conteos como EVENTOS/N",
        "Write the counts as EVENTS/N",
    ),
    (
        ["proportion", "0/0"],
        "EVENTS/N",
        "N debe ser mayor que cero.",
        "N must be greater than zero.",
    ),
    (
        ["proportion", "3/10", "--level", "1.5"],
        "--level",
        "El nivel de confianza es un número entre 0 y 1",
        "The confidence level is a number between 0 and 1",
    ),
    (
        ["proportion", "3/10", "--level", "noventa"],
        "--level",
        "El nivel de confianza es un número entre 0 y 1",
        "The confidence level is a number between 0 and 1",
    ),
    (
        ["diff-proportions", "--a", "3/10", "--b", "11/10"],
        "--b",
        "No puede haber más eventos (11) que N (10).",
        "There cannot be more events (11) than N (10).",
    ),
    (
        ["diff-proportions", "--a", "3/10", "--b", "1/10", "--level", "0"],
        "--level",
        "El nivel de confianza es un número entre 0 y 1",
        "The confidence level is a number between 0 and 1",
    ),
    (
        ["sample-size", "--baseline", "1.2", "--effect", "0.1"],
        "--baseline",
        "La tasa base es un número entre 0 y 1",
        "The baseline is a rate between 0 and 1",
    ),
    (
        ["sample-size", "--baseline", "0.95", "--effect", "0.1"],
        "--effect",
        "El efecto es un cambio distinto de cero",
        "The effect is a change other than zero",
    ),
    (
        ["sample-size", "--baseline", "0.2", "--effect", "0"],
        "--effect",
        "El efecto es un cambio distinto de cero",
        "The effect is a change other than zero",
    ),
    (
        ["sample-size", "--baseline", "0.2", "--effect", "0.05", "--power", "0.3"],
        "--power",
        "La potencia es un número de 0.5 a menos de 1",
        "The power is a number from 0.5 to below 1",
    ),
    (
        ["sample-size", "--baseline", "0.2", "--effect", "0.05", "--alpha", "5"],
        "--alpha",
        "El nivel de significancia es un número entre 0 y 1",
        "The significance level is a number between 0 and 1",
    ),
    (
        ["sample-size", "--baseline", "0.2"],
        "",
        "Indica exactamente uno de --effect y --n.",
        "Give exactly one of --effect and --n.",
    ),
    (
        ["sample-size", "--baseline", "0.2", "--effect", "0.05", "--n", "100"],
        "",
        "Indica exactamente uno de --effect y --n.",
        "Give exactly one of --effect and --n.",
    ),
    (
        ["sample-size", "--baseline", "0.2", "--n", "2.5"],
        "--n",
        "El tamaño de cada grupo es un número entero de al menos 1.",
        "The size of each arm is a whole number of at least 1.",
    ),
]


@pytest.mark.parametrize("operator_language", ["es", "en"])
@pytest.mark.parametrize(("args", "hint", "spanish", "english"), BAD_INPUT)
def test_bad_input_exits_2_with_a_translated_message_and_prints_nothing(
    runner, monkeypatch, operator_language, args, hint, spanish, english
):
    monkeypatch.setenv("ALCANCE_LANG", operator_language)
    result = _run(runner, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (spanish if operator_language == "es" else english) in result.stderr
    assert hint in result.stderr
