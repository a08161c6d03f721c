"""Parse a young person's SMS reply to a survey question. Pure: no app, no database.

Replies are compared as words: lower case, without accents, emoji or punctuation, with
repeated letters squeezed ("Siii!!" → "si", "pocoo" → "poco"). Spanish and English are always
both understood, whatever the contact's language, because young people on the border switch
between them mid-sentence; `language` is accepted so callers pass the contact's language.

- choice: the option's number ("2", "2)", "#2", "opción 2", "la 2", "dos", "two", "segunda"), or
  the option's words, with typos ("pocoo", "muchi"), alone or in a short sentence ("creo que
  poco"). A word negated by the word before it ("no mucho") does not count. The value is the
  1-based index of the option.
- scale: a number in the scale's range as digits, words, "5/5", "4 de 5", keycap emoji (4️⃣) or
  stars (⭐⭐⭐); extra words are ignored ("5 muy"). `options` names every point of the scale
  (then the labels are understood like a choice's) or only its two ends (understood only as the
  whole reply, "muy seguro").
- yesno: see YES_WORDS and NO_WORDS. "ok", "va", "ya" and "sale" are acknowledgements, not
  answers; "no sé", "tal vez" are not an answer either.
- number: one whole number, as digits or words up to 100 in both languages ("veintidós",
  "twenty two"), anywhere in the reply ("tengo 15 años").
- text: anything not empty, trimmed, cut at TEXT_MAX characters.

Every type understands a skip ("SALTAR", "SKIP", "prefiero no contestar"): `skip` is true,
`valid` is true (the reply was understood) and `value` is None.
"""

import re
import unicodedata
from dataclasses import dataclass

QTYPES = ("choice", "scale", "yesno", "number", "text")
SCALES = ((1, 4), (1, 5), (0, 10))
TEXT_MAX = 500

EMPTY = "empty"
NOT_UNDERSTOOD = "not_understood"
OUT_OF_RANGE = "out_of_range"
AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Parsed:
    valid: bool
    value: int | bool | str | None = None
    skip: bool = False
    reason: str | None = None


SKIPPED = Parsed(valid=True, skip=True)


def _invalid(reason: str) -> Parsed:
    return Parsed(valid=False, reason=reason)


# --- words ---------------------------------------------------------------------------------

# Emoji with a meaning become words; the rest of the emoji are dropped with the punctuation.
_EMOJI_WORDS = {
    "👍": " thumbsup ",
    "👎": " thumbsdown ",
    "✅": " checkmark ",
    "✔": " checkmark ",
    "☑": " checkmark ",
    "❌": " crossmark ",
    "✖": " crossmark ",
    "🚫": " crossmark ",
    "⭐": " star ",
    "🌟": " star ",
    "★": " star ",
    "🔟": " 10 ",
}
# Variation selectors and the keycap mark ("4️⃣" is 4 + U+FE0F + U+20E3), skin tones, joiners.
_INVISIBLE = re.compile("[\ufe0e\ufe0f\u20e3\u200d\U0001f3fb-\U0001f3ff]")
_APOSTROPHES = re.compile("['’`´]")
_WORD = re.compile(r"[a-z]+|[0-9]+")
_REPEATS = re.compile(r"([a-z])\1+")


