import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.outbox.encoding import (
    GSM_BASIC,
    GSM_EXTENSION,
    GSM_LOOKALIKES,
    analyze,
    counter_label_attrs,
    is_gsm,
    to_gsm,
)

JS_FILE = Path(__file__).resolve().parents[2] / "app" / "static" / "js" / "sms_counter.js"


def test_spanish_question_is_ucs2():
    info = analyze("Hola, ¿cómo estás?")
    assert info.encoding == "UCS-2"
    assert info.non_gsm_chars == ("á", "ó")
    assert (info.characters, info.units, info.segments) == (18, 18, 1)
    assert info.gsm_segments_if_stripped == 1


@pytest.mark.parametrize("text", ["é É ñ Ñ ü Ü ¿ ¡ à è ù ì ò Ç", "¡Bienvenida, pingüino! ¿Mañana?"])
def test_spanish_letters_in_gsm(text):
    assert analyze(text).encoding == "GSM-7"


@pytest.mark.parametrize("char", list("áíóúÁÍÓÚç“”’–—…") + ["😀"])
def test_characters_forcing_ucs2(char):
    info = analyze("Taller " + char)
    assert info.encoding == "UCS-2" and info.non_gsm_chars == (char,)


@pytest.mark.parametrize(
    "length, segments", [(0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3)]
)
def test_gsm_segment_boundaries(length, segments):
    info = analyze("a" * length)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", length, segments)


