"""A campaign's figures as cells, linked the way a reader of the campaign page links them.

Every count that the campaign page, its CSV files, its charts and its sentences show is
one cell here, with a stable key; the identities between them come from the metric
definitions (metrics.py). `campaign_cells` hands them to `suppression.Linked` once, and
tables.py builds every row, total, headline and chart from that single result, so a
figure is hidden everywhere it appears or nowhere.
"""

from collections import Counter
from dataclasses import dataclass, field

from app.contacts.models import GENDERS, LANGUAGES
from app.contacts.validation import fold
from app.reports.campaign import CampaignFigures
from app.reports.channels import REACH_CHANNELS
from app.reports.funnel import FUNNEL_FIELDS
from app.reports.metrics import OTHER_AGE, REPORT_AGE_BANDS, UNKNOWN
from app.reports.numbers import median
from app.reports.suppression import ANCHOR, PART, SECONDARY, TOTAL, Hidden, Linked

MESSAGE_DOSE_BINS = ("0", "1", "2", "3", "4", "5", "6-9", "10+")
WORKSHOP_DOSE_BINS = ("0", "1", "2", "3+")
DIMENSIONS = ("age_band", "gender", "language")
MESSAGE_FIELDS = ("delivered", "delivered_contacts", "failed", "undelivered", "opt_outs", "clicked")

# Cells that are not rows of a table.
REACHED, SMS_REACHED, WORKSHOP_REACHED = ("reached",), ("sms_reached",), ("workshop_reached",)
SMS_ONLY, WORKSHOP_ONLY, BOTH = ("sms_only",), ("workshop_only",), ("both",)
TARGETED, DELIVERED, FAILED, UNDELIVERED = (
    ("targeted",),
    ("delivered",),
    ("failed",),
    ("undelivered",),
)
FAILURES = ("failures",)  # failed + undelivered: follows from the delivery rate
OPT_OUTS, ATTENDANCES = ("opt_outs",), ("attendances",)


def bin_of(value: int, bins: tuple[str, ...]) -> str:
    for label in bins:
        if label.endswith("+"):
            if value >= int(label[:-1]):
                return label
        elif "-" in label:
            low, high = (int(x) for x in label.split("-"))
            if low <= value <= high:
                return label
        elif value == int(label):
            return label
    return bins[-1]


def _weight(label: str) -> int:
    """The number of a dose row (its lower end for a range)."""
    return int(label.split("-")[0].rstrip("+"))


@dataclass
class CampaignCells:
    """The shown value (exact, or `Hidden`) of every cell, with the row keys in order."""

    shown: dict
    dimensions: dict = field(default_factory=dict)  # name -> row codes, in order
    states: list = field(default_factory=list)  # (country, state)
    municipalities: dict = field(default_factory=dict)  # state -> [(c, s, folded)]
    municipality_names: dict = field(default_factory=dict)  # (c, s, folded) -> name
    failure_codes: list = field(default_factory=list)  # codes, None last
    median_messages: object = None
    median_workshops: object = None

    def __getitem__(self, key):
        return self.shown[key]


def _rollup(groups, key) -> Counter:
    counts = Counter()
    for g in groups:
        counts[key(g)] += g.n
    return counts


def _add_breakdown(
    linked: Linked, name, keys, reached: Counter, targeted: Counter, totals=(REACHED, TARGETED)
):
    """One representativeness breakdown: its rows add up to reached and to targeted."""
    for side, counts, total in (("r", reached, totals[0]), ("t", targeted, totals[1])):
        cells = [linked.add((name, key, side), counts[key]) for key in keys]
        linked.partition(total, cells)


def campaign_cells(f: CampaignFigures, threshold: int | None) -> CampaignCells:
    """Every count of the campaign page as the viewer sees it (`threshold` None: exact)."""
    linked = Linked(threshold)
    cells = CampaignCells(shown={})
    _add_headline(linked, f)
    _add_people(linked, f, cells)
    # Dose. "0 messages" is "reached in workshops only", "0 workshops" "by SMS only"; the
    # rows weighted by their number add up to the deliveries and the attendances (a range
    # row adds an unknown remainder: at most 3 a contact for "6-9", any for "10+").
    _add_dose(
        linked,
        "message_dose",
        f.message_dose,
        MESSAGE_DOSE_BINS,
        WORKSHOP_ONLY,
        SMS_REACHED,
        DELIVERED,
    )
    _add_dose(
        linked,
        "workshop_dose",
        f.workshop_dose,
        WORKSHOP_DOSE_BINS,
        SMS_ONLY,
        WORKSHOP_REACHED,
        ATTENDANCES,
    )
    _add_messages(linked, f, cells)
    _add_channels(linked, f)
    _add_funnel(linked, f)

    cells.shown = linked.shown()
    hidden_dose = {
        name: any(isinstance(v, Hidden) for k, v in cells.shown.items() if k[0] == name)
        for name in ("message_dose", "workshop_dose")
    }
    cells.median_messages = _median(f.message_dose, hidden_dose["message_dose"], threshold)
    cells.median_workshops = _median(f.workshop_dose, hidden_dose["workshop_dose"], threshold)
    return cells


