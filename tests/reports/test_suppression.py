"""Small-cell suppression rules (see app/reports/suppression.py for the decisions)."""

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.reports.suppression import (
    ANCHOR,
    PART,
    SECONDARY,
    SMALL,
    TOTAL,
    Hidden,
    Linked,
    derived,
)
from tests.reports.attacker import Knowledge, attack


def table(values, threshold=5, total_role=ANCHOR):
    """One breakdown whose rows add up to a shown total: (rows, total) as shown."""
    linked = Linked(threshold)
    linked.add("total", sum(values), total_role)
    rows = [linked.add(("row", i), v) for i, v in enumerate(values)]
    linked.partition("total", rows)
    shown = linked.shown()
    return [str(shown[r]) for r in rows], str(shown["total"])


def test_no_threshold_means_exact():
    assert table([1, 2, 30], None) == (["1", "2", "30"], "33")
    assert table([1, 2, 30], 1) == (["1", "2", "30"], "33")


def test_one_marker_for_small_and_complementary_cells():
    # 1 + 2 = 3 would be known from the total and is itself small: 30 is hidden too.
    assert table([1, 2, 30]) == (["*", "*", "*"], "33")
    assert table([1, 2, 30, 40]) == (["*", "*", "*", "40"], "73")
    assert str(Hidden(SMALL, 5)) == str(Hidden(SECONDARY, 5)) == "*"


def test_a_lone_small_cell_gets_a_complementary_one():
    # 9 = 7 + 2: showing 7 would reveal the 2 from the exact total.
    assert table([7, 2]) == (["*", "*"], "9")
    assert table([40, 3, 12, 0]) == (["40", "*", "*", "0"], "55")


def test_hidden_cells_must_not_add_up_to_a_small_count():
    assert table([1, 1, 20, 50]) == (["*", "*", "*", "50"], "72")
    assert table([2, 3, 20]) == (["*", "*", "20"], "25")  # 5 hidden: enough


def test_a_total_that_is_not_shown_elsewhere_is_hidden_rather_than_nothing():
    # An anchor total (shown on the organization dashboard) stays; a zero row is used...
    assert table([3, 0, 0]) == (["*", "*", "0"], "3")
    # ...but a table's own total is hidden first when no other row can protect the 3.
    assert table([3, 0, 0], total_role=TOTAL) == (["*", "0", "0"], "*")
    assert table([0, 0]) == (["0", "0"], "0")


def test_threshold_is_configurable():
    assert table([9, 12, 30], 10) == (["*", "*", "30"], "51")
    assert table([9, 12, 30], 5) == (["9", "12", "30"], "51")


def test_a_hidden_parent_row_protects_its_children():
    linked = Linked(5)
    linked.add("reached", 24, ANCHOR)
    states = [linked.add(("state", s), v) for s, v in (("02", 20), ("09", 2), ("14", 2))]
    linked.partition("reached", states)
    munis = [linked.add(("muni", m), v) for m, v in (("Tijuana", 14), ("Mexicali", 6))]
    linked.partition(("state", "02"), munis)
    shown = linked.shown()
    # 2 + 2 = 4 is small: Baja California (20) is hidden; then Tijuana and Mexicali cannot
    # both show, or they would add up to it.
    assert [str(shown[s]) for s in states] == ["*", "*", "*"]
    assert [str(shown[m]) for m in munis] == ["14", "*"]


def test_an_equal_figure_is_shown_or_hidden_with_its_twin():
    # One workshop: the funnel's total row is that workshop's row.
    linked = Linked(5)
    linked.add("total", 2, TOTAL)
    linked.add("row", 2)
    linked.partition("total", ["row"])
    assert {k: str(v) for k, v in linked.shown().items()} == {"total": "*", "row": "*"}


def test_figures_that_follow_from_anchors_are_shown():
    # Reached 9 and reached by SMS 7 are on the organization dashboard: "workshop only" is
    # 2 whatever this page hides, so it is shown, and "0 messages" (the same people) too.
    linked = Linked(5)
    for key, value in (("reached", 9), ("sms", 7), ("workshop", 5)):
        linked.add(key, value, ANCHOR)
    for key, value in (("sms_only", 4), ("workshop_only", 2), ("both", 3), ("dose0", 2)):
        linked.add(key, value)
    linked.partition("reached", ["sms_only", "workshop_only", "both"])
    linked.partition("sms", ["sms_only", "both"])
    linked.partition("workshop", ["workshop_only", "both"])
    linked.equal("dose0", "workshop_only")
    shown = linked.shown()
    assert [shown[k] for k in ("sms_only", "workshop_only", "both", "dose0")] == [4, 2, 3, 2]


