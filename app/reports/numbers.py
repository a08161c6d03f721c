"""Ratios and medians of exact report figures."""

from collections import Counter


def ratio(numerator, denominator) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def median(distribution: Counter) -> float | None:
    """Median of a {value: frequency} table."""
    total = sum(distribution.values())
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for value in sorted(distribution):
        count = distribution[value]
        for index in middle:
            if seen <= index < seen + count:
                found.append(value)
        seen += count
    return sum(found) / len(found)
