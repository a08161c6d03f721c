"""Link tokens, plain web addresses, destinations and the allow-list (pure functions)."""

import pytest

from app.links.text import (
    BadDestination,
    allowed_destination,
    as_sent,
    find_links,
    parse_destination,
    short_link,
)
from app.organizations.link_hosts import ascii_host, host_allowed, parse_hosts
from app.outbox.finalizers import TRACK_LINKS

ALLOWED = "allowed.org\n*.salud.gob.mx\nxn--mnchen-3ya.de"


def destinations(text, plain=True):
    return [link.destination for link in find_links(text, plain=plain)]


def test_tokens_are_found_with_or_without_plain_addresses(app):
    text = "Lee {link:https://allowed.org/guia} y {link: https://allowed.org/b }."
    assert destinations(text, plain=False) == [
        "https://allowed.org/guia",
        "https://allowed.org/b",
    ]
    assert destinations(text, plain=True) == destinations(text, plain=False)


def test_plain_addresses_end_before_sentence_punctuation(app):
    text = (
        "Entra a https://allowed.org/info. ¿Dudas? (ver https://allowed.org/faq) "
        "o ¡https://allowed.org/x!, https://allowed.org/a?b=1&c=2#top; http://allowed.org"
    )
    assert destinations(text) == [
        "https://allowed.org/info",
        "https://allowed.org/faq",
        "https://allowed.org/x",
        "https://allowed.org/a?b=1&c=2#top",
        "http://allowed.org",
    ]
    assert destinations(text, plain=False) == []  # not tracked unless the message says so
    assert destinations("www.allowed.org sin esquema") == []


def test_a_token_and_an_own_short_link_are_not_taken_twice(app):
    with app.test_request_context():
        own = short_link("aB3xK9pQ")
    text = f"{{link:https://allowed.org/a}} y {own}"
    assert destinations(text) == ["https://allowed.org/a"]


def test_the_editor_counts_the_short_link_not_the_destination(app):
    body = "Mira {link:https://allowed.org/una/ruta/muy/larga/de/verdad?con=parametros}"
    sent = as_sent(body, frozenset())
    assert sent == "Mira https://alcance.example.org/l/aB3xK9pQ"
    assert len(sent.rsplit("/", 1)[1]) == 8
    plain = "Mira https://allowed.org/larga/larga/larga"
    assert as_sent(plain, frozenset()) == plain
    assert as_sent(plain, frozenset((TRACK_LINKS,))) == sent


@pytest.mark.parametrize(
    "url, normalized",
    [
        (
            "https://Allowed.ORG/Guía?q=niños#sección",
            "https://allowed.org/Gu%C3%ADa?q=ni%C3%B1os#secci%C3%B3n",
        ),
        ("HTTPS://allowed.org.", "https://allowed.org"),
        ("http://allowed.org:8443/a%20b", "http://allowed.org:8443/a%20b"),
        ("https://münchen.de/x", "https://xn--mnchen-3ya.de/x"),
    ],
)
def test_destinations_are_normalized(url, normalized):
    assert parse_destination(url).url == normalized


@pytest.mark.parametrize(
    "url, reason",
    [
        ("allowed.org/info", "not_web"),
        ("evil.com?x=allowed.org", "not_web"),
        ("//allowed.org/a", "not_web"),
        ("javascript:alert(1)", "not_web"),
        ("ftp://allowed.org/a", "not_web"),
        ("https:allowed.org", "not_web"),
        ("https://allowed.org@evil.com/", "userinfo"),
        ("https://user:pw@allowed.org/", "userinfo"),
        ("https://evil.com\\@allowed.org", "not_web"),
        ("https://allowed.org/a b", "not_web"),
        ("https://[::1]/", "bad_host"),
        ("https://localhost/", "bad_host"),
        ("https://allowed.org:99999/", "bad_host"),
        ("https://" + "a" * 2000 + ".org", "too_long"),
    ],
)
def test_bad_destinations_are_refused(url, reason):
    with pytest.raises(BadDestination) as refused:
        parse_destination(url)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://allowed.org/x", True),
        ("https://ALLOWED.org/x", True),
        ("https://www.allowed.org/x", False),  # a plain line is that host only
        ("https://allowed.org.evil.com/x", False),
        ("https://evil.com/?x=allowed.org", False),
        ("https://evil.com/#allowed.org", False),
        ("https://allowed.org@evil.com/", False),
        ("https://evilallowed.org/", False),
        ("https://salud.gob.mx/a", True),  # "*.salud.gob.mx": the domain and its subdomains
        ("https://www.salud.gob.mx/a", True),
        ("https://a.b.salud.gob.mx/a", True),
        ("https://salud.gob.mx.evil.com/a", False),
        ("https://gob.mx/a", False),
        ("https://münchen.de/", True),  # IDN: compared in its ASCII form
        ("https://xn--mnchen-3ya.de/", True),
        ("https://аllowed.org/", False),  # Cyrillic "а": another host altogether
    ],
)
def test_the_allow_list(url, allowed):
    assert (allowed_destination(url, ALLOWED) is not None) is allowed


def test_an_empty_allow_list_allows_nothing():
    assert allowed_destination("https://allowed.org/", None) is None
    assert allowed_destination("https://allowed.org/", "") is None


def test_allow_list_lines_are_parsed_and_normalized():
    entries, bad = parse_hosts(
        "Allowed.org\n  *.Salud.gob.mx \nmünchen.de\n\nallowed.org, https://x.org/a\nno_host"
    )
    assert entries == ["allowed.org", "*.salud.gob.mx", "xn--mnchen-3ya.de"]
    assert bad == ["https://x.org/a", "no_host"]
    assert ascii_host("user@allowed.org") is None
    assert host_allowed("allowed.org", ["*.allowed.org"])
    assert not host_allowed(None, ["allowed.org"])
