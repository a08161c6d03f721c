"""Difference of two independent means with Welch's interval (Welch 1947).

se² = s_a²/n_a + s_b²/n_b; degrees of freedom by Welch–Satterthwaite,
df = se⁴ / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)), usually fractional;
interval = (m_a − m_b) ± t(1 − α/2, df)·se. No equal-variance assumption: the arms of an
experiment rarely have the same spread.
"""

import math
from dataclasses import dataclass

from app.stats.checks import check_level
from app.stats.distributions import t_quantile

LEVEL = 0.95
WELCH = "welch_t"


@dataclass(frozen=True)
class MeanDifference:
    """m_a − m_b; the interval and df are None below two observations in an arm, and the
    interval is the estimate itself (df None) when neither arm has any spread."""

    estimate: float
    lower: float | None
    upper: float | None
    df: float | None
    se: float | None
    level: float
    method: str = WELCH


def welch(
    mean_a: float,
    variance_a: float | None,
    n_a: int,
    mean_b: float,
    variance_b: float | None,
    n_b: int,
    *,
    level: float = LEVEL,
) -> MeanDifference:
    """m_a − m_b with Welch's t interval, from each arm's mean, sample variance (n − 1 in
    the denominator; None below two observations) and size.

    Raises:
        ValueError: unless n_a, n_b > 0, the variances are >= 0 and 0 < level < 1.
    """
    check_level(level)
    if n_a <= 0 or n_b <= 0:
        raise ValueError(f"each arm needs at least one observation, got {n_a} and {n_b}")
    estimate = mean_a - mean_b
    if n_a < 2 or n_b < 2 or variance_a is None or variance_b is None:
        return MeanDifference(estimate, None, None, None, None, level)
    if variance_a < 0 or variance_b < 0:
        raise ValueError("variances cannot be negative")
    share_a, share_b = variance_a / n_a, variance_b / n_b
    se2 = share_a + share_b
    if se2 == 0:
        return MeanDifference(estimate, estimate, estimate, None, 0.0, level)
    df = se2 * se2 / (share_a * share_a / (n_a - 1) + share_b * share_b / (n_b - 1))
    se = math.sqrt(se2)
    half = t_quantile(1 - (1 - level) / 2, df) * se
    return MeanDifference(estimate, estimate - half, estimate + half, df, se, level)
