"""Welch's difference of means against a hand computation (app/stats/means.py)."""

import pytest

from app.stats.distributions import t_quantile
from app.stats.means import WELCH, welch


def test_welch_by_hand():
    # Arm A: 3, 5, 4, 6, 7 -> n 5, mean 5, s² = (4 + 0 + 1 + 1 + 4) / 4 = 2.5
    # Arm B: 2, 4, 3, 1    -> n 4, mean 2.5, s² = (0.25 + 2.25 + 0.25 + 2.25) / 3 = 5/3
    # se² = 2.5/5 + (5/3)/4 = 1/2 + 5/12 = 11/12; se = 0.957427
    # df = (11/12)² / ((1/2)²/4 + (5/12)²/3) = (121/144) / (13/108) = 363/52 = 6.980769
    # t(0.975, 6.980769) = 2.365945 (between t(0.975, 7) = 2.364624 and t(0.975, 6) = 2.446912)
    # half width = 2.365945 · 0.957427 = 2.265220 -> 2.5 ± 2.265220 = (0.234780, 4.765220)
    result = welch(5.0, 2.5, 5, 2.5, 5 / 3, 4)
    assert result.estimate == 2.5
    assert result.df == pytest.approx(363 / 52)
    assert result.se == pytest.approx((11 / 12) ** 0.5)
    assert t_quantile(0.975, result.df) == pytest.approx(2.365945, abs=1e-6)
    assert result.lower == pytest.approx(0.234780, abs=1e-6)
    assert result.upper == pytest.approx(4.765220, abs=1e-6)
    assert (result.level, result.method) == (0.95, WELCH)


def test_welch_equal_arms_has_the_pooled_degrees_of_freedom():
    # Equal n and equal variances: df = 2(n − 1), as Student's pooled test.
    result = welch(1.0, 4.0, 10, 0.0, 4.0, 10)
    assert result.df == pytest.approx(18)
    half = t_quantile(0.975, 18) * (0.8**0.5)
    assert (result.lower, result.upper) == pytest.approx((1 - half, 1 + half))


def test_welch_other_level():
    wide = welch(5.0, 2.5, 5, 2.5, 5 / 3, 4, level=0.99)
    narrow = welch(5.0, 2.5, 5, 2.5, 5 / 3, 4, level=0.90)
    assert wide.lower < narrow.lower < 2.5 < narrow.upper < wide.upper


def _figures(result):
    return (result.estimate, result.lower, result.upper, result.df, result.se)


def test_welch_without_spread_or_with_a_single_observation():
    assert _figures(welch(3.0, 0.0, 4, 1.0, 0.0, 6)) == (2.0, 2.0, 2.0, None, 0.0)
    assert _figures(welch(3.0, None, 1, 1.0, 1.0, 6)) == (2.0, None, None, None, None)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1.0, 1.0, 0, 1.0, 1.0, 5), {}, "at least one observation"),
        ((1.0, -1.0, 5, 1.0, 1.0, 5), {}, "variances cannot be negative"),
        ((1.0, 1.0, 5, 1.0, 1.0, 5), {"level": 95}, "level must be strictly between 0 and 1"),
    ],
)
def test_welch_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        welch(*args, **kwargs)
