"""The attacker of test_disclosure.py: reads what an evaluator is shown, as they read it.

It knows how the figures are defined (the glossary: rows add up to their total, "0
messages" is "reached in workshops only", a workshop's attendees are the RSVP-yes attendees
plus the walk-ins, shares are a count over its total...), and combines the visible figures
of one page or file: sums and differences of any of them (exact linear algebra), the bounds
every count obeys (not negative; "<5" means 1 to 4) and the shares and rates printed next to
the counts. Written from the definitions only, independently of app/reports/suppression.py:
it is the check, not a copy of the protection.
"""

import csv
import io
import math
import re
from fractions import Fraction

from app.reports.specs import SPECS

HIDDEN = "hidden"
INF = math.inf

# --- reading what the evaluator sees ---------------------------------------------------------

# Leading label columns of each table, by caption (the rest are figures).
LABELS = {
    "Headline figures": 1,
    "Reach by target place": 2,
    "Reach by age band": 1,
    "Reach by gender": 1,
    "Reach by language": 1,
    "Reach by state": 1,
    "Reach by municipality": 2,
    "Messages delivered per reached contact": 1,
    "Workshops attended per reached contact": 1,
    "Failure reasons": 2,
    "Delivery and opt-outs by message": 1,
    "Reach by channel": 1,
    "Read rates by message and channel": 2,
    "Workshop funnel": 3,
    "Reach over time": 1,
    "Organization totals": 1,
    "Campaigns": 4,
    "By prevention strategy (CSAP)": 1,
    "By prevention level (IOM)": 1,
    "Conversation funnel": 1,
    "Conversation funnel by campaign": 1,
    "Conversation funnel by month": 1,
}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip().replace("&amp;", "&")


def number(text: str):
    """A shown cell as a number, HIDDEN for a suppression marker, None for "—"/empty."""
    shown = text.strip().replace("&lt;", "<")
    text = shown.replace("\xa0", "").replace(",", "")
    if text in ("", "—"):
        return None
    if text == "*" or text.startswith("<"):
        return (HIDDEN, text)
    try:
        return Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
    except ValueError:
        return shown  # a label


