import json

import pytest


def _lines(result):
    return [json.loads(line) for line in result.output.splitlines()]


def test_classify_prints_one_json_object_per_line(runner):
    messages = "mi amigo se tomó una pastilla y no respira\n¿puedo llevar a mi hermano?\nok 👍\n"
    result = runner.invoke(args=["conversations", "classify"], input=messages)
    assert result.exit_code == 0, result.output
    assert _lines(result) == [
        {
            "text": "mi amigo se tomó una pastilla y no respira",
            "intent": "crisis",
            "priority": "urgent",
            "matched": ["no respira"],
        },
        {
            "text": "¿puedo llevar a mi hermano?",
            "intent": "question",
            "priority": "normal",
            "matched": ["puedo"],
        },
        {"text": "ok 👍", "intent": "other", "priority": None, "matched": []},
    ]
    assert "¿puedo" in result.output  # ensure_ascii=False: accents and emoji as written


def test_classify_with_language(runner):
    result = runner.invoke(
        args=["conversations", "classify", "--lang", "en"], input="k thx\nhe's turning blue\r\n"
    )
    assert result.exit_code == 0, result.output
    assert [(r["text"], r["intent"]) for r in _lines(result)] == [
        ("k thx", "other"),
        ("he's turning blue", "crisis"),
    ]


def test_classify_empty_input(runner):
    result = runner.invoke(args=["conversations", "classify"], input="")
    assert result.exit_code == 0
    assert result.output == ""


@pytest.mark.parametrize(
    ("operator_language", "message"),
    [("es", "Idioma desconocido (usa es o en)."), ("en", "Unknown language (use es or en).")],
)
def test_classify_rejects_unknown_language(runner, monkeypatch, operator_language, message):
    monkeypatch.setenv("ALCANCE_LANG", operator_language)
    result = runner.invoke(args=["conversations", "classify", "--lang", "fr"], input="hola\n")
    assert result.exit_code == 2
    assert message in result.output
    assert "--lang" in result.output
    assert "hola" not in result.output
