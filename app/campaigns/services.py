"""Campaigns and their messages: units of work for the campaign pages.

Every public function checks its rules first, changes nothing when one fails (raising
`DomainError` with a translatable message and, where it helps, the form field concerned),
and commits once.
"""

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext, lazy_ngettext, lazy_pgettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select, update

from app.campaigns.models import (
    LEVELS,
    STATUSES,
    STRATEGIES,
    TOPICS,
    TRANSITIONS,
    Campaign,
    CampaignMessage,
    CampaignPlace,
)
from app.campaigns.signals import campaign_closed, message_deleting
from app.contacts.eligibility import eligible_sql
from app.contacts.geography import MX_STATES, US_STATES, resolve_state
from app.contacts.models import Contact
from app.errors import DomainError
from app.extensions import db
from app.organizations.countries import COUNTRY_LABELS
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox import channel_plan, finalizers, placeholders
from app.outbox.encoding import SmsInfo, analyze
from app.outbox.models import OutboxMessage
from app.outbox.text import opt_out_notice
from app.participation.models import ParticipationEvent

LANGUAGES = ("es", "en")
COUNTRIES = ("MX", "US")
AGE_MIN, AGE_MAX = 10, 35
MAX_BODY = 1600  # Twilio refuses longer bodies
MAX_PLACES = 50
MAX_TEXT = 5000  # description, objectives
MAX_POPULATION = 1_000_000_000

# Outbox rows not yet handed to the provider, and rows that were (history to keep).
PENDING, HANDED_OVER = outbox.PENDING, outbox.HANDED_OVER

# ---------------------------------------------------------------------------------------
# Translated labels of the stored codes (forms, templates and error messages use them).
# A status label qualifies the campaign ("campaña", feminine in Spanish: "Activa",
# "Archivada"), hence its own context: other features' "Active" may agree with other nouns.

STATUS_LABELS = {
    "draft": lazy_pgettext("campaign status", "Draft"),
    "active": lazy_pgettext("campaign status", "Active"),
    "paused": lazy_pgettext("campaign status", "Paused"),
    "completed": lazy_pgettext("campaign status", "Completed"),
    "archived": lazy_pgettext("campaign status", "Archived"),
}
TOPIC_LABELS = {
    "fentanyl": _l("Fentanyl"),
    "synthetic_drugs": _l("Other synthetic drugs"),
    "alcohol": _l("Alcohol"),
    "tobacco_vaping": _l("Tobacco and vaping"),
    "cannabis": _l("Cannabis"),
    "general_prevention": _l("General prevention"),
    "mental_health": _l("Mental health"),
}
# The six CSAP strategies, named as US funders' reports name them.
STRATEGY_LABELS = {
    "information_dissemination": _l("Information dissemination"),
    "education": _l("Prevention education"),
    "alternatives": _l("Alternative activities"),
    "problem_identification_referral": _l("Problem identification and referral"),
    "community_based_process": _l("Community-based process"),
    "environmental": _l("Environmental strategies"),
}
LEVEL_LABELS = {
    "universal": _l("Universal"),
    "selective": _l("Selective"),
    "indicated": _l("Indicated"),
}
LANGUAGE_LABELS = {"es": _l("Spanish"), "en": _l("English")}
assert set(STATUS_LABELS) == set(STATUSES) and set(TOPIC_LABELS) == set(TOPICS)
assert set(STRATEGY_LABELS) == set(STRATEGIES) and set(LEVEL_LABELS) == set(LEVELS)


# ---------------------------------------------------------------------------------------
# Campaigns


@dataclass(frozen=True)
class PlaceSpec:
    """A target place as given by a form or a caller; `state` may be a code or free text."""

    country: str
    state: str
    municipality: str | None = None
    target_population: int | None = None


def _text(value) -> str:
    return (value or "").strip()


def _optional_int(value, *, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_l("Enter a whole number."), field=field)
    return value


