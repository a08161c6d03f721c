"""What a send will take before it is scheduled: recipients, SMS segments, estimated cost.

Figures come from the same rules the fan-out and the worker apply:
- recipients: the audience's eligible contacts today (`audience_contacts_query`);
- text: each recipient's language version with the placeholders filled in, their own first
  name included (a name like "María" turns a GSM-7 text into UCS-2), plus the opt-out line
  when the worker will add it (the contact's first message, or every message if the
  organization chose "always");
- segments: `app.outbox.encoding.analyze` (GSM-7 160/153, UCS-2 70/67);
- channel: the contact's channel today (`contacts.channels.channel_clause`, issue 19);
- cost: for SMS, segments × the price per segment of the recipient's country; for
  WhatsApp, one message × the price per WhatsApp message of the recipient's country
  (`organizations.prices`: the organization's own prices, else the configured estimates;
  carrier fees and price changes are not known here). A WhatsApp recipient who ends up
  on SMS at send time (fallback) costs more than estimated.
"""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import exists, func, literal, select

from app.contacts.audiences import audience_contacts_query
from app.contacts.channels import channel_clause
from app.contacts.models import Contact
from app.contacts.names import greeting_name_sql
from app.experiments.allocation import not_in_holdout_sql, started_experiment
from app.extensions import db
from app.organizations.prices import price_list
from app.outbox import channel_plan
from app.outbox.encoding import analyze
from app.outbox.models import ANSWERS, OutboxMessage, counted_as_sent
from app.outbox.text import opt_out_notice
from app.outreach.fanout import FIRST_NAME_TOKEN, recipient_language_sql, rendered_bodies


@dataclass
class VersionEstimate:
    """One language version of the message."""

    language: str
    recipients: int = 0
    segments_min: int = 0  # per message, over this version's recipients
    segments_max: int = 0
    encodings: set = field(default_factory=set)  # "GSM-7" / "UCS-2"
    with_notice: int = 0  # recipients whose message carries the opt-out line
    sample: str = ""  # the text for a recipient without a first name

    @property
    def is_unicode(self) -> bool:
        return "UCS-2" in self.encodings


@dataclass
class ChannelEstimate:
    """The recipients of one channel: messages, SMS segments and cost."""

    channel: str  # "sms" or "whatsapp"
    recipients: int = 0
    messages: int = 0
    segments: int = 0  # SMS segments (0 for WhatsApp: priced per message)
    cost: Decimal = Decimal(0)
    unpriced: int = 0  # recipients in countries without a price for this channel


@dataclass
class SendEstimate:
    recipients: int
    occurrences: int  # messages per recipient (recurring sends: one per occurrence)
    messages: int
    segments: int
    cost: Decimal | None  # None: no price configured for any recipient's country
    currency: str
    unpriced_recipients: int  # recipients in countries without a configured price
    versions: list[VersionEstimate]  # the SMS recipients' language versions
    channels: list[ChannelEstimate] = field(default_factory=list)  # SMS first


def prices() -> dict[str, Decimal]:
    """The configured price per segment by country (invalid values are ignored)."""
    result = {}
    for country, value in (current_app.config.get("SMS_PRICE_PER_SEGMENT") or {}).items():
        try:
            price = Decimal(str(value))
        except InvalidOperation:
            continue
        if price.is_finite() and price >= 0:
            result[str(country).upper()] = price
    return result


def _ever_messaged():
    """The contact was messaged before (the worker's rule: no opt-out line then)."""
    return exists().where(
        OutboxMessage.contact_id == Contact.id,
        OutboxMessage.purpose.not_in(ANSWERS),
        counted_as_sent(),
    )


def _recipient_groups(send, today):
    """(language, country, first name, gets the opt-out line, channel, count) of the
    recipients."""
    org = send.campaign.organization
    notice = literal(True) if org.opt_out_notice == "always" else ~_ever_messaged()
    audience = audience_contacts_query(send.organization_id, send.audience.filters, today=today)
    experiment = started_experiment(send.campaign_id)
    if experiment is not None:  # fan-out leaves its holdout out
        audience = audience.where(not_in_holdout_sql(experiment))
    inner = audience.with_only_columns(
        recipient_language_sql(send.campaign).label("language"),
        Contact.country.label("country"),
        # The name the fan-out writes ({first_name} is the first given name).
        func.coalesce(greeting_name_sql(Contact.first_name), "").label("name"),
        notice.label("notice"),
        channel_clause().label("channel"),
    ).subquery()
    columns = (inner.c.language, inner.c.country, inner.c.name, inner.c.notice, inner.c.channel)
    return db.session.execute(select(*columns, func.count()).group_by(*columns)).all()


