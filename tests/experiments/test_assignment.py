"""The assignment rule as pure functions: 100,000 synthetic contacts land in the arms at
the designed ratios (chi-square), blocks keep arms balanced within strata, and the result
depends only on the key and the ids."""

import random
from collections import Counter

import pytest

from app.experiments.assignment import (
    BlockedAllocator,
    arm_for_number,
    assign_blocked,
    assign_by_number,
    assignment_key,
    block_order,
    contact_number,
    reduced,
    stratum_of,
)

KEY = assignment_key("a-fixed-test-secret-of-at-least-32-characters")
N = 100_000
# Chi-square critical values at p = 0.001 (df = arms - 1): the key is fixed, so the test is
# deterministic; a broken hash or cut-off would be far beyond these.
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47}


def chi_square(observed: Counter, weights) -> float:
    total = sum(observed.values())
    expected = [total * w / sum(weights) for w in weights]
    return sum((observed[i] - e) ** 2 / e for i, e in enumerate(expected))


@pytest.mark.parametrize("weights", [(1, 1), (45, 45, 10), (1, 2, 3, 4), (9, 9, 1, 1, 80)])
def test_ratios_within_sampling_error_on_100000_contacts(weights):
    arms = assign_by_number(KEY, 7, 42, range(1, N + 1), weights)
    observed = Counter(arms.values())
    assert set(observed) == set(range(len(weights)))
    assert chi_square(observed, weights) < CHI2_999[len(weights) - 1]


def test_the_same_contact_always_lands_in_the_same_arm():
    first = assign_by_number(KEY, 7, 42, range(1, 1001), (45, 45, 10))
    again = assign_by_number(
        assignment_key("a-fixed-test-secret-of-at-least-32-characters"),
        7,
        42,
        reversed(range(1, 1001)),
        (45, 45, 10),
    )
    assert first == again


def test_the_arm_depends_on_the_key_the_organization_and_the_experiment():
    base = assign_by_number(KEY, 7, 42, range(1, 2001), (1, 1))
    for other in (
        assign_by_number(
            assignment_key("another-secret-of-at-least-32-characters!"),
            7,
            42,
            range(1, 2001),
            (1, 1),
        ),
        assign_by_number(KEY, 8, 42, range(1, 2001), (1, 1)),
        assign_by_number(KEY, 7, 43, range(1, 2001), (1, 1)),
    ):
        same = sum(base[c] == other[c] for c in base)
        assert 850 < same < 1150  # independent: about half agree by chance


def test_cut_offs_are_exact_at_the_edges():
    assert arm_for_number(0, (1, 1)) == 0
    assert arm_for_number(2**63 - 1, (1, 1)) == 0
    assert arm_for_number(2**63, (1, 1)) == 1
    assert arm_for_number(2**64 - 1, (45, 45, 10)) == 2


def test_weights_are_reduced():
    assert reduced((45, 45, 10)) == [9, 9, 2]
    assert reduced((3, 3)) == [1, 1]
    with pytest.raises(ValueError):
        reduced((1, 0))


def test_a_block_holds_every_arm_its_weight_and_its_order_is_keyed():
    order = block_order(KEY, 7, 42, "MX-02|15-17", 0, (45, 45, 10))
    assert Counter(order) == {0: 9, 1: 9, 2: 2}
    orders = {tuple(block_order(KEY, 7, 42, "MX-02|15-17", b, (1, 1, 1))) for b in range(30)}
    assert len(orders) > 1  # not the same order in every block


def _within_one_block(counts: Counter, n: int, weights) -> bool:
    r = reduced(weights)
    size = sum(r)
    return all(abs(counts[i] - n * w / size) <= w for i, w in enumerate(r))


@pytest.mark.parametrize("weights", [(1, 1), (45, 45, 10), (2, 1, 1), (1, 1, 1, 1)])
def test_blocked_allocation_balances_every_stratum(weights):
    rng = random.Random(5)
    ids = rng.sample(range(1, 10**6), 3000)
    strata: dict[str, list[int]] = {}
    for contact_id in ids:
        stratum = stratum_of("MX", rng.choice(["02", "26", "09"]), rng.choice(["12-14", None]))
        strata.setdefault(stratum, []).append(contact_id)
    chosen = assign_blocked(KEY, 7, 42, strata, {}, weights)
    for stratum, members in strata.items():
        counts = Counter(chosen[c][0] for c in members)
        assert _within_one_block(counts, len(members), weights), (stratum, counts)
        # positions 0..n-1 in the order of the contacts' keyed numbers
        ordered = sorted(members, key=lambda c: contact_number(KEY, 7, 42, c))
        assert [chosen[c][1] for c in ordered] == list(range(len(members)))


def test_newcomers_take_the_next_slots_of_their_stratum():
    weights = (45, 45, 10)
    everyone = list(range(1, 501))
    at_start = assign_blocked(KEY, 7, 42, {"s": everyone[:137]}, {}, weights)
    later = assign_blocked(KEY, 7, 42, {"s": everyone[137:]}, {"s": 137}, weights)
    assert sorted(p for _arm, p in later.values()) == list(range(137, 500))
    counts = Counter(arm for arm, _p in [*at_start.values(), *later.values()])
    assert _within_one_block(counts, 500, weights)
    allocator = BlockedAllocator(KEY, 7, 42, weights)
    assert all(allocator.arm("s", p) == arm for arm, p in later.values())


def test_strata_name_place_and_age_band():
    assert stratum_of("MX", "02", "15-17") == "MX-02|15-17"
    assert stratum_of("US", None, None) == "US-?|unknown"