def _clean_places(places) -> list[dict]:
    cleaned, seen = [], set()
    for n, place in enumerate(places or (), start=1):
        if isinstance(place, dict):
            place = PlaceSpec(**place)
        country = _text(place.country).upper()
        if country not in COUNTRIES:
            raise DomainError(
                _l("Place %(n)d: choose Mexico or the United States.", n=n), field="places"
            )
        states = MX_STATES if country == "MX" else US_STATES
        state = _text(place.state)
        code = state if state in states else resolve_state(country, state)
        if code is None:
            raise DomainError(
                _l(
                    "Place %(n)d: “%(state)s” is not a state of %(country)s.",
                    n=n,
                    state=state,
                    country=COUNTRY_LABELS[country],
                ),
                field="places",
            )
        municipality = " ".join(_text(place.municipality).split()) or None
        if municipality and len(municipality) > 80:
            raise DomainError(
                _l("Place %(n)d: the municipality name is too long (at most 80 characters).", n=n),
                field="places",
            )
        population = _optional_int(place.target_population, field="places")
        if population is not None and population < 0:
            raise DomainError(
                _l("Place %(n)d: the target population cannot be negative.", n=n), field="places"
            )
        if population is not None and population > MAX_POPULATION:
            raise DomainError(
                _l("Place %(n)d: the target population is too large.", n=n), field="places"
            )
        key = (country, code, unicodedata.normalize("NFKC", municipality or "").casefold())
        if key in seen:
            raise DomainError(_l("Place %(n)d is listed twice.", n=n), field="places")
        seen.add(key)
        cleaned.append(
            dict(
                country=country,
                state_code=code,
                municipality=municipality,
                target_population=population,
            )
        )
    if len(cleaned) > MAX_PLACES:
        raise DomainError(_l("List at most %(n)d places.", n=MAX_PLACES), field="places")
    return cleaned


def _clean_name(organization_id: int, campaign_id: int | None, name) -> str:
    name = " ".join(_text(name).split())
    if not name:
        raise DomainError(_l("Give the campaign a name."), field="name")
    if len(name) > 120:
        raise DomainError(_l("Use at most %(n)d characters.", n=120), field="name")
    duplicate = select(Campaign.id).where(
        Campaign.organization_id == organization_id, func.lower(Campaign.name) == name.lower()
    )
    if campaign_id is not None:
        duplicate = duplicate.where(Campaign.id != campaign_id)
    if db.session.scalar(select(exists(duplicate))):
        raise DomainError(
            _l("Your organization already has a campaign with this name."), field="name"
        )
    return name


def _check_classification(topic, strategy, level) -> None:
    if topic not in TOPICS:
        raise DomainError(_l("Choose a topic from the list."), field="topic")
    if strategy not in STRATEGIES:
        raise DomainError(_l("Choose a prevention strategy from the list."), field="strategy")
    if level not in LEVELS:
        raise DomainError(_l("Choose a prevention level from the list."), field="level")


def _clean_ages(target_age_min, target_age_max) -> tuple[int, int]:
    age_min = _optional_int(target_age_min, field="target_age_min")
    age_max = _optional_int(target_age_max, field="target_age_max")
    for field, age in (("target_age_min", age_min), ("target_age_max", age_max)):
        if age is None or not AGE_MIN <= age <= AGE_MAX:
            raise DomainError(
                _l("Ages must be between %(min)d and %(max)d.", min=AGE_MIN, max=AGE_MAX),
                field=field,
            )
    if age_min > age_max:
        raise DomainError(
            _l("The minimum age cannot be above the maximum age."), field="target_age_min"
        )
    return age_min, age_max


def _clean_population(target_population) -> int | None:
    population = _optional_int(target_population, field="target_population")
    if population is not None and population < 0:
        raise DomainError(
            _l("The target population cannot be negative."), field="target_population"
        )
    if population is not None and population > MAX_POPULATION:
        raise DomainError(_l("The target population is too large."), field="target_population")
    return population


