"""Several comparisons (app/stats/multiplicity.py)."""

import pytest

from app.stats.multiplicity import bonferroni_level, comparison_count, holm


@pytest.mark.parametrize(
    ("arms", "against_control", "expected"),
    [(0, True, 0), (1, True, 0), (2, True, 1), (4, True, 3), (2, False, 1), (4, False, 6)],
)
def test_comparison_count(arms, against_control, expected):
    assert comparison_count(arms, against_control=against_control) == expected


def test_bonferroni_level():
    assert bonferroni_level(0.95, 1) == pytest.approx(0.95)
    assert bonferroni_level(0.95, 3) == pytest.approx(1 - 0.05 / 3)  # 0.983333


def test_holm_by_hand():
    # Sorted 0.01, 0.02, 0.03, 0.04 (m = 4): × 4, 3, 2, 1 = 0.04, 0.06, 0.06, 0.04 -> kept
    # non-decreasing: 0.04, 0.06, 0.06, 0.06; returned in the order given.
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: comparison_count(-1), "arms must be a whole number"),
        (lambda: bonferroni_level(0.95, 0), "comparisons must be a whole number"),
        (lambda: bonferroni_level(1.5, 2), "level must be strictly between"),
        (lambda: holm([0.2, 1.5]), "p-values must be between 0 and 1"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
