"""Survey statistics against hand-computed examples (app/reports/survey_stats.py)."""

import math

import pytest

from app.reports.survey_stats import (
    CHI2,
    EXACT,
    Moments,
    chi2_1_sf,
    mcnemar,
    mean_change,
    t_quantile,
    welch,
)


@pytest.mark.parametrize(
    ("df", "expected"),
    [  # Student's t, 0.975 quantile (two-sided 95 %), from the usual printed tables
        (1, 12.7062047),
        (2, 4.3026527),
        (5, 2.5705818),
        (6, 2.4469119),
        (10, 2.2281389),
        (30, 2.0422725),
        (100, 1.9839715),
        (1000, 1.9623391),
    ],
)
def test_t_quantile_matches_the_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-6)


def test_t_quantile_other_levels_and_fractional_df():
    assert t_quantile(0.995, 7) == pytest.approx(3.4994833, abs=1e-6)
    assert t_quantile(0.95, 20) == pytest.approx(1.7247182, abs=1e-6)
    # Welch's degrees of freedom are fractional: between the neighbouring whole ones.
    assert t_quantile(0.975, 5) < t_quantile(0.975, 4.5) < t_quantile(0.975, 4)
    with pytest.raises(ValueError):
        t_quantile(0.4, 5)


def test_paired_mean_change_by_hand():
    # Six young people, scale 1-4, (baseline, follow-up):
    #   (1,3) (2,3) (2,2) (3,4) (1,2) (2,4)  ->  d = after - before = 2, 1, 0, 1, 1, 2
    joint = {(1, 3): 1, (2, 3): 1, (2, 2): 1, (3, 4): 1, (1, 2): 1, (2, 4): 1}
    result = mean_change(joint)
    # n = 6; Σd = 7; mean d = 7/6 = 1.166667
    assert result.n == 6
    assert result.change == pytest.approx(7 / 6)
    # means: before (1+2+2+3+1+2)/6 = 11/6, after (3+3+2+4+2+4)/6 = 18/6 = 3
    assert result.mean_before == pytest.approx(11 / 6)
    assert result.mean_after == pytest.approx(3.0)
    # Σd² = 4+1+0+1+1+4 = 11; s² = (11 - 6·(7/6)²) / 5 = (66/6 - 49/6) / 5 = 17/30
    assert result.sd == pytest.approx(math.sqrt(17 / 30))  # 0.752773
    # se = s/√6 = 0.307318; t(0.975, 5) = 2.570582; half width = 0.789989
    assert result.ci_low == pytest.approx(7 / 6 - 0.789989, abs=1e-5)  # 0.376678
    assert result.ci_high == pytest.approx(7 / 6 + 0.789989, abs=1e-5)  # 1.956656
    assert result.ci_low == pytest.approx(0.376678, abs=1e-5)


def test_paired_mean_change_edge_cases():
    assert mean_change({}) is None
    one = mean_change({(2, 4): 1})
    assert one.change == 2 and one.ci_low is None and one.sd is None
    same = mean_change({(1, 2): 5})  # every pair changed by exactly 1: no spread
    assert same.change == 1 and same.sd == 0 and same.ci_low == same.ci_high == 1


def test_mcnemar_exact_below_25_discordant_pairs():
    # a=10 yes→yes, b=2 yes→no, c=8 no→yes, d=5 no→no; discordant 10 < 25: exact.
    # p = 2 · P(X <= 2 | X ~ Bin(10, 1/2)) = 2 · (1 + 10 + 45) / 1024 = 112/1024
    result = mcnemar(10, 2, 8, 5)
    assert result.method == EXACT
    assert result.p_value == pytest.approx(0.109375)
    # shares: before (10+2)/25 = 0.48, after (10+8)/25 = 0.72, change (8-2)/25 = 0.24
    assert (result.share_before, result.share_after) == (pytest.approx(0.48), pytest.approx(0.72))
    assert result.change == pytest.approx(0.24)
    assert mcnemar(3, 0, 0, 2).p_value == 1.0  # no discordant pair
    assert mcnemar(0, 5, 5, 0).p_value == 1.0  # capped at 1
    assert mcnemar(0, 0, 0, 0) is None


def test_mcnemar_chi_square_with_continuity_correction_from_25():
    # b=20, c=40: (|20 - 40| - 1)² / 60 = 361/60 = 6.016667, 1 df: p = 0.014171
    result = mcnemar(10, 20, 40, 5)
    assert result.method == CHI2
    assert result.statistic == pytest.approx(361 / 60)
    assert result.p_value == pytest.approx(0.0141714, abs=1e-6)
    # The boundary: 24 discordant pairs exact, 25 chi-square.
    assert mcnemar(0, 12, 12, 0).method == EXACT
    assert mcnemar(0, 12, 13, 0).method == CHI2
    assert chi2_1_sf(3.841458820694124) == pytest.approx(0.05)


def test_welch_interval_by_hand():
    # before: 1, 1, 3, 3 (mean 2, s² = (1+1+1+1)/3 = 4/3); after: 2, 2, 4, 4 (mean 3, 4/3)
    before, after = Moments.of({1: 2, 3: 2}), Moments.of({2: 2, 4: 2})
    result = welch(before, after)
    # se² = (4/3)/4 + (4/3)/4 = 2/3; df = (2/3)² / (2 · (1/3)² / 3) = (4/9) / (2/27) = 6
    assert result.df == pytest.approx(6)
    # half width = t(0.975, 6) · √(2/3) = 2.446912 · 0.816497 = 1.997905
    assert result.difference == pytest.approx(1)
    assert result.ci_low == pytest.approx(1 - 1.997905, abs=1e-5)
    assert result.ci_high == pytest.approx(1 + 1.997905, abs=1e-5)
    assert welch(Moments.of({}), after) is None