def _base(text: str) -> str:
    """Lower case, without accents, emoji named; punctuation kept (for "5/5")."""
    text = _INVISIBLE.sub("", text)
    text = "".join(_EMOJI_WORDS.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _APOSTROPHES.sub("", text)


def squeeze(word: str) -> str:
    """Repeated letters once: "siii" → "si", "pocoo" → "poco" (and "llama" → "lama")."""
    return _REPEATS.sub(r"\1", word)


def words(text: str) -> list[str]:
    """The words of a reply as the parser compares them (letters and digits split)."""
    return [squeeze(w) for w in _WORD.findall(_base(text))]


def _word_set(*phrases: str) -> frozenset[str]:
    return frozenset(" ".join(words(p)) for p in phrases)


def _each_word(text: str) -> frozenset[str]:
    return frozenset(words(text))


def _distance(a: str, b: str) -> int:
    """Edit distance with transpositions (optimal string alignment)."""
    before, previous = [], list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[-1]


def _close(word: str, target: str) -> bool:
    """Same word, or a typo of it: one edit for 4+ letters, two for 8+ letters."""
    if word == target:
        return True
    if word.isdigit() or target.isdigit() or len(word) < 3:
        return False
    limit = 2 if len(target) >= 8 else 1 if len(target) >= 4 else 0
    return limit > 0 and abs(len(word) - len(target)) <= limit and _distance(word, target) <= limit


# --- numbers -------------------------------------------------------------------------------

_UNITS = {
    **dict.fromkeys(("uno", "one"), 1),
    **dict.fromkeys(("dos", "two"), 2),
    **dict.fromkeys(("tres", "three"), 3),
    **dict.fromkeys(("cuatro", "four"), 4),
    **dict.fromkeys(("cinco", "five"), 5),
    **dict.fromkeys(("seis", "six"), 6),
    **dict.fromkeys(("siete", "seven"), 7),
    **dict.fromkeys(("ocho", "eight"), 8),
    **dict.fromkeys(("nueve", "nine"), 9),
}
_SPANISH_TEENS = words("once doce trece catorce quince dieciseis diecisiete dieciocho diecinueve")
_ENGLISH_TEENS = words(
    "eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
)
_SPANISH_TWENTIES = words(
    "veintiuno veintidos veintitres veinticuatro veinticinco veintiseis veintisiete veintiocho "
    "veintinueve"
)
_NUMBER_WORDS = {
    **_UNITS,
    **dict.fromkeys(("cero", "zero"), 0),
    **dict.fromkeys(("diez", "ten"), 10),
    **{w: 11 + i for i, w in enumerate(_SPANISH_TEENS)},
    **{w: 11 + i for i, w in enumerate(_ENGLISH_TEENS)},
    **{w: 21 + i for i, w in enumerate(_SPANISH_TWENTIES)},
    "veintiun": 21,
    **dict.fromkeys(("cien", "hundred"), 100),
}
# Tens that may take a unit after them, with or without "y"/"and": "treinta y uno",
# "twenty two", "dieci seis", "diez y seis".
_TENS = {
    "diez": 10,
    "dieci": 10,
    "veinte": 20,
    "veinti": 20,
    "twenty": 20,
    "treinta": 30,
    "thirty": 30,
    "cuarenta": 40,
    "forty": 40,
    "fourty": 40,
    "cincuenta": 50,
    "fifty": 50,
    "sesenta": 60,
    "sixty": 60,
    "setenta": 70,
    "seventy": 70,
    "ochenta": 80,
    "eighty": 80,
    "noventa": 90,
    "ninety": 90,
}
_BOUND_TENS = frozenset(("dieci", "veinti"))  # only in front of a unit
_AFTER_TENS = {**_UNITS, "un": 1, "una": 1}
_CONNECTORS = frozenset(("y", "and"))
_ORDINALS = {
    **dict.fromkeys(("primer", "primero", "primera", "first"), 1),
    **dict.fromkeys(("segundo", "segunda", "second"), 2),
    **dict.fromkeys(("tercer", "tercero", "tercera", "third"), 3),
    **dict.fromkeys(("cuarto", "cuarta", "fourth"), 4),
    **dict.fromkeys(("quinto", "quinta", "fifth"), 5),
    **dict.fromkeys(("sexto", "sexta", "sixth"), 6),
    **dict.fromkeys(("septimo", "septima", "seventh"), 7),
    **dict.fromkeys(("octavo", "octava", "eighth"), 8),
    **dict.fromkeys(("noveno", "novena", "ninth"), 9),
    **dict.fromkeys(("decimo", "decima", "tenth"), 10),
}


def _squeezed(table: dict[str, int]) -> dict[str, int]:
    return {squeeze(word): value for word, value in table.items()}


_NUMBER_WORDS = _squeezed(_NUMBER_WORDS)
_TENS = _squeezed(_TENS)
_AFTER_TENS = _squeezed(_AFTER_TENS)
_ORDINALS = _squeezed(_ORDINALS)
_HUNDRED = frozenset(("cien", "hundred"))
_DECIMAL = re.compile(r"\d[.,]\d")
# "5/5", "4 de 5", "8 out of 10", "7 sobre 10": the first number is the answer.
_FRACTION = re.compile(r"(\d+)\s*(?:/|\bde\b|\bout of\b|\bof\b|\bsobre\b)\s*\d+")


def _tens_at(tokens: list[str], i: int) -> tuple[int | None, int]:
    j = i + 1
    if j < len(tokens) and tokens[j] in _CONNECTORS:
        j += 1
    if j < len(tokens) and tokens[j] in _AFTER_TENS:
        return _TENS[tokens[i]] + _AFTER_TENS[tokens[j]], j - i + 1
    if tokens[i] in _BOUND_TENS:
        return None, 1
    return _TENS[tokens[i]], 1


def _number_at(tokens: list[str], i: int, ordinals: bool) -> tuple[int | None, int]:
    """The number starting at tokens[i] and how many tokens it takes."""
    token = tokens[i]
    if token.isdigit():
        return int(token), 1
    if token in _TENS:
        return _tens_at(tokens, i)
    if token in ("one", "a", "un", "uno") and i + 1 < len(tokens) and tokens[i + 1] in _HUNDRED:
        return 100, 2
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token], 1
    if ordinals and token in _ORDINALS:
        return _ORDINALS[token], 1
    return None, 1


