"""Classify a young person's free-text reply: crisis, needs_help, question or other.

Rules-based and explainable: a message matches phrases of `app.conversations.lexicon`, and the
phrases it matched are returned (as written in the lexicon) so a coordinator sees why. Both the
message and the lexicon go through the same normalization:

1. lower case, accents and emoji removed, punctuation split into words;
2. letters repeated in a row collapsed ("ayudaaaa" → "ayuda", "nooo" → "no");
3. SMS abbreviations expanded ("q" → "que", "xq" → "por que", "tmb" → "también");
4. a phonetic key for Spanish spellings ("kiero" = "quiero", "ermano" = "hermano",
   "bida" = "vida", "aser" = "hacer");
5. a word of 6+ letters that is not in the lexicon but is one missing, extra or swapped letter
   away from a lexicon word counts as that word ("respria" → "respira").

Harmless set phrases ("me corté el pelo", "muero de risa") are hidden before matching. Crisis
wins over needs_help, which wins over question (an interrogative word first, an interrogative
phrase anywhere, or a "?"); a message with none of them is other.
Pure functions, no I/O: the caller stores the result.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from app.conversations import lexicon

INTENTS = ("crisis", "needs_help", "question", "other")
PRIORITIES = {"crisis": "urgent", "needs_help": "normal", "question": "normal", "other": None}
FUZZY_MIN_LENGTH = 6
MAX_GAP = 1  # words allowed between two words of a phrase
_BREAK = "|"  # stands for a hidden (benign) phrase: phrases never match across it


@dataclass(frozen=True)
class Classification:
    intent: str
    priority: str | None
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Word:
    key: str
    prefix: bool = False

    def matches(self, token: str) -> bool:
        return token.startswith(self.key) if self.prefix else token == self.key


# --- normalization -------------------------------------------------------------------------


def strip_accents(text: str) -> str:
    """Lower case without accents or other combining marks ("Ayúdame" → "ayudame")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def collapse_repeats(word: str) -> str:
    """One letter for each run of the same letter ("ayudaaaa" → "ayuda"); digits are kept."""
    return re.sub(r"([a-z])\1+", r"\1", word)


_PHONETIC = (
    (re.compile(r"qu(?=[ei])"), "k"),
    (re.compile(r"q"), "k"),
    (re.compile(r"c(?=[ei])"), "s"),
    (re.compile(r"c(?!h)"), "k"),
    (re.compile(r"z"), "s"),
    (re.compile(r"v"), "b"),
    (re.compile(r"(?<![cstwpgr])h"), ""),
)


def phonetic_key(word: str) -> str:
    """A key equal for common Spanish spellings of one word ("quiero", "kiero", "qiero")."""
    for pattern, replacement in _PHONETIC:
        word = pattern.sub(replacement, word)
    return collapse_repeats(word) or word


def _raw_words(text: str) -> list[str]:
    text = strip_accents(text).replace("'", "").replace("\u2019", "")
    return [collapse_repeats(w) for w in re.findall(r"[a-z0-9]+", text)]


@lru_cache(maxsize=1)
def _abbreviations() -> tuple[dict[str, str], dict[str, str]]:
    def table(mapping: dict[str, str]) -> dict[str, str]:
        return {collapse_repeats(strip_accents(k)): strip_accents(v) for k, v in mapping.items()}

    return table(lexicon.ABBREVIATIONS), table(lexicon.ENGLISH_ABBREVIATIONS)


def _expand(words: list[str], language: str | None) -> list[str]:
    common, english = _abbreviations()
    expanded: list[str] = []
    for word in words:
        replacement = english.get(word) if language == "en" else None
        expanded.extend((replacement or common.get(word, word)).split())
    return expanded


def normalize(text: str, language: str | None = None) -> str:
    """The words of `text` as the classifier compares them, separated by spaces."""
    return " ".join(_keys(text, language))


def _keys(text: str, language: str | None) -> list[str]:
    return [phonetic_key(w) for w in _expand(_raw_words(text), language)]


# --- lexicon -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Phrase:
    term: str
    words: tuple[_Word, ...]


def _compile(term: str) -> _Phrase:
    words = []
    for raw in term.split():
        prefix = raw.endswith("*")
        keys = _keys(raw.rstrip("*"), None)
        words.extend(_Word(key) for key in keys[:-1])
        words.append(_Word(keys[-1], prefix=prefix))
    return _Phrase(term, tuple(words))


def _compile_all(terms: tuple[str, ...]) -> tuple[_Phrase, ...]:
    return tuple(_compile(term) for term in terms)


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, tuple[_Phrase, ...]]:
    return {
        "crisis": _compile_all(lexicon.CRISIS),
        "needs_help": _compile_all(lexicon.NEEDS_HELP),
        "question": _compile_all(lexicon.QUESTION_PHRASES),
        "interrogative": _compile_all(lexicon.INTERROGATIVES),
        "opener": _compile_all(lexicon.OPENERS),
        "benign": _compile_all(lexicon.BENIGN),
    }


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, str]:
    """Lexicon words of FUZZY_MIN_LENGTH+ letters, and each with one letter dropped → the word."""
    vocabulary: dict[str, str] = {}
    for kind in ("crisis", "needs_help"):
        for phrase in _lexicon()[kind]:
            for word in phrase.words:
                if len(word.key) >= FUZZY_MIN_LENGTH and not word.prefix:
                    vocabulary[word.key] = word.key
    for key in list(vocabulary):
        for variant in _deletions(key):
            vocabulary.setdefault(variant, key)
    return vocabulary


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _transpositions(word: str) -> set[str]:
    return {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}


