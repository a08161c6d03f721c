"""Each recipient's own short links, made when the worker prepares a message (registered as
an outbox text finalizer in hooks.py; see app/outbox/finalizers.py).

For every row with links (text.find_links: `{link:…}` tokens always, plain addresses when
its message tracks them), one `TrackedLink` per link with a fresh code, and the text with
PUBLIC_BASE_URL/l/<code> in place of each link. This runs inside the preparing transaction
(links and final text commit together, or neither) and once per outbox row: preparing.py
finalizes only a row's first preparation, and a row that already has links is left alone.

Codes: CODE_LENGTH (8) characters drawn by `secrets` from 62 (0-9, A-Z, a-z), about 47.6
bits: guessing one of a million live links takes ~2e8 tries on average. They are unique
(a unique index; a batch's codes are checked against the table and redrawn on the rare
collision).
"""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from app.extensions import db
from app.links.models import TrackedLink
from app.links.text import (
    CODE_ALPHABET,
    CODE_LENGTH,
    BadDestination,
    find_links,
    parse_destination,
    replace_links,
    short_link,
)
from app.organizations.models import Organization
from app.outbox.finalizers import TRACK_LINKS, Draft, message_options

DEFAULT_EXPIRY_DAYS = 90


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_codes(n: int) -> list[str]:
    """`n` codes not yet in the table (nor twice in the list)."""
    codes: set[str] = set()
    while len(codes) < n:
        fresh = {new_code() for _ in range(n - len(codes))} - codes
        taken = set(db.session.scalars(select(TrackedLink.code).where(TrackedLink.code.in_(fresh))))
        codes |= fresh - taken
    return list(codes)


def _stored_destination(url: str) -> str:
    """The normalized destination; one the editor would refuse is kept as written (the
    redirect shows the "unavailable" page for it: it never leads anywhere)."""
    try:
        return parse_destination(url).url
    except BadDestination:
        return url[:2000]


def _with_links(drafts: list[Draft]) -> list[tuple[Draft, list]]:
    candidates = [
        d for d in drafts if d.contact_id is not None and ("{" in d.body or "://" in d.body)
    ]
    if not candidates:
        return []
    options = message_options(d.message_id for d in candidates if "://" in d.body)
    found = []
    for draft in candidates:
        plain = TRACK_LINKS in options.get(draft.message_id, frozenset())
        links = find_links(draft.body, plain=plain)
        if links:
            found.append((draft, links))
    return found


def finalize(drafts: list[Draft], now: datetime) -> dict[int, str]:
    """{outbox id: text with its short links} for the drafts with links."""
    work = _with_links(drafts)
    if not work:
        return {}
    done = set(
        db.session.scalars(
            select(TrackedLink.outbox_id).where(TrackedLink.outbox_id.in_([d.id for d, _ in work]))
        )
    )
    work = [(d, links) for d, links in work if d.id not in done]
    if not work:
        return {}
    days = dict(
        db.session.execute(
            select(Organization.id, Organization.link_expiry_days).where(
                Organization.id.in_({d.organization_id for d, _ in work})
            )
        ).all()
    )
    codes = iter(new_codes(sum(len(links) for _, links in work)))
    rows, texts = [], {}
    for draft, links in work:
        expires = now + timedelta(days=days.get(draft.organization_id) or DEFAULT_EXPIRY_DAYS)
        mine = [next(codes) for _ in links]
        rows += [
            dict(
                organization_id=draft.organization_id,
                code=code,
                outbox_id=draft.id,
                contact_id=draft.contact_id,
                campaign_id=draft.campaign_id,
                message_id=draft.message_id,
                destination=_stored_destination(link.destination),
                created_at=now,
                expires_at=expires,
                clicks=0,
                previews=0,
            )
            for link, code in zip(links, mine, strict=True)
        ]
        texts[draft.id] = replace_links(draft.body, links, [short_link(c) for c in mine])
    db.session.execute(insert(TrackedLink), rows)
    return texts
