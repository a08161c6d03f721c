"""A string cannot ship in one language only."""

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}


def extracted_msgids() -> set[tuple[str, str | None]]:
    """(msgid, context) of every string the code marks for translation."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    ids = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        ids.add((message if isinstance(message, str) else message[0], context))
    return ids


def load(lang: str):
    with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def test_every_extracted_string_is_translated_to_spanish():
    catalog = load("es")
    problems = []
    for msgid, context in sorted(extracted_msgids(), key=lambda m: (m[0], m[1] or "")):
        message = catalog.get(msgid, context=context)
        if message is None:
            problems.append(f"missing: {msgid!r} (context {context!r})")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"untranslated: {msgid!r}")
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
    assert not problems, "Run `make translations` and translate:\n" + "\n".join(problems)


def test_catalogs_have_no_placeholder_mismatches():
    for lang in ("es", "en"):
        catalog = load(lang)
        errors = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
        assert not errors, f"{lang}: {errors}"


def test_english_catalog_exists_for_every_msgid():
    english = load("en")
    missing = [m for m in extracted_msgids() if english.get(m[0], context=m[1]) is None]
    assert not missing, f"run `make translations`: {missing[:10]}"


def test_spanish_page_smoke(client):
    html = client.get("/login?lang=es").get_data(as_text=True)
    assert "Iniciar sesión" in html and "Correo electrónico" in html


def test_wtforms_messages_are_spanish(client):
    from tests.support import csrf_token_from

    token = csrf_token_from(client.get("/login?lang=es"))
    html = client.post("/login", data={"csrf_token": token, "email": "", "password": ""}).get_data(
        as_text=True
    )
    assert "Este campo es obligatorio" in html