def test_identities_that_do_not_hold_are_not_used():
    linked = Linked(5)
    linked.add("a", 3)
    linked.add("b", 4)
    assert not linked.equation({"a": 1, "b": -1})
    assert not linked.equal("a", "b")


def test_derived_values_of_hidden_counts_are_hidden():
    assert derived(0.5, 3, 6) == 0.5
    assert str(derived(0.5, Hidden(SMALL, 5))) == "*"


@st.composite
def two_level_tables(draw):
    """A total, rows that add up to it, and sub-rows that add up to some rows (like states
    and municipalities), with many small counts."""
    counts = st.integers(min_value=0, max_value=12)
    rows = draw(st.lists(st.lists(counts, min_size=1, max_size=4), min_size=1, max_size=5))
    anchored = draw(st.booleans())
    return rows, anchored


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(two_level_tables())
def test_no_hidden_cell_can_be_recovered_from_random_tables(case):
    rows, anchored = case
    linked = Linked(5)
    linked.add("total", sum(map(sum, rows)), ANCHOR if anchored else TOTAL)
    row_keys = []
    for i, subrows in enumerate(rows):
        row = linked.add(("row", i), sum(subrows), PART)
        row_keys.append(row)
        if len(subrows) > 1:
            linked.partition(row, [linked.add(("sub", i, j), v) for j, v in enumerate(subrows)])
    linked.partition("total", row_keys)
    shown = linked.shown()
    figures = {
        k: ("hidden", "*") if isinstance(v, Hidden) else Fraction(v) for k, v in shown.items()
    }
    knowledge = Knowledge(figures)
    for equation in linked.equations:
        knowledge.equations.append(dict(equation.terms))
    for alias, key in linked.aliases.items():
        knowledge.equal(alias, key)
    pinned = attack(knowledge)
    assert not pinned, (rows, {k: str(v) for k, v in shown.items()})
    # Every small count is hidden, unless it follows from the anchor alone.
    for key, value in linked.values.items():
        if 0 < value < 5 and key != "total" and not anchored:
            assert isinstance(shown[key], Hidden), (rows, key)


@st.composite
def crossed_tables(draw):
    """One question's answers by value (the core: counts and their total) and the same
    answers broken down by two or three dimensions (the parts), each table's columns adding
    up to the core's counts, as on a survey's results page."""
    values = draw(st.integers(min_value=2, max_value=3))
    people = draw(st.lists(st.integers(0, values - 1), min_size=1, max_size=40))
    dimensions = [
        draw(st.lists(st.integers(0, 3), min_size=len(people), max_size=len(people)))
        for _ in range(draw(st.integers(min_value=2, max_value=3)))
    ]
    return values, people, dimensions


def _crossed_linked(values, people, dimensions):
    linked = Linked(5)
    columns = [linked.add(("dist", v), people.count(v), TOTAL) for v in range(values)]
    linked.partition(linked.add("total", len(people), TOTAL), columns)
    for d, groups in enumerate(dimensions):
        cells = {}
        for g in sorted(set(groups)):
            row = [
                linked.add(
                    ("by", d, g, v),
                    sum(1 for p, x in zip(people, groups, strict=True) if p == v and x == g),
                )
                for v in range(values)
            ]
            cells.update({(g, v): key for v, key in enumerate(row)})
            linked.partition(linked.add(("by_n", d, g), groups.count(g)), row)
        for v in range(values):
            linked.partition(("dist", v), [key for (g, w), key in cells.items() if w == v])
        linked.partition("total", [("by_n", d, g) for g in sorted(set(groups))])
    return linked


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crossed_tables())
def test_suppressing_in_parts_leaves_nothing_recoverable(case):
    """Core first, then each table (`part_of`), then the check against everything at once:
    the attacker, told every identity, pins down no hidden figure."""
    linked = _crossed_linked(*case)
    shown = linked.shown(part_of=lambda key: key[1] if key[0] in ("by", "by_n") else None)
    figures = {
        k: ("hidden", "*") if isinstance(v, Hidden) else Fraction(v) for k, v in shown.items()
    }
    knowledge = Knowledge(figures)
    for equation in linked.equations:
        knowledge.equations.append(dict(equation.terms))
    for alias, key in linked.aliases.items():
        knowledge.equal(alias, key)
    assert not attack(knowledge), {k: str(v) for k, v in shown.items()}
    for key, value in linked.values.items():
        if 0 < value < 5 and linked.roles[key] == PART:
            assert isinstance(shown[key], Hidden) or key in linked.aliases, key
