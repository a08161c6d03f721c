"""Which channel and which form each outgoing message takes, decided when it is prepared,
and what happens when WhatsApp refuses it (issue 19).

At preparation (preparing.py), for a row prepared for the first time:

* outreach (campaign, invitation, reminder, survey…) goes on `channel_for(contact)`; an
  answer keeps the channel its feature set on the row (the channel the contact wrote on);
  a fallback or a retry (`fallback_of_id`) keeps the one it was created with;
* on WhatsApp, inside the 24-hour window the text goes as is ("free_form"); outside it the
  approved template of the message in the row's language ("template": its content SID and
  variables, from the registered template pickers: app.whatsapp registers one); without
  one, the organization's `whatsapp_no_template` rule: "sms" sends the text by SMS, "hold"
  leaves the row held with the reason `no_whatsapp_template`.

A row prepared before keeps what it was given (like its text).

When WhatsApp refuses a message (at create, or later in a failed/undelivered status
callback), `after_failure` runs in the same transaction that records the failure:

* not on WhatsApp / unreachable there (gateway.WHATSAPP_UNREACHABLE_CODES): the contact is
  marked `whatsapp_unreachable_at` (for "not on WhatsApp" codes: channel_for gives SMS from
  then on) and, when the organization's `whatsapp_fallback_sms` is on, a new SMS row with the
  same text replaces the failed one;
* outside the window (63016): a new WhatsApp row that must use the template (its
  preparation applies the no-template rule when there is none).

The replacement row references the failed one in `fallback_of_id`, which is unique: a
repeated callback, a retry or a crash between two attempts can never create a second one,
and the replacement is created in the failure's own transaction (both or neither).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError

from app.contacts.channels import (
    WHATSAPP_WINDOW,
    channel_for,
    whatsapp_usable_clause,
    window_open,
)
from app.contacts.models import Contact
from app.extensions import db
from app.messaging.gateway import (
    WHATSAPP_NOT_ON_CODES,
    WHATSAPP_UNREACHABLE_CODES,
    WHATSAPP_WINDOW_CODE,
)
from app.organizations.models import Organization
from app.outbox.models import ANSWERS, OutboxMessage

FREE_FORM = "free_form"
TEMPLATE = "template"
FORMS = (FREE_FORM, TEMPLATE)
NO_TEMPLATE_REASON = "no_whatsapp_template"  # skip_reason of a row held by the "hold" rule
# WhatsApp rejects a template whose variable is empty: a blank value goes as this.
EMPTY_VARIABLE = "-"


@dataclass(frozen=True)
class TemplateRequest:
    """A WhatsApp row outside the window, asking for its approved template."""

    id: int
    organization_id: int
    contact_id: int
    campaign_id: int | None
    message_id: int | None
    workshop_id: int | None
    language: str
    purpose: str


@dataclass(frozen=True)
class TemplateChoice:
    content_sid: str
    variables: dict[str, str]  # numbered variable ("1") -> value

    def variables_json(self) -> str:
        values = {k: (str(v).strip() or EMPTY_VARIABLE) for k, v in self.variables.items()}
        return json.dumps(dict(sorted(values.items(), key=lambda kv: int(kv[0]))))


# (requests, now) -> {row id: choice} for the rows that have an approved template.
TemplatePicker = Callable[[list[TemplateRequest], datetime], dict[int, TemplateChoice]]
_PICKERS: list[TemplatePicker] = []


def register_template_picker(picker: TemplatePicker) -> None:
    if picker not in _PICKERS:
        _PICKERS.append(picker)


def pick_templates(requests: list[TemplateRequest], now: datetime) -> dict[int, TemplateChoice]:
    found: dict[int, TemplateChoice] = {}
    if not requests:
        return found
    for picker in _PICKERS:
        for row_id, choice in picker(requests, now).items():
            found.setdefault(row_id, choice)
    return found


# organization id -> {template name: languages it is approved in}; registered by app.whatsapp.
TemplateCatalog = Callable[[int], dict[str, frozenset]]
_CATALOGS: list[TemplateCatalog] = []


def register_template_catalog(catalog: TemplateCatalog) -> None:
    if catalog not in _CATALOGS:
        _CATALOGS.append(catalog)


def template_catalog(organization_id: int) -> dict[str, frozenset]:
    """The organization's templates approved (with a content) in at least one language: the
    only ones a campaign message may name."""
    found: dict[str, frozenset] = {}
    for catalog in _CATALOGS:
        for name, languages in catalog(organization_id).items():
            found[name] = found.get(name, frozenset()) | frozenset(languages)
    return found


@dataclass(frozen=True)
class Plan:
    """What a row becomes: its channel and WhatsApp form, or a hold (`held_reason`)."""

    channel: str = "sms"
    form: str | None = None
    content_sid: str | None = None
    content_variables: str | None = None
    held_reason: str | None = None
    # Why it goes this way (the editor's counts): "sms", "free_form", "template",
    # "sms_no_template", "held_no_template", "sms_fallback".
    why: str = "sms"


def wanted_channel(row, contact) -> str:
    """The channel before the window and templates are considered."""
    if row.fallback_of_id is not None or row.purpose in ANSWERS:
        return row.channel or "sms"
    return channel_for(contact)


def needs_template(row, contact, now: datetime) -> bool:
    return row.whatsapp_form == TEMPLATE or not window_open(contact, now=now)


def plan(row, contact, org, now: datetime, template: TemplateChoice | None) -> Plan:
    """The plan of a row prepared for the first time (see the module docstring)."""
    channel = wanted_channel(row, contact)
    if channel != "whatsapp":
        return Plan(why="sms_fallback" if row.fallback_of_id is not None else "sms")
    if not needs_template(row, contact, now):
        return Plan("whatsapp", FREE_FORM, why=FREE_FORM)
    if template is not None:
        return Plan(
            "whatsapp",
            TEMPLATE,
            template.content_sid,
            template.variables_json(),
            why=TEMPLATE,
        )
    if org.whatsapp_no_template == "hold":
        return Plan("whatsapp", held_reason=NO_TEMPLATE_REASON, why="held_no_template")
    return Plan("sms", why="sms_no_template")


# --- after a WhatsApp failure -------------------------------------------------------------------


def _code(error_code) -> int | None:
    try:
        return int(error_code)
    except (TypeError, ValueError):
        return None


def after_failure(row: OutboxMessage, error_code, *, now: datetime) -> OutboxMessage | None:
    """Called (in the caller's transaction) when a WhatsApp row failed with `error_code`;
    returns the replacement row, if one was created now."""
    code = _code(error_code)
    if row.channel != "whatsapp" or row.contact_id is None or code is None:
        return None
    if code in WHATSAPP_UNREACHABLE_CODES:
        contact = db.session.get(Contact, row.contact_id)
        if code in WHATSAPP_NOT_ON_CODES and contact.whatsapp_unreachable_at is None:
            contact.whatsapp_unreachable_at = now
        org = db.session.get(Organization, row.organization_id)
        if not org.whatsapp_fallback_sms:
            return None
        return _replace(row, channel="sms", form=None, now=now)
    if code == WHATSAPP_WINDOW_CODE and row.whatsapp_form != TEMPLATE:
        return _replace(row, channel="whatsapp", form=TEMPLATE, now=now)
    return None


# A replacement shares its send's (send, contact, occurrence) key otherwise.
REPLACEMENT_OCCURRENCE = 1_000_000


def _replace(failed: OutboxMessage, *, channel: str, form: str | None, now: datetime):
    if (
        db.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.fallback_of_id == failed.id).limit(1)
        )
        is not None
    ):
        return None
    replacement = OutboxMessage(
        organization_id=failed.organization_id,
        campaign_id=failed.campaign_id,
        send_id=failed.send_id,
        message_id=failed.message_id,
        contact_id=failed.contact_id,
        user_id=failed.user_id,
        workshop_id=failed.workshop_id,
        occurrence=(failed.occurrence or 0) + REPLACEMENT_OCCURRENCE,
        channel=channel,
        whatsapp_form=form,
        purpose=failed.purpose,
        language=failed.language,
        # The failed row's final text (opt-out line and links included): prepared already,
        # so its preparation neither adds a second opt-out line nor new links.
        body=failed.body,
        with_opt_out_notice=failed.with_opt_out_notice,
        prepared_at=failed.prepared_at,
        due_at=now,
        expires_at=failed.expires_at,
        status="scheduled",
        fallback_of_id=failed.id,
        created_at=now,
    )
    try:
        with db.session.begin_nested():  # a concurrent twin wins on the unique index
            db.session.add(replacement)
    except IntegrityError:
        return None
    return replacement


# --- what a send will do, per recipient (the editor's and the send confirmation's counts) ------

# Why a recipient gets what it gets, in display order.
WAYS = (
    FREE_FORM,
    TEMPLATE,
    "sms",
    "sms_fallback",
    "sms_no_template",
    "held_no_template",
)
WAY_LABELS = {
    # TRANSLATORS: how many recipients get a WhatsApp message written freely (within 24 hours
    # of their last WhatsApp message).
    FREE_FORM: _l("WhatsApp, free text: they wrote to you on WhatsApp in the last 24 hours"),
    TEMPLATE: _l("WhatsApp, approved template: their last WhatsApp message is older than 24 hours"),
    "sms": _l("SMS: they prefer SMS"),
    "sms_fallback": _l(
        "SMS instead of WhatsApp: they prefer WhatsApp but have not opted in to it, "
        "opted out of it, or their number is not on WhatsApp"
    ),
    "sms_no_template": _l(
        "SMS instead of WhatsApp: no approved template in their language "
        "(your organization sends these by SMS)"
    ),
    "held_no_template": _l(
        "On hold: no approved template in their language (your organization holds these "
        "until one is approved)"
    ),
}


def forecast(
    contact_ids,
    *,
    organization: Organization,
    template_name: str | None,
    now: datetime,
) -> dict[str, int]:
    """{way: recipients} for the contacts selected by `contact_ids` (a SELECT of Contact.id)
    if the message went now: the same rules as `plan`, in one grouped query. A contact's
    window may close (or open) before the message actually goes."""
    languages = (
        sorted(template_catalog(organization.id).get(template_name, ())) if template_name else []
    )
    no_template = (
        "held_no_template" if organization.whatsapp_no_template == "hold" else ("sms_no_template")
    )
    whatsapp_ways = [(Contact.last_whatsapp_in_at > now - WHATSAPP_WINDOW, FREE_FORM)]
    if languages:
        whatsapp_ways.append((Contact.language.in_(languages), TEMPLATE))
    way = case(
        (whatsapp_usable_clause(), case(*whatsapp_ways, else_=no_template)),
        (Contact.preferred_channel == "whatsapp", "sms_fallback"),
        else_="sms",
    )
    rows = db.session.execute(
        select(way.label("way"), func.count())
        .where(and_(Contact.id.in_(contact_ids), Contact.organization_id == organization.id))
        .group_by(way)
    ).all()
    counts = dict.fromkeys(WAYS, 0)
    counts.update({w: n for w, n in rows})
    return counts
