"""Statistics of survey results: pure functions of exact counts (no app, no database).

- Paired mean change (baseline → follow-up, the same young people): mean of the
  differences, its standard deviation and a 95 % confidence interval with Student's t
  quantile at n − 1 degrees of freedom (`t_quantile`, from app/stats/distributions.py:
  no SciPy on the server).
- Paired change in a share (yes, or the top box of a scale): McNemar's test on the
  discordant pairs b (yes → no) and c (no → yes). With fewer than `MCNEMAR_EXACT_BELOW`
  discordant pairs the exact two-sided binomial test (b ~ Binomial(b + c, 1/2));
  otherwise the chi-square statistic with continuity correction, (|b − c| − 1)² / (b + c),
  on one degree of freedom.
- Unpaired comparison (everyone who answered each wave): difference of means with Welch's
  95 % interval, difference of shares (no test: the two groups overlap).

Every function takes the joint distribution or sums computed by SQL GROUP BYs, so no
function loops over answers.
"""

import math
from dataclasses import dataclass

from app.stats import means
from app.stats.distributions import (  # noqa: F401 (re-exported: survey_stats' public names)
    chi2_1_sf,
    incomplete_beta,
    t_quantile,
    t_two_sided_p,
)

CONFIDENCE = 0.95
MCNEMAR_EXACT_BELOW = 25  # discordant pairs: exact binomial below, chi-square from here
EXACT, CHI2 = "mcnemar_exact", "mcnemar_chi2_cc"
T_TEST, WELCH = "paired_t", "welch_t"


# --- paired figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanChange:
    """Baseline and follow-up means of the same n young people, and the mean change with
    its 95 % confidence interval (None below two pairs, or without spread)."""

    n: int
    mean_before: float
    mean_after: float
    change: float
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    method: str = T_TEST


def joint_sums(joint: dict) -> tuple[int, float, float, float]:
    """(n, Σ before, Σ after, Σ (after − before)²) of a {(before, after): pairs} table."""
    n = sum(joint.values())
    before = sum(b * k for (b, _a), k in joint.items())
    after = sum(a * k for (_b, a), k in joint.items())
    squares = sum((a - b) ** 2 * k for (b, a), k in joint.items())
    return n, before, after, squares


def mean_change(joint: dict) -> MeanChange | None:
    """Paired mean change from a {(before, after): pairs} table: d = after − before,
    mean d̄ = Σd / n, sd = √((Σd² − n·d̄²) / (n − 1)), CI = d̄ ± t(0.975, n − 1)·sd/√n."""
    n, before, after, squares = joint_sums(joint)
    if not n:
        return None
    change = (after - before) / n
    if n < 2:
        return MeanChange(n, before / n, after / n, change, None, None, None)
    variance = max((squares - n * change * change) / (n - 1), 0.0)
    sd = math.sqrt(variance)
    half = t_quantile(1 - (1 - CONFIDENCE) / 2, n - 1) * sd / math.sqrt(n)
    return MeanChange(n, before / n, after / n, change, sd, change - half, change + half)


@dataclass(frozen=True)
class McNemar:
    """Pairs by (before, after) answer: yes→yes `a`, yes→no `b`, no→yes `c`, no→no `d`."""

    a: int
    b: int
    c: int
    d: int
    method: str
    statistic: float | None  # chi-square (continuity corrected); None for the exact test
    p_value: float

    @property
    def n(self) -> int:
        return self.a + self.b + self.c + self.d

    @property
    def share_before(self) -> float:
        return (self.a + self.b) / self.n

    @property
    def share_after(self) -> float:
        return (self.a + self.c) / self.n

    @property
    def change(self) -> float:
        return (self.c - self.b) / self.n


def mcnemar(a: int, b: int, c: int, d: int) -> McNemar | None:
    """McNemar's test of a change in a paired share (see the module docstring)."""
    if not a + b + c + d:
        return None
    discordant = b + c
    if discordant < MCNEMAR_EXACT_BELOW:
        if not discordant:
            return McNemar(a, b, c, d, EXACT, None, 1.0)
        tail = sum(math.comb(discordant, i) for i in range(min(b, c) + 1))
        p = min(1.0, 2 * tail / 2**discordant)
        return McNemar(a, b, c, d, EXACT, None, p)
    statistic = (abs(b - c) - 1) ** 2 / discordant
    return McNemar(a, b, c, d, CHI2, statistic, chi2_1_sf(statistic))


# --- unpaired figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Moments:
    """n, Σx and Σx² of one group's answers (from a {value: count} table)."""

    n: int
    total: float
    squares: float

    @classmethod
    def of(cls, distribution: dict) -> "Moments":
        return cls(
            sum(distribution.values()),
            sum(v * k for v, k in distribution.items()),
            sum(v * v * k for v, k in distribution.items()),
        )

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        if self.n < 2:
            return None
        return max((self.squares - self.total * self.total / self.n) / (self.n - 1), 0.0)


@dataclass(frozen=True)
class MeanDifference:
    difference: float
    ci_low: float | None
    ci_high: float | None
    df: float | None
    method: str = WELCH


def welch(before: Moments, after: Moments) -> MeanDifference | None:
    """Difference of two independent means (after − before) with Welch's 95 % interval
    (`app.stats.means.welch`: se² = s₁²/n₁ + s₂²/n₂, df by Welch–Satterthwaite)."""
    if not before.n or not after.n:
        return None
    result = means.welch(
        after.mean,
        after.variance,
        after.n,
        before.mean,
        before.variance,
        before.n,
        level=CONFIDENCE,
    )
    return MeanDifference(result.estimate, result.lower, result.upper, result.df)
