"""Classify inbound SMS replies: opt-out/opt-in/help keywords, RSVPs, and stop requests.

Keywords match the WHOLE message after `normalize` (case, accents, punctuation and spacing
ignored), in English (Twilio's defaults) and Spanish (ours):

- opt_out: STOP STOPALL UNSUBSCRIBE CANCEL END QUIT REVOKE OPTOUT "OPT OUT"
  BAJA ALTO CANCELAR PARAR DETENER "NO MAS"
- opt_in: START UNSTOP ALTA
- help: HELP INFO AYUDA
- whatsapp_opt_in: WHATSAPP "WHATS APP" WHATS WA WASAP (the same words in both languages):
  the contact asks for our messages on WhatsApp (issue 19); WhatsApp's policy asks for an
  opt-in to WhatsApp itself, and this is one (source "keyword").
- rsvp_yes / rsvp_no: SI, SÍ, YES, Y / NO, optionally followed by a 4-digit workshop code
  ("SI 4821", "si4821", "Yes, 4821", "sí #4821", "NO 4821"); a bare code-less reply has
  `code=None` (the workshop service resolves it against the contact's open invitations).
- stop_request: not exactly a keyword but clearly asking to stop ("stop please",
  "ya no me manden mensajes"). Not an automatic opt-out: flag it for a coordinator.
- other: anything else (kept in the campaign inbox).

Opt-out keywords are always checked first; no registered matcher can shadow them.

YES decision: Twilio also treats a bare YES as an opt-in keyword on its own side, so a contact
opted out at Twilio who replies YES is re-subscribed there whatever we do. We mirror that: a
bare YES from an opted-out contact counts as opt-in too. `classify` stays stateless and returns
`rsvp_yes` (YES means "count me in" to a workshop invitation here); the caller, which knows the
contact's opt-out state, decides, and `is_twilio_opt_in(intent)` tells whether Twilio will have
treated the message as an opt-in. "SI" is not a Twilio keyword and does not opt anyone in.

Extending: `register(matcher, priority=...)` adds a function `matcher(normalized_text) ->
Intent | None`. Matchers run by ascending priority (built-ins: opt-in 10, WhatsApp opt-in 15,
help 20, RSVP 30, stop_request 90; registered ones default to 100), then `other`.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
WHATSAPP_OPT_IN = "whatsapp_opt_in"
RSVP_YES, RSVP_NO = "rsvp_yes", "rsvp_no"
STOP_REQUEST, OTHER = "stop_request", "other"

OPT_OUT_KEYWORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT OUT",
        "BAJA",
        "ALTO",
        "CANCELAR",
        "PARAR",
        "DETENER",
        "NO MAS",
    }
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "ALTA"})
HELP_KEYWORDS = frozenset({"HELP", "INFO", "AYUDA"})
# Not Twilio keywords: Twilio's STOP/START handling ignores them, so we always answer.
WHATSAPP_OPT_IN_KEYWORDS = frozenset({"WHATSAPP", "WHATS APP", "WHATS", "WA", "WASAP"})


@dataclass(frozen=True)
class Intent:
    kind: str
    code: str | None = None  # 4-digit workshop code of an RSVP
    keyword: str | None = None  # the normalized keyword matched, e.g. "BAJA", "YES"


Matcher = Callable[[str], Intent | None]


def normalize(text: str) -> str:
    """Uppercase, accents removed, punctuation dropped, whitespace collapsed ("Sí" -> "SI")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    letters = re.sub(r"['’`´]", "", letters)  # "don't" -> "dont"
    cleaned = "".join(ch if ch.isalnum() else " " for ch in letters.upper())
    return " ".join(cleaned.split())


def _exact(kind: str, words: frozenset[str]) -> Matcher:
    def match(text: str) -> Intent | None:
        return Intent(kind, keyword=text) if text in words else None

    return match


_RSVP = re.compile(r"(SI|YES|Y|NO) ?(\d{4})?")


def _rsvp(text: str) -> Intent | None:
    m = _RSVP.fullmatch(text)
    if not m:
        return None
    return Intent(RSVP_NO if m[1] == "NO" else RSVP_YES, code=m[2], keyword=m[1])


