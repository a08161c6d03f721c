"""Sample size and minimum detectable effect for two proportions (app/stats/power.py).

Reference values: R's `stats::power.prop.test` uses the same formula (pooled variance under
H0, unpooled under H1, no continuity correction; strict = FALSE). Its help page's examples:
  power.prop.test(n = 50, p1 = .50, p2 = .75)      => power = 0.740
  power.prop.test(p1 = .50, p2 = .75, power = .90) => n = 76.7
  power.prop.test(n = 50, p1 = .5, power = .90)    => p2 = 0.8026
"""

import pytest

from app.stats.power import METHOD, minimum_detectable_effect, power_of, sample_size


def test_textbook_half_to_six_tenths():
    # p1 = 0.5, p2 = 0.6, α = 0.05 two-sided, power 0.80; p̄ = 0.55:
    # (1.959964·√(2·0.55·0.45) + 0.841621·√(0.25 + 0.24))² / 0.1²
    # = (1.959964·0.703562 + 0.841621·0.7)² / 0.01 = (1.378956 + 0.589135)² / 0.01
    # = 387.34 -> 388 per arm.
    result = sample_size(0.5, 0.1)
    assert result.exact == pytest.approx(387.3385, abs=1e-4)
    assert result.per_arm == 388
    assert (result.target, result.effect) == pytest.approx((0.6, 0.1))
    assert (result.alpha, result.power, result.method) == (0.05, 0.8, METHOD)


def test_r_power_prop_test_help_examples():
    assert sample_size(0.5, 0.25, power=0.9).exact == pytest.approx(76.7, abs=0.05)
    assert sample_size(0.5, 0.25, power=0.9).per_arm == 77
    assert power_of(0.5, 0.75, 50) == pytest.approx(0.740, abs=5e-4)
    assert 0.5 + minimum_detectable_effect(0.5, 50, power=0.9) == pytest.approx(0.8026, abs=5e-5)


def test_a_drop_needs_as_many_as_the_mirrored_rise():
    # p → 1 − p mirrors the problem: 0.2 → 0.15 is 0.8 → 0.85.
    assert sample_size(0.2, -0.05).exact == pytest.approx(sample_size(0.8, 0.05).exact)
    assert sample_size(0.2, 0.05).per_arm == 1094  # 1093.74
    assert sample_size(0.2, -0.05).per_arm == 906  # a smaller variance near 0


def test_stricter_alpha_or_more_power_needs_more_people():
    base = sample_size(0.2, 0.05).per_arm
    assert sample_size(0.2, 0.05, alpha=0.01).per_arm > base
    assert sample_size(0.2, 0.05, power=0.9).per_arm > base


@pytest.mark.parametrize(("baseline", "effect"), [(0.5, 0.1), (0.2, 0.05), (0.05, 0.03)])
def test_the_minimum_detectable_effect_inverts_the_sample_size(baseline, effect):
    exact = sample_size(baseline, effect).exact
    assert power_of(baseline, baseline + effect, exact) == pytest.approx(0.8)
    per_arm = sample_size(baseline, effect).per_arm
    mde = minimum_detectable_effect(baseline, per_arm)
    # The rounded-up size detects a slightly smaller change; one person fewer would not.
    assert mde <= effect
    assert minimum_detectable_effect(baseline, per_arm - 1) > effect
    assert power_of(baseline, baseline + mde, per_arm) == pytest.approx(0.8)


def test_minimum_detectable_drop_and_impossible_effects():
    drop = minimum_detectable_effect(0.2, 500, decrease=True)
    assert power_of(0.2, 0.2 - drop, 500) == pytest.approx(0.8)
    assert drop < minimum_detectable_effect(0.2, 500)  # rates near 0 vary less
    # Three people per arm cannot show even a rise from 0.9 to 1 with 80 % power.
    assert minimum_detectable_effect(0.9, 3) is None


def test_power_grows_with_the_effect():
    powers = [power_of(0.2, 0.2 + d / 100, 300) for d in range(1, 80)]
    assert powers == sorted(powers)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sample_size(0, 0.1), "baseline must be strictly between 0 and 1"),
        (lambda: sample_size(1.2, 0.1), "baseline must be strictly between 0 and 1"),
        (lambda: sample_size(0.5, 0), "effect must not be zero"),
        (lambda: sample_size(0.95, 0.1), "baseline \\+ effect must be strictly between"),
        (lambda: sample_size(0.05, -0.1), "baseline \\+ effect must be strictly between"),
        (lambda: sample_size(0.5, 0.1, alpha=0), "alpha must be strictly between 0 and 1"),
        (lambda: sample_size(0.5, 0.1, power=0.3), "power must be at least 0.5"),
        (lambda: sample_size(0.5, 0.1, power=1), "power must be at least 0.5"),
        (lambda: minimum_detectable_effect(0.5, 0), "n per arm must be a whole number"),
        (lambda: minimum_detectable_effect(0.5, 10.5), "n per arm must be a whole number"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
