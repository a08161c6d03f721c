"""Small-cell suppression for evaluators (metric "small_cells" in metrics.py).

Decisions, in short (the glossary states them for users):

- Who: users who may not see contacts (evaluators) get suppressed tables; coordinators
  and administrators, who can open the contacts themselves, get exact counts.
- What: every count of people in a *breakdown* table (age band, gender, language,
  state, municipality, target place, dose, workshop, message, failure code) between 1
  and threshold - 1 is shown and exported as "<threshold". Zero stays 0: it singles
  nobody out.
- Totals stay exact, as the issue asks: a table's total row, the headline figures
  (including the SMS/workshop channel split, whose parts follow from the exact
  headline SMS-reached and workshop-reached figures anyway), every campaign-level
  figure on the organization dashboard (each one is the headline of a campaign page;
  strategy and level rows add up whole campaigns), and the time series (its cumulative
  line ends at the exact total and carries no attribute of anybody).
- Complementary suppression IS needed: with an exact total, a single hidden row is the
  total minus the visible rows. In every partition that sums to a published total we
  therefore hide more rows ("*"), smallest first, until at least two rows are hidden and
  the hidden rows together hold at least the threshold (so the recoverable remainder
  is not itself a small cell). Zero rows are used only when nothing else is left.
- Tables linked by a sum are protected together: the municipalities of a state add up
  to the state's row, so when a state's row is hidden all its municipalities are
  hidden as well; a target place's reach is read from the state or municipality row,
  with that row's suppression. Shares and rates computed from a hidden count are hidden.
- Rows are ordered by code or name, never by a suppressed value, so the order reveals
  nothing about the hidden numbers.
"""
from dataclasses import dataclass

SMALL = "small"
SECONDARY = "secondary"


@dataclass(frozen=True)
class Hidden:
    """A suppressed cell: "<5" (small count) or "*" (hidden to protect another cell)."""

    reason: str
    threshold: int

    def __str__(self) -> str:
        return f"<{self.threshold}" if self.reason == SMALL else "*"


def is_hidden(value) -> bool:
    return isinstance(value, Hidden)


def protect(values: list[int], threshold: int | None, *, hide_all: bool = False) -> list:
    """Suppress one partition (cells adding up to a published total).

    Returns the cells with `Hidden` in place of the suppressed ones. With `hide_all`
    (the partition's own total is hidden elsewhere) every non-zero cell is hidden.
    """
    if not threshold or threshold <= 1:
        return list(values)
    hidden = {i for i, v in enumerate(values) if 0 < v < threshold}
    if hide_all:
        hidden |= {i for i, v in enumerate(values) if v}
    elif hidden:
        while True:
            mass = sum(values[i] for i in hidden)
            if len(hidden) >= 2 and mass >= threshold:
                break
            rest = [i for i in range(len(values)) if i not in hidden]
            nonzero = [i for i in rest if values[i] > 0]
            if nonzero:
                hidden.add(min(nonzero, key=lambda i: (values[i], i)))
            elif rest and len(hidden) < 2:
                hidden.add(rest[0])  # a zero: the lone small cell is no longer exact
            else:
                break
    return [Hidden(SMALL if 0 < v < threshold else SECONDARY, threshold) if i in hidden else v
            for i, v in enumerate(values)]


def protect_each(values: list[int], threshold: int | None) -> list:
    """Suppress small cells that add up to no published total (no complementary step)."""
    if not threshold or threshold <= 1:
        return list(values)
    return [Hidden(SMALL, threshold) if 0 < v < threshold else v for v in values]


def derived(value, *inputs):
    """`value` (a share or rate), or a hidden cell when any of its inputs is hidden."""
    for item in inputs:
        if isinstance(item, Hidden):
            return Hidden(SECONDARY, item.threshold)
    return value