# A stop word plus only filler words ("STOP PLEASE", "BAJA POR FAVOR", "NO MAS MENSAJES").
_STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "BAJA",
        "ALTO",
        "CANCELAR",
        "PARAR",
        "DETENER",
        "NOMAS",
        "DETENGAN",
        "PAREN",
        "BASTA",
    }
)
_FILLERS = frozenset(
    {
        "PLEASE",
        "PLS",
        "PLZ",
        "NOW",
        "ME",
        "IT",
        "ALL",
        "THANKS",
        "THANK",
        "YOU",
        "OK",
        "OKAY",
        "TEXT",
        "TEXTS",
        "MESSAGE",
        "MESSAGES",
        "MSG",
        "MSGS",
        "SMS",
        "THE",
        "THIS",
        "THESE",
        "NUMBER",
        "FROM",
        "LIST",
        "POR",
        "FAVOR",
        "PORFA",
        "PORFAVOR",
        "PF",
        "YA",
        "GRACIAS",
        "TODO",
        "TODOS",
        "LOS",
        "MENSAJE",
        "MENSAJES",
        "DE",
        "A",
        "AHORA",
        "ESTE",
        "ESTOS",
        "NUMERO",
        "LISTA",
        "YO",
        "MAS",
    }
)
_STOP_PHRASES = [
    re.compile(p)
    for p in (
        # English
        r"\b(STOP|QUIT|CEASE|END) (TEXTING|MESSAGING|SENDING|CONTACTING|SPAMMING|CALLING)\b",
        r"\bSTOP\b.*\b(TEXTS?|MESSAGES?|SMS|MSGS?)\b",
        r"\b(UNSUBSCRIBE|OPT (ME )?OUT|OPTOUT|STOPALL)\b",
        r"\b(REMOVE|DELETE|TAKE) ME\b|\bTAKE MY NUMBER\b",
        r"\b(DONT|DO NOT) (TEXT|MESSAGE|CONTACT|SEND)\b",
        r"\bNO MORE (TEXTS?|MESSAGES?|SMS)\b",
        # Spanish
        r"\bYA NO\b.*\b(MANDEN|MANDES|ENVIEN|ENVIES|ESCRIBAN|ESCRIBAS|MENSAJES?|SMS|TEXTOS?)\b",
        r"\bNO (ME |NOS )?(MANDEN|MANDES|ENVIEN|ENVIES|ESCRIBAN|ESCRIBAS|CONTACTEN)\b",
        r"\bNO QUIERO\b.*\b(MENSAJES?|SMS|TEXTOS?|RECIBIR)\b",
        r"\bDEJ(A|EN|AR) DE (MANDAR|ENVIAR|ESCRIBIR|MOLESTAR)",
        r"\bDE BAJA\b",
        r"\bNO MAS (MENSAJES?|SMS|TEXTOS?)\b",
        r"\bBASTA DE (MENSAJES?|SMS|TEXTOS?)\b",
        r"\b(SAC|SAQU|QUIT|BORR|ELIMIN)[A-Z]*\b.*\b(LISTA|NUMERO)\b",
    )
]


def _stop_request(text: str) -> Intent | None:
    tokens = text.replace("OPT OUT", "OPTOUT").replace("NO MAS", "NOMAS").split()
    if any(t in _STOP_WORDS for t in tokens) and all(
        t in _STOP_WORDS or t in _FILLERS for t in tokens
    ):
        return Intent(STOP_REQUEST)
    if any(p.search(text) for p in _STOP_PHRASES):
        return Intent(STOP_REQUEST)
    return None


_opt_out = _exact(OPT_OUT, OPT_OUT_KEYWORDS)
_registry: list[tuple[int, int, Matcher]] = []


def register(matcher: Matcher, *, priority: int = 100) -> Matcher:
    """Add a matcher (usable as a decorator). It gets the normalized text, returns an
    Intent or None. Lower priority runs first; opt-out keywords always run before all."""
    _registry.append((priority, len(_registry), matcher))
    _registry.sort(key=lambda entry: entry[:2])
    return matcher


def unregister(matcher: Matcher) -> None:
    _registry[:] = [entry for entry in _registry if entry[2] is not matcher]


register(_exact(OPT_IN, OPT_IN_KEYWORDS), priority=10)
register(_exact(WHATSAPP_OPT_IN, WHATSAPP_OPT_IN_KEYWORDS), priority=15)
register(_exact(HELP, HELP_KEYWORDS), priority=20)
register(_rsvp, priority=30)
register(_stop_request, priority=90)


def classify(text: str) -> Intent:
    """The intent of an inbound message (see the module docstring for the grammar)."""
    normalized = normalize(text)
    intent = _opt_out(normalized)
    if intent:
        return intent
    for _priority, _order, matcher in list(_registry):
        intent = matcher(normalized)
        if intent is not None:
            return intent
    return Intent(OTHER)


def is_twilio_opt_in(intent: Intent) -> bool:
    """True when Twilio itself re-subscribes the sender: a bare YES (or START/UNSTOP)."""
    return intent.keyword in {"YES", "START", "UNSTOP"} and intent.code is None