def _section_rows(table: str, section: str) -> list[list[str]]:
    """The cell texts of each row of a table's <tbody> or <tfoot>."""
    found = re.search(rf"<{section}>(.*?)</{section}>", table, re.S)
    if not found:
        return []
    return [
        [_text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


def page_tables(html: str) -> dict:
    """{caption: (column labels, rows, total)} of every report table on a page."""
    tables = {}
    for caption, body in re.findall(
        # A caption whose card heading already names the table keeps its title for
        # screen readers only (visually hidden span).
        r'<table class="report-table">\s*<caption>(?:<span class="visually-hidden">)?(.*?)</?span'
        r".*?</caption>(.*?)</table>",
        html,
        re.S,
    ):
        head = re.search(r"<thead>(.*?)</thead>", body, re.S).group(1)
        columns = [_text(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]
        rows = [r for r in _section_rows(body, "tbody") if len(r) == len(columns)]
        total = _section_rows(body, "tfoot")
        tables[_text(caption)] = (columns, rows, total[0] if total else None)
    return tables


def figures_of_tables(tables: dict) -> dict:
    """{(caption, row label, column label): value} of every figure cell."""
    figures = {}
    for caption, (columns, rows, total) in tables.items():
        lead = LABELS[caption]
        for row in rows + ([total] if total else []):
            label = " / ".join(row[:lead]) if row is not total else "Total"
            for column, cell in zip(columns[lead:], row[lead:], strict=True):
                figures[(caption, label, column)] = number(cell)
    return figures


def page_figures(html: str) -> dict:
    """Every figure of a campaign page: tables, headline cards, charts, sentences."""
    figures = figures_of_tables(page_tables(html))
    stats = re.search(r'<div class="grid grid--3 report-stats">(.*?)</section>', html, re.S)
    if stats:
        for label, value in re.findall(
            r'<p class="report-stat__label">(.*?)</p><p class="stat">(.*?)</p>', stats.group(1)
        ):
            figures[("card", _text(label))] = number(_text(value))
        for label, value in re.findall(r"<li>(.*?): <strong>(.*?)</strong></li>", stats.group(1)):
            figures[("card", _text(label))] = number(_text(value))
    for svg in re.findall(r'<svg class="chart".*?</svg>', html, re.S):
        chart = re.search(r'aria-labelledby="([^ "]+)-title', svg).group(1)
        for label, series, value in re.findall(
            r"<rect [^>]*><title>(.*?) · (.*?): (.*?)</title></rect>", svg
        ):
            figures[(chart, _text(label), _text(series))] = number(_text(value))
    targeted = re.search(r"next to the targeted audience \((.*?) contacts\)", html)
    if targeted:
        figures[("sentence", "targeted")] = number(_text(targeted.group(1)))
    return figures


def csv_figures(text: str, key: str, page: dict) -> dict:
    """A table's CSV as page keys: its figure columns, in the page's row order."""
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    header, body = rows[0], rows[1:]
    spec = SPECS[key]
    caption = str(spec.title)
    columns, page_rows, total = page[caption]
    lead = LABELS[caption]
    figure_columns = [c for c in spec.columns if c.page and c.numeric]
    assert [str(c.label) for c in figure_columns] == columns[lead:], key
    labels = [" / ".join(r[:lead]) for r in page_rows] + (["Total"] if total else [])
    assert len(body) == len(labels), key
    figures = {}
    for label, row in zip(labels, body, strict=True):
        cells = dict(zip(header, row, strict=True))
        for column in figure_columns:
            figures[(caption, label, str(column.label))] = number(cells[column.key])
    return figures


# --- what the attacker knows: the definitions --------------------------------------------------


class Knowledge:
    """Linear identities between figures, and ratios printed beside counts."""

    def __init__(self, figures: dict):
        self.figures = figures
        self.equations: list[dict] = []  # {key: coefficient}, summing to 0
        self.ratios: list[tuple] = []  # (numerator, denominator keys, ratio key)
        self.slacks = 0

    def has(self, *keys) -> bool:
        return all(k in self.figures for k in keys)

    def rows(self, caption: str, column: str) -> list:
        """The body cells of one column of a table."""
        return [
            key
            for key in self.figures
            if key[0] == caption and key[2] == column and key[1] != "Total"
        ]

    def equal(self, a, b):
        if self.has(a, b):
            self.equations.append({a: 1, b: -1})

    def sum(self, total, parts, weights=None, slack=False):
        parts = [p for p in parts if p in self.figures]
        if total not in self.figures or not parts:
            return
        equation = {total: -1}
        for part in parts:
            equation[part] = equation.get(part, 0) + (weights or {}).get(part, 1)
        if slack:  # an unknown non-negative remainder (ranges such as "6-9 messages")
            self.slacks += 1
            equation[("slack", self.slacks)] = 1
        self.equations.append(equation)

    def ratio(self, numerator, denominators, ratio):
        if self.has(numerator, ratio, *denominators):
            self.ratios.append((numerator, tuple(denominators), ratio))


def headline(label: str) -> tuple:
    return ("Headline figures", label, "Value")


R, SR, WR = headline("Reached"), headline("Reached by SMS"), headline("Reached in workshops")
SO, WO, B = (
    headline("Reached by SMS only"),
    headline("Reached in workshops only"),
    headline("Reached by SMS and in workshops"),
)
D, F, U = (
    headline("Messages delivered"),
    headline("Messages failed"),
    headline("Messages undelivered"),
)
T, OO, A = headline("Targeted audience"), headline("Opt-outs"), headline("Workshop attendances")


def campaign_knowledge(figures: dict) -> Knowledge:
    """Everything the glossary tells a reader about how the campaign page's figures add up."""
    k = Knowledge(figures)
    _know_headline(k)
    _know_representativeness(k)
    _know_dose(k)
    _know_messages(k)
    _know_channels(k)
    _know_funnel(k)
    k.sum(R, k.rows("Reach over time", "Newly reached"))  # the series ends at reached
    return k


def _know_headline(k: Knowledge) -> None:
    k.sum(R, [SO, WO, B])
    k.sum(SR, [SO, B])
    k.sum(WR, [WO, B])
    k.ratio(R, [headline("Target population")], headline("Reach proportion"))
    k.ratio(D, [D, F, U], headline("Delivery rate"))
    k.ratio(OO, [SR], headline("Opt-out rate"))
    k.ratio(headline("Contacts who replied"), [SR], headline("Reply rate"))
    k.ratio(D, [R], headline("Average messages per reached contact"))
    for card, figure in (
        ("Reached", R),
        ("SMS only", SO),
        ("Workshop only", WO),
        ("SMS and workshop", B),
        ("Messages delivered", D),
    ):
        k.equal(("card", card), figure)
    k.equal(("sentence", "targeted"), T)


def _know_representativeness(k: Knowledge) -> None:
    """Rows add up to the total row (reached, targeted); the municipalities of a state to
    its row; a target place is a row; shares (tables and charts) are a row over its total."""
    charts = {"Reach by age band": "chart-age", "Reach by state": "chart-state"}
    for caption in (
        "Reach by age band",
        "Reach by gender",
        "Reach by language",
        "Reach by state",
        "Reach by municipality",
    ):
        for column, share, total in (
            ("Reached", "Share of reached", R),
            ("Targeted", "Share of targeted", T),
        ):
            cells = k.rows(caption, column)
            k.sum((caption, "Total", column), cells)
            k.equal((caption, "Total", column), total)
            for cell in cells + [(caption, "Total", column)]:
                k.ratio(cell, [(caption, "Total", column)], (caption, cell[1], share))
                if caption in charts:
                    k.ratio(cell, [(caption, "Total", column)], (charts[caption], cell[1], column))
    for column in ("Reached", "Targeted"):
        for state_row in k.rows("Reach by state", column):
            munis = [
                key
                for key in k.rows("Reach by municipality", column)
                if key[1].split(" / ")[0] == state_row[1]
            ]
            k.sum(state_row, munis)
    for place in k.rows("Reach by target place", "Reached"):
        state, municipality = place[1].split(" / ")
        if municipality == "Whole state":
            source = ("Reach by state", state, "Reached")
        else:
            source = next(
                (
                    key
                    for key in k.rows("Reach by municipality", "Reached")
                    if key[1].lower() == f"{state} / {municipality}".lower()
                ),
                None,
            )
        k.equal(place, source)
        k.ratio(
            place,
            [("Reach by target place", place[1], "Target population")],
            ("Reach by target place", place[1], "Reach proportion"),
        )


def _know_dose(k: Knowledge) -> None:
    """Rows add up to reached; "0 messages" = workshop only, "0 workshops" = SMS only; the
    rows weighted by their number add up to the deliveries / the attendances."""
    for caption, zero, some, weighted in (
        ("Messages delivered per reached contact", WO, SR, D),
        ("Workshops attended per reached contact", SO, WR, A),
    ):
        cells = k.rows(caption, "Reached contacts")
        k.sum((caption, "Total", "Reached contacts"), cells)
        k.equal((caption, "Total", "Reached contacts"), R)
        k.equal((caption, "0", "Reached contacts"), zero)
        k.sum(some, [c for c in cells if c[1] != "0"])
        k.sum(
            weighted,
            cells,
            weights={c: int(c[1].split("-")[0].rstrip("+")) for c in cells},
            slack=True,
        )
        for cell in cells:
            k.ratio(cell, [R], (caption, cell[1], "Share of reached"))


def _know_messages(k: Knowledge) -> None:
    """Failure codes add up to failed + undelivered; messages add up to the campaign's
    figures; one delivery per contact and message."""
    caption = "Failure reasons"
    cells = k.rows(caption, "Messages")
    k.sum((caption, "Total", "Messages"), cells)
    k.sum((caption, "Total", "Messages"), [F, U])
    for cell in cells:
        k.ratio(cell, [(caption, "Total", "Messages")], (caption, cell[1], "Share of failures"))
    caption = "Delivery and opt-outs by message"
    for column, total in (("Delivered", D), ("Failed", F), ("Undelivered", U), ("Opt-outs", OO)):
        k.sum(total, k.rows(caption, column))
    for cell in k.rows(caption, "Delivered"):
        label = cell[1]
        k.equal(cell, (caption, label, "Contacts delivered"))
        k.ratio(
            (caption, label, "Opt-outs"),
            [(caption, label, "Contacts delivered")],
            (caption, label, "Opt-out rate"),
        )
        k.ratio(
            cell,
            [cell, (caption, label, "Failed"), (caption, label, "Undelivered")],
            (caption, label, "Delivery rate"),
        )


def _know_channels(k: Knowledge) -> None:
    """Reach by channel: rows add up to reached; the message channels to the contacts
    reached by SMS (a delivered message), workshops only is the headline's. Per message,
    the channels' deliveries add up to the message's, reads are at most the deliveries,
    and the read rate is reads over deliveries."""
    caption = "Reach by channel"
    cells = k.rows(caption, "Reached")
    k.sum((caption, "Total", "Reached"), cells)
    k.equal((caption, "Total", "Reached"), R)
    k.sum(SR, [c for c in cells if c[1] != "Workshops only"])
    k.equal((caption, "Workshops only", "Reached"), WO)
    for cell in cells + [(caption, "Total", "Reached")]:
        k.ratio(cell, [(caption, "Total", "Reached")], (caption, cell[1], "Share of reached"))
    caption = "Read rates by message and channel"
    by_message = {}
    for cell in k.rows(caption, "Delivered"):
        by_message.setdefault(cell[1].split(" / ")[0], []).append(cell)
        k.sum(cell, [(caption, cell[1], "Read")], slack=True)
        k.ratio((caption, cell[1], "Read"), [cell], (caption, cell[1], "Read rate"))
    for message, parts in by_message.items():
        k.sum(("Delivery and opt-outs by message", message, "Delivered"), parts)


def _know_funnel(k: Knowledge) -> None:
    """Columns add up to the total row (and the chart); attendees are the RSVP-yes
    attendees plus the walk-ins; RSVP yes are the RSVP-yes attendees plus the no-shows."""
    caption = "Workshop funnel"
    for column in (
        "Invited",
        "RSVP yes",
        "Attended",
        "Walk-ins",
        "Attended after RSVP",
        "No-shows",
    ):
        k.sum((caption, "Total", column), k.rows(caption, column))
        k.equal(("chart-funnel", column, "Contacts"), (caption, "Total", column))
    for cell in k.rows(caption, "Attended") + [(caption, "Total", "Attended")]:
        label = cell[1]
        k.sum(cell, [(caption, label, "Attended after RSVP"), (caption, label, "Walk-ins")])
        k.sum(
            (caption, label, "RSVP yes"),
            [(caption, label, "Attended after RSVP"), (caption, label, "No-shows")],
        )
        k.ratio(
            (caption, label, "RSVP yes"),
            [(caption, label, "Invited")],
            (caption, label, "RSVP rate"),
        )
        k.ratio(
            (caption, label, "Attended after RSVP"),
            [(caption, label, "RSVP yes")],
            (caption, label, "Show-up rate"),
        )
    k.equal((caption, "Total", "Attended"), A)


# --- the attack ------------------------------------------------------------------------------


def tolerance(value: Fraction) -> Fraction:
    """Half a unit of the last printed digit (shares: 0.1% on pages, 4 decimals in CSV)."""
    text = format(float(value), ".10f").rstrip("0")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return Fraction(1, 2 * 10 ** max(decimals, 3))


def _rref(rows: list[tuple[dict, Fraction]]) -> list[tuple[dict, Fraction]]:
    rows = [(dict(terms), rhs) for terms, rhs in rows if terms]
    done = []
    while rows:
        terms, rhs = rows.pop()
        for pivot, (p_terms, p_rhs) in done:  # reduce by earlier pivots
            if pivot in terms:
                factor = terms[pivot]
                for var, c in p_terms.items():
                    terms[var] = terms.get(var, 0) - factor * c
                    if terms[var] == 0:
                        del terms[var]
                rhs -= factor * p_rhs
        if not terms:
            continue
        pivot = min(terms, key=repr)
        scale = Fraction(1) / terms[pivot]
        terms = {v: c * scale for v, c in terms.items()}
        rhs *= scale
        for i, (other, (o_terms, o_rhs)) in enumerate(done):  # keep earlier rows reduced
            if pivot in o_terms:
                factor = o_terms[pivot]
                for var, c in terms.items():
                    o_terms[var] = o_terms.get(var, 0) - factor * c
                    if o_terms[var] == 0:
                        del o_terms[var]
                done[i] = (other, (o_terms, o_rhs - factor * rhs))
        done.append((pivot, (terms, rhs)))
    return [row for _pivot, row in done]


def _narrow(rows, bounds, known) -> None:
    """Bounds of the unknowns through every identity, until nothing moves."""
    for _pass in range(50):
        changed = False
        for terms, rhs in rows:
            free = {key: c for key, c in terms.items() if key not in known}
            rest = rhs - sum(c * known[key] for key, c in terms.items() if key in known)
            spans = {}
            for key, c in free.items():
                lo, hi = bounds.setdefault(key, [Fraction(0), INF])
                spans[key] = (c * lo, c * hi) if c > 0 else (c * hi, c * lo)
            for key, c in free.items():
                low = sum(span[0] for other, span in spans.items() if other != key)
                high = sum(span[1] for other, span in spans.items() if other != key)
                a, b = (rest - high) / c, (rest - low) / c  # c * x lies in [rest-high, rest-low]
                a, b = (a, b) if c > 0 else (b, a)
                lo, hi = bounds[key]
                new_lo = max(lo, math.ceil(a)) if a not in (INF, -INF) else lo
                new_hi = min(hi, math.floor(b)) if b not in (INF, -INF) else hi
                if new_lo <= new_hi and (new_lo, new_hi) != (lo, hi):
                    bounds[key] = [Fraction(new_lo), new_hi if new_hi == INF else Fraction(new_hi)]
                    changed = True
        if not changed:
            return


def _hidden_bounds(figures: dict) -> dict:
    """What a suppression marker says: "<5" is 1..4, "*" any count."""
    bounds = {}
    for key, v in figures.items():
        if isinstance(v, tuple):
            limit = v[1][1:]
            bounds[key] = (
                [Fraction(1), Fraction(int(limit) - 1)]
                if v[1].startswith("<")
                else [Fraction(0), INF]
            )
    return bounds


def _from_ratios(k: Knowledge, known: dict) -> None:
    """A count whose printed share or rate allows a single whole number."""
    for numerator, denominators, ratio in k.ratios:
        r = known.get(ratio)
        if (
            r is None
            or numerator in known
            or numerator in denominators
            or not all(d in known for d in denominators)
        ):
            continue
        den, tol = sum(known[d] for d in denominators), tolerance(r)
        found = [
            x
            for x in range(max(0, math.floor((r - tol) * den)), math.ceil((r + tol) * den) + 1)
            if den and abs(Fraction(x) / den - r) <= tol
        ]
        if len(found) == 1:
            known[numerator] = Fraction(found[0])


def _from_identities(k: Knowledge, known: dict, bounds: dict) -> None:
    """Sums and differences that leave one unknown, then bounds narrowed to one value."""
    rows = []
    for equation in k.equations:
        terms = {key: Fraction(c) for key, c in equation.items() if key not in known and c}
        rhs = -sum(Fraction(c) * known[key] for key, c in equation.items() if key in known)
        if terms:
            rows.append((terms, rhs))
    reduced = _rref(rows)
    for terms, rhs in reduced:  # a sum or difference that leaves one unknown
        if len(terms) == 1:
            ((key, c),) = terms.items()
            if (rhs / c).denominator == 1:
                known[key] = rhs / c
    _narrow(rows + reduced, bounds, known)
    for key, (lo, hi) in bounds.items():
        if key not in known and lo == hi:
            known[key] = lo


def attack(k: Knowledge) -> dict:
    """The values the attacker pins down for hidden figures: {key: value}."""
    known = {key: v for key, v in k.figures.items() if isinstance(v, Fraction)}
    bounds = _hidden_bounds(k.figures)
    for _round in range(30):
        before = dict(known)
        _from_ratios(k, known)  # shares and rates
        _from_identities(k, known, bounds)
        if known == before:
            break
    return {key: v for key, v in known.items() if isinstance(k.figures.get(key), tuple)}


def recovered(evaluator: dict, truth: dict) -> dict:
    """Suppressed counts the attacker pins to their true value."""
    pinned = attack(campaign_knowledge(evaluator))
    return {
        key: int(v)
        for key, v in pinned.items()
        if isinstance(truth.get(key), Fraction) and truth[key].denominator == 1 and truth[key] == v
    }