def numbers_in(tokens: list[str], *, ordinals: bool = False) -> tuple[list[int], list[str]]:
    """The numbers in a reply (digits and words) and the words that are not numbers."""
    found, rest, i = [], [], 0
    while i < len(tokens):
        value, width = _number_at(tokens, i, ordinals)
        if value is None:
            rest.append(tokens[i])
        else:
            found.append(value)
        i += width
    return found, rest


def _in_range(value: int, bounds: tuple[int, int] | None) -> bool:
    return bounds is None or bounds[0] <= value <= bounds[1]


def _one_value(values: set[int], bounds: tuple[int, int] | None) -> Parsed:
    if not values:
        return _invalid(NOT_UNDERSTOOD)
    if len(values) > 1:
        return _invalid(AMBIGUOUS)
    (value,) = values
    return Parsed(valid=True, value=value) if _in_range(value, bounds) else _invalid(OUT_OF_RANGE)


# --- option labels -------------------------------------------------------------------------

_STOPWORDS = _each_word(
    "a an and de del el en la las lo los me mi mis my o of or que the to tu un una y with con "
    "por para your it is es at"
)
_NEGATORS = _each_word("no not ni nor never nunca")
# Words that keep their meaning after a negation ("no, nada", "no, ninguno").
_NEGATIVE_WORDS = _each_word(
    "no not nada nunca ningun ninguno ninguna nadie none never nothing nobody sin"
)


def _content(label: str) -> tuple[str, ...]:
    tokens = words(label)
    content = tuple(t for t in tokens if t not in _STOPWORDS)
    return content or tuple(tokens)


def _negated(tokens: list[str], k: int, label_words: tuple[str, ...]) -> bool:
    before = tokens[k - 1] if k > 0 else None
    return before in _NEGATORS and before not in label_words


def _find(tokens: list[str], word: str, label_words: tuple[str, ...]) -> int | None:
    for k, token in enumerate(tokens):
        if not _close(token, word):
            continue
        if word in _NEGATIVE_WORDS or not _negated(tokens, k, label_words):
            return k
    return None


def _full_hits(tokens: list[str], labels: list[tuple[str, ...]]) -> dict[int, set[int]]:
    """Options whose every word is in the reply, unless a longer such option contains them."""
    hits = {}
    for index, label in enumerate(labels):
        spots = [_find(tokens, word, label) for word in label]
        if label and None not in spots:
            hits[index] = set(spots)
    return {
        index: spots
        for index, spots in hits.items()
        if not any(set(labels[index]) < set(labels[other]) for other in hits)
    }


def _distinctive(labels: list[tuple[str, ...]], reserved: tuple[int, int]) -> list[set[str]]:
    """Each option's words that no other option has (numbers that are option numbers aside)."""
    result = []
    for index, label in enumerate(labels):
        others = {w for other, ws in enumerate(labels) if other != index for w in ws}
        result.append({w for w in label if w not in others and not _is_reserved(w, reserved)})
    return result


def _is_reserved(word: str, reserved: tuple[int, int]) -> bool:
    values, _ = numbers_in([word], ordinals=True)
    return bool(values) and _in_range(values[0], reserved)


