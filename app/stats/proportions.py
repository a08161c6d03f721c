"""Proportions: one (Wilson), the difference of two (Newcombe) and their ratio (Katz).

- Wilson score interval (Wilson 1927; method 3 in Newcombe 1998, "Two-sided confidence
  intervals for the single proportion: comparison of seven methods", Stat Med 17:857-872):
  the p with |p̂ − p| = z·√(p(1 − p)/n), i.e.
  (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n). Never outside [0, 1], never of
  zero width at 0/n or n/n, good coverage for the small arms an NGO's experiment has.
- Difference p_a − p_b: Newcombe's hybrid score interval (method 10 in Newcombe 1998,
  "Interval estimation for the difference between independent proportions: comparison of
  eleven methods", Stat Med 17:873-890), from the Wilson limits (l, u) of each arm:
  lower = d − √((p̂_a − l_a)² + (u_b − p̂_b)²), upper = d + √((u_a − p̂_a)² + (p̂_b − l_b)²).
- Ratio p_a / p_b: relative risk with Katz's log interval (Katz et al. 1978):
  exp(ln RR ± z·√(1/x_a − 1/n_a + 1/x_b − 1/n_b)). The log method needs events in both
  arms: with x_a = 0 the ratio is 0 and with x_b = 0 it is infinite (None, or None when
  both are 0), and in either case there is no interval (None); the difference's interval
  is the figure to read then.
"""

import math
from dataclasses import dataclass

from app.stats.checks import check_counts
from app.stats.distributions import z_two_sided

LEVEL = 0.95
WILSON = "wilson"
NEWCOMBE = "newcombe_hybrid_score"
KATZ = "katz_log"


@dataclass(frozen=True)
class Proportion:
    """events/n with its Wilson interval at `level`."""

    events: int
    n: int
    estimate: float
    lower: float
    upper: float
    level: float
    method: str = WILSON


@dataclass(frozen=True)
class Difference:
    """p_a − p_b with Newcombe's hybrid score interval at `level`."""

    a: Proportion
    b: Proportion
    estimate: float
    lower: float
    upper: float
    level: float
    method: str = NEWCOMBE


@dataclass(frozen=True)
class RelativeRisk:
    """p_a / p_b with Katz's log interval; see the module docstring for zero events."""

    estimate: float | None
    lower: float | None
    upper: float | None
    level: float
    method: str = KATZ


def wilson(events: int, n: int, *, level: float = LEVEL) -> Proportion:
    """The Wilson score interval of events/n.

    Raises:
        ValueError: unless n > 0, 0 <= events <= n and 0 < level < 1.
    """
    check_counts(events, n)
    z = z_two_sided(level)
    p = events / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    # At 0/n and n/n the limit is exactly 0 or 1; rounding must not move it.
    lower = 0.0 if events == 0 else max(0.0, centre - half)
    upper = 1.0 if events == n else min(1.0, centre + half)
    return Proportion(events, n, p, lower, upper, level)


def difference(
    events_a: int, n_a: int, events_b: int, n_b: int, *, level: float = LEVEL
) -> Difference:
    """p_a − p_b with Newcombe's hybrid score interval (method 10).

    Raises:
        ValueError: unless both arms have n > 0 and 0 <= events <= n, and 0 < level < 1.
    """
    a = wilson(events_a, n_a, level=level)
    b = wilson(events_b, n_b, level=level)
    estimate = a.estimate - b.estimate
    lower = estimate - math.hypot(a.estimate - a.lower, b.upper - b.estimate)
    upper = estimate + math.hypot(a.upper - a.estimate, b.estimate - b.lower)
    return Difference(a, b, estimate, max(-1.0, lower), min(1.0, upper), level)


def relative_risk(
    events_a: int, n_a: int, events_b: int, n_b: int, *, level: float = LEVEL
) -> RelativeRisk:
    """p_a / p_b with Katz's log interval (None where a zero count leaves none).

    Raises:
        ValueError: unless both arms have n > 0 and 0 <= events <= n, and 0 < level < 1.
    """
    check_counts(events_a, n_a)
    check_counts(events_b, n_b)
    z = z_two_sided(level)
    if events_b == 0:
        return RelativeRisk(None, None, None, level)
    estimate = (events_a / n_a) / (events_b / n_b)
    if events_a == 0:
        return RelativeRisk(0.0, None, None, level)
    se = math.sqrt(1 / events_a - 1 / n_a + 1 / events_b - 1 / n_b)
    log_rr = math.log(estimate)
    return RelativeRisk(estimate, math.exp(log_rr - z * se), math.exp(log_rr + z * se), level)
