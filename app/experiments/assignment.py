"""Deterministic, sticky arm assignment: pure functions of a key and ids (no database).

A contact's number is HMAC-SHA256(key, "org:experiment:contact") read as a 64-bit integer,
so every worker and every app instance with the same SECRET_KEY computes the same arm, and
a re-import (contacts keep their ids) changes nothing. The key is derived from the app's
secret with domain separation (like the reports' pseudonyms), so neither reveals the other.

- Without strata the number alone decides: arm i when number / 2**64 falls in the arm's
  share of the cumulative ratio weights.
- With strata (place and age band), blocked allocation: within a stratum contacts are put
  in the order of their numbers, and slot p of the stratum belongs to block p // size,
  where size is the sum of the reduced weights (45/45/10 -> 9/9/2, blocks of 20). Each
  block holds every arm exactly its weight's times, in an order given by a keyed hash of
  (stratum, block), so arms never differ by more than one block within a stratum. A
  contact who joins later takes the stratum's next slot.
"""

import hashlib
import hmac
import math
from collections.abc import Iterable, Sequence
from functools import reduce

DOMAIN = b"alcance/experiments/assignment/v1"
SPACE = 2**64


def assignment_key(secret_key: str) -> bytes:
    """The key of assignment hashes, derived from the app secret (domain separation)."""
    return hmac.new(secret_key.encode("utf-8"), DOMAIN, hashlib.sha256).digest()


def _number(key: bytes, message: str) -> int:
    digest = hmac.new(key, message.encode("ascii"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


def contact_number(key: bytes, org_id: int, experiment_id: int, contact_id: int) -> int:
    """The contact's keyed number in [0, 2**64): uniform, stable, unguessable."""
    return _number(key, f"{org_id}:{experiment_id}:{contact_id}")


def reduced(weights: Sequence[int]) -> list[int]:
    """Weights divided by their greatest common divisor (45/45/10 -> 9/9/2)."""
    if not weights or any(w <= 0 for w in weights):
        raise ValueError("weights must be positive integers")
    divisor = reduce(math.gcd, weights)
    return [w // divisor for w in weights]


def arm_for_number(number: int, weights: Sequence[int]) -> int:
    """The index of the arm whose share of [0, 1) holds number / 2**64 (exact integers)."""
    total = sum(weights)
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if number * total < cumulative * SPACE:
            return index
    return len(weights) - 1  # unreachable: number < 2**64


def block_order(
    key: bytes, org_id: int, experiment_id: int, stratum: str, block: int, weights: Sequence[int]
) -> list[int]:
    """The arm indexes of one block, in its keyed-hash order (each arm `weight` times)."""
    slots = [index for index, weight in enumerate(reduced(weights)) for _ in range(weight)]
    prefix = f"{org_id}:{experiment_id}:block:{stratum}:{block}:"
    ranked = sorted((_number(key, f"{prefix}{slot}"), slot) for slot in range(len(slots)))
    return [slots[slot] for _rank, slot in ranked]


class BlockedAllocator:
    """Arms of consecutive slots of strata (caches each block's order)."""

    def __init__(self, key: bytes, org_id: int, experiment_id: int, weights: Sequence[int]):
        self.key, self.org_id, self.experiment_id = key, org_id, experiment_id
        self.weights = reduced(weights)
        self.size = sum(self.weights)
        self._blocks: dict[tuple[str, int], list[int]] = {}

    def arm(self, stratum: str, position: int) -> int:
        block, offset = divmod(position, self.size)
        order = self._blocks.get((stratum, block))
        if order is None:
            order = block_order(
                self.key, self.org_id, self.experiment_id, stratum, block, self.weights
            )
            self._blocks[(stratum, block)] = order
        return order[offset]


def assign_by_number(
    key: bytes, org_id: int, experiment_id: int, contact_ids: Iterable[int], weights
) -> dict[int, int]:
    """{contact id: arm index} by the hash alone (no strata)."""
    return {
        contact_id: arm_for_number(contact_number(key, org_id, experiment_id, contact_id), weights)
        for contact_id in contact_ids
    }


def assign_blocked(
    key: bytes,
    org_id: int,
    experiment_id: int,
    strata: dict[str, list[int]],
    taken: dict[str, int],
    weights,
) -> dict[int, tuple[int, int]]:
    """{contact id: (arm index, position)} for new contacts by stratum: within a stratum
    in the order of their keyed numbers, from the stratum's first free slot (`taken`)."""
    allocator = BlockedAllocator(key, org_id, experiment_id, weights)
    found: dict[int, tuple[int, int]] = {}
    for stratum, contact_ids in strata.items():
        ordered = sorted(
            contact_ids, key=lambda c: (contact_number(key, org_id, experiment_id, c), c)
        )
        start = taken.get(stratum, 0)
        for offset, contact_id in enumerate(ordered):
            position = start + offset
            found[contact_id] = (allocator.arm(stratum, position), position)
    return found


def stratum_of(country: str | None, state_code: str | None, age_band: str | None) -> str:
    """The stratum, e.g. "MX-02|15-17": place (country, state) and age band ("?", "unknown")."""
    place = f"{country or '?'}-{state_code or '?'}"
    return f"{place}|{age_band or 'unknown'}"
