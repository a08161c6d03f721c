"""Browser journeys: Playwright (sync API) driving Debian's Chromium against the app served
by a real gunicorn process, with the in-app SMS simulator and the real worker CLI.

Once per run: a temporary SQLite file is migrated (`flask db upgrade`) and seeded
(`flask seed-demo`), gunicorn serves it on a free port, and the admin widens the sending
window to 06:00-22:00 in Settings (see helpers.PLACES for how the journeys' contacts get a
time zone where it is daytime, so the worker really sends). `run_worker()` runs
`flask outreach worker --once` against the same database.

Every page a journey visits goes through `helpers.Checker`: a full-page screenshot in
test-artifacts/e2e/<test>/<n>-<slug>.png, axe-core (zero serious or critical violations),
the page language and untranslated strings, script errors, CSP refusals and server errors.

The whole package is skipped, with the reason in the summary and a banner at the end, when
Chromium, the playwright package or axe-core (`cd tests/e2e && npm ci`; `make test` does it)
is missing. It runs once per `make test`: in the SQLite pass, not again in the PostgreSQL one.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e import helpers
from tests.e2e.helpers import ARTIFACTS, AXE_JS, CHROMIUM, CHROMIUM_ARGS, ROOT, TIMEOUT_MS


def _skip_reason() -> str | None:
    if os.environ.get("TEST_DATABASE_URL"):
        return (
            "browser journeys run once per `make test`, in the SQLite pass "
            "(they serve their own SQLite database)"
        )
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"Chromium not found at {CHROMIUM}: install Debian's package "
            "(`apt-get install chromium`; `make test` does it when run as root)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    if not AXE_JS.is_file():
        return f"axe-core is missing ({AXE_JS}): run `cd tests/e2e && npm ci` (needs npm)"
    return None


SKIP_REASON = _skip_reason()
E2E_DIR = Path(__file__).resolve().parent


def _in_e2e(item) -> bool:
    return E2E_DIR in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config, items):
    if SKIP_REASON:
        marker = pytest.mark.skip(reason=f"E2E SKIPPED: {SKIP_REASON}")
        for item in items:
            if _in_e2e(item):
                item.add_marker(marker)


def pytest_terminal_summary(terminalreporter):
    if SKIP_REASON and not os.environ.get("TEST_DATABASE_URL"):
        terminalreporter.write_sep("!", "BROWSER (E2E) TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"  {SKIP_REASON}", red=True)
    if helpers.CHECKED_PAGES:
        terminalreporter.write_line(
            f"e2e: {len(helpers.CHECKED_PAGES)} pages checked (screenshot, axe-core, language); "
            f"screenshots and axe.json in {ARTIFACTS}"
        )
    if not helpers.PENDING:
        if helpers.CHECKED_PAGES:  # this run checked pages: a list left by an earlier run is stale
            (ARTIFACTS / "untranslated.txt").unlink(missing_ok=True)
    else:
        lines = [
            f"{text!r}  ({len(pages)} pages, first: {pages[0]})"
            for text, pages in sorted(helpers.PENDING.items())
        ]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "untranslated.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        terminalreporter.write_sep(
            "-",
            f"e2e: {len(lines)} English strings on Spanish pages, not yet in the Spanish "
            "catalog (tests/test_translations.py fails on them)",
            yellow=True,
        )
        for line in lines[:40]:
            terminalreporter.write_line("  " + line)
        if len(lines) > 40:
            terminalreporter.write_line(f"  … all in {ARTIFACTS / 'untranslated.txt'}")


# --- The server and the worker ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerLog:
    """The gunicorn log (access and errors): 5xx responses and tracebacks fail the test
    during which they were written."""

    ERROR = re.compile(r'"[A-Z]+ [^"]*" 5\d\d |Traceback \(most recent call last\)')

    def __init__(self, path: Path):
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def errors_since(self, mark: int) -> list[str]:
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(mark)
            text = f.read()
        if not self.ERROR.search(text):
            return []
        return [
            line
            for line in text.splitlines()
            if self.ERROR.search(line)
            or line.startswith(("  File", "    ", "Traceback"))
            or "Error" in line
        ][:80]


class LiveServer:
    def __init__(self, base_url: str, env: dict, db: helpers.Database, log: ServerLog):
        self.base_url = base_url
        self.env = env
        self.db = db
        self.log = log

    def url(self, path: str) -> str:
        return self.base_url + path

    def flask(self, *args: str, timeout: float = 120) -> str:
        """Run `flask --app wsgi ARGS` against the journeys' database; fail on errors."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0 and "Traceback" not in output, (
            f"flask {' '.join(args)} failed ({done.returncode}):\n{output}"
        )
        return output

    def run_worker(self) -> str:
        """`flask --app wsgi outreach worker --once`: pending jobs first, then due SMS."""
        return self.flask("outreach", "worker", "--once")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, compiled_translations):
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    tmp = tmp_path_factory.mktemp("e2e")
    db_path = tmp / "e2e.sqlite3"
    log_path = tmp / "server.log"  # copied to test-artifacts/e2e/ at the end
    port = _free_port()
    env = {
        **os.environ,
        "APP_CONFIG": "development",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SMS_BACKEND": "simulator",
        "SECRET_KEY": secrets.token_hex(32),
        "BABEL_TRANSLATION_DIRECTORIES": compiled_translations,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "ALCANCE_LANG": helpers.WORKER_LANG,
        "LOG_JSON": "0",
        # The report cache is per gunicorn process: with two processes, the dashboard and the
        # reports page could each serve a copy computed at a different moment of the journey.
        "REPORTS_CACHE_SECONDS": "0",
    }
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "REDIS_URL", "TEST_DATABASE_URL"):
        env.pop(name, None)
    server = LiveServer(
        f"http://127.0.0.1:{port}", env, helpers.Database(db_path), ServerLog(log_path)
    )
    server.flask("db", "upgrade")
    server.flask("seed-demo")
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:app.gunicorn_conf",
                "--no-control-socket",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(server.url("/healthz"), timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log_path, ARTIFACTS / "server.log")


