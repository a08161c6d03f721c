"""Dashboard tables: the exact figures as rows, with suppression applied.

Builders take the exact figures (campaign.py, organization.py) and the viewer's
suppression threshold (None for exact counts) and return `Table`s, shaped as their
`specs.SPECS` describe, whose people counts may be `Hidden`.
"""

from dataclasses import dataclass, field

from flask_babel import format_date, format_decimal, format_number, format_percent
from flask_babel import gettext as _

from app.campaigns.models import LEVELS, STRATEGIES
from app.campaigns.services import LEVEL_LABELS, STRATEGY_LABELS
from app.contacts.validation import fold
from app.reports.breakdowns import (
    ATTENDANCES,
    BOTH,
    DELIVERED,
    FAILED,
    FAILURES,
    MESSAGE_DOSE_BINS,
    MESSAGE_FIELDS,
    OPT_OUTS,
    REACHED,
    SMS_ONLY,
    SMS_REACHED,
    TARGETED,
    UNDELIVERED,
    WORKSHOP_DOSE_BINS,
    WORKSHOP_ONLY,
    WORKSHOP_REACHED,
    CampaignCells,
    campaign_cells,
)
from app.reports.campaign import CampaignFigures
from app.reports.channels import REACH_CHANNELS
from app.reports.conversations import (
    CAMPAIGN,
    CELL,
    MONTH,
    OVERALL,
    STEP_FIELDS,
    ConversationCells,
    ConversationFigures,
    acknowledge_times,
    conversation_cells,
)
from app.reports.funnel import FUNNEL_FIELDS
from app.reports.labels import (
    NO_CODE,
    age_label,
    error_code_label,
    gender_label,
    language_label,
    state_label,
)
from app.reports.numbers import ratio
from app.reports.organization import OrganizationFigures
from app.reports.specs import CAMPAIGN_TABLES, ORGANIZATION_TABLES, SPECS, TableSpec
from app.reports.suppression import Hidden, derived

# --- built tables and their cells ------------------------------------------------------


@dataclass
class Table:
    spec: TableSpec
    rows: list[list] = field(default_factory=list)
    total: list | None = None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def has_hidden(self) -> bool:
        return any(isinstance(c, Hidden) for row in self.rows for c in row)

    def column_values(self, key: str) -> list:
        index = [c.key for c in self.spec.columns].index(key)
        return [row[index] for row in self.rows]

    def display_row(self, row: list, *, total: bool = False) -> list[str]:
        """A row's cells as the page shows them (labels translated, numbers localized)."""
        units = self._unit_index()
        return [
            str(column.labeler(cell))
            if column.labeler and isinstance(cell, str) and not total
            else display(cell, column.kind if column.kind != "value" else row[units])
            for column, cell in zip(self.spec.columns, row, strict=True)
        ]

    def csv_row(self, row: list) -> list[str]:
        units = self._unit_index()
        return [
            csv_value(cell, column.kind if column.kind != "value" else row[units])
            for column, cell in zip(self.spec.columns, row, strict=True)
        ]

    def _unit_index(self) -> int | None:
        keys = [c.key for c in self.spec.columns]
        return keys.index("unit") if "unit" in keys else None


UNIT_KINDS = {
    "people": "people",
    "messages": "count",
    "campaigns": "count",
    "attendances": "count",
    "proportion": "rate",
    "average": "decimal",
}


def display(value, kind: str) -> str:
    """A cell as the page shows it, in the viewer's locale."""
    kind = UNIT_KINDS.get(kind, kind)
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, Hidden):
        return str(value)
    if kind == "rate":
        return format_percent(value, "#,##0.0%")
    if kind == "decimal":
        return format_decimal(value, "#,##0.0#")
    if kind in ("people", "count"):
        return format_number(value)
    if kind == "date":
        return format_date(value, "medium")
    return str(value)


def csv_value(value, kind: str) -> str:
    """A cell as exported: dot decimals, ISO dates, suppression markers as text."""
    kind = UNIT_KINDS.get(kind, kind)
    if value is None or value == "":
        return ""
    if isinstance(value, Hidden):
        return str(value)
    if kind == "rate":
        return f"{value:.4f}"
    if kind == "decimal":
        return f"{value:.2f}"
    if kind == "date":
        return value.isoformat()
    return str(value)


# --- builders ----------------------------------------------------------------------------


def _share(cell, total):
    """A count over its total: hidden when either is hidden (see `derived`)."""
    if isinstance(cell, Hidden) or isinstance(total, Hidden):
        return derived(None, cell, total)
    return ratio(cell, total)


def _rate(numerator, *denominator):
    """numerator / sum(denominator), hidden when any of them is hidden."""
    if any(isinstance(v, Hidden) for v in (numerator, *denominator)):
        return derived(None, numerator, *denominator)
    return ratio(numerator, sum(denominator))


