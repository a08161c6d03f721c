"""How many young people each arm needs to detect a change in a rate, and the reverse.

Two-sided test of two independent proportions p1 (baseline) and p2 = p1 + d, equal arms,
normal approximation without continuity correction, pooled variance under H0 and unpooled
under H1 (Fleiss, Levin & Paik, "Statistical Methods for Rates and Proportions", 3rd ed.,
2003, §4.2, before its continuity correction; the formula of R's `power.prop.test`):

    n = (z(1 − α/2)·√(2·p̄·q̄) + z(power)·√(p1·q1 + p2·q2))² / d²,  p̄ = (p1 + p2)/2,

rounded up. Its inverse, the power of n per arm,
Φ((√n·|d| − z(1 − α/2)·√(2·p̄·q̄)) / √(p1·q1 + p2·q2)), is solved for d by bisection to
give the minimum detectable effect.
"""

import math
from dataclasses import dataclass

from app.stats.checks import check_level
from app.stats.distributions import STANDARD_NORMAL, z_two_sided

ALPHA = 0.05
POWER = 0.80
METHOD = "normal_pooled_h0_unpooled_h1"


@dataclass(frozen=True)
class SampleSize:
    baseline: float
    target: float  # baseline + effect
    alpha: float
    power: float
    exact: float  # before rounding up
    per_arm: int
    method: str = METHOD

    @property
    def effect(self) -> float:
        return self.target - self.baseline


def _check_rate(value: float, name: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def _check_power(power: float) -> None:
    # Below one half z(power) turns negative and the formula stops meaning anything useful.
    if not (isinstance(power, int | float) and 0.5 <= power < 1):
        raise ValueError(f"power must be at least 0.5 and below 1, got {power!r}")


def _spreads(p1: float, p2: float) -> tuple[float, float]:
    """(√(2·p̄·q̄), √(p1·q1 + p2·q2)): the standard deviations under H0 and H1 (× √n)."""
    pooled = (p1 + p2) / 2
    return math.sqrt(2 * pooled * (1 - pooled)), math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))


def sample_size(
    baseline: float, effect: float, *, alpha: float = ALPHA, power: float = POWER
) -> SampleSize:
    """Young people per arm to detect an absolute change `effect` (e.g. 0.05 for five
    points, negative for a drop) from a `baseline` rate.

    Raises:
        ValueError: unless 0 < baseline < 1, effect != 0, 0 < baseline + effect < 1,
            0 < alpha < 1 and 0.5 <= power < 1.
    """
    _check_rate(baseline, "baseline")
    if effect == 0:
        raise ValueError("effect must not be zero")
    target = baseline + effect
    _check_rate(target, "baseline + effect")
    check_level(alpha, "alpha")
    _check_power(power)
    under_h0, under_h1 = _spreads(baseline, target)
    root = z_two_sided(1 - alpha) * under_h0 + STANDARD_NORMAL.inv_cdf(power) * under_h1
    exact = root * root / (effect * effect)
    # 1e-9: a float a hair above a whole number must not cost one more young person per arm.
    per_arm = math.ceil(exact - 1e-9)
    return SampleSize(baseline, target, alpha, power, exact, per_arm)


def power_of(baseline: float, target: float, n_per_arm: float, *, alpha: float = ALPHA) -> float:
    """The power of the two-sided test with `n_per_arm` in each arm when the rates are
    `baseline` and `target` (the chance of rejecting in the opposite direction is left out,
    as in R's `power.prop.test` with strict = FALSE)."""
    under_h0, under_h1 = _spreads(baseline, target)
    z_alpha = z_two_sided(1 - alpha)
    return STANDARD_NORMAL.cdf(
        (math.sqrt(n_per_arm) * abs(target - baseline) - z_alpha * under_h0) / under_h1
    )


def minimum_detectable_effect(
    baseline: float,
    n_per_arm: int,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
    decrease: bool = False,
) -> float | None:
    """The smallest absolute change from `baseline` (a rise, or a drop with `decrease`) that
    `n_per_arm` young people per arm detect with `power`; None when even the largest
    possible change (up to a rate of 1, or down to 0) would not be.

    Raises:
        ValueError: unless 0 < baseline < 1, n_per_arm >= 1, 0 < alpha < 1 and
            0.5 <= power < 1.
    """
    _check_rate(baseline, "baseline")
    if isinstance(n_per_arm, bool) or not isinstance(n_per_arm, int) or n_per_arm < 1:
        raise ValueError(f"n per arm must be a whole number of at least 1, got {n_per_arm!r}")
    check_level(alpha, "alpha")
    _check_power(power)
    sign = -1 if decrease else 1
    room = baseline if decrease else 1 - baseline
    if power_of(baseline, baseline + sign * room, n_per_arm, alpha=alpha) < power:
        return None
    # Power rises with the effect over (0, room]: bisect to double precision.
    low, high = 0.0, room
    for _ in range(200):
        middle = (low + high) / 2
        if power_of(baseline, baseline + sign * middle, n_per_arm, alpha=alpha) < power:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return high