def _add_headline(linked: Linked, f: CampaignFigures) -> None:
    """Headline figures. Anchors are the campaign's row on the organization dashboard."""
    channels = f.channels
    for key, value in (
        (REACHED, f.reached),
        (SMS_REACHED, f.sms_reached),
        (WORKSHOP_REACHED, f.workshop_reached),
        (DELIVERED, f.delivered),
        (FAILURES, f.failed + f.undelivered),
        (OPT_OUTS, f.opt_outs),
    ):
        linked.add(key, value, ANCHOR)
    for key, value in (
        (SMS_ONLY, channels["sms_only"]),
        (WORKSHOP_ONLY, channels["workshop_only"]),
        (BOTH, channels["both"]),
    ):
        linked.add(key, value, PART)
    for key, value in (
        (TARGETED, f.targeted),
        (FAILED, f.failed),
        (UNDELIVERED, f.undelivered),
        (ATTENDANCES, f.attendances),
    ):
        linked.add(key, value, TOTAL)
    linked.partition(REACHED, [SMS_ONLY, WORKSHOP_ONLY, BOTH])
    linked.partition(SMS_REACHED, [SMS_ONLY, BOTH])
    linked.partition(WORKSHOP_REACHED, [WORKSHOP_ONLY, BOTH])
    linked.partition(FAILURES, [FAILED, UNDELIVERED])


ATTRIBUTES = {
    "age_band": (lambda g: g.age_band, REPORT_AGE_BANDS),
    "gender": (lambda g: g.gender, GENDERS + (UNKNOWN,)),
    "language": (lambda g: g.language, LANGUAGES + (UNKNOWN,)),
}


def _state_key(g) -> tuple:
    return (g.country, g.state)


def _muni_key(g) -> tuple:
    return (g.country, g.state, fold(g.municipality) if g.municipality else "")


def _add_people(linked: Linked, f: CampaignFigures, cells: CampaignCells) -> None:
    """Representativeness: age band, gender, language, state, and municipalities (spellings
    folded together) that add up to their state."""
    for name in DIMENSIONS:
        attr, order = ATTRIBUTES[name]
        reached, targeted = _rollup(f.reached_groups, attr), _rollup(f.targeted_groups, attr)
        # "other ages" and "unknown" rows appear only when someone is in them.
        keys = [k for k in order if k not in (UNKNOWN, OTHER_AGE) or reached[k] or targeted[k]]
        keys += sorted((set(reached) | set(targeted)) - set(order))
        cells.dimensions[name] = keys
        _add_breakdown(linked, name, keys, reached, targeted)
    r_state = _rollup(f.reached_groups, _state_key)
    t_state = _rollup(f.targeted_groups, _state_key)
    cells.states = sorted(set(r_state) | set(t_state), key=lambda k: (k[0], k[1] == UNKNOWN, k[1]))
    _add_breakdown(linked, "state", cells.states, r_state, t_state)
    r_muni, t_muni = _rollup(f.reached_groups, _muni_key), _rollup(f.targeted_groups, _muni_key)
    for state in cells.states:
        keys = sorted(
            (k for k in set(r_muni) | set(t_muni) if k[:2] == state),
            key=lambda k: (k[2] == "", k[2]),
        )
        cells.municipalities[state] = keys
        _add_breakdown(
            linked,
            "muni",
            keys,
            r_muni,
            t_muni,
            totals=(("state", state, "r"), ("state", state, "t")),
        )
    spellings: dict = {}
    for g in f.reached_groups + f.targeted_groups:
        spellings.setdefault(_muni_key(g), Counter())[g.municipality or ""] += g.n
    cells.municipality_names = {
        key: counts.most_common(1)[0][0] if key[2] else "" for key, counts in spellings.items()
    }


def _add_messages(linked: Linked, f: CampaignFigures, cells: CampaignCells) -> None:
    """Failure reasons add up to the failures; messages add up to the campaign's
    deliveries, failures and opt-outs; a message is delivered once per contact."""
    cells.failure_codes = sorted(f.failure_codes, key=lambda c: (c is None, c or ""))
    linked.partition(
        FAILURES, [linked.add(("failure", c), f.failure_codes[c]) for c in cells.failure_codes]
    )
    for i, m in enumerate(f.messages):
        for name in MESSAGE_FIELDS:
            linked.add(("message", i, name), getattr(m, name))
        linked.equal(("message", i, "delivered"), ("message", i, "delivered_contacts"))
    for name, total in (
        ("delivered", DELIVERED),
        ("failed", FAILED),
        ("undelivered", UNDELIVERED),
        ("opt_outs", OPT_OUTS),
    ):
        linked.partition(total, [("message", i, name) for i in range(len(f.messages))])


