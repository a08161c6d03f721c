"""Proportions against published worked examples (app/stats/proportions.py)."""

import math

import pytest

from app.stats.proportions import KATZ, NEWCOMBE, WILSON, difference, relative_risk, wilson

# Newcombe RG (1998), "Two-sided confidence intervals for the single proportion: comparison
# of seven methods", Stat Med 17:857-872, Table I, method 3 (Wilson score, no continuity
# correction), 95 %.
WILSON_EXAMPLES = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
]

# Newcombe RG (1998), "Interval estimation for the difference between independent
# proportions: comparison of eleven methods", Stat Med 17:873-890, Table II, examples
# (a)-(h), method 10 (hybrid score from Wilson limits, no continuity correction), 95 %.
NEWCOMBE_EXAMPLES = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),  # (a)
    ((9, 10, 3, 10), (0.1705, 0.8090)),  # (b)
    ((6, 7, 2, 7), (0.0582, 0.8062)),  # (c)
    ((5, 56, 0, 29), (-0.0381, 0.1926)),  # (d)
    ((0, 10, 0, 20), (-0.1611, 0.2775)),  # (e)
    ((0, 10, 0, 10), (-0.2775, 0.2775)),  # (f)
    ((10, 10, 0, 20), (0.6791, 1.0000)),  # (g)
    ((10, 10, 0, 10), (0.6075, 1.0000)),  # (h)
]


def _rounded(*values):
    return tuple(round(value, 4) for value in values)


@pytest.mark.parametrize(("counts", "expected"), WILSON_EXAMPLES)
def test_wilson_matches_newcombe_table_one(counts, expected):
    result = wilson(*counts)
    assert _rounded(result.lower, result.upper) == expected
    assert result.estimate == counts[0] / counts[1]
    assert (result.events, result.n, result.level, result.method) == (*counts, 0.95, WILSON)


def test_wilson_by_hand():
    # 3/10, z = 1.959964, z²/n = 0.384146: centre (0.3 + 0.192073) / 1.384146 = 0.355507;
    # half = z / 1.384146 · √(0.3·0.7/10 + z²/400) = 1.416010 · √0.030604 = 0.247715.
    result = wilson(3, 10)
    assert result.lower == pytest.approx(0.355507 - 0.247715, abs=1e-6)  # 0.107791
    assert result.upper == pytest.approx(0.355507 + 0.247715, abs=1e-6)  # 0.603222


def test_wilson_ends_are_exact_and_symmetric():
    assert wilson(0, 20).lower == 0.0
    assert wilson(20, 20).upper == 1.0
    assert wilson(20, 20).lower == pytest.approx(1 - wilson(0, 20).upper)
    # x/n and (n - x)/n mirror each other.
    assert wilson(7, 23).lower == pytest.approx(1 - wilson(16, 23).upper)


def test_a_higher_level_gives_a_wider_interval():
    narrow, wide = wilson(15, 148, level=0.90), wilson(15, 148, level=0.99)
    assert wide.lower < narrow.lower < narrow.upper < wide.upper


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_EXAMPLES)
def test_difference_matches_newcombe_table_two(counts, expected):
    result = difference(*counts)
    assert _rounded(result.lower, result.upper) == expected
    assert result.estimate == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert result.method == NEWCOMBE
    assert (result.a.events, result.a.n, result.b.events, result.b.n) == counts


def test_difference_is_built_from_the_two_wilson_intervals():
    # (a): Wilson 56/70 = (0.691834, 0.876953), 48/80 = (0.490455, 0.700382);
    # lower 0.2 − √(0.108166² + 0.100382²) = 0.2 − 0.147569 = 0.052431,
    # upper 0.2 + √(0.076953² + 0.109545²) = 0.2 + 0.133873 = 0.333873.
    a, b = wilson(56, 70), wilson(48, 80)
    result = difference(56, 70, 48, 80)
    assert result.lower == pytest.approx(0.2 - math.hypot(0.8 - a.lower, b.upper - 0.6))
    assert result.upper == pytest.approx(0.2 + math.hypot(a.upper - 0.8, 0.6 - b.lower))
    assert result.lower == pytest.approx(0.052431, abs=1e-6)
    assert result.upper == pytest.approx(0.333873, abs=1e-6)


def test_swapping_the_arms_mirrors_the_interval():
    forward, backward = difference(5, 56, 0, 29), difference(0, 29, 5, 56)
    assert backward.lower == pytest.approx(-forward.upper)
    assert backward.upper == pytest.approx(-forward.lower)


def test_relative_risk_by_hand():
    # (a) 56/70 vs 48/80: RR = 0.8 / 0.6 = 1.333333;
    # se(ln RR) = √(1/56 − 1/70 + 1/48 − 1/80) = √0.011905 = 0.109109;
    # exp(ln 1.333333 ± 1.959964 · 0.109109) = exp(0.287682 ± 0.213850) = (1.076626, 1.651249).
    result = relative_risk(56, 70, 48, 80)
    assert result.estimate == pytest.approx(4 / 3)
    assert result.lower == pytest.approx(1.076626, abs=1e-6)
    assert result.upper == pytest.approx(1.651249, abs=1e-6)
    assert result.method == KATZ


def test_relative_risk_with_every_event_in_an_arm():
    # 10/10 vs 5/10: 1/10 − 1/10 = 0, so se = √(1/5 − 1/10) = 0.316228; RR = 2.
    result = relative_risk(10, 10, 5, 10)
    assert result.estimate == 2.0
    assert result.lower == pytest.approx(2 * math.exp(-1.959964 * math.sqrt(0.1)), abs=1e-6)
    assert result.upper == pytest.approx(2 * math.exp(1.959964 * math.sqrt(0.1)), abs=1e-6)


@pytest.mark.parametrize(
    ("counts", "estimate"),
    [
        ((0, 40, 6, 40), 0.0),  # no events in arm A: the ratio is 0, its log interval none
        ((6, 40, 0, 40), None),  # no events in arm B: the ratio is infinite
        ((0, 40, 0, 40), None),  # none in either: no ratio at all
    ],
)
def test_relative_risk_with_a_zero_count_has_no_interval(counts, estimate):
    result = relative_risk(*counts)
    assert (result.estimate, result.lower, result.upper) == (estimate, None, None)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: wilson(5, 3), "events must be between 0 and n"),
        (lambda: wilson(-1, 3), "events must be between 0 and n"),
        (lambda: wilson(0, 0), "n must be positive"),
        (lambda: wilson(1, -4), "n must be positive"),
        (lambda: wilson(1.5, 4), "whole numbers"),
        (lambda: wilson(True, 4), "whole numbers"),
        (lambda: wilson(1, 4, level=1.5), "level must be strictly between 0 and 1"),
        (lambda: wilson(1, 4, level=0), "level must be strictly between 0 and 1"),
        (lambda: wilson(1, 4, level=1), "level must be strictly between 0 and 1"),
        (lambda: wilson(1, 4, level=float("nan")), "level must be strictly between 0 and 1"),
        (lambda: difference(1, 4, 9, 8), "events must be between 0 and n"),
        (lambda: difference(1, 0, 1, 8), "n must be positive"),
        (lambda: relative_risk(1, 4, 2, 8, level=-0.1), "level must be strictly between"),
        (lambda: relative_risk(1, 4, 9, 8), "events must be between 0 and n"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