def _summary_rows(f: CampaignFigures, cells: CampaignCells) -> list[list]:
    c = cells
    rows = [
        ("reached", _("Reached"), c[REACHED], "people"),
        ("reached_sms_only", _("Reached by SMS only"), c[SMS_ONLY], "people"),
        ("reached_workshop_only", _("Reached in workshops only"), c[WORKSHOP_ONLY], "people"),
        ("reached_both", _("Reached by SMS and in workshops"), c[BOTH], "people"),
        ("sms_reached", _("Reached by SMS"), c[SMS_REACHED], "people"),
        ("workshop_reached", _("Reached in workshops"), c[WORKSHOP_REACHED], "people"),
        ("target_population", _("Target population"), f.target_population, "people"),
        (
            "reach_proportion",
            _("Reach proportion"),
            _rate(c[REACHED], f.target_population) if f.target_population else None,
            "proportion",
        ),
        ("targeted", _("Targeted audience"), c[TARGETED], "people"),
        ("messages_delivered", _("Messages delivered"), c[DELIVERED], "messages"),
        ("messages_failed", _("Messages failed"), c[FAILED], "messages"),
        ("messages_undelivered", _("Messages undelivered"), c[UNDELIVERED], "messages"),
        (
            "delivery_rate",
            _("Delivery rate"),
            _rate(c[DELIVERED], c[DELIVERED], c[FAILURES]),
            "proportion",
        ),
        ("opt_outs", _("Opt-outs"), c[OPT_OUTS], "people"),
        ("opt_out_rate", _("Opt-out rate"), _rate(c[OPT_OUTS], c[SMS_REACHED]), "proportion"),
        ("replies", _("Contacts who replied"), f.replies, "people"),
        ("reply_rate", _("Reply rate"), _rate(f.replies, c[SMS_REACHED]), "proportion"),
        ("engaged", _("Engaged contacts"), f.engaged, "people"),
        ("engagement_rate", _("Engagement rate"), _rate(f.engaged, c[SMS_REACHED]), "proportion"),
        ("median_messages", _("Median messages per reached contact"), c.median_messages, "average"),
        (
            "mean_messages",
            _("Average messages per reached contact"),
            _rate(c[DELIVERED], c[REACHED]),
            "average",
        ),
        (
            "median_workshops",
            _("Median workshops per reached contact"),
            c.median_workshops,
            "average",
        ),
        ("attendances", _("Workshop attendances"), c[ATTENDANCES], "attendances"),
    ]
    return [list(r) for r in rows]


# Representativeness: age band, gender, language, state, municipality.


def _representation_row(cells: CampaignCells, name: str, key) -> list:
    """(reached, reached share, targeted, targeted share) of one breakdown row."""
    reached, targeted = cells[(name, key, "r")], cells[(name, key, "t")]
    return [reached, _share(reached, cells[REACHED]), targeted, _share(targeted, cells[TARGETED])]


def _total_row(cells: CampaignCells, lead: int) -> list:
    """A representativeness table's total row: `lead` label cells, then the totals."""
    reached, targeted = cells[REACHED], cells[TARGETED]
    return (
        [_("Total")]
        + [""] * (lead - 1)
        + [reached, _share(reached, reached), targeted, _share(targeted, targeted)]
    )


def _fill_representation(tables: dict[str, Table], c: CampaignCells) -> None:
    for name, label in (
        ("age_band", age_label),
        ("gender", gender_label),
        ("language", language_label),
    ):
        tables[name].rows = [
            [k, label(k), *_representation_row(c, name, k)] for k in c.dimensions[name]
        ]
        tables[name].total = _total_row(c, 2)
    tables["state"].rows = [
        [
            country,
            state,
            state_label(country, state),
            *_representation_row(c, "state", (country, state)),
        ]
        for country, state in c.states
    ]
    tables["state"].total = _total_row(c, 3)
    tables["municipality"].rows = [
        [
            key[0],
            key[1],
            state_label(key[0], key[1]),
            c.municipality_names.get(key, ""),
            *_representation_row(c, "muni", key),
        ]
        for state in c.states
        for key in c.municipalities[state]
    ]
    tables["municipality"].total = _total_row(c, 4)


def _place_rows(f: CampaignFigures, c: CampaignCells) -> list[list]:
    """Target places read their reach from the state/municipality rows (the same cells)."""
    rows = []
    for place in f.places:
        if place.municipality:
            key = ("muni", (place.country, place.state, fold(place.municipality)), "r")
        else:
            key = ("state", (place.country, place.state), "r")
        reached = c.shown.get(key, 0)
        rows.append(
            [
                place.country,
                place.state,
                state_label(place.country, place.state),
                place.municipality or "",
                place.target,
                reached,
                _rate(reached, place.target),
            ]
        )
    return rows


