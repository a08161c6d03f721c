"""Several comparisons: the more arms an experiment compares, the likelier one of them looks
different by chance. These helpers count the comparisons and adjust for them (Bonferroni
for simultaneous intervals, Holm's step-down for p-values)."""

from app.stats.checks import check_level


def comparison_count(arms: int, *, against_control: bool = True) -> int:
    """How many comparisons `arms` arms make: each other arm against the control (holdout)
    one, arms − 1, or every pair, arms·(arms − 1)/2."""
    if isinstance(arms, bool) or not isinstance(arms, int) or arms < 0:
        raise ValueError(f"arms must be a whole number >= 0, got {arms!r}")
    if arms < 2:
        return 0
    return arms - 1 if against_control else arms * (arms - 1) // 2


def bonferroni_level(level: float, comparisons: int) -> float:
    """The confidence level of each interval so that all `comparisons` intervals hold
    together with probability >= `level`: 1 − (1 − level)/m."""
    check_level(level)
    if isinstance(comparisons, bool) or not isinstance(comparisons, int) or comparisons < 1:
        raise ValueError(f"comparisons must be a whole number >= 1, got {comparisons!r}")
    return 1 - (1 - level) / comparisons


def holm(p_values: list[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given: the i-th smallest (from 0) is multiplied
    by m − i, kept non-decreasing along that order, and capped at 1. Reject where the
    adjusted value is <= alpha: the family-wise error stays <= alpha."""
    if any(not 0 <= p <= 1 for p in p_values):
        raise ValueError("p-values must be between 0 and 1")
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
