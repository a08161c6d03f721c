"""Small-cell suppression rules (see app/reports/suppression.py for the decisions)."""
from app.reports.suppression import SECONDARY, SMALL, Hidden, derived, protect, protect_each


def shown(cells):
    return [str(c) for c in cells]


def test_no_threshold_means_exact():
    assert protect([1, 2, 30], None) == [1, 2, 30]
    assert protect_each([1, 2], None) == [1, 2]


def test_small_cells_are_shown_with_the_threshold():
    # 1 + 2 = 3 could be recovered from the total and is itself small: 30 is hidden too.
    assert shown(protect([1, 2, 30], 5)) == ["<5", "<5", "*"]
    assert shown(protect([1, 2, 30, 40], 5)) == ["<5", "<5", "*", "40"]


def test_a_lone_small_cell_gets_a_complementary_one():
    # 9 = 7 + 2: showing 7 would reveal the 2 from the exact total.
    assert shown(protect([7, 2], 5)) == ["*", "<5"]
    assert shown(protect([40, 3, 12, 0], 5)) == ["40", "<5", "*", "0"]


def test_hidden_cells_must_hold_at_least_the_threshold():
    # 1 + 1 = 2: both would be known to be 1; hide the next smallest too.
    assert shown(protect([1, 1, 20, 50], 5)) == ["<5", "<5", "*", "50"]
    assert shown(protect([2, 3, 20], 5)) == ["<5", "<5", "20"]  # 5 hidden: enough


def test_zero_is_used_only_when_nothing_else_is_left():
    assert shown(protect([3, 0, 0], 5)) == ["<5", "*", "0"]
    assert shown(protect([0, 0], 5)) == ["0", "0"]


def test_threshold_is_configurable():
    assert shown(protect([9, 12, 30], 10)) == ["<10", "*", "30"]
    assert str(Hidden(SMALL, 3)) == "<3" and str(Hidden(SECONDARY, 3)) == "*"


def test_hide_all_follows_a_hidden_parent_row():
    assert shown(protect([7, 0, 2], 5, hide_all=True)) == ["*", "0", "<5"]


def test_derived_values_of_hidden_counts_are_hidden():
    assert derived(0.5, 3, 6) == 0.5
    assert str(derived(0.5, Hidden(SMALL, 5))) == "*"
