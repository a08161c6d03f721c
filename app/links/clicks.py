"""Following a short link: one indexed lookup, one UPDATE (a first click adds its event).

`follow` answers GET/HEAD /l/<code> (routes.py). The lookup reads the link by its unique
code with what deciding needs, by primary keys: the organization's allow-list, the
recipient's language, when the message left. Then:

- unknown code (or not shaped like one) → "unknown" (friendly 404 page);
- past `expires_at` → "expired" (friendly page in the recipient's language);
- destination no longer valid or its host no longer on the allow-list → "unavailable";
- otherwise a redirect to the stored destination, counted as a preview or a click.

Previews, not clicks (`previews += 1`, nothing else):
- HEAD requests;
- known link-preview fetchers, crawlers and scripts by user agent (BOT_AGENTS), and an
  empty user agent;
- any fetch before the message was handed to the provider or within PREVIEW_SECONDS (3)
  of that, or of its delivery report: nobody reads an SMS and taps its link that fast,
  while carriers' URL scanners and phones' link previews fetch it as it arrives.

A click: `clicks += 1` in one UPDATE ... RETURNING clicks. The UPDATE that takes the
counter from 0 to 1 is the first click (row locks make exactly one request see 1 when two
arrive at once on PostgreSQL; SQLite has one writer) and records the participation event
"clicked", unless another link of the same recipient and message was clicked before (a
message with two links is one event; the same UPDATE returns that). On PostgreSQL the
UPDATE and the event's INSERT are one statement, and the lookup also tells the commit not
to wait for the disk: a visit is two statements and a COMMIT.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, func, insert, literal, select, update

from app.contacts.models import Contact
from app.db_dialect import is_postgres
from app.extensions import db
from app.links.models import TrackedLink
from app.links.text import CODE_ALPHABET, allowed_destination
from app.organizations.models import Organization
from app.outbox.models import OutboxMessage
from app.participation.models import KINDS, ParticipationEvent

PREVIEW_SECONDS = 3
# Substrings of the User-Agent header (case-insensitive) of fetchers that are not a person
# opening the link: messaging apps' and social networks' link previews, search engines'
# crawlers, security scanners and HTTP libraries (a person clicks in a browser). Apple's
# iMessage previews identify as "facebookexternalhit/1.1 Facebot Twitterbot/1.0".
BOT_AGENTS = (
    "whatsapp",
    "facebookexternalhit",
    "facebot",
    "meta-externalagent",
    "slackbot",
    "slack-imgproxy",
    "telegrambot",
    "twitterbot",
    "skypeuripreview",
    "discordbot",
    "linkedinbot",
    "pinterest",
    "redditbot",
    "embedly",
    "viber",
    "snapchat",
    "googlebot",
    "google-inspectiontool",
    "googleother",
    "adsbot-google",
    "apis-google",
    "feedfetcher-google",
    "google-pagerenderer",
    "bingbot",
    "bingpreview",
    "msnbot",
    "yandex",
    "baiduspider",
    "duckduckbot",
    "applebot",
    "petalbot",
    "semrushbot",
    "ahrefsbot",
    "crawler",
    "spider",
    "scanner",
    "preview",
    "headlesschrome",
    "phantomjs",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "go-http-client",
    "okhttp",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
)
_BOT = re.compile("|".join(re.escape(agent) for agent in BOT_AGENTS), re.IGNORECASE)
_CODE = re.compile(f"^[{re.escape(CODE_ALPHABET)}]{{4,16}}$")

_L = TrackedLink.__table__
_LOOKUP = (
    select(
        _L.c.id,
        _L.c.organization_id,
        _L.c.contact_id,
        _L.c.campaign_id,
        _L.c.message_id,
        _L.c.outbox_id,
        _L.c.destination,
        _L.c.expires_at,
        Organization.link_hosts,
        Contact.language,
        OutboxMessage.send_started_at,
        OutboxMessage.sent_at,
        OutboxMessage.status,
        OutboxMessage.final_at,
    )
    .select_from(_L)
    .join(Organization, Organization.id == _L.c.organization_id)
    .join(Contact, Contact.id == _L.c.contact_id)
    .outerjoin(OutboxMessage, OutboxMessage.id == _L.c.outbox_id)
    .where(_L.c.code == bindparam("code"))
)
# PostgreSQL: the same lookup also makes this transaction's commit return without waiting
# for its WAL flush (set_config(..., true) is SET LOCAL): a server crash may lose the last
# fraction of a second of counts, never corrupts; the redirect never waits on the disk.
_LOOKUP_PG = _LOOKUP.add_columns(
    func.set_config("synchronous_commit", "off", True).label("no_flush_wait")
)
_PREVIEW = update(_L).where(_L.c.id == bindparam("link_id")).values(previews=_L.c.previews + 1)
# The participation event of a first click (what participation.services.record_event adds,
# as one core INSERT: it is on the young person's path).
assert "clicked" in KINDS
_E = ParticipationEvent.__table__
_EVENT = insert(_E).values(kind="clicked", channel="web")
_OTHER = _L.alias("other")


def _click_statement(key: str):
    """clicks += 1, the first click's time; RETURNING the new count and whether another link
    of the recipient's copy of this campaign message (`key` "message_id"; "outbox_id": of
    this outbox row, for a message of no campaign) already had its first click, which then
    made the event. Bound values, not correlation: SQLite's RETURNING cannot correlate."""
    clicked_before = exists().where(
        _OTHER.c.contact_id == bindparam("p_contact"),
        _OTHER.c[key] == bindparam("p_key"),
        _OTHER.c.id != bindparam("link_id"),
        _OTHER.c.first_click_at.is_not(None),
    )
    return (
        update(_L)
        .where(_L.c.id == bindparam("link_id"))
        .values(
            clicks=_L.c.clicks + 1,
            first_click_at=func.coalesce(
                _L.c.first_click_at, bindparam("now", type_=_L.c.expires_at.type)
            ),
        )
        .returning(_L.c.clicks, clicked_before.label("clicked_before"))
    )


