"""Helpers for the browser journeys: the page checker (screenshot, axe-core, language and
error checks on every page visited), test data (CSV files, phone numbers, a time zone where
it is daytime right now) and read-only look-ups in the journeys' database.

Nothing here imports Playwright at module level, so the package still collects (and skips,
loudly) on a machine without it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
AXE_JS = E2E_DIR / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LANGS = ("es", "en")
# Playwright waits up to 30 s by default; a page of this app answers in well under a second,
# but the machine may be busy (2 cores).
TIMEOUT_MS = 20_000

# The demo sign-ins (app/demo/__init__.py DEMO_USERS; public by design).
ADMIN = ("admin@demo.alcance.mx", "Alcance-Demo-Admin-26")
COORDINATOR = ("coordinacion@demo.alcance.mx", "Alcance-Demo-Coordina-26")
EVALUATOR = ("evaluacion@demo.alcance.mx", "Alcance-Demo-Evalua-26")
ORG_TIMEZONE = "America/Tijuana"  # the demo organization's zone (fixed moments use it)
WORKER_LANG = "en"  # ALCANCE_LANG of the server and worker processes (CLI output language)

# The widest sending window the settings form accepts; set once per run as the admin.
WINDOW = (time(6, 0), time(22, 0))


# --- A time zone where it is daytime now --------------------------------------------------


@dataclass(frozen=True)
class Place:
    country: str
    state: str  # as written in the CSV (a state name the importer resolves), or ""
    municipality: str
    zone: str
    area: str  # country code + area code of the numbers generated for it
    subscriber_digits: int  # digits after the area code


# Where the journeys' contacts live. Quiet hours are the recipient's local time, and the
# worker (a real process on the real clock) sends nothing outside 06:00-22:00 there, nor
# outside the country's hours (Mexican numbers 09:00-21:00, US numbers 08:00-21:00). The
# journeys therefore give their contacts the zone, among these real US/Mexico places, where
# the local time is farthest inside those windows right now. When it is night in every US
# state and Mexican city (about 09:00-12:20 UTC), US numbers living in Guam (a US
# territory, UTC+10) or Madrid are used, with an explicit `zona_horaria` column: the
# importer accepts any IANA zone for a contact (a number from New York may live elsewhere).
PLACES = (
    Place("MX", "Baja California", "Tijuana", "America/Tijuana", "+52664", 7),
    Place("MX", "Ciudad de México", "Iztapalapa", "America/Mexico_City", "+5255", 8),
    Place("MX", "Quintana Roo", "Benito Juárez", "America/Cancun", "+52998", 7),
    Place("US", "Hawaii", "Honolulu", "Pacific/Honolulu", "+1808", 7),
    Place("US", "Alaska", "Anchorage", "America/Anchorage", "+1907", 7),
    Place("US", "New York", "New York", "America/New_York", "+1212", 7),
    Place("US", "Puerto Rico", "San Juan", "America/Puerto_Rico", "+1787", 7),
)
NIGHT_FALLBACKS = (
    Place("US", "", "Hagåtña", "Pacific/Guam", "+1212", 7),
    Place("US", "", "Madrid", "Europe/Madrid", "+1212", 7),
)
# The app's default hours by the number's country (app/outbox/timing.py), in minutes.
COUNTRY_HOURS = {"MX": (9 * 60, 21 * 60), "US": (8 * 60, 21 * 60)}


def _margin(place: Place, now: datetime) -> float:
    """Minutes from the local time to the nearer edge of the window the worker applies to
    `place`'s contacts: WINDOW within their country's hours (negative: outside)."""
    local = now.astimezone(ZoneInfo(place.zone))
    minutes = local.hour * 60 + local.minute
    country_start, country_end = COUNTRY_HOURS[place.country]
    start = max(WINDOW[0].hour * 60 + WINDOW[0].minute, country_start)
    end = min(WINDOW[1].hour * 60 + WINDOW[1].minute, country_end)
    return min(minutes - start, end - minutes)


def daytime_place(now: datetime | None = None, *, needed_minutes: int = 60) -> Place:
    """The place whose local time is farthest inside the sending window."""
    now = now or datetime.now(UTC)
    best = max(PLACES, key=lambda p: _margin(p, now))
    if _margin(best, now) >= needed_minutes:
        return best
    return max(NIGHT_FALLBACKS, key=lambda p: _margin(p, now))


def local_now(zone: str) -> datetime:
    """Now in `zone`, to the minute (a send due a few seconds ago goes out at once)."""
    return datetime.now(ZoneInfo(zone)).replace(second=0, microsecond=0)


# --- Test contacts ------------------------------------------------------------------------


@dataclass
class Person:
    first_name: str
    phone: str  # E.164, as stored


def phone_for(place: Place, block: int, row: int) -> str:
    """A number unique to (block, row): US ones in the fictional 555-01XX range (under area
    codes the demo seed does not use), Mexican ones outside the demo's 555 range."""
    if place.area.startswith("+1"):
        return f"{place.area}55501{block}{row}"
    if place.subscriber_digits == 8:
        return f"{place.area}710{block}{row:02d}00"
    return f"{place.area}71{block}{row:02d}00"


