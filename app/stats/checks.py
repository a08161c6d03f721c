"""Input checks shared by the statistics modules: a ValueError with a clear message."""

import math


def check_level(level: float, name: str = "level") -> None:
    """A confidence level, a power or a significance level: strictly between 0 and 1."""
    if not (isinstance(level, int | float) and math.isfinite(level) and 0 < level < 1):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {level!r}")


def check_counts(events: int, n: int) -> None:
    """Whole counts with n > 0 and 0 <= events <= n."""
    if isinstance(events, bool) or isinstance(n, bool):
        raise ValueError("counts must be whole numbers, not booleans")
    if not isinstance(events, int) or not isinstance(n, int):
        raise ValueError(f"counts must be whole numbers, got {events!r}/{n!r}")
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= events <= n:
        raise ValueError(f"events must be between 0 and n ({n}), got {events}")
