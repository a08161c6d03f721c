"""Statistics of survey results: pure functions of exact counts (no app, no database).

- Paired mean change (baseline → follow-up, the same young people): mean of the
  differences, its standard deviation and a 95 % confidence interval with Student's t
  quantile at n − 1 degrees of freedom (`t_quantile`, computed here from the regularized
  incomplete beta function: no SciPy on the server).
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

CONFIDENCE = 0.95
MCNEMAR_EXACT_BELOW = 25  # discordant pairs: exact binomial below, chi-square from here
EXACT, CHI2 = "mcnemar_exact", "mcnemar_chi2_cc"
T_TEST, WELCH = "paired_t", "welch_t"


# --- Student's t ---------------------------------------------------------------------------


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1) / (a + b + 2):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    return incomplete_beta(df / 2, 0.5, df / (df + t * t))


def t_quantile(p: float, df: float) -> float:
    """The `p` quantile of Student's t (0.5 < p < 1): the t with P(T <= t) = p, found by
    bisection on the two-sided tail (monotone in t) to double precision."""
    if not 0.5 < p < 1:
        raise ValueError("p must be between 0.5 and 1")
    tail = 2 * (1 - p)
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > tail:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if t_two_sided_p(middle, df) > tail:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def chi2_1_sf(x: float) -> float:
    """P(X >= x) for chi-square with one degree of freedom."""
    return math.erfc(math.sqrt(max(x, 0.0) / 2))


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
    """Difference of two independent means (after − before) with Welch's 95 % interval:
    se² = s₁²/n₁ + s₂²/n₂, df by Welch–Satterthwaite."""
    if not before.n or not after.n:
        return None
    difference = after.mean - before.mean
    v1, v2 = before.variance, after.variance
    if v1 is None or v2 is None:
        return MeanDifference(difference, None, None, None)
    s1, s2 = v1 / before.n, v2 / after.n
    se2 = s1 + s2
    if se2 == 0:
        return MeanDifference(difference, difference, difference, None)
    df = se2 * se2 / (s1 * s1 / (before.n - 1) + s2 * s2 / (after.n - 1))
    half = t_quantile(1 - (1 - CONFIDENCE) / 2, df) * math.sqrt(se2)
    return MeanDifference(difference, difference - half, difference + half, df)
