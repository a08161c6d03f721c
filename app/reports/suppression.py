"""Small-cell suppression for evaluators (metric "small_cells" in metrics.py).

Decisions, in short (the glossary states them for users):

- Who: users who may not see contacts (evaluators) get suppressed figures; coordinators and
  administrators, who can open the contacts themselves, get exact counts.
- Primary suppression: every count in a breakdown (age band, gender, language, state,
  municipality, target place, channel, dose, workshop funnel, message, failure code)
  between 1 and threshold - 1. Zero stays 0 unless it is needed as a complement.
- One marker, "*", for every hidden figure, small or hidden to protect a small one: two
  markers ("<5" and "*") tell the reader which hidden cells are 1 to 4 and which are not,
  and with those bounds a handful of figures pins the small ones down (three "<5" rows of
  a table whose total is 3 are all 1). With one marker a hidden figure is only known to be
  a count (0 or more).
- Complementary suppression holds across everything shown together: a page and each of
  its files are one `Linked` group of figures with the identities a reader knows from the
  definitions (rows add up to their total, "0 messages" is "reached in workshops only",
  the dose rows weighted by their number add up to the deliveries, attendees are RSVP-yes
  attendees plus walk-ins...). Figures are hidden until no hidden figure can be worked
  out from the visible ones (exact linear algebra over every identity, plus the bounds
  every count obeys) and, where another figure can still be hidden, the hidden rows of a
  breakdown do not add up to a known small count. Complements are chosen smallest
  non-zero row first, then zero rows, then totals, each tried before it is kept.
- Anchors are never hidden: the campaign totals that the organization dashboard shows for
  every campaign (reached, reached by SMS, reached in workshops, messages delivered, the
  failures behind the delivery rate, opt-outs). Hiding them on one page while another
  shows them would protect nothing. Whatever follows from anchors alone (the SMS-only /
  workshop-only / both split, "0 messages" and "0 workshops") is public and shown as is.
- Identities that usually but not always hold (one delivery per contact and message,
  attendees = RSVP-yes attendees + walk-ins) are used whenever they hold for the data: an
  attacker would assume them, and when they hold the assumption pays off.
- Charts, totals and sentences show the same suppressed values as their tables; shares
  and rates computed from a hidden figure are hidden. The time series (it adds up to
  reached, an anchor) and the organization dashboard (campaign totals) stay exact.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

SMALL = "small"
SECONDARY = "secondary"
MARKER = "*"

PART = "part"  # a count in a breakdown: hidden when small
TOTAL = "total"  # a sum or headline figure: hidden only to protect another figure
ANCHOR = "anchor"  # shown on other pages too: never hidden
INF = math.inf
RANK = {TOTAL: 0, PART: 1, ANCHOR: 2}  # an alias takes the stronger role of the two
TRIALS = 8  # complements tried, cheapest first, before settling for the cheapest


@dataclass(frozen=True)
class Hidden:
    """A suppressed figure: small (1 to threshold - 1) or hidden to protect one. Both read
    "*", so that the marker does not tell which."""

    reason: str
    threshold: int

    def __str__(self) -> str:
        return MARKER


def is_hidden(value) -> bool:
    return isinstance(value, Hidden)


def derived(value, *inputs):
    """`value` (a share or rate), or a hidden cell when any of its inputs is hidden."""
    for item in inputs:
        if isinstance(item, Hidden):
            return Hidden(SECONDARY, item.threshold)
    return value


@dataclass
class _Equation:
    terms: dict  # key -> coefficient; the exact values satisfy sum(c * v) == 0
    partition: bool  # total = sum of parts (counts of people or messages)


class Linked:
    """Figures shown together (one page, one file) and the identities that link them.

    `add` each figure with its exact value and role, state the identities, then `shown()`
    returns every figure as shown to the viewer: its value, or `Hidden`.
    """

    def __init__(self, threshold: int | None):
        self.threshold = threshold if threshold and threshold > 1 else None
        self.values: dict = {}
        self.roles: dict = {}
        self.order: dict = {}
        self.slacks: set = set()
        self.aliases: dict = {}  # figure -> the figure it always equals (one unknown)
        self.equations: list[_Equation] = []
        self._solved: dict = {}  # frozenset of a group's unknowns -> what they pin down
        self._group_of: dict = {}  # unknown -> its group, as of the last `_solve`

    # -- building ---------------------------------------------------------------------------

    def add(self, key, value: int, role: str = PART):
        if key not in self.values:
            self.order[key] = len(self.order)
        self.values[key], self.roles[key] = int(value), role
        return key

    def _canonical(self, key):
        while key in self.aliases:
            key = self.aliases[key]
        return key

    def slack(self, key, value: int):
        """An unknown non-negative quantity of an identity (never shown)."""
        self.add(key, value, TOTAL)
        self.slacks.add(key)
        return key

    def equation(self, terms: dict, *, partition: bool = False) -> bool:
        """sum(coefficient * figure) == 0. Added only when it holds for the exact values
        (an identity that does not hold for this data cannot reveal anything)."""
        terms = {k: c for k, c in terms.items() if c}
        if not terms or sum(c * self.values[k] for k, c in terms.items()) != 0:
            return False
        self.equations.append(_Equation(terms, partition))
        return True

    def partition(self, total, parts) -> bool:
        """total = sum(parts)."""
        if len(parts) == 1:
            return self.equal(total, parts[0])
        terms = defaultdict(int)
        for part in parts:
            terms[part] += 1
        terms[total] -= 1
        return self.equation(dict(terms), partition=True)

    def equal(self, a, b) -> bool:
        """a = b: one figure shown twice (shown or hidden together), when it holds."""
        a, b = self._canonical(a), self._canonical(b)
        if a == b or self.values[a] != self.values[b]:
            return a == b
        if RANK[self.roles[b]] > RANK[self.roles[a]]:
            a, b = b, a
        self.aliases[b] = a
        return True

    # -- protecting -------------------------------------------------------------------------

    def shown(self, part_of=None) -> dict:
        """{key: value or Hidden} (exact values without a threshold).

        `part_of(key)` (optional) names the part of the figures a key belongs to, or None
        for the core: a big group of linked tables is then suppressed core first, then part
        by part (each with the core's decisions fixed), and the union is checked, and
        completed if needed, against every identity at once. The result protects exactly
        what the one-piece search protects; it only finds it in a fraction of the time when
        the parts are linked through a few core figures (a survey's breakdowns)."""
        if self.threshold is None:
            return {key: value for key, value in self.values.items() if key not in self.slacks}
        k = self.threshold
        self._merge_aliases()
        figures = [key for key in self.values if key not in self.slacks and key not in self.aliases]
        if part_of is None:
            hidden = self._suppress(figures, {})
        else:
            hidden = self._suppress(figures, self._suppress_in_parts(figures, part_of))
        for key in self._pinned(set(hidden)):  # known anyway (never seen so far): show it
            del hidden[key]
        shown = {
            key: Hidden(hidden[key], k) if key in hidden else self.values[key] for key in figures
        }
        shown.update({key: shown[self._canonical(key)] for key in self.aliases})
        return shown

    def _suppress(self, figures: list, start: dict) -> dict:
        """The hidden figures: the small ones, `start`, and the complements they need."""
        k = self.threshold
        public = self._pinned({key for key in figures if self.roles[key] != ANCHOR})
        hidden = {
            key: SMALL
            for key in figures
            if self.roles[key] == PART and 0 < self.values[key] < k and key not in public
        }
        hidden.update({key: reason for key, reason in start.items() if key not in hidden})
        self._protect_each_sum(hidden, public)
        for _round in range(len(figures) + 1):
            exposed = self._exposures(set(hidden))
            groups, chosen, done = dict(self._group_of), set(), set()
            for key, equations, need_mass in exposed:
                group = groups.get(key)
                if group in done:
                    continue  # one complement per linked group a round: it may be enough
                candidate = self._complement(key, equations, hidden, public, need_mass)
                if candidate is not None:
                    chosen.add(candidate)
                    done.add(group)
            if not chosen:
                break
            hidden.update({key: SECONDARY for key in chosen})
        return hidden

    def _suppress_in_parts(self, figures: list, part_of) -> dict:
        """Core first, then each part with the core's figures fixed (shown ones as anchors,
        hidden ones hidden from the start): a first answer for `_suppress` to check."""
        core_equations, part_equations = [], defaultdict(list)
        for index, eq in enumerate(self.equations):
            found = {part_of(key) for key in eq.terms if key not in self.slacks} - {None}
            if len(found) > 1:
                return {}  # parts linked directly: no shortcut, the one-piece search
            if found:
                part_equations[found.pop()].append(index)
            else:
                core_equations.append(index)
        core = [key for key in figures if part_of(key) is None]
        piece = self._sub(core_equations, core, set())
        hidden = piece._suppress(core, {})
        for key in piece._pinned(set(hidden)):  # known from the core anyway: shown
            del hidden[key]
        for part, indexes in part_equations.items():
            keys = {key for i in indexes for key in self.equations[i].terms}
            # the core identities of the core figures it uses bound them as in the whole
            indexes = indexes + [i for i in core_equations if keys & self.equations[i].terms.keys()]
            keys = {key for i in indexes for key in self.equations[i].terms}
            inside = [key for key in figures if key in keys or part_of(key) == part]
            fixed = {key for key in inside if part_of(key) is None and key not in hidden}
            sub = self._sub(indexes, inside, fixed)
            start = {key: hidden[key] for key in inside if key in hidden}
            hidden.update(sub._suppress(inside, start))
        return hidden

    def _sub(self, indexes: list, figures: list, anchors: set) -> "Linked":
        """The figures and identities of one piece, with `anchors` known and never hidden."""
        sub = Linked(self.threshold)
        keys = set(figures) | {key for i in indexes for key in self.equations[i].terms}
        for key in sorted(keys, key=self.order.get):
            sub.add(key, self.values[key], ANCHOR if key in anchors else self.roles[key])
        sub.slacks = keys & self.slacks
        sub.equations = [self.equations[i] for i in indexes]
        return sub

    def _merge_aliases(self) -> None:
        """Rewrite the identities over one unknown per group of equal figures."""
        merged = []
        for eq in self.equations:
            terms = defaultdict(int)
            for key, c in eq.terms.items():
                terms[self._canonical(key)] += c
            terms = {key: c for key, c in terms.items() if c}
            if terms:
                merged.append(_Equation(terms, eq.partition))
        self.equations = merged

    def _protect_each_sum(self, hidden: dict, public: set) -> None:
        """The quick first pass, one sum at a time: no sum may have a single hidden figure,
        and the hidden rows of a sum with a known total must not add up to a small count.
        The full check (`_exposures`) then only has the links between sums left to do."""
        changed = True
        while changed:
            changed = False
            for index, eq in enumerate(self.equations):
                if not eq.partition:
                    continue
                unknown = [key for key in eq.terms if key in hidden]
                if not unknown:
                    continue
                rows = self._rows(set(hidden), [index])
                need_mass = bool(rows and self._small_sum(*rows[0]))
                if len(unknown) > 1 and not need_mass:
                    continue
                candidate = self._cheapest(eq.terms, hidden, public, need_mass)
                if candidate is not None:
                    hidden[candidate] = SECONDARY
                    changed = True

    def _allowed(self, key, hidden, public) -> bool:
        return (
            key not in hidden
            and key not in public
            and key not in self.slacks
            and self.roles[key] != ANCHOR
        )

    def _cost(self, key) -> tuple:
        value, role = self.values[key], self.roles[key]
        tier = 0 if role == PART and value else 1 if role == PART else 2
        return (tier, value, self.order[key])

    def _cheapest(self, keys, hidden, public, need_mass):
        candidates = [
            key
            for key in keys
            if self._allowed(key, hidden, public)
            and (not need_mass or self.values[key] or self.roles[key] != PART)
        ]
        return min(candidates, key=self._cost) if candidates else None

    def _complement(self, key, equations, hidden, public, need_mass):
        """The figure to hide next so that `key` is no longer exposed: of the figures in
        the same identities (widening to linked ones when those are used up), the first
        that protects it, trying the smallest non-zero breakdown row first, then zero rows,
        then totals."""
        seen, frontier = set(), list(equations)
        while frontier:
            candidates = {
                other
                for i in frontier
                for other in self.equations[i].terms
                if self._allowed(other, hidden, public)
            }
            if need_mass:  # hiding a zero does not make a small remainder larger
                candidates = {c for c in candidates if self.values[c] or self.roles[c] != PART}
            if candidates:
                ranked = sorted(candidates, key=self._cost)
                for candidate in ranked[:TRIALS]:
                    if self._protects(key, candidate, hidden, equations, need_mass):
                        return candidate
                return ranked[0]
            seen.update(frontier)
            linked = {
                other
                for i in frontier
                for other in self.equations[i].terms
                if other in hidden or other in self.slacks
            }
            frontier = [
                i
                for i, eq in enumerate(self.equations)
                if i not in seen and linked & eq.terms.keys()
            ]
        return None

    def _protects(self, key, candidate, hidden, equations, need_mass) -> bool:
        unknown = set(hidden) | {candidate}
        if need_mass:
            return not any(
                self._small_sum(terms, rhs, index)
                for terms, rhs, index in self._rows(unknown, equations)
            )
        return key not in self._solve(unknown)

    def _small_sum(self, terms: dict, rhs, index) -> list:
        """The small rows of an identity whose hidden rows add up to a known small count."""
        small = [
            key
            for key in terms
            if self.roles[key] == PART and 0 < self.values[key] < self.threshold
        ]
        if (
            self.equations[index].partition
            and small
            and 0 < abs(rhs) < self.threshold
            and len(set(terms.values())) == 1
        ):
            return small
        return []

    # -- the reader's view ------------------------------------------------------------------

    def _rows(self, unknown: set, indexes=None) -> list[tuple[dict, int, int]]:
        """The identities as rows over the `unknown` figures (the others are known):
        (coefficients of the unknowns, right-hand side, index of the identity)."""
        rows = []
        for index in range(len(self.equations)) if indexes is None else indexes:
            eq = self.equations[index]
            terms = {key: c for key, c in eq.terms.items() if key in unknown}
            if terms:
                rhs = -sum(
                    c * self.values[key] for key, c in eq.terms.items() if key not in unknown
                )
                rows.append((terms, rhs, index))
        return rows

    def _solve(self, unknown: set) -> dict:
        """What a reader who sees every figure but `unknown` can pin down: {key: value}.

        Identities only link the unknowns of one connected group, so each group is solved
        on its own, and remembered: a complement changes one group, not the others."""
        unknown = unknown | self.slacks
        parent = {key: key for key in unknown}

        def root(key):
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        touching = defaultdict(list)
        for index, eq in enumerate(self.equations):
            keys = [key for key in eq.terms if key in unknown]
            for key in keys[1:]:
                parent[root(key)] = root(keys[0])
            if keys:
                touching[root(keys[0])].append(index)
        groups, indexes = defaultdict(set), defaultdict(list)
        for key in unknown:
            groups[root(key)].add(key)
        for first, found in touching.items():
            indexes[root(first)].extend(found)
        pinned = {}
        self._group_of = {}
        for top, keys in groups.items():
            signature = frozenset(keys)
            self._group_of.update(dict.fromkeys(keys, signature))
            if signature not in self._solved:
                self._solved[signature] = self._solve_group(keys, sorted(indexes[top]))
            pinned.update(self._solved[signature])
        return pinned

    def _solve_group(self, unknown: set, indexes: list) -> dict:
        """Sums and differences of any identities (reduced row echelon form), then the
        bounds of each unknown through every identity, again until nothing more is found.
        A value found this way is the exact value (the identities hold for it)."""
        pinned: dict = {}
        bounds = {key: [0, INF] for key in unknown}
        while True:
            rows = [(t, r) for t, r, _i in self._rows(unknown - pinned.keys(), indexes)]
            reduced = _reduce(rows, self.order)
            found = {}
            for terms, rhs in reduced:
                if len(terms) == 1:
                    ((key, c),) = terms.items()
                    found[key] = rhs / c
            _narrow(rows + [_whole(row) for row in reduced], bounds, {**pinned, **found})
            found.update(
                {key: lo for key, (lo, hi) in bounds.items() if lo == hi and key not in pinned}
            )
            if not found.keys() - pinned.keys():
                return pinned
            pinned.update(found)

    def _pinned(self, unknown: set) -> set:
        return {key for key in self._solve(unknown) if key in unknown}

    def _exposures(self, hidden: set) -> list[tuple]:
        """Hidden figures a reader can work out, and small sums of hidden breakdown rows:
        [(figure, identities to draw a complement from, whether a larger sum is needed)]."""
        found = []
        for key in sorted(self._pinned(hidden), key=self.order.get):
            found.append(
                (key, [i for i, eq in enumerate(self.equations) if key in eq.terms], False)
            )
        for terms, rhs, index in self._rows(hidden):
            small = self._small_sum(terms, rhs, index)
            if small:
                found.append((min(small, key=self.order.get), [index], True))
        return found


def _subtract(terms: dict, source: dict, factor) -> None:
    """terms -= factor × source, in place, dropping coefficients that become zero."""
    for key, c in source.items():
        value = terms.get(key, 0) - factor * c
        if value:
            terms[key] = value
        else:
            terms.pop(key, None)


def _reduce(rows: list[tuple[dict, Fraction]], order: dict) -> list[tuple[dict, Fraction]]:
    """Reduced row echelon form of sparse linear rows (exact fractions)."""
    done: dict = {}  # pivot -> (terms, rhs)
    for terms, rhs in rows:
        terms = dict(terms)
        for pivot in [p for p in terms if p in done]:
            factor = terms.get(pivot)
            if not factor:
                continue
            p_terms, p_rhs = done[pivot]
            _subtract(terms, p_terms, factor)
            rhs -= factor * p_rhs
        if not terms:
            continue
        pivot = min(terms, key=lambda key: order.get(key, -1))
        scale = terms[pivot]
        terms = {key: c / scale for key, c in terms.items()}
        rhs /= scale
        for other, (o_terms, o_rhs) in done.items():
            factor = o_terms.get(pivot)
            if factor:
                _subtract(o_terms, terms, factor)
                done[other] = (o_terms, o_rhs - factor * rhs)
        done[pivot] = (terms, rhs)
    return list(done.values())


def _whole(row: tuple[dict, Fraction]) -> tuple[dict, int]:
    """A row with fractional coefficients scaled to whole numbers."""
    terms, rhs = row
    scale = math.lcm(*(Fraction(c).denominator for c in terms.values()), Fraction(rhs).denominator)
    return ({key: int(c * scale) for key, c in terms.items()}, int(rhs * scale))


def _ceil_div(a, b):
    return -((-a) // b)


def _narrow(rows, bounds: dict, pinned: dict) -> None:
    """Tighten [low, high] of each unknown through every row of whole numbers (counts are
    never negative; INF: no upper bound yet). Rows are revisited when a bound they use
    moves, a bounded number of times."""
    rows = [row for row in rows if sum(key not in pinned for key in row[0]) >= 2]
    by_key = defaultdict(list)
    for index, (terms, _rhs) in enumerate(rows):
        for key in terms:
            by_key[key].append(index)
    queue, queued, visits = list(range(len(rows))), set(range(len(rows))), 0
    while queue and visits < 20 * len(rows):
        index = queue.pop()
        queued.discard(index)
        visits += 1
        terms, rhs = rows[index]
        rest = rhs - sum(c * pinned[key] for key, c in terms.items() if key in pinned)
        if isinstance(rest, Fraction):
            if rest.denominator != 1:
                continue
            rest = int(rest)
        free = [(key, c) for key, c in terms.items() if key not in pinned]
        spans = [_span(c, bounds[key]) for key, c in free]
        low, high = _Sum([s[0] for s in spans]), _Sum([s[1] for s in spans])
        for (key, c), span in zip(free, spans, strict=True):
            # c * key = rest - (the other terms), which lie in [low, high] without key
            others_low, others_high = low.without(span[0]), high.without(span[1])
            lo, hi = bounds[key]
            if c > 0:
                new_lo = lo if others_high == INF else max(lo, _ceil_div(rest - others_high, c))
                new_hi = hi if others_low == -INF else min(hi, (rest - others_low) // c)
            else:
                new_lo = lo if others_low == -INF else max(lo, _ceil_div(rest - others_low, c))
                new_hi = hi if others_high == INF else min(hi, (rest - others_high) // c)
            if new_lo <= new_hi and (new_lo, new_hi) != (lo, hi):
                bounds[key] = [new_lo, new_hi]
                for other in by_key[key]:
                    if other != index and other not in queued:
                        queue.append(other)
                        queued.add(other)


def _span(c: int, bound) -> tuple:
    lo, hi = bound
    high = c * hi if hi != INF else (INF if c > 0 else -INF)
    return (c * lo, high) if c > 0 else (high, c * lo)


class _Sum:
    """A sum of whole numbers, some possibly infinite (all of one sign), from which one
    term can be taken out."""

    def __init__(self, terms):
        self.finite, self.infinite, self.inf = 0, 0, INF
        for term in terms:
            if term in (INF, -INF):
                self.infinite, self.inf = self.infinite + 1, term
            else:
                self.finite += term

    def without(self, term):
        infinite = term in (INF, -INF)
        if self.infinite - infinite:
            return self.inf
        return self.finite if infinite else self.finite - term