@dataclass(frozen=True)
class WayCount:
    way: str  # channel_plan.WAYS
    label: str
    count: int


def channel_ways(send, *, now) -> list[WayCount]:
    """How the send's recipients would get it if it went now (WhatsApp free text or
    template, SMS, SMS instead of WhatsApp, on hold), with why: the preparation's rules
    (channel_plan.forecast) over the same recipients as the estimate."""
    filters = send.audience.filters
    audience = audience_contacts_query(send.organization_id, filters, today=now.date())
    experiment = started_experiment(send.campaign_id)
    if experiment is not None:
        audience = audience.where(not_in_holdout_sql(experiment))
    message = send.message
    counts = channel_plan.forecast(
        audience.with_only_columns(Contact.id),
        organization=send.campaign.organization,
        template_name=message.whatsapp_template_name if message is not None else None,
        now=now,
    )
    return [
        WayCount(way, str(channel_plan.WAY_LABELS[way]), counts[way])
        for way in channel_plan.WAYS
        if counts[way]
    ]


def occurrences_of(send) -> int:
    if send.kind == "recurring":
        return (send.weeks or 0) * len(send.weekdays or ())
    return 1


def estimate_send(send, *, today) -> SendEstimate:
    """Recipients, segments and estimated cost of `send` (saved or not yet saved)."""
    bodies = rendered_bodies(send)
    default = send.campaign.default_language if send.campaign.default_language in bodies else "es"
    notices, segment_cache = {}, {}
    price_of = price_list(send.organization_id)
    occurrences = occurrences_of(send)
    versions: dict[str, VersionEstimate] = {}
    channels: dict[str, ChannelEstimate] = {}
    recipients = segments = unpriced = 0
    cost = Decimal(0)

    def info(language, name, notice):
        key = (language, name, notice)
        if key not in segment_cache:
            with_name, without = bodies[language]
            text = with_name.replace(FIRST_NAME_TOKEN, name) if name else without
            if notice:
                if language not in notices:
                    notices[language] = opt_out_notice(language)
                text = f"{text}\n{notices[language]}"
            segment_cache[key] = analyze(text)
        return segment_cache[key]

    always = send.campaign.organization.opt_out_notice == "always"
    for language, country, name, notice, channel, count in _recipient_groups(send, today):
        by_channel = channels.setdefault(channel, ChannelEstimate(channel))
        by_channel.recipients += count
        by_channel.messages += count * occurrences
        recipients += count
        price = price_of.price(channel, country)
        if channel == "whatsapp":  # priced per message, whatever its length
            if price is None:
                unpriced += count
                by_channel.unpriced += count
            else:
                by_channel.cost += price * occurrences * count
                cost += price * occurrences * count
            continue
        language = language if language in bodies else default
        name = name or ""
        first = info(language, name, bool(notice))
        # The opt-out line goes with a contact's first message only, unless "always".
        rest = first if always else info(language, name, False)
        sent = (first, rest) if occurrences > 1 else (first,)
        per_recipient = first.segments + rest.segments * (occurrences - 1)
        version = versions.setdefault(language, VersionEstimate(language))
        version.recipients += count
        version.with_notice += count if notice else 0
        version.encodings.update(each.encoding for each in sent)
        low, high = min(each.segments for each in sent), max(each.segments for each in sent)
        version.segments_min = min(version.segments_min or low, low)
        version.segments_max = max(version.segments_max, high)
        segments += per_recipient * count
        by_channel.segments += per_recipient * count
        if price is None:
            unpriced += count
            by_channel.unpriced += count
        else:
            cost += price * per_recipient * count
            by_channel.cost += price * per_recipient * count
    for language, version in versions.items():
        version.sample = bodies[language][1]
    return SendEstimate(
        recipients=recipients,
        occurrences=occurrences,
        messages=recipients * occurrences,
        segments=segments,
        cost=None if recipients and unpriced == recipients else cost,
        currency=price_of.currency,
        unpriced_recipients=unpriced,
        versions=[versions[lang] for lang in ("es", "en") if lang in versions],
        channels=[channels[ch] for ch in ("sms", "whatsapp") if ch in channels],
    )
