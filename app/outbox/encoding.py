"""SMS encoding and segment counting (GSM 03.38 vs UCS-2), as carriers and Twilio count them.

- GSM-7: 160 septets in one SMS, 153 per part when split. Extension characters
  (form feed and ``^ { } \\ [ ~ ] | €``) are sent as ESC + char and cost 2 septets.
- UCS-2: 70 UTF-16 code units in one SMS, 67 per part. Characters outside the BMP
  (emoji) are surrogate pairs and cost 2 units.
- One character outside GSM-7 switches the *whole* message to UCS-2.
- A part never ends between the two halves of an escape pair or a surrogate pair, so a
  split message can need one part more than ``ceil(units / per_part)``.

``app/static/js/sms_counter.js`` implements the same algorithm for the message editor; its
tables must stay identical to ``GSM_BASIC``, ``GSM_EXTENSION`` and ``GSM_LOOKALIKES`` (a test
compares them).
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

# GSM 03.38 basic character set in table order, without 0x1B (ESC, the escape to the extension).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table (each costs ESC + char = 2 septets); \f is the page break.
GSM_EXTENSION = "\f^{}\\[~]|€"

# Look-alikes used by `to_gsm`: Spanish/Portuguese/French accents that are NOT in GSM-7
# (é ñ ü ¿ ¡ à è ù ì ò Ç are, and are kept) plus the typographic characters Twilio's
# Smart Encoding replaces (curly quotes, dashes, ellipsis, odd spaces).
GSM_LOOKALIKES = {
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "Á": "A",
    "Í": "I",
    "Ó": "O",
    "Ú": "U",
    "ç": "c",
    "À": "A",
    "È": "E",
    "Ì": "I",
    "Ò": "O",
    "Ù": "U",
    "â": "a",
    "ê": "e",
    "î": "i",
    "ô": "o",
    "û": "u",
    "Â": "A",
    "Ê": "E",
    "Î": "I",
    "Ô": "O",
    "Û": "U",
    "ã": "a",
    "õ": "o",
    "Ã": "A",
    "Õ": "O",
    "ë": "e",
    "ï": "i",
    "Ë": "E",
    "Ï": "I",
    "ª": "a",
    "º": "o",
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "´": "'",
    "`": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "«": '"',
    "»": '"',
    "‹": "<",
    "›": ">",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "…": "...",
    "•": "-",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u3000": " ",
    "\t": " ",
    "\u00ad": "",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
}

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

_BASIC = frozenset(GSM_BASIC)
_EXTENSION = frozenset(GSM_EXTENSION)

# Labels for sms_counter.js, rendered server-side as data attributes of the counter's output
# element: `<output id="..." {{ counter_label_attrs()|xmlattr }}>`. JS fills the placeholders.
COUNTER_LABELS = {
    # TRANSLATORS: SMS editor counter; keep {n} (a number) as is.
    "data-label-chars": _l("{n} characters"),
    # TRANSLATORS: SMS editor counter, singular; keep {n} as is.
    "data-label-chars-one": _l("{n} character"),
    # TRANSLATORS: SMS editor counter: number of SMS segments billed; keep {n} as is.
    "data-label-segments": _l("{n} SMS"),
    "data-label-encoding-gsm": _l("GSM-7 (standard)"),
    "data-label-encoding-ucs2": _l("UCS-2 (Unicode, shorter SMS)"),
    # TRANSLATORS: keep {chars} (a list of characters), {n} and {m} (numbers) as is.
    "data-label-warning": _l(
        "Characters outside GSM-7: {chars}. This text costs {n} SMS instead of {m}."
    ),
    # TRANSLATORS: shown when the characters (e.g. emoji) have no plain equivalent; keep
    # {chars} and {n} as is.
    "data-label-warning-unicode": _l(
        "Characters outside GSM-7: {chars}. This text is sent as Unicode ({n} SMS)."
    ),
}


def counter_label_attrs() -> dict[str, str]:
    """The translated data-label-* attributes for sms_counter.js, in the current locale."""
    return {name: str(label) for name, label in COUNTER_LABELS.items()}


@dataclass(frozen=True)
class SmsInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    characters: int  # Unicode code points, as a person counts them
    segments: int
    non_gsm_chars: tuple[str, ...]  # sorted, unique: the characters forcing UCS-2
    # Segments once `to_gsm` replaced the look-alikes, or None when the text would still
    # be UCS-2 (e.g. emoji); equal to `segments` for GSM-7 text.
    gsm_segments_if_stripped: int | None

    @property
    def is_gsm(self) -> bool:
        return self.encoding == "GSM-7"


def is_gsm(text: str) -> bool:
    return all(ch in _BASIC or ch in _EXTENSION for ch in text)


def to_gsm(text: str) -> str:
    """Replace non-GSM look-alikes (á, curly quotes, dashes, …) with GSM-7 equivalents.

    Characters already in GSM-7 (é ñ ü ¿ ¡ …) are kept; characters with no equivalent
    (emoji) are kept too, so the result may still need UCS-2.
    """
    return "".join(GSM_LOOKALIKES.get(ch, ch) for ch in text)


def _segments(costs: list[int], single: int, part: int) -> int:
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:  # an escape or surrogate pair never straddles two parts
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments


def _count(text: str) -> tuple[str, int, int, tuple[str, ...]]:
    non_gsm = sorted({ch for ch in text if ch not in _BASIC and ch not in _EXTENSION})
    if not non_gsm:
        costs = [2 if ch in _EXTENSION else 1 for ch in text]
        return "GSM-7", sum(costs), _segments(costs, GSM_SINGLE, GSM_PART), ()
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return "UCS-2", sum(costs), _segments(costs, UCS2_SINGLE, UCS2_PART), tuple(non_gsm)


def analyze(text: str) -> SmsInfo:
    """Encoding, length and SMS segment count of a message body."""
    encoding, units, segments, non_gsm = _count(text)
    if not non_gsm:
        stripped = segments
    else:
        s_encoding, _units, s_segments, _chars = _count(to_gsm(text))
        stripped = s_segments if s_encoding == "GSM-7" else None
    return SmsInfo(
        encoding=encoding,
        units=units,
        characters=len(text),
        segments=segments,
        non_gsm_chars=non_gsm,
        gsm_segments_if_stripped=stripped,
    )