def _fill_doses(tables: dict[str, Table], c: CampaignCells) -> None:
    for name, bins in (("message_dose", MESSAGE_DOSE_BINS), ("workshop_dose", WORKSHOP_DOSE_BINS)):
        tables[name].rows = [[b, c[(name, b)], _share(c[(name, b)], c[REACHED])] for b in bins]
        tables[name].total = [_("Total"), c[REACHED], _share(c[REACHED], c[REACHED])]


def _fill_failures(table: Table, c: CampaignCells) -> None:
    table.rows = [
        [
            code or NO_CODE,
            error_code_label(code or NO_CODE),
            c[("failure", code)],
            _share(c[("failure", code)], c[FAILURES]),
        ]
        for code in c.failure_codes
    ]
    table.total = [_("Total"), "", c[FAILURES], _share(c[FAILURES], c[FAILURES])]


def _message_rows(f: CampaignFigures, c: CampaignCells) -> list[list]:
    rows = []
    for i, m in enumerate(f.messages):
        delivered, contacts, failed, undelivered, opt_outs, clicked = (
            c[("message", i, name)] for name in MESSAGE_FIELDS
        )
        rows.append(
            [
                m.message_id,
                m.label or _("Workshop notices"),
                delivered,
                contacts,
                failed,
                undelivered,
                _rate(delivered, delivered, failed, undelivered),
                opt_outs,
                _rate(opt_outs, contacts),
                clicked,
                _rate(clicked, contacts),
            ]
        )
    return rows


def _channel_labels() -> dict:
    return {
        "sms_only": _("Messages by SMS only"),
        "whatsapp_only": _("Messages by WhatsApp only"),
        "sms_and_whatsapp": _("Messages by SMS and WhatsApp"),
        "workshop_only": _("Workshops only"),
        "sms": _("SMS"),
        "whatsapp": _("WhatsApp"),
    }


def _fill_channels(tables: dict[str, Table], f: CampaignFigures, c: CampaignCells) -> None:
    """Reach by channel and read rates per message and channel (issue 19)."""
    if f.by_channel is None:
        return
    labels = _channel_labels()
    tables["reach_channel"].rows = [
        [key, labels[key], c[("reach_channel", key)], _share(c[("reach_channel", key)], c[REACHED])]
        for key in REACH_CHANNELS
    ]
    tables["reach_channel"].total = ["", _("Total"), c[REACHED], _share(c[REACHED], c[REACHED])]
    names = {m.message_id: m.label for m in f.messages}
    rows = []
    for mc in f.by_channel.messages:
        delivered = c[("msgch", mc.message_id, mc.channel, "delivered")]
        read = c[("msgch", mc.message_id, mc.channel, "read")] if mc.read is not None else None
        rows.append(
            [
                mc.message_id,
                names.get(mc.message_id) or _("Workshop notices"),
                mc.channel,
                labels[mc.channel],
                delivered,
                read,
                None if read is None else _rate(read, delivered),
            ]
        )
    tables["message_channels"].rows = rows


def _fill_funnel(table: Table, f: CampaignFigures, c: CampaignCells, language: str) -> None:
    for i, w in enumerate(f.workshops):
        cells = {name: c[("funnel", i, name)] for name in FUNNEL_FIELDS}
        table.rows.append(
            [
                w.workshop_id,
                w.code,
                w.title_for(language),
                w.local_date,
                *(cells[name] for name in FUNNEL_FIELDS),
                _rate(cells["rsvp_yes"], cells["invited"]),
                _rate(cells["attended_after_rsvp"], cells["rsvp_yes"]),
            ]
        )
    totals = {name: c[("funnel_total", name)] for name in FUNNEL_FIELDS}
    table.total = [
        _("Total"),
        "",
        "",
        "",
        *(totals[n] for n in FUNNEL_FIELDS),
        _rate(totals["rsvp_yes"], totals["invited"]),
        _rate(totals["attended_after_rsvp"], totals["rsvp_yes"]),
    ]


def campaign_tables(
    figures: CampaignFigures, threshold: int | None, language: str
) -> dict[str, Table]:
    """Every campaign dashboard table; `threshold` None means exact counts.

    Every count comes from one `campaign_cells` call (breakdowns.py), so a figure hidden in
    one table is hidden in every table, total, headline and chart that shows it."""
    f = figures
    c = campaign_cells(f, threshold)
    tables = {key: Table(SPECS[key]) for key in CAMPAIGN_TABLES}
    tables["summary"].rows = _summary_rows(f, c)
    _fill_representation(tables, c)
    tables["places"].rows = _place_rows(f, c)
    _fill_doses(tables, c)
    _fill_failures(tables["failures"], c)
    tables["messages"].rows = _message_rows(f, c)
    _fill_channels(tables, f, c)
    _fill_funnel(tables["funnel"], f, c, language)
    # The time series adds up to reached (an anchor, never hidden): shown as is.
    tables["time_series"].rows = [[p.start, p.new, p.cumulative] for p in f.series]
    if f.conversations is not None:
        _fill_campaign_conversations(
            tables["conversation_funnel"],
            f.conversations,
            conversation_cells(f.conversations, threshold),
            f.campaign_id,
        )
    return tables