def correct(word: str) -> str:
    """A lexicon word one missing, extra or swapped letter away from `word`, else `word`."""
    vocabulary = _vocabulary()
    if len(word) < FUZZY_MIN_LENGTH or vocabulary.get(word) == word:
        return word
    if word in vocabulary:  # a letter missing
        return vocabulary[word]
    for variant in sorted(_deletions(word) | _transpositions(word)):
        if vocabulary.get(variant) == variant:  # a letter too many, or two swapped
            return variant
    return word


# --- matching ------------------------------------------------------------------------------


def _match_at(
    tokens: list[str], words: tuple[_Word, ...], start: int, gap: int = MAX_GAP
) -> int | None:
    """The end of a match of `words` starting at `start`, or None."""
    if not words[0].matches(tokens[start]):
        return None
    position = start
    for word in words[1:]:
        window = range(position + 1, min(position + 2 + gap, len(tokens)))
        nxt = next((i for i in window if tokens[i] != _BREAK and word.matches(tokens[i])), None)
        if nxt is None or _BREAK in tokens[position:nxt]:
            return None
        position = nxt
    return position + 1


def _find(tokens: list[str], phrase: _Phrase, gap: int = MAX_GAP) -> tuple[int, int] | None:
    for start in range(len(tokens)):
        end = _match_at(tokens, phrase.words, start, gap)
        if end is not None:
            return start, end
    return None


def _matches(tokens: list[str], phrases: tuple[_Phrase, ...]) -> tuple[str, ...]:
    return tuple(p.term for p in phrases if p.words and _find(tokens, p) is not None)


def _hide_benign(tokens: list[str]) -> list[str]:
    for phrase in _lexicon()["benign"]:
        while (span := _find(tokens, phrase, gap=0)) is not None:
            tokens = tokens[: span[0]] + [_BREAK] + tokens[span[1] :]
    return tokens


def tokens(text: str, language: str | None = None) -> list[str]:
    """The normalized, spelling-corrected words of `text`, benign phrases hidden."""
    return _hide_benign([correct(key) for key in _keys(text, language)])


# --- questions -----------------------------------------------------------------------------


def _skip_openers(words: list[str]) -> list[str]:
    openers = {p.words[0].key for p in _lexicon()["opener"] if len(p.words) == 1}
    index = 0
    while index < len(words) and (words[index] in openers or words[index] == _BREAK):
        index += 1
    return words[index:]


def _question_terms(text: str, words: list[str]) -> tuple[str, ...]:
    terms = _matches(words, _lexicon()["question"])
    if terms:
        return terms
    rest = _skip_openers(words)
    exclamations = {phonetic_key(strip_accents(w)) for w in lexicon.EXCLAMATIONS}
    for phrase in _lexicon()["interrogative"]:
        end = _match_at(rest, phrase.words, 0) if rest else None
        follower = rest[end] if end is not None and end < len(rest) else None
        if end is not None and follower not in exclamations | {"not", "no"}:
            return (phrase.term,)
    return ("?",) if "?" in text or "¿" in text else ()


# --- classification ------------------------------------------------------------------------


def classify(text: str, language: str | None = None) -> Classification:
    """Classify one inbound message; `language` ("es"/"en") only refines abbreviations.

    Both languages are always matched: young people on the border switch within a message.
    """
    words = tokens(text or "", language)
    for intent, finder in (
        ("crisis", lambda: _matches(words, _lexicon()["crisis"])),
        ("needs_help", lambda: _matches(words, _lexicon()["needs_help"])),
        ("question", lambda: _question_terms(text or "", words)),
    ):
        matched = finder()
        if matched:
            return Classification(intent, PRIORITIES[intent], matched)
    return Classification("other", None, ())


# --- evaluation ----------------------------------------------------------------------------


def confusion_matrix(rows) -> dict[str, dict[str, int]]:
    """Counts of (expected, predicted) intent pairs: matrix[expected][predicted]."""
    matrix = {expected: dict.fromkeys(INTENTS, 0) for expected in INTENTS}
    for expected, predicted in rows:
        matrix[expected][predicted] += 1
    return matrix


def format_confusion_matrix(matrix: dict[str, dict[str, int]]) -> str:
    """The matrix as a text table: rows expected, columns predicted."""
    width = max(len(intent) for intent in INTENTS) + 2
    lines = ["expected \\ predicted".ljust(22) + "".join(i.rjust(width) for i in INTENTS)]
    for expected in INTENTS:
        counts = "".join(str(matrix[expected][p]).rjust(width) for p in INTENTS)
        lines.append(expected.ljust(22) + counts)
    return "\n".join(lines)