def _check_dates(start_date, end_date) -> None:
    for field, value in (("start_date", start_date), ("end_date", end_date)):
        if value is not None and not isinstance(value, date):
            raise DomainError(_l("Enter a valid date."), field=field)
    if start_date and end_date and end_date < start_date:
        raise DomainError(_l("The end date cannot be before the start date."), field="end_date")


def _clean_campaign(
    organization_id: int,
    campaign_id: int | None,
    *,
    name,
    description,
    objectives,
    topic,
    strategy,
    level,
    target_age_min,
    target_age_max,
    target_population,
    places,
    start_date,
    end_date,
    default_language,
) -> tuple[dict, list[dict]]:
    name = _clean_name(organization_id, campaign_id, name)
    description, objectives = _text(description) or None, _text(objectives) or None
    for field, value in (("description", description), ("objectives", objectives)):
        if value and len(value) > MAX_TEXT:
            raise DomainError(_l("Use at most %(n)d characters.", n=MAX_TEXT), field=field)
    _check_classification(topic, strategy, level)
    age_min, age_max = _clean_ages(target_age_min, target_age_max)
    population = _clean_population(target_population)
    _check_dates(start_date, end_date)
    if default_language not in LANGUAGES:
        raise DomainError(_l("Choose Spanish or English."), field="default_language")
    values = dict(
        name=name,
        description=description,
        objectives=objectives,
        topic=topic,
        strategy=strategy,
        level=level,
        target_age_min=age_min,
        target_age_max=age_max,
        target_population=population,
        start_date=start_date,
        end_date=end_date,
        default_language=default_language,
    )
    return values, _clean_places(places)


def create_campaign(
    organization_id: int,
    *,
    name: str,
    topic: str,
    strategy: str,
    level: str,
    target_age_min: int = 12,
    target_age_max: int = 29,
    description: str | None = None,
    objectives: str | None = None,
    target_population: int | None = None,
    places=(),
    start_date: date | None = None,
    end_date: date | None = None,
    default_language: str = "es",
) -> Campaign:
    """Create a draft campaign with its target places.

    `places` holds `PlaceSpec`s (or dicts with the same keys); a place's state may be a
    canonical code or free text ("Edomex", "Nuevo Leon"). Raises DomainError on bad input.
    """
    values, places = _clean_campaign(
        organization_id,
        None,
        name=name,
        description=description,
        objectives=objectives,
        topic=topic,
        strategy=strategy,
        level=level,
        target_age_min=target_age_min,
        target_age_max=target_age_max,
        target_population=target_population,
        places=places,
        start_date=start_date,
        end_date=end_date,
        default_language=default_language,
    )
    campaign = Campaign(organization_id=organization_id, status="draft", **values)
    campaign.places = [CampaignPlace(**place) for place in places]
    db.session.add(campaign)
    db.session.commit()
    return campaign


def update_campaign(
    campaign: Campaign,
    *,
    name: str,
    topic: str,
    strategy: str,
    level: str,
    target_age_min: int,
    target_age_max: int,
    description: str | None = None,
    objectives: str | None = None,
    target_population: int | None = None,
    places=(),
    start_date: date | None = None,
    end_date: date | None = None,
    default_language: str = "es",
) -> Campaign:
    """Replace a campaign's fields and target places (same rules as `create_campaign`).

    Archived campaigns are read-only.
    """
    if campaign.status == "archived":
        raise DomainError(_l("An archived campaign cannot be changed."))
    values, places = _clean_campaign(
        campaign.organization_id,
        campaign.id,
        name=name,
        description=description,
        objectives=objectives,
        topic=topic,
        strategy=strategy,
        level=level,
        target_age_min=target_age_min,
        target_age_max=target_age_max,
        target_population=target_population,
        places=places,
        start_date=start_date,
        end_date=end_date,
        default_language=default_language,
    )
    for key, value in values.items():
        setattr(campaign, key, value)
    current = {(p.country, p.state_code, p.municipality): p for p in campaign.places}
    kept = []
    for place in places:  # keep unchanged rows (ids stay stable), replace the rest
        row = current.pop((place["country"], place["state_code"], place["municipality"]), None)
        if row is None:
            row = CampaignPlace(**place)
        row.target_population = place["target_population"]
        kept.append(row)
    campaign.places = kept
    db.session.commit()
    return campaign