# --- The browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def foreign_strings(compiled_translations):
    return helpers.foreign_strings(compiled_translations)


class Ui:
    """Contexts and pages for one test, each page watched by a `Checker`."""

    def __init__(self, browser, server: LiveServer, checker: helpers.Checker, lang: str):
        self.browser = browser
        self.server = server
        self.checker = checker
        self.lang = lang
        self.contexts = []

    def new_page(self, *, locale: str | None = None, storage_state=None, mobile: bool = False):
        # The browser prefers the *other* language, so signing in goes through the header's
        # language switch.
        options = dict(
            locale=locale or ("en-US" if self.lang == "es" else "es-MX"),
            timezone_id=helpers.ORG_TIMEZONE,
            accept_downloads=True,
            storage_state=storage_state,
        )
        if mobile:
            options.update(
                viewport={"width": 390, "height": 844},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
            )
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = self.browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        self.checker.watch(page)
        return page

    def check(self, page, slug: str, *, lang: str | None = None):
        return self.checker.check(page, slug, lang=lang or self.lang)

    def goto(self, page, path: str, slug: str):
        response = page.goto(self.server.url(path))
        assert response is not None and response.status == 200, (
            f"{path}: HTTP {response.status if response else '?'}"
        )
        return self.check(page, slug)

    def login(self, page, user: tuple[str, str], *, slug: str = "sign-in"):
        """Open the sign-in page, switch the language with the header toggle, sign in."""
        page.goto(self.server.url("/login"))
        other = "en" if self.lang == "es" else "es"
        if page.evaluate("document.documentElement.lang").split("-")[0] != self.lang:
            self.check(page, f"{slug}-{other}", lang=other)
            page.click(f'.langswitch a[hreflang="{self.lang}"]')
        from playwright.sync_api import expect

        expect(page.locator("html")).to_have_attribute("lang", re.compile(rf"^{self.lang}\b"))
        self.check(page, slug)
        page.fill("#email", user[0])
        page.fill("#password", user[1])
        page.click("#submit")
        page.wait_for_url(re.compile(r"/dashboard"))
        self.check(page, "dashboard")

    def close(self):
        for context in self.contexts:
            context.close()


def _test_dir(node) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", node.name).strip("-")
    return ARTIFACTS / name


@pytest.fixture
def make_ui(request, browser, live_server, foreign_strings, window_widened):
    """make_ui(lang) -> Ui; its pages are checked, and the test fails on what they found."""
    test_dir = _test_dir(request.node)
    shutil.rmtree(test_dir, ignore_errors=True)
    checker = helpers.Checker(test_dir, foreign_strings, live_server.log)
    made = []

    def make(lang: str) -> Ui:
        ui = Ui(browser, live_server, checker, lang)
        made.append(ui)
        return ui

    yield make
    for ui in made:
        ui.close()
    checker.finish()


@pytest.fixture(scope="session")
def window_widened(browser, live_server, foreign_strings):
    """As the admin, set the sending window to 06:00-22:00 in Settings (once per run)."""
    test_dir = ARTIFACTS / "session-setup-admin-settings"
    shutil.rmtree(test_dir, ignore_errors=True)
    checker = helpers.Checker(test_dir, foreign_strings, live_server.log)
    for lang in ("es", "en"):
        ui = Ui(browser, live_server, checker, lang)
        page = ui.new_page()
        ui.login(page, helpers.ADMIN)
        page.click('.mainnav a[href="/organization/settings"]')
        ui.check(page, "settings")
        if lang == "es":
            page.fill("#quiet_start", helpers.WINDOW[0].strftime("%H:%M"))
            page.fill("#quiet_end", helpers.WINDOW[1].strftime("%H:%M"))
            page.click("#submit")
            page.wait_for_selector(".flash--success")
            ui.check(page, "settings-saved")
        ui.close()
    checker.finish()
    start, end = live_server.db.rows(
        "SELECT quiet_start, quiet_end FROM organizations WHERE slug = 'demo'"
    )[0]
    assert (start[:5], end[:5]) == ("06:00", "22:00"), (start, end)
    return helpers.WINDOW


@pytest.fixture(scope="session")
def place():
    """Where the journeys' contacts live: daytime now (see helpers.PLACES)."""
    chosen = helpers.daytime_place()
    print(
        f"\ne2e contacts live in {chosen.municipality} ({chosen.zone}), local time "
        f"{helpers.local_now(chosen.zone):%H:%M}"
    )
    return chosen


@pytest.fixture(autouse=True)
def frozen_clock():
    """The journeys drive a gunicorn server and worker processes that run on the real clock,
    so the test process does too (overrides tests/conftest.py): every date a journey types
    is computed from the real "now" (helpers.local_now, helpers.daytime_place)."""
    yield None