def _click_and_record_statement(key: str):
    """PostgreSQL: the click and a first click's event in one statement, `WITH hit AS
    (UPDATE ... RETURNING ...) INSERT INTO participation_events SELECT ... FROM hit WHERE
    first`, returning the event's id when there is one."""
    hit = _click_statement(key).cte("hit")
    columns = ("organization_id", "contact_id", "campaign_id", "message_id", "outbox_id")
    source = select(
        *(bindparam(f"e_{name}", type_=_E.c[name].type) for name in columns),
        literal("clicked", _E.c.kind.type),
        literal("web", _E.c.channel.type),
        bindparam("now", type_=_E.c.occurred_at.type),
    ).where(hit.c.clicks == 1, ~hit.c.clicked_before)
    return (
        insert(_E)
        .from_select([*columns, "kind", "channel", "occurred_at"], source)
        .returning(_E.c.id)
    )


KEYS = ("message_id", "outbox_id")
_CLICK = {key: _click_statement(key) for key in KEYS}
_CLICK_AND_RECORD = {key: _click_and_record_statement(key) for key in KEYS}


def _click(row, now: datetime) -> bool:
    """Count a click; True when it was the recipient's first on this message (its event is
    recorded). One statement on PostgreSQL, two on SQLite (no data-modifying CTE)."""
    key = "message_id" if row.message_id is not None else "outbox_id"
    value = getattr(row, key)
    value = -1 if value is None else value  # a link of no known message: itself only
    params = {"link_id": row.id, "now": now, "p_contact": row.contact_id, "p_key": value}
    event = {
        "organization_id": row.organization_id,
        "contact_id": row.contact_id,
        "campaign_id": row.campaign_id,
        "message_id": row.message_id,
        "outbox_id": row.outbox_id,
    }
    conn = db.session.connection()
    if is_postgres():
        params.update({f"e_{name}": value for name, value in event.items()})
        return conn.execute(_CLICK_AND_RECORD[key], params).first() is not None
    clicks, clicked_before = conn.execute(_CLICK[key], params).one()
    if clicks != 1 or clicked_before:
        return False
    conn.execute(_EVENT, {**event, "occurred_at": now})
    return True


@dataclass(frozen=True)
class Visit:
    outcome: str  # "redirect", "unknown", "expired" or "unavailable"
    destination: str | None = None
    language: str | None = None  # the recipient's, for the friendly pages
    counted: str | None = None  # "click", "first_click" or "preview" (redirects)


def is_bot(user_agent: str | None) -> bool:
    return not (user_agent or "").strip() or bool(_BOT.search(user_agent))


def _too_soon(row, now: datetime) -> bool:
    """Before the message left, or within PREVIEW_SECONDS of leaving or of its delivery."""
    if row.outbox_id is None:
        return False  # its message row is gone: nothing to compare with
    left = row.sent_at or row.send_started_at
    if left is None:
        return True
    moments = [left] + ([row.final_at] if row.status == "delivered" and row.final_at else [])
    window = timedelta(seconds=PREVIEW_SECONDS)
    return any(abs(now - moment) < window for moment in moments) or now < left


def is_preview(method: str, user_agent: str | None, row, now: datetime) -> bool:
    return method == "HEAD" or is_bot(user_agent) or _too_soon(row, now)


def follow(code: str, *, method: str, user_agent: str | None, now: datetime) -> Visit:
    """Resolve a short link and count the visit (one unit of work: commits)."""
    if not _CODE.match(code or ""):
        return Visit("unknown")
    # Core statements on the session's connection: the ORM adds nothing here but CPU.
    conn = db.session.connection()
    row = conn.execute(_LOOKUP_PG if is_postgres() else _LOOKUP, {"code": code}).first()
    if row is None:
        db.session.rollback()
        return Visit("unknown")
    if now >= row.expires_at:
        db.session.rollback()
        return Visit("expired", language=row.language)
    destination = allowed_destination(row.destination, row.link_hosts)
    if destination is None:
        db.session.rollback()
        return Visit("unavailable", language=row.language)
    if is_preview(method, user_agent, row, now):
        conn.execute(_PREVIEW, {"link_id": row.id})
        counted = "preview"
    else:
        counted = "first_click" if _click(row, now) else "click"
    db.session.commit()
    return Visit("redirect", destination.url, row.language, counted)
