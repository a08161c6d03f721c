"""The organization's allow-list of link destinations (tracked links, app/links).

An administrator writes one host per line in the organization's settings:

- ``example.org`` matches exactly that host, nothing else (not ``www.example.org``);
- ``*.example.org`` matches ``example.org`` and every subdomain of it.

Subdomains are not matched by a plain line on purpose: a subdomain may be run by someone
else (user pages on a hosting service, a city's portal under gob.mx), so each one, or a
whole domain with ``*.``, is listed deliberately.

Hosts are compared in their ASCII form (IDNA, the standard library's codec): lower case,
no trailing dot, an internationalized name as its ``xn--`` spelling. A look-alike written
with letters of another script ("аllowed.org" with a Cyrillic "а") has another ASCII form
and does not match. Entries are stored in that form.
"""

import re
from collections.abc import Iterable

WILDCARD = "*."
MAX_HOSTS = 100
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_ASCII_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})+$")  # two labels at least


def ascii_host(name: str | None) -> str | None:
    """`name` as a comparable ASCII host name ("Münster.DE." → "xn--mnster-3ya.de"), or
    None when it is not a host name with at least two labels (no user, port or path)."""
    name = (name or "").strip().rstrip(".")
    if not name or any(ch in name for ch in "/\\@:?#%[] \t"):
        return None
    try:
        host = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return host if _ASCII_HOST.match(host) else None


def parse_hosts(text: str | None) -> tuple[list[str], list[str]]:
    """(entries in stored form, lines that are not hosts) of an allow-list as typed: one
    host or ``*.host`` per line (commas and spaces separate too); blank lines ignored."""
    entries, bad = [], []
    for line in re.split(r"[\s,;]+", text or ""):
        if not line:
            continue
        wildcard = line.startswith(WILDCARD)
        host = ascii_host(line[len(WILDCARD) :] if wildcard else line)
        if host is None:
            bad.append(line)
            continue
        entry = WILDCARD + host if wildcard else host
        if entry not in entries:
            entries.append(entry)
    return entries, bad


def host_allowed(host: str | None, entries: Iterable[str]) -> bool:
    """Whether `host` (any spelling) is on the allow-list `entries` (stored form)."""
    host = ascii_host(host)
    if host is None:
        return False
    for entry in entries:
        if entry.startswith(WILDCARD):
            domain = entry[len(WILDCARD) :]
            if host == domain or host.endswith("." + domain):
                return True
        elif host == entry:
            return True
    return False


def stored_entries(stored: str | None) -> list[str]:
    """The entries of an organization's stored allow-list (`Organization.link_hosts`)."""
    return [line for line in (stored or "").split() if line]