# ---------------------------------------------------------------------------------------
# Status


@dataclass(frozen=True)
class TransitionResult:
    previous: str
    status: str
    outbox_rows: int  # outbox rows held, released or canceled by the transition


def allowed_transitions(campaign: Campaign) -> list[str]:
    """The statuses `campaign` may move to now, in lifecycle order."""
    return [status for status in STATUSES if status in TRANSITIONS.get(campaign.status, ())]


def transition_campaign(campaign: Campaign, to_status: str, *, now: datetime) -> TransitionResult:
    """Move `campaign` to `to_status` along TRANSITIONS, with its effect on the outbox.

    - pausing holds every pending outbox row ("scheduled" → "held"); resuming releases them;
    - completing cancels every pending row (skip_reason "campaign_completed") and every send;
    - archiving a draft cancels anything pending too (there should be nothing).

    Each effect is one set-based UPDATE. The status change itself is a compare-and-set on the
    current status, so two people clicking at once cannot both apply a transition.
    Raises DomainError for an illegal transition or when the status changed meanwhile.
    """
    previous = campaign.status
    if to_status not in STATUSES:
        raise DomainError(_l("Unknown campaign status."))
    if to_status not in TRANSITIONS.get(previous, ()):
        raise DomainError(
            _l(
                "A campaign cannot go from “%(current)s” to “%(target)s”.",
                current=STATUS_LABELS.get(previous, previous),
                target=STATUS_LABELS[to_status],
            )
        )
    changed = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == previous)
        .values(status=to_status, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        raise DomainError(
            _l("Someone else changed this campaign's status. Check it and try again.")
        )
    rows = 0
    if to_status == "paused":
        rows = outbox.set_status(("scheduled",), "held", campaign_id=campaign.id)
    elif to_status == "active" and previous == "paused":
        rows = outbox.set_status(("held",), "scheduled", campaign_id=campaign.id)
    elif to_status in ("completed", "archived"):
        rows = outbox.cancel_pending(
            reason=f"campaign_{to_status}", now=now, campaign_id=campaign.id
        )
        campaign_closed.send(campaign, status=to_status, now=now)
    db.session.commit()
    db.session.refresh(campaign)
    return TransitionResult(previous=previous, status=to_status, outbox_rows=rows)


def outbox_counts(campaign: Campaign) -> dict[str, int]:
    """{outbox status: number of rows} for the campaign (the outbox's status counters: the
    campaign page never counts the messages themselves)."""
    return outbox.status_counts(campaign.organization_id, campaign_id=campaign.id)


# ---------------------------------------------------------------------------------------
# The list, a campaign's activity, duplicates

# The list's filters: "current" (the default: everything but archived), one status, "all".
DEFAULT_FILTER = "current"
LIST_FILTERS = (DEFAULT_FILTER, "active", "paused", "draft", "completed", "archived", "all")
# The filters name groups of campaigns ("Activas", "Borradores"): plural, hence a context of
# their own.
FILTER_LABELS = {
    "current": lazy_pgettext("campaign filter", "Current"),
    "active": lazy_pgettext("campaign filter", "Active"),
    "paused": lazy_pgettext("campaign filter", "Paused"),
    "draft": lazy_pgettext("campaign filter", "Drafts"),
    "completed": lazy_pgettext("campaign filter", "Completed"),
    "archived": lazy_pgettext("campaign filter", "Archived"),
    "all": lazy_pgettext("campaign filter", "All"),
}
assert set(FILTER_LABELS) == set(LIST_FILTERS) and set(LIST_FILTERS[1:6]) == set(STATUSES)
# Live campaigns first.
LIST_ORDER = {status: i for i, status in enumerate(LIST_FILTERS[1:6])}


@dataclass(frozen=True)
class CampaignList:
    rows: list  # (Campaign, number of messages)
    counts: dict[str, int]  # every filter of LIST_FILTERS: how many campaigns it shows


def list_campaigns(organization_id: int, *, status_filter: str) -> CampaignList:
    """The organization's campaigns that `status_filter` (one of LIST_FILTERS) shows, live
    ones first then by name, with the number of campaigns behind every filter."""
    if status_filter not in LIST_FILTERS:
        raise ValueError(status_filter)
    by_status = dict(
        db.session.execute(
            select(Campaign.status, func.count())
            .where(Campaign.organization_id == organization_id)
            .group_by(Campaign.status)
        ).all()
    )
    counts = {status: by_status.get(status, 0) for status in STATUSES}
    counts["all"] = sum(by_status.values())
    counts[DEFAULT_FILTER] = counts["all"] - counts["archived"]
    messages = (
        select(func.count(CampaignMessage.id))
        .where(CampaignMessage.campaign_id == Campaign.id)
        .correlate(Campaign)
        .scalar_subquery()
    )
    query = select(Campaign, messages).where(Campaign.organization_id == organization_id)
    if status_filter == DEFAULT_FILTER:
        query = query.where(Campaign.status != "archived")
    elif status_filter != "all":
        query = query.where(Campaign.status == status_filter)
    rows = list(db.session.execute(query).all())
    rows.sort(key=lambda row: (LIST_ORDER.get(row[0].status, 9), row[0].name.casefold()))
    return CampaignList(rows=rows, counts=counts)


@dataclass(frozen=True)
class Activity:
    replies_to_review: int  # replies flagged for review that nobody reviewed yet
    sends_scheduled: int  # sends with messages still waiting to go (scheduled or held)
    messages_scheduled: int  # those messages


def campaign_activity(campaign: Campaign) -> Activity:
    """What waits in a campaign's inbox and outbox (read from the outbox's tables, so the
    campaign pages need nothing from the sends feature)."""
    replies = outbox.unreviewed_replies(
        organization_id=campaign.organization_id, campaign_id=campaign.id
    )
    # From the status counters: a campaign page never counts its outbox rows.
    pending = {
        send_id: sum(counts.get(status, 0) for status in PENDING)
        for send_id, counts in outbox.status_counts(
            campaign.organization_id, campaign_id=campaign.id, by_send=True
        ).items()
    }
    campaign_wide = outbox.status_counts(campaign.organization_id, campaign_id=campaign.id)
    return Activity(
        replies_to_review=replies,
        sends_scheduled=sum(1 for n in pending.values() if n),
        messages_scheduled=sum(campaign_wide.get(status, 0) for status in PENDING),
    )


def _copy_name(organization_id: int, name: str) -> str:
    """ "Copy of <name>" in the current language, numbered when taken, at most 120 chars."""
    taken = {
        n.lower()
        for n in db.session.scalars(
            select(Campaign.name).where(Campaign.organization_id == organization_id)
        )
    }
    for n in range(1, 100):
        suffix = "" if n == 1 else f" ({n})"
        base = name
        # TRANSLATORS: the name of a duplicated campaign ("Copia de Sin Fentanilo").
        copy = gettext("Copy of %(name)s", name=base) + suffix
        while len(copy) > 120:  # shorten the original name, never the words around it
            base = base[: len(base) - (len(copy) - 120)].rstrip()
            copy = gettext("Copy of %(name)s", name=base) + suffix
        if copy.lower() not in taken:
            return copy
    raise DomainError(_l("Your organization already has a campaign with this name."))


def duplicate_campaign(campaign: Campaign, *, now: datetime) -> Campaign:
    """A new draft with `campaign`'s definition: its fields, target places and messages
    (both languages). Nothing of what happened is copied: no sends, enrolments, outbox
    rows, replies or history. Named "Copy of <name>" in the current language."""
    columns = (
        "description",
        "objectives",
        "topic",
        "strategy",
        "level",
        "target_age_min",
        "target_age_max",
        "target_population",
        "start_date",
        "end_date",
        "default_language",
    )
    copy = Campaign(
        organization_id=campaign.organization_id,
        name=_copy_name(campaign.organization_id, campaign.name),
        status="draft",
        created_at=now,
        updated_at=now,
        **{column: getattr(campaign, column) for column in columns},
    )
    copy.places = [
        CampaignPlace(
            country=p.country,
            state_code=p.state_code,
            municipality=p.municipality,
            target_population=p.target_population,
        )
        for p in campaign.places
    ]
    copy.messages = [
        CampaignMessage(
            organization_id=campaign.organization_id,
            label=m.label,
            body_es=m.body_es,
            body_en=m.body_en,
            track_links=m.track_links,
            created_at=now,
        )
        for m in campaign.messages
    ]
    db.session.add(copy)
    db.session.commit()
    return copy


# ---------------------------------------------------------------------------------------
# Messages

BODY_FIELDS = {"es": "body_es", "en": "body_en"}
# One full sentence per language: translations never assemble sentences from parts.
BODY_MISSING = {"es": _l("Write the Spanish text."), "en": _l("Write the English text.")}


def _body_too_long(language: str, n: int):
    if language == "es":
        return _l(
            "The Spanish text has %(n)d characters; the limit is %(max)d (Twilio's maximum).",
            n=n,
            max=MAX_BODY,
        )
    return _l(
        "The English text has %(n)d characters; the limit is %(max)d (Twilio's maximum).",
        n=n,
        max=MAX_BODY,
    )


def _normalize_body(body) -> str:
    # Browsers send textarea line breaks as CRLF; the "\r" would be billed as a character.
    return (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def text_options(track_links: bool) -> frozenset:
    """A message's text options for the outbox's finalizers (app/outbox/finalizers.py)."""
    return frozenset((finalizers.TRACK_LINKS,)) if track_links else frozenset()


def body_problem(
    body: str, language: str, *, organization_id: int | None = None, track_links: bool = False
):
    """Why `body` (normalized) cannot be saved as the `language` text (a lazy message), or
    None. Links (`{link:…}`, and plain addresses with `track_links`) must lead to hosts on
    the organization's allow-list (app/links, through the outbox's text finalizers)."""
    if not body:
        return BODY_MISSING[language]
    if len(body) > MAX_BODY:
        return _body_too_long(language, len(body))
    options = text_options(track_links)
    problem = finalizers.text_problem(body, organization_id=organization_id, options=options)
    if problem:
        return problem
    unknown = placeholders.unknown_placeholders(finalizers.as_sent(body, options))
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in placeholders.PLACEHOLDERS)
        return lazy_ngettext(
            "Unknown placeholder %(names)s. You can use: %(allowed)s.",
            "Unknown placeholders %(names)s. You can use: %(allowed)s.",
            len(unknown),
            names=", ".join(unknown),
            allowed=allowed,
        )
    return None


def _clean_message(label, body_es, body_en, *, organization_id: int, track_links: bool) -> dict:
    label = " ".join(_text(label).split())
    if not label:
        raise DomainError(_l("Give the message a short label."), field="label")
    if len(label) > 120:
        raise DomainError(_l("Use at most %(n)d characters.", n=120), field="label")
    bodies = {}
    for language, body in (("es", body_es), ("en", body_en)):
        body = _normalize_body(body)
        problem = body_problem(
            body, language, organization_id=organization_id, track_links=track_links
        )
        if problem:
            raise DomainError(problem, field=BODY_FIELDS[language])
        bodies[BODY_FIELDS[language]] = body
    return dict(label=label, track_links=bool(track_links), **bodies)


def _check_messages_editable(campaign: Campaign) -> None:
    if campaign.status in ("completed", "archived"):
        raise DomainError(_l("The messages of a completed or archived campaign cannot be changed."))


NOT_APPROVED_TEMPLATE = _l("Choose a WhatsApp template that WhatsApp has approved, or none.")
KEEP = object()  # update_message: keep the message's WhatsApp template


def _clean_template_name(name, organization_id: int) -> str | None:
    """Only an approved template (in at least one language) may be picked (issue 19)."""
    name = (name or "").strip() or None
    if name is not None and name not in channel_plan.template_catalog(organization_id):
        raise DomainError(NOT_APPROVED_TEMPLATE, field="whatsapp_template")
    return name


def whatsapp_template_choices(organization_id: int, current: str | None) -> list[tuple]:
    """The editor's choices: none, then each approved template with its languages (a
    message's template that is no longer approved stays listed, marked, so saving asks
    for another one instead of dropping it silently)."""
    catalog = channel_plan.template_catalog(organization_id)
    choices = [("", gettext("None: your organization's no-template rule applies"))]
    for name in sorted(catalog):
        languages = ", ".join(sorted(catalog[name]))
        choices.append((name, f"{name} ({languages})"))
    if current and current not in catalog:
        choices.append((current, gettext("%(name)s (not approved)", name=current)))
    return choices


@dataclass(frozen=True)
class WayCount:
    way: str
    label: str
    count: int


def whatsapp_forecast(campaign: Campaign, template_name: str | None, *, now: datetime):
    """How the organization's messageable contacts would get this message now, per way
    (WhatsApp free text / template, SMS, SMS instead of WhatsApp, on hold), with why."""
    organization = db.session.get(Organization, campaign.organization_id)
    contacts = select(Contact.id).where(
        Contact.organization_id == campaign.organization_id, eligible_sql(now.date())
    )
    counts = channel_plan.forecast(
        contacts, organization=organization, template_name=template_name, now=now
    )
    return [
        WayCount(way, str(channel_plan.WAY_LABELS[way]), counts[way])
        for way in channel_plan.WAYS
        if counts[way]
    ]


def add_message(
    campaign: Campaign,
    *,
    label: str,
    body_es: str,
    body_en: str,
    track_links: bool = False,
    whatsapp_template: str | None = None,
) -> CampaignMessage:
    """Add a bilingual SMS to `campaign`. Both texts are required, at most 1,600 characters,
    and may only use the supported placeholders; links must lead to allowed hosts.
    `whatsapp_template` names the approved template WhatsApp contacts get outside the
    24-hour window."""
    _check_messages_editable(campaign)
    values = _clean_message(
        label,
        body_es,
        body_en,
        organization_id=campaign.organization_id,
        track_links=track_links,
    )
    values["whatsapp_template_name"] = _clean_template_name(
        whatsapp_template, campaign.organization_id
    )
    message = CampaignMessage(organization_id=campaign.organization_id, campaign=campaign, **values)
    db.session.add(message)
    db.session.commit()
    return message


def update_message(
    message: CampaignMessage,
    *,
    label: str,
    body_es: str,
    body_en: str,
    track_links: bool | None = None,
    whatsapp_template=KEEP,
) -> int:
    """Change a message (`track_links` None and `whatsapp_template` KEEP keep its choice).
    Returns how many pending outbox rows still carry the previous text: fan-out renders
    bodies when a send is scheduled, so those rows are not rewritten (the template is read
    when each row is prepared: a new choice applies to them)."""
    _check_messages_editable(message.campaign)
    values = _clean_message(
        label,
        body_es,
        body_en,
        organization_id=message.organization_id,
        track_links=message.track_links if track_links is None else track_links,
    )
    if whatsapp_template is not KEEP:
        values["whatsapp_template_name"] = _clean_template_name(
            whatsapp_template, message.organization_id
        )
    for key, value in values.items():
        setattr(message, key, value)
    pending = db.session.scalar(
        select(func.count()).where(
            OutboxMessage.message_id == message.id, OutboxMessage.status.in_(PENDING)
        )
    )
    db.session.commit()
    return pending or 0


SCHEDULED_MESSAGE = _l(
    "This message is scheduled to be sent. Cancel its send first, then delete the message."
)


def delete_message(message: CampaignMessage) -> None:
    """Delete a message that never went out.

    Refused when any of its outbox rows was handed to the provider (the history stays) or
    when a send of it is still pending (cancel the send first). Canceled sends and their
    canceled or skipped rows are deleted with it.
    """
    _check_messages_editable(message.campaign)
    handed_over = select(OutboxMessage.id).where(
        OutboxMessage.message_id == message.id, OutboxMessage.status.in_(HANDED_OVER)
    )
    recorded = select(ParticipationEvent.id).where(ParticipationEvent.message_id == message.id)
    if db.session.scalar(select(exists(handed_over))) or db.session.scalar(
        select(exists(recorded))
    ):
        raise DomainError(
            _l(
                "This message was already sent, so it is kept in the campaign's "
                "history. You can leave it unused."
            )
        )
    pending_rows = select(OutboxMessage.id).where(
        OutboxMessage.message_id == message.id, OutboxMessage.status.in_(PENDING)
    )
    if db.session.scalar(select(exists(pending_rows))):
        raise DomainError(SCHEDULED_MESSAGE)
    message_deleting.send(message)
    outbox.detach(column="message_id", message_id=message.id)
    db.session.delete(message)
    db.session.commit()


# ---------------------------------------------------------------------------------------
# Editor summaries


@dataclass(frozen=True)
class BodySummary:
    """What one language's text costs, rendered with sample values."""

    language: str
    rendered: str  # with the invitation's line (RSVP) when previewing a workshop's
    info: SmsInfo
    first_info: SmsInfo  # the same text with the opt-out instruction appended
    notice: str
    too_long: bool  # rendered with the instruction, longer than Twilio accepts

    @property
    def warn_encoding(self) -> bool:
        return not self.info.is_gsm

    @property
    def first_text(self) -> str:
        """The exact text of a contact's first message (the worker's composition)."""
        return f"{self.rendered}\n{self.notice}"


def summarize_body(
    body: str, *, language: str, values: dict, footer: str = "", track_links: bool = False
) -> BodySummary:
    """Render `body` with `values` (plus `footer`, the line an invitation adds, as fan-out
    does) and count characters, segments and encoding, alone and with the opt-out
    instruction that goes with a contact's first message. Links count as the short links
    that replace them at send time."""
    template = finalizers.as_sent(_normalize_body(body), text_options(track_links))
    if footer:
        template = f"{template}\n{footer}"
    rendered = placeholders.render(template, values, language=language)
    notice = opt_out_notice(language)
    first = f"{rendered}\n{notice}"
    return BodySummary(
        language=language,
        rendered=rendered,
        info=analyze(rendered),
        first_info=analyze(first),
        notice=notice,
        too_long=len(first) > MAX_BODY,
    )


def text_notes(bodies, *, track_links: bool) -> list:
    """Warnings for the message editor about what the texts contain (e.g. links and
    Mexican carriers), once each."""
    found = []
    for body in bodies:
        for note in finalizers.notes(_normalize_body(body), text_options(track_links)):
            if note not in found:
                found.append(note)
    return found


def visible_chars(chars) -> str:
    """Characters for a warning, blank or invisible ones shown by code point (U+00A0)."""
    return " ".join(
        ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}" for ch in chars
    )