def _partial_hits(
    tokens: list[str], labels: list[tuple[str, ...]], reserved: tuple[int, int]
) -> dict[int, set[int]]:
    hits: dict[int, set[int]] = {}
    for index, distinct in enumerate(_distinctive(labels, reserved)):
        for word in distinct:
            spot = _find(tokens, word, labels[index])
            if spot is not None:
                hits.setdefault(index, set()).add(spot)
    return hits


def _label_matches(
    tokens: list[str], options: list[str], reserved: tuple[int, int]
) -> tuple[set[int], set[int]]:
    """The 0-based options the reply names by their words, and the token positions used."""
    labels = [_content(option) for option in options]
    hits = _full_hits(tokens, labels) or _partial_hits(tokens, labels, reserved)
    used = set().union(*hits.values()) if hits else set()
    return set(hits), used


# --- one parser per question type ----------------------------------------------------------

_CHOICE_FILLER = _each_word(
    "la el lo los las opcion opciones option numero number num nro the es is its it mi my "
    "respuesta answer creo que pienso i think say digo yo pues este em mm hm um uh ah oh eh "
    "elijo escojo pick choose de da do ro ra er st nd rd th o or a go with voy por"
)
_ONES = frozenset(("one", "uno", "una"))


def _spoken_choice(tokens: list[str]) -> list[int]:
    """Numbers said in words ("dos", "la segunda", "the second one"), only when the rest of
    the reply is filler: "tengo dos dudas" names no option."""
    if any(t in _ORDINALS for t in tokens):
        tokens = [t for t in tokens if t not in _ONES]
    values, rest = numbers_in(tokens, ordinals=True)
    return values if all(t in _CHOICE_FILLER for t in rest) else []


def _parse_choice(tokens: list[str], options: list[str]) -> Parsed:
    count = len(options)
    chosen, used = _label_matches(tokens, options, (1, count))
    free = [t for k, t in enumerate(tokens) if k not in used]
    digits = [int(t) for t in free if t.isdigit()]
    said = digits + _spoken_choice([t for t in free if not t.isdigit()])
    if any(not 1 <= n <= count for n in said):
        return _invalid(OUT_OF_RANGE)
    return _one_value({index + 1 for index in chosen} | set(said), None)


def _parse_scale(base: str, options: list[str] | None, scale: tuple[int, int]) -> Parsed:
    low, high = scale
    tokens = words(_FRACTION.sub(r"\1", base))
    values, _ = numbers_in(tokens)
    candidates = set(values)
    if not candidates and "star" in tokens:
        candidates = {tokens.count("star")}
    if options and len(options) == high - low + 1:
        chosen, _ = _label_matches(tokens, options, scale)
        candidates |= {low + index for index in chosen}
    elif options and not candidates:
        ends = {" ".join(words(options[0])): low, " ".join(words(options[-1])): high}
        candidates = {ends[key]} if (key := " ".join(tokens)) in ends else set()
    return _one_value(candidates, scale)


YES_WORDS = _word_set(
    "si", "sí", "sip", "sep", "simon", "simona", "claro", "clarin", "obvio", "obvi",
    "afirmativo", "cierto", "correcto", "exacto", "seguro", "por supuesto", "claro que si",
    "seguro que si", "creo que si",
    "asi es", "yes", "yeah", "yea", "yep", "yup", "yas", "sure", "of course", "definitely",
    "absolutely", "affirmative", "correct", "i do", "thumbsup", "checkmark",
)  # fmt: skip
NO_WORDS = _word_set(
    "no", "nop", "nel", "nones", "nah", "na", "negativo", "nunca", "jamas", "para nada",
    "claro que no", "seguro que no", "creo que no", "por supuesto que no", "de ninguna manera",
    "nope", "never", "no way",
    "not really", "of course not", "i dont", "thumbsdown", "crossmark",
)  # fmt: skip
# One letter is an answer only as the whole reply: "y" is also Spanish for "and".
_LETTERS = {"s": True, "y": True, "n": False}
_UNSURE = _word_set(
    "no se", "nose", "no lo se", "no sabria", "ni idea", "quien sabe", "tal vez", "talvez",
    "quiza", "quizas", "a lo mejor", "puede ser", "depende", "mas o menos", "a veces",
    "no estoy seguro", "no estoy segura", "maybe", "idk", "i dont know", "dont know", "dunno",
    "not sure", "sometimes", "kind of", "kinda",
)  # fmt: skip
# Words that contradict an answer of the other kind later in the reply ("si y no").
_CORE = {
    True: _each_word("si yes yeah yep sip thumbsup checkmark"),
    False: _each_word("no nope nel nop thumbsdown crossmark"),
}
_LONGEST_PHRASE = max(len(p.split()) for p in YES_WORDS | NO_WORDS | _UNSURE)


