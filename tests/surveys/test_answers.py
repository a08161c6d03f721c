"""The answer parser against a table of raw replies (tests/surveys/data/answers.tsv).

Columns: lang, qtype, setup, text, valid (true, false or skip), value, reason. `setup` is the
choice's options ("Nada,Poco,Algo,Mucho"), a scale ("1-5", or "1-4:label,label,…" with its
labels), a number range ("10-29") or "-".
"""

import csv
from pathlib import Path

import pytest

from app.surveys.answers import QTYPES, TEXT_MAX, Parsed, parse_answer

DATA = Path(__file__).parent / "data" / "answers.tsv"


def _load():
    with DATA.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = _load()


def _bounds(text):
    low, high = text.split("-")
    return int(low), int(high)


def _setup(qtype, setup):
    if setup == "-":
        return {}
    if qtype == "choice":
        return {"options": setup.split(",")}
    if qtype == "number":
        return {"number_range": _bounds(setup)}
    scale, _, labels = setup.partition(":")
    return {"scale": _bounds(scale), "options": labels.split(",") if labels else None}


def _expected(row):
    if row["valid"] == "skip":
        return Parsed(valid=True, skip=True)
    if row["valid"] == "false":
        return Parsed(valid=False, reason=row["reason"])
    value = row["value"]
    if row["qtype"] == "yesno":
        value = value == "true"
    elif row["qtype"] != "text":
        value = int(value)
    return Parsed(valid=True, value=value)


def test_table_is_large_bilingual_and_covers_every_type():
    assert len(ROWS) >= 120
    assert {row["lang"] for row in ROWS} == {"es", "en"}
    assert {row["qtype"] for row in ROWS} == set(QTYPES)
    assert {row["valid"] for row in ROWS} == {"true", "false", "skip"}
    keys = [(row["lang"], row["qtype"], row["setup"], row["text"]) for row in ROWS]
    assert len(set(keys)) == len(keys), "duplicate rows"


def test_every_reply_in_the_table():
    mismatches = []
    for number, row in enumerate(ROWS, start=2):
        got = parse_answer(
            row["text"], row["qtype"], language=row["lang"], **_setup(row["qtype"], row["setup"])
        )
        if got != _expected(row):
            mismatches.append(f"line {number}: {row['qtype']} {row['text']!r} → {got}")
    assert not mismatches, f"{len(mismatches)}/{len(ROWS)} replies misparsed:\n" + "\n".join(
        mismatches
    )


def test_text_is_cut_at_the_maximum():
    parsed = parse_answer("  " + "a" * (TEXT_MAX + 100), "text")
    assert parsed == Parsed(valid=True, value="a" * TEXT_MAX)


@pytest.mark.parametrize(
    ("qtype", "setup"),
    [
        ("color", {}),
        ("choice", {}),
        ("choice", {"options": ["Solo una"]}),
        ("scale", {}),
        ("scale", {"scale": (1, 7)}),
        ("scale", {"scale": (1, 5), "options": ["a", "b", "c"]}),
        ("number", {"number_range": (29, 10)}),
    ],
)
def test_a_bad_setup_is_a_programming_error(qtype, setup):
    with pytest.raises(ValueError):
        parse_answer("2", qtype, **setup)