# The conversation funnel: one suppressed table of the organization (conversations.py),
# of which each page shows its part.


def _conversation_cells(f: ConversationFigures, c: ConversationCells, row: tuple) -> list:
    shown = c.row(*row)
    return [shown[name] for name in STEP_FIELDS] + list(acknowledge_times(f, c, row))


def _fill_campaign_conversations(
    table: Table, f: ConversationFigures, c: ConversationCells, campaign_id: int
) -> None:
    table.rows = [
        [month, *_conversation_cells(f, c, (CELL, campaign_id, month))]
        for month in f.months
        if (campaign_id, month) in f.cells
    ]
    table.total = [_("Total"), *_conversation_cells(f, c, (CAMPAIGN, campaign_id))]


CONVERSATION_TABLES = ("conversations", "conversations_by_month")


def _fill_organization_conversations(
    tables: dict[str, Table], f: ConversationFigures, threshold: int | None
) -> None:
    c = conversation_cells(f, threshold)
    total = _conversation_cells(f, c, (OVERALL,))
    tables["conversations"].rows = [
        [campaign_id, name or _("No campaign"), *_conversation_cells(f, c, (CAMPAIGN, campaign_id))]
        for campaign_id, name in f.campaigns
    ]
    tables["conversations"].total = [_("Total"), "", *total]
    tables["conversations_by_month"].rows = [
        [month, *_conversation_cells(f, c, (MONTH, month))] for month in f.months
    ]
    tables["conversations_by_month"].total = [_("Total"), *total]


def conversation_tables(figures: OrganizationFigures, threshold: int | None) -> dict[str, Table]:
    """The organization's conversation funnel tables, suppressed for `threshold` (None:
    exact): they replace `organization_tables`' exact copies for evaluators."""
    tables = {key: Table(SPECS[key]) for key in CONVERSATION_TABLES}
    if figures.conversations is not None:
        _fill_organization_conversations(tables, figures.conversations, threshold)
    return tables


def organization_tables(figures: OrganizationFigures) -> dict[str, Table]:
    """The organization dashboard's tables: campaign-level figures, always exact (the
    conversation funnel too: pages for evaluators take `conversation_tables`)."""
    f = figures
    tables = {key: Table(SPECS[key]) for key in ORGANIZATION_TABLES}
    tables.update(conversation_tables(f, None))
    tables["org_summary"].rows = [
        list(r)
        for r in (
            ("campaigns", _("Campaigns"), len(f.campaigns), "campaigns"),
            ("reached", _("Reached"), f.reached, "people"),
            ("sms_reached", _("Reached by SMS"), f.sms_reached, "people"),
            ("workshop_reached", _("Reached in workshops"), f.workshop_reached, "people"),
            ("messages_delivered", _("Messages delivered"), f.delivered, "messages"),
            ("messages_failed", _("Messages failed"), f.failed, "messages"),
            ("messages_undelivered", _("Messages undelivered"), f.undelivered, "messages"),
            ("delivery_rate", _("Delivery rate"), f.delivery_rate, "proportion"),
            ("opt_outs", _("Opt-outs"), f.opt_outs, "people"),
            ("opt_out_rate", _("Opt-out rate"), f.opt_out_rate, "proportion"),
        )
    ]
    for s in f.campaigns:
        tables["campaigns"].rows.append(
            [
                s.campaign_id,
                s.name,
                s.status,
                s.strategy,
                s.level,
                s.reached,
                s.sms_reached,
                s.workshop_reached,
                s.delivered,
                s.delivery_rate,
                s.opt_outs,
                s.opt_out_rate,
                s.target_population,
                s.reach_proportion,
            ]
        )
    for key, rollups, order, labels in (
        ("strategy", f.by_strategy, STRATEGIES, STRATEGY_LABELS),
        ("level", f.by_level, LEVELS, LEVEL_LABELS),
    ):
        by_code = {r.code: r for r in rollups}
        for code in [c for c in order if c in by_code] + sorted(set(by_code) - set(order)):
            r = by_code[code]
            tables[key].rows.append(
                [
                    code,
                    str(labels.get(code, code)),
                    r.campaigns,
                    r.reached,
                    r.sms_reached,
                    r.workshop_reached,
                    r.delivered,
                ]
            )
    return tables