def _phrases(tokens: list[str]):
    """Every run of up to _LONGEST_PHRASE words, with where it ends."""
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + _LONGEST_PHRASE, len(tokens)) + 1):
            yield start, end, " ".join(tokens[start:end])


def _leading_answer(tokens: list[str]) -> tuple[bool | None, int]:
    """The answer the reply starts with (the longest yes/no phrase) and where it ends."""
    answer, length = None, 0
    for start, end, phrase in _phrases(tokens[:_LONGEST_PHRASE]):
        if start == 0 and phrase in YES_WORDS | NO_WORDS:
            answer, length = phrase in YES_WORDS, end
    return answer, length


def _parse_yesno(tokens: list[str]) -> Parsed:
    if len(tokens) == 1 and tokens[0] in _LETTERS:
        return Parsed(valid=True, value=_LETTERS[tokens[0]])
    if any(phrase in _UNSURE for _, _, phrase in _phrases(tokens)):
        return _invalid(NOT_UNDERSTOOD)
    answer, length = _leading_answer(tokens)
    if answer is None:
        return _invalid(NOT_UNDERSTOOD)
    if any(t in _CORE[not answer] for t in tokens[length:]):
        return _invalid(AMBIGUOUS)
    return Parsed(valid=True, value=answer)


def _parse_number(tokens: list[str], number_range: tuple[int, int] | None) -> Parsed:
    values, _ = numbers_in(tokens)
    return _one_value(set(values), number_range)


SKIP_WORDS = _word_set(
    "saltar", "salta", "saltala", "saltalo", "salto", "saltar pregunta", "saltar la pregunta",
    "saltar esta", "paso", "skip", "skip it", "skip this", "skip question", "skip this question",
    "pass", "prefiero no contestar", "prefiero no responder", "prefiero no decir",
    "no quiero contestar", "no quiero responder", "prefer not to say", "prefer not to answer",
    "rather not say",
)  # fmt: skip


def check_setup(
    qtype: str,
    *,
    options: list[str] | None = None,
    scale: tuple[int, int] | None = None,
    number_range: tuple[int, int] | None = None,
) -> None:
    """Raise ValueError when a question's setup cannot be parsed against."""
    if qtype not in QTYPES:
        raise ValueError(f"unknown question type {qtype!r}")
    if qtype == "choice" and (not options or len(options) < 2):
        raise ValueError("a choice question needs at least two options")
    if qtype == "scale" and scale not in SCALES:
        raise ValueError(f"a scale goes from 1 to 4, 1 to 5 or 0 to 10, not {scale!r}")
    if qtype == "scale" and options and len(options) not in (2, scale[1] - scale[0] + 1):
        raise ValueError("a scale's options label its two ends or every point")
    if number_range is not None and number_range[0] > number_range[1]:
        raise ValueError(f"bad number range {number_range!r}")


def parse_answer(
    text: str,
    qtype: str,
    *,
    options: list[str] | None = None,
    scale: tuple[int, int] | None = None,
    number_range: tuple[int, int] | None = None,
    language: str | None = None,
) -> Parsed:
    """Parse one SMS reply to a question of type `qtype` (see the module's docstring).

    Raises:
        ValueError: the question's setup is wrong (see `check_setup`).
    """
    check_setup(qtype, options=options, scale=scale, number_range=number_range)
    raw = (text or "").strip()
    if not raw:
        return _invalid(EMPTY)
    base = _base(raw)
    tokens = [squeeze(w) for w in _WORD.findall(base)]
    if " ".join(tokens) in SKIP_WORDS:
        return SKIPPED
    if qtype == "text":
        return Parsed(valid=True, value=raw[:TEXT_MAX])
    if not tokens or (qtype in ("scale", "number") and _DECIMAL.search(base)):
        return _invalid(NOT_UNDERSTOOD)
    if qtype == "choice":
        return _parse_choice(tokens, list(options))
    if qtype == "scale":
        return _parse_scale(base, options, scale)
    if qtype == "yesno":
        return _parse_yesno(tokens)
    return _parse_number(tokens, number_range)