HEADERS = {
    # Spanish column names for Spanish journeys, English ones for English journeys: both
    # are documented on the upload page.
    "es": [
        "telefono",
        "nombre",
        "idioma",
        "año_nacimiento",
        "pais",
        "estado",
        "municipio",
        "zona_horaria",
        "etiquetas",
    ],
    "en": [
        "phone",
        "first_name",
        "language",
        "birth_year",
        "country",
        "state",
        "city",
        "timezone",
        "tags",
    ],
}


@dataclass
class ContactFile:
    name: str
    data: bytes
    good: list[Person]
    bad_lines: list[int]  # file lines (the header is line 1) that must be rejected


def contacts_csv(
    lang: str,
    place: Place,
    *,
    block: int,
    names: list[str],
    tag: str,
    bad_rows: bool = True,
    delimiter: str = ",",
    first_row: int = 0,
) -> ContactFile:
    """A contacts CSV: one good row per name (adults, language `lang`, in `place`; phone
    numbers from row `first_row` of the block, so journeys can share a block), and,
    with `bad_rows`, three rows the importer must reject: only the phone rejects a row (an
    optional value it does not understand is a warning), so: not a phone number, a number
    outside Mexico and the US, and the first row's phone again (the first row wins)."""
    year = datetime.now(UTC).year
    rows, good, bad_lines = [], [], []
    for i, name in enumerate(names):
        phone = phone_for(place, block, first_row + i)
        good.append(Person(name, phone))
        rows.append(
            [
                phone,
                name,
                lang,
                str(year - 21 - i),
                place.country,
                place.state,
                place.municipality,
                place.zone,
                f"{tag}, e2e",
            ]
        )
    if bad_rows:
        broken = [
            ["12345", "Fila mala", lang, str(year - 20)],  # not a phone number
            ["+44 20 7946 0958", "Fila mala", lang, str(year - 20)],  # not Mexico or the US
            [good[0].phone, "Fila mala", lang, str(year - 20)],  # the same phone as line 2
        ]
        for cells in broken:
            rows.append(cells + [place.country, place.state, place.municipality, place.zone, tag])
            bad_lines.append(len(rows) + 1)  # + the header line
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADERS[lang])
    writer.writerows(rows)
    return ContactFile(f"{tag}.csv", out.getvalue().encode("utf-8"), good, bad_lines)


# --- The journeys' database (read-only) ---------------------------------------------------


class Database:
    def __init__(self, path: Path):
        self.path = path

    def rows(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql, params).fetchall()

    def value(self, sql: str, *params):
        rows = self.rows(sql, *params)
        return rows[0][0] if rows else None

    def contact_id(self, phone: str) -> int:
        found = self.value("SELECT id FROM contacts WHERE phone = ?", phone)
        assert found, f"no contact with phone {phone}"
        return found