@pytest.mark.parametrize("length, segments", [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segment_boundaries(length, segments):
    info = analyze("á" * length)
    assert (info.encoding, info.units, info.segments) == ("UCS-2", length, segments)


def test_one_accent_turns_152_gsm_characters_into_three_ucs2_segments():
    info = analyze("a" * 152 + "á")
    assert (info.encoding, info.characters, info.segments) == ("UCS-2", 153, 3)
    assert info.gsm_segments_if_stripped == 1


def test_empty_string():
    info = analyze("")
    assert (info.encoding, info.units, info.characters, info.segments) == ("GSM-7", 0, 0, 0)
    assert info.gsm_segments_if_stripped == 0


@pytest.mark.parametrize("char", list("^{}\\[~]|€"))
def test_extension_characters_count_two(char):
    info = analyze("x" + char)
    assert (info.encoding, info.characters, info.units) == ("GSM-7", 2, 3)


def test_extension_characters_at_the_limit():
    assert analyze("€" * 80).segments == 1  # 160 septets
    assert analyze("€" * 80 + "a").segments == 2


def test_escape_pair_is_not_split_across_parts():
    # 306 septets fit in two parts of 153 only when no escape pair straddles the boundary.
    assert analyze("a" * 152 + "€" + "a" * 152).units == 306
    assert analyze("a" * 152 + "€" + "a" * 152).segments == 3
    assert analyze("a" * 151 + "€" + "a" * 153).segments == 2


def test_emoji_counts_two_units_and_pair_is_not_split():
    info = analyze("Hola 😀")
    assert (info.encoding, info.characters, info.units, info.segments) == ("UCS-2", 6, 7, 1)
    assert info.gsm_segments_if_stripped is None  # an emoji has no GSM look-alike
    assert analyze("😀" * 35).segments == 1  # 70 units
    assert analyze("a" * 66 + "😀" + "a" * 60).segments == 2  # 128 units, pair moves whole
    assert analyze("a" * 66 + "😀" + "a" * 66).segments == 3  # 134 units, but 67 + 67 splits it


def test_to_gsm_replaces_lookalikes_and_keeps_gsm_letters():
    text = "¿Cómo estás? “Sí”, mañana… pingüino — ¡Únete! Ça"
    assert to_gsm(text) == '¿Como estas? "Si", mañana... pingüino - ¡Unete! Ça'
    assert is_gsm(to_gsm(text))
    assert to_gsm("Hola 😀") == "Hola 😀"


def test_lookalike_targets_are_gsm():
    assert all(is_gsm(value) for value in GSM_LOOKALIKES.values())
    assert not any(is_gsm(key) for key in GSM_LOOKALIKES)


def test_gsm_tables_follow_gsm_03_38():
    assert len(GSM_BASIC) == 127 == len(set(GSM_BASIC))  # 128 minus ESC
    assert "\x1b" not in GSM_BASIC
    assert set("éÉñÑüÜ¿¡àèùìòÇ") <= set(GSM_BASIC)
    assert not set("áíóúÁÍÓÚç`") & set(GSM_BASIC + GSM_EXTENSION)
    assert GSM_EXTENSION == "\f^{}\\[~]|€"


def _js_literal(name: str) -> object:
    """A JS constant written as JSON, or as a concatenation of JSON-compatible strings."""
    source = JS_FILE.read_text(encoding="utf-8")
    match = re.search(rf"var {name} = (.*?);\n", source, re.S)
    assert match, name
    value = match.group(1).strip()
    if value.startswith("{"):
        return json.loads(value)
    return "".join(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', value))


def test_js_tables_equal_python_tables():
    assert _js_literal("GSM_BASIC") == GSM_BASIC
    assert _js_literal("GSM_EXTENSION") == GSM_EXTENSION
    assert _js_literal("GSM_LOOKALIKES") == GSM_LOOKALIKES


def test_js_has_no_inline_html_or_eval():
    source = JS_FILE.read_text(encoding="utf-8")
    assert "innerHTML" not in source and "eval(" not in source


NODE_HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const samples = JSON.parse(fs.readFileSync(0, "utf8"));
function el(attrs) {
  return { attrs: Object.assign({}, attrs), children: [], textContent: "", listeners: {},
    getAttribute(n) { return n in this.attrs ? this.attrs[n] : null; },
    setAttribute(n, v) { this.attrs[n] = String(v); },
    hasAttribute(n) { return n in this.attrs; },
    addEventListener(t, f) { this.listeners[t] = f; },
    appendChild(c) { this.children.push(c); } };
}
const output = el(JSON.parse(process.argv[2]));
const textarea = el({"data-sms-counter": "out"});
textarea.value = process.argv[3];
const document = { readyState: "complete", createElement: () => el({}),
  querySelectorAll: () => [textarea], getElementById: (id) => id === "out" ? output : null };
const window = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), { document, window });
const results = samples.map((s) => window.AlcanceSms.analyze(s));
process.stdout.write(JSON.stringify({ results, text: output.textContent,
  warning: output.children.length ? output.children[output.children.length - 1].textContent : null,
  encoding: output.attrs["data-sms-encoding"] }));
"""

SAMPLES = [
    "",
    "Hola",
    "Hola, ¿cómo estás?",
    "a" * 161,
    "a" * 152 + "á",
    "x{}€" * 40,
    "a" * 152 + "€" + "a" * 152,
    "Hola 😀 ¿vienes?",
    "a" * 66 + "😀" + "a" * 66,
    "“Taller” — mañana…",
    "ç\u00a0Ç\tfin",
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(
    "value, text, warning, encoding",
    [
        (
            "Hola, ¿cómo estás?",
            "18 caracteres · 1 SMS · Unicode",
            "Fuera de GSM-7: á ó. 1 SMS en vez de 1.",
            "ucs2",
        ),
        (
            "a" * 150 + "ó" * 3,
            "153 caracteres · 3 SMS · Unicode",
            "Fuera de GSM-7: ó. 3 SMS en vez de 1.",
            "ucs2",
        ),
        ("¡Hola, pingüino!", "16 caracteres · 1 SMS · GSM-7", None, "gsm7"),
        ("x", "1 carácter · 1 SMS · GSM-7", None, "gsm7"),
        ("Hola 😀\t", "7 caracteres · 1 SMS · Unicode", "Unicode: U+0009 😀 (1 SMS)", "ucs2"),
    ],
)
def test_js_counter_matches_python_and_fills_translated_labels(value, text, warning, encoding):
    labels = {
        "data-label-chars": "{n} caracteres",
        "data-label-chars-one": "{n} carácter",
        "data-label-segments": "{n} SMS",
        "data-label-encoding-gsm": "GSM-7",
        "data-label-encoding-ucs2": "Unicode",
        "data-label-warning": "Fuera de GSM-7: {chars}. {n} SMS en vez de {m}.",
        "data-label-warning-unicode": "Unicode: {chars} ({n} SMS)",
    }
    run = subprocess.run(
        ["node", "-e", NODE_HARNESS, str(JS_FILE), json.dumps(labels), value],
        input=json.dumps(SAMPLES),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    data = json.loads(run.stdout)
    for sample, js in zip(SAMPLES, data["results"], strict=True):
        py = analyze(sample)
        assert (
            js["encoding"],
            js["units"],
            js["characters"],
            js["segments"],
            tuple(js["nonGsm"]),
            js["gsmSegmentsIfStripped"],
        ) == (
            py.encoding,
            py.units,
            py.characters,
            py.segments,
            py.non_gsm_chars,
            py.gsm_segments_if_stripped,
        ), sample
    assert (data["text"], data["warning"], data["encoding"]) == (text, warning, encoding)


def test_counter_labels_are_translatable_with_placeholders(app):
    from flask_babel import force_locale

    with force_locale("en"):
        attrs = counter_label_attrs()
    assert set(attrs) == {
        "data-label-chars",
        "data-label-chars-one",
        "data-label-segments",
        "data-label-encoding-gsm",
        "data-label-encoding-ucs2",
        "data-label-warning",
        "data-label-warning-unicode",
    }
    assert "{n}" in attrs["data-label-chars"] and "{n}" in attrs["data-label-segments"]
    assert all(p in attrs["data-label-warning"] for p in ("{chars}", "{n}", "{m}"))