def _add_channels(linked: Linked, f: CampaignFigures) -> None:
    """Reach by channel (issue 19): the message channels add up to the contacts reached
    by SMS (a delivered message), workshop only is the headline's. Per message, the
    channels' deliveries add up to the message's, and WhatsApp's read messages are at most
    its deliveries (an unknown non-negative remainder)."""
    if f.by_channel is None:
        return
    parts = []
    for key in REACH_CHANNELS:
        cell = linked.add(("reach_channel", key), f.by_channel.reach.get(key, 0))
        if key != "workshop_only":
            parts.append(cell)
    linked.partition(SMS_REACHED, parts)
    linked.equal(("reach_channel", "workshop_only"), WORKSHOP_ONLY)
    index = {m.message_id: i for i, m in enumerate(f.messages)}
    per_message: dict = {}
    for mc in f.by_channel.messages:
        delivered = linked.add(("msgch", mc.message_id, mc.channel, "delivered"), mc.delivered)
        per_message.setdefault(mc.message_id, []).append(delivered)
        if mc.read is not None:
            read = linked.add(("msgch", mc.message_id, mc.channel, "read"), mc.read)
            unread = linked.slack(("slack", "unread", mc.message_id), mc.delivered - mc.read)
            linked.equation({read: 1, unread: 1, delivered: -1})
    for message_id, cells in per_message.items():
        if message_id in index:
            linked.partition(("message", index[message_id], "delivered"), cells)


# Within a funnel row: a whole and the parts it is made of, plus others (none, usually).
FUNNEL_IDENTITIES = (
    ("attended", ("attended_after_rsvp", "walk_ins")),
    ("rsvp_yes", ("attended_after_rsvp", "no_shows")),
)


def _add_funnel(linked: Linked, f: CampaignFigures) -> None:
    """Each step adds up over the workshops; attendees are the RSVP-yes attendees plus the
    walk-ins (plus others), RSVP yes the RSVP-yes attendees plus the no-shows (plus others);
    attendances are the attendees of every workshop."""
    totals = f.funnel_totals()
    workshops = range(len(f.workshops))
    for name in FUNNEL_FIELDS:
        linked.add(("funnel_total", name), totals[name], TOTAL)
        for i in workshops:
            linked.add(("funnel", i, name), getattr(f.workshops[i], name))
        linked.partition(("funnel_total", name), [("funnel", i, name) for i in workshops])
    for row in [("funnel", i) for i in workshops] + [("funnel_total",)]:
        for whole, parts in FUNNEL_IDENTITIES:
            rest = linked.values[(*row, whole)] - sum(linked.values[(*row, p)] for p in parts)
            if rest < 0:  # not an identity when someone is both, e.g. an RSVP walk-in
                continue
            terms = {(*row, whole): -1, **{(*row, p): 1 for p in parts}}
            if rest:
                terms[linked.slack(("slack", *row, whole), rest)] = 1
            linked.equation(terms, partition=not rest)
    linked.partition(ATTENDANCES, [("funnel", i, "attended") for i in workshops])


def _add_dose(
    linked: Linked,
    name: str,
    distribution: Counter,
    bins: tuple[str, ...],
    zero,
    at_least_one,
    weighted_total,
) -> None:
    binned, beyond = Counter(), 0
    for value, n in distribution.items():
        label = bin_of(value, bins)
        binned[label] += n
        beyond += (value - _weight(label)) * n  # above the lower end of a range row
    keys = [linked.add((name, b), binned[b]) for b in bins]
    linked.partition(REACHED, keys)
    linked.equal((name, "0"), zero)
    linked.partition(at_least_one, [k for k in keys if k[1] != "0"])
    terms = {key: _weight(key[1]) for key in keys}
    terms[weighted_total] = -1
    if any(b.endswith("+") or "-" in b for b in bins if binned[b]):
        slack = linked.slack(("slack", name), beyond)
        terms[slack] = 1
        closed = [b for b in bins if "-" in b]
        if not any(binned[b] for b in bins if b.endswith("+")) and closed:
            # Without anybody in the open row, the remainder is at most (high - low) a head.
            room = {(name, b): int(b.split("-")[1]) - _weight(b) for b in closed}
            spare = sum(room[k] * binned[k[1]] for k in room) - beyond
            linked.equation({**room, slack: -1, linked.slack(("slack", name, "room"), spare): -1})
    linked.equation(terms)


def _median(distribution: Counter, hidden: bool, threshold: int | None):
    value = median(distribution)
    return Hidden(SECONDARY, threshold) if hidden and value is not None else value