# --- Personal data that evaluators must never see -----------------------------------------


def phone_forms(phone: str) -> set[str]:
    """How a stored E.164 number may be shown: as stored, without '+', grouped nationally
    or internationally, and as bare national digits."""
    import phonenumbers

    forms = {phone, phone.lstrip("+")}
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return forms
    forms.add(str(parsed.national_number))
    for fmt in (
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    ):
        forms.add(phonenumbers.format_number(parsed, fmt))
    return forms


@dataclass
class PersonalData:
    """Every contact's phone number and first name, and the place names they live in
    (a place such as "San Diego" or "Guadalupe" may be shown; it is not a first name)."""

    phones: set[str]
    names: set[str]
    places: set[str]

    @classmethod
    def load(cls, db: Database) -> PersonalData:
        rows = db.rows("SELECT phone, first_name, municipality FROM contacts")
        phones = {form for phone, _n, _m in rows if phone for form in phone_forms(phone)}
        names = {name.strip() for _p, name, _m in rows if name and len(name.strip()) >= 3}
        places = {m for _p, _n, m in rows if m}
        from app.contacts.geography import MX_STATES, US_STATES

        places |= {s.name for s in (*MX_STATES.values(), *US_STATES.values())}
        return cls(phones, names, places)

    def leaks(self, text: str) -> list[str]:
        found = sorted(p for p in self.phones if p in text)
        scrubbed = text
        for place in sorted(self.places, key=len, reverse=True):
            scrubbed = scrubbed.replace(place, " ")
        for name in sorted(self.names):
            if re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", scrubbed):
                found.append(name)
        return found


# --- Untranslated text -----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


def _fragments(text: str) -> set[str]:
    """The literal parts of a catalog string long enough to be recognized on a page."""
    found = set()
    for part in _PLACEHOLDER.split(text):
        part = " ".join(part.split()).strip(" .,:;·–—-()“”\"'")
        if len(part) >= 10 and len(part.split()) >= 2:
            found.add(part)
    return found


