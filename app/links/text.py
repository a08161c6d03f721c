"""Links in a message text: `{link:https://…}` tokens, plain web addresses, destinations.

A coordinator marks a link with a token, ``{link:https://example.org/info}``, or asks (per
message, `track_links`) for every plain ``http(s)://`` address in the text to be tracked.
Either way each recipient's copy gets its own short link (finalize.py), which redirects
only to a destination on the organization's allow-list (app/organizations/link_hosts.py).

A plain address runs to the first space or character never found in a URL (``< > " { } |
\\ ^ ` ``) and does not end with sentence punctuation (``. , ; : ! ? ¡ ¿ ) ] ' *``), so
"Entra a https://example.org/info." tracks ``https://example.org/info``. An address must
start with ``http://`` or ``https://``: "www.example.org" alone is not detected. The same
patterns drive the editor's live preview (sms_counter.js gets them as data).

A destination is accepted only as an absolute http(s) URL with a host name, no user
information (``https://allowed.org@evil.com`` is refused, not read as its host), no
backslash, space or control character. It is stored normalized: scheme and host in lower
case, the host in its ASCII (IDNA) form, other non-ASCII characters percent-encoded.
"""

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.organizations.link_hosts import ascii_host, host_allowed, stored_entries
from app.organizations.models import Organization
from app.outbox.finalizers import TRACK_LINKS

CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CODE_LENGTH = 8  # 62**8 ≈ 2.2e14 codes, about 47.6 bits from `secrets`
SAMPLE_CODE = "aB3xK9pQ"  # the editor's stand-in: GSM-7 and as long as a real code
MAX_URL = 2000
SCHEMES = ("https", "http")

# Patterns shared with sms_counter.js: Python and JavaScript read them alike.
TOKEN_PATTERN = r"\{link:\s*([^{}\s]+)\s*\}"
URL_PATTERN = r"https?://[^\s<>\"{}|\\^`]*[^\s<>\"{}|\\^`.,;:!?¡¿)\]'*]"
TOKEN = re.compile(TOKEN_PATTERN, re.IGNORECASE)
URL = re.compile(URL_PATTERN, re.IGNORECASE)
# Characters refused anywhere in a destination (browsers read "\" as "/", and so on).
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f<>\"{}|\\^`]")
# What stays as is when a path, query or fragment is percent-encoded (RFC 3986).
_SAFE = "/:@!$&'()*+,;=-._~%?#[]"


@dataclass(frozen=True)
class Found:
    """A link in a text: where it is, what to replace and where it leads (as written)."""

    start: int
    end: int
    destination: str
    token: bool  # a {link:…} token (else a plain address)


def find_links(text: str, *, plain: bool) -> list[Found]:
    """The text's `{link:…}` tokens and, with `plain`, its plain web addresses, in order.
    Short links already made (on PUBLIC_BASE_URL/l/) are never taken for addresses."""
    found = [Found(m.start(), m.end(), m.group(1), True) for m in TOKEN.finditer(text or "")]
    if plain:
        taken = [(f.start, f.end) for f in found]
        own = short_link_prefix()
        for m in URL.finditer(text or ""):
            inside = any(s <= m.start() < e for s, e in taken)
            if not inside and not m.group(0).startswith(own):
                found.append(Found(m.start(), m.end(), m.group(0), False))
        found.sort(key=lambda f: f.start)
    return found


def replace_links(text: str, links: list[Found], replacements: list[str]) -> str:
    parts, last = [], 0
    for link, new in zip(links, replacements, strict=True):
        parts += [text[last : link.start], new]
        last = link.end
    return "".join(parts) + text[last:]


def short_link_prefix() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/l/"


def short_link(code: str) -> str:
    return short_link_prefix() + code


# --- destinations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    url: str  # normalized
    host: str  # ASCII form


class BadDestination(ValueError):
    """Why a destination is refused: `reason` is a key of BAD_DESTINATION."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# One full sentence per reason, naming the link as written (the editor shows it).
BAD_DESTINATION = {
    "too_long": _l("The link “%(link)s” is too long (at most 2,000 characters)."),
    "not_web": _l("“%(link)s” is not a full web address: it must start with https://."),
    "userinfo": _l("The link “%(link)s” contains a user name or password (“@”): remove it."),
    "bad_host": _l("The link “%(link)s” does not name a valid host, such as example.org."),
}


def parse_destination(url: str) -> Destination:
    """`url` checked and normalized; raises BadDestination."""
    url = (url or "").strip()
    if len(url) > MAX_URL:
        raise BadDestination("too_long")
    parts = urlsplit(url) if not _UNSAFE.search(url) else None
    if parts is None or parts.scheme.lower() not in SCHEMES or not parts.netloc:
        raise BadDestination("not_web")
    if "@" in parts.netloc:
        raise BadDestination("userinfo")
    try:
        port = parts.port
    except ValueError:
        port = -1
    host = ascii_host(parts.hostname)
    if host is None or port == -1:
        raise BadDestination("bad_host")
    url = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")
    url += quote(parts.path, safe=_SAFE)
    if parts.query:
        url += "?" + quote(parts.query, safe=_SAFE)
    if parts.fragment:
        url += "#" + quote(parts.fragment, safe=_SAFE)
    return Destination(url, host)


def allowed_destination(url: str, stored_hosts: str | None) -> Destination | None:
    """The normalized destination when `url` is valid and its host is on the stored
    allow-list (`Organization.link_hosts`), else None."""
    try:
        destination = parse_destination(url)
    except BadDestination:
        return None
    return destination if host_allowed(destination.host, stored_entries(stored_hosts)) else None


# --- for the message editor (registered as the outbox's text finalizer's editor side) -----


def _plain(options) -> bool:
    return TRACK_LINKS in options


def text_problem(text: str, organization_id: int | None, options: frozenset):
    """Why an editor cannot save `text`: a link that is not a valid http(s) address, or
    whose host is not on the organization's allow-list."""
    links = find_links(text, plain=_plain(options))
    if not links:
        return None
    org = db.session.get(Organization, organization_id) if organization_id else None
    entries = stored_entries(org.link_hosts if org else None)
    for link in links:
        try:
            destination = parse_destination(link.destination)
        except BadDestination as error:
            return BAD_DESTINATION[error.reason] % {"link": _shown(link.destination)}
        if not entries:
            return _l(
                "Your organization allows no link destinations yet. An administrator adds "
                "them in the organization settings (Tracked links)."
            )
        if not host_allowed(destination.host, entries):
            return _l(
                "%(host)s is not on your organization's list of hosts links may lead to. "
                "An administrator can add it in the organization settings (Tracked links).",
                host=destination.host,
            )
    return None


def _shown(url: str) -> str:
    return url if len(url) <= 60 else url[:57] + "…"


def as_sent(text: str, options: frozenset) -> str:
    """`text` with each link as long as the short link that replaces it."""
    links = find_links(text, plain=_plain(options))
    if not links:
        return text
    return replace_links(text, links, [short_link(SAMPLE_CODE)] * len(links))


CARRIER_WARNING = _l(
    "Mexican carriers often block SMS with links sent from Mexican numbers (Twilio's "
    "guidelines for Mexico). For messages with links, a US number, a short code or "
    "WhatsApp is safer."
)


def notes(text: str, options: frozenset) -> list:
    return [CARRIER_WARNING] if find_links(text, plain=_plain(options)) else []


def preview_data() -> dict:
    return {
        "shortLink": short_link(SAMPLE_CODE),
        "shortLinkPrefix": short_link_prefix(),
        "linkToken": TOKEN_PATTERN,
        "linkUrl": URL_PATTERN,
    }