def foreign_strings(translations_dir: str) -> dict[str, dict[str, set[str]]]:
    """{page language: {"fail": fragments, "pending": fragments}} of catalog text in the
    *other* language.

    English pages must not show Spanish translations; Spanish pages must not show English
    source strings. An English string whose msgid *has* a Spanish translation is a
    rendering bug ("fail": evaluated outside the request's locale, hard-coded, or a part
    in another language without a `lang` attribute). One whose msgid is not translated yet
    is "pending": tests/test_translations.py is the gate for the catalog itself, so the
    journeys list those strings (test-artifacts/e2e/untranslated.txt and the end of the
    pytest output) without failing on them. Fragments that read the same in both languages
    are left out. The catalog is the compiled one the server uses (`translations_dir`)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    from babel.messages.mofile import read_mo

    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    ids = set()
    skip = {".venv", "node_modules", "test-artifacts", "instance", "tests", "bench"}
    for _file, _line, message, _c, _ctx in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=keywords,
        directory_filter=lambda path: (
            not (set(Path(path).parts) & skip or Path(path).name.startswith("."))
        ),
    ):
        forms = tuple(m for m in (message if isinstance(message, tuple) else (message,)) if m)
        if forms:
            ids.add(forms)  # (singular, plural) for ngettext
    with open(Path(translations_dir) / "es" / "LC_MESSAGES" / "messages.mo", "rb") as f:
        catalog = read_mo(f)  # fuzzy entries are not compiled: they render in English
    translated, untranslated, spanish = set(), set(), set()
    for forms in ids:
        message = catalog.get(forms[0])
        strings = (
            ()
            if message is None
            else (
                tuple(message.string)
                if isinstance(message.string, (tuple, list))
                else (message.string,)
            )
        )
        english = set().union(*(_fragments(f) for f in forms))
        if strings and all(strings):
            translated |= english
            for s in strings:
                spanish |= _fragments(s)
        else:
            untranslated |= english
    english = translated | untranslated
    same = english & spanish
    return {
        "es": {"fail": translated - untranslated - same, "pending": untranslated - same},
        "en": {"fail": spanish - same, "pending": set()},
    }


# Untranslated (pending) strings seen on Spanish pages in this run: {string: [page, ...]}.
PENDING: dict[str, list[str]] = {}
CHECKED_PAGES: list[str] = []  # every page checked in this run ("<test>/<n>-<slug>")


# Text of the page that is in the page's language: text inside an element whose `lang`
# differs (a Spanish SMS shown on an English page, the language switch) is skipped, as
# are hidden elements; accessible names in attributes are included.
PAGE_TEXT_JS = """() => {
  const pageLang = (document.documentElement.lang || "").slice(0, 2);
  const other = (el) => {
    const l = el.closest("[lang]");
    return l && l.lang.slice(0, 2) !== pageLang;
  };
  const parts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || el.closest("script, style, template, noscript") || other(el)) continue;
    if (!el.checkVisibility()) continue;
    parts.push(node.nodeValue);
  }
  const named = "[aria-label], [title], [placeholder], [alt], "
    + "input[type=submit], input[type=button]";
  for (const el of document.querySelectorAll(named)) {
    if (other(el)) continue;
    for (const a of ["aria-label", "title", "placeholder", "alt"]) {
      if (el.hasAttribute(a)) parts.push(el.getAttribute(a));
    }
    if (el.matches("input[type=submit], input[type=button]")) parts.push(el.value);
  }
  return parts.join("\\n").replace(/[ \\t\\u00a0]+/g, " ");
}"""


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


# --- The page checker --------------------------------------------------------------------


@dataclass
class PageRecord:
    n: int
    slug: str
    url: str
    lang: str
    violations: list = field(default_factory=list)  # serious and critical
    minor: list = field(default_factory=list)  # moderate and minor (reported, not failed)


class Checker:
    """Runs on every page a journey visits: a full-page screenshot, axe-core, the page
    language and its untranslated strings, and notes server errors, script errors and
    CSP refusals seen meanwhile. `finish()` fails the test with everything found."""

    def __init__(self, test_dir: Path, foreign: dict[str, dict[str, set[str]]], server_log):
        self.test_dir = test_dir
        self.foreign = foreign
        self.server_log = server_log
        self.records: list[PageRecord] = []
        self.problems: list[str] = []
        self.unchecked: list[str] = []
        self._axe = AXE_JS.read_text(encoding="utf-8")
        self._pages: dict[int, dict] = {}
        self._log_mark = server_log.mark()

    # Every page the journeys open is watched: a document that loads and is replaced
    # before `check()` saw it is reported as "visited but not checked".
    def watch(self, page) -> None:
        state = {"loads": 0, "checked": 0, "url": None}
        self._pages[id(page)] = state

        def on_load(p):
            if state["loads"] > state["checked"]:
                self.unchecked.append(state["url"])
            state["loads"] += 1
            state["url"] = p.url

        page.on("load", on_load)
        page.on(
            "pageerror", lambda error: self.problems.append(f"script error on {page.url}: {error}")
        )

        def on_console(message):
            text = message.text
            if (
                message.type == "error"
                and "favicon.ico" not in text
                and not text.startswith("Failed to load resource")
            ):
                self.problems.append(f"console error on {page.url}: {text}")

        page.on("console", on_console)

        def on_response(response):
            url = response.url
            if response.status >= 500:
                self.problems.append(f"HTTP {response.status} for {url}")
            elif (
                response.status == 404
                and not url.endswith("/favicon.ico")
                and (response.request.resource_type in ("script", "stylesheet", "image", "font"))
            ):
                self.problems.append(f"missing asset {url}")

        page.on("response", on_response)

    def check(self, page, slug: str, *, lang: str) -> PageRecord:
        """Check the page now shown (the journeys call it after every navigation)."""
        page.wait_for_load_state("load")
        state = self._pages.get(id(page))
        if state is not None:
            state["checked"] = state["loads"]
        n = len(self.records) + 1
        clean = re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-") or "page"
        self.test_dir.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.test_dir / f"{n:02d}-{clean}.png"), full_page=True)
        record = PageRecord(n, slug, page.url, lang)
        html_lang = page.evaluate("document.documentElement.lang")
        if html_lang.split("-")[0] != lang:
            self.problems.append(f"[{n} {slug}] <html lang={html_lang!r}>, expected {lang!r}")
        text = normalize(page.evaluate(PAGE_TEXT_JS))
        strings = self.foreign.get(lang, {})
        pending = sorted(
            (s for s in strings.get("pending", ()) if s in text), key=len, reverse=True
        )
        for s in pending:
            PENDING.setdefault(s, []).append(f"{self.test_dir.name}/{n:02d}-{slug}")
        rest = text
        for s in pending:  # a translated fragment inside an untranslated string is pending too
            rest = rest.replace(s, " ¦ ")
        wrong = sorted(s for s in strings.get("fail", ()) if s in rest)
        if wrong:
            self.problems.append(
                f"[{n} {slug}] text in the other language on a {lang} page although the "
                f"catalog translates it (or a part without its lang attribute): {wrong}"
            )
        page.evaluate(self._axe)
        results = page.evaluate("""async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            helpUrl: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target.join(" "),
            html: n.html.slice(0, 200), summary: n.failureSummary}))}));
        }""")
        for v in results:
            serious = v["impact"] in ("serious", "critical")
            (record.violations if serious else record.minor).append(v)
        self.records.append(record)
        CHECKED_PAGES.append(f"{self.test_dir.name}/{n:02d}-{slug}")
        return record

    def finish(self) -> None:
        for page_state in self._pages.values():
            if page_state["loads"] > page_state["checked"]:
                self.unchecked.append(page_state["url"])
        errors = self.server_log.errors_since(self._log_mark)
        report = []
        for r in self.records:
            for v in r.violations:
                nodes = "\n".join(
                    f"      - {n['target']}: {n['html']}\n        "
                    + (n["summary"] or "").replace("\n", "\n        ")
                    for n in v["nodes"][:5]
                )
                report.append(
                    f"  [{r.n} {r.slug} · {r.lang}] {r.url}\n    {v['impact']}: "
                    f"{v['id']} — {v['help']} ({v['helpUrl']})\n{nodes}"
                )
        self.test_dir.mkdir(parents=True, exist_ok=True)
        (self.test_dir / "axe.json").write_text(
            json.dumps([r.__dict__ for r in self.records], indent=1, ensure_ascii=False),
            encoding="utf-8",
        )
        failures = []
        if report:
            failures.append("axe-core serious/critical violations:\n" + "\n".join(report))
        if self.problems:
            failures.append("problems seen in the browser:\n  " + "\n  ".join(self.problems))
        if self.unchecked:
            failures.append(
                "pages visited but not checked (screenshot + axe): "
                + ", ".join(map(str, self.unchecked))
            )
        if errors:
            failures.append("server errors:\n" + "\n".join(errors))
        assert not failures, "\n\n".join(failures)


# --- SMS texts as the app renders them ----------------------------------------------------


def sms_fragments(translations_dir: str, lang: str, msgid: str) -> list[str]:
    """The literal parts of a system SMS in `lang`, as the compiled catalog renders it (the
    English source while the Spanish catalog lacks it), to find it in a conversation."""
    from babel.support import Translations

    text = Translations.load(translations_dir, [lang]).gettext(msgid)
    parts = (" ".join(p.split()).strip() for p in _PLACEHOLDER.split(text))
    return [p for p in parts if len(p) >= 6]
