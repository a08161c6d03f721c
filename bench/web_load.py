"""Benchmark: the web app under load — gunicorn with the checked-in config on this machine.

    .venv/bin/python bench/web_load.py [--contacts 100000] [--users 50] [--seconds 60]
                                       [--saturate-seconds 20] [--backend sqlite|postgresql]
                                       [--generator wrk|python]

For each backend: a fresh database (tables, then `flask seed-demo` with the production
password hashing, then --contacts extra contacts in the demo organization via
bench/common.seed_contacts); `gunicorn -c python:app.gunicorn_conf wsgi:app` with
APP_CONFIG=production on a free port; the demo coordinator signs in through the real login
form (GET /login for the CSRF token and session cookie, POST /login), and the load generator
replays that session cookie against the dashboard, the contact list, the campaign list, a
campaign page and that campaign's report dashboard, in turn.

Two runs per backend:
- "50 users": 50 connections, each pausing 0.5-1.5 s (uniform) between requests, for
  --seconds: target p95 < 300 ms and 0 errors (non-200 answers, socket errors, timeouts);
- "saturation": 50 connections with no pause for --saturate-seconds: the most requests/s
  the machine serves, with its p95 against the same target.

wrk (Debian package) is used when installed, with bench/web_load.lua (its percentiles come
from every recorded latency); otherwise a small thread-based generator in this file
(nearest-rank percentiles over every request), which itself needs CPU: prefer wrk.
"""

import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from common import (
    ROOT,
    backends,
    database,
    free_port,
    make_app,
    print_table,
    redis_url,
    seed_contacts,
    stop_process,
)

TARGET_P95_MS = 300.0
THINK_MS = (500, 1500)
EMAIL, PASSWORD = "coordinacion@demo.alcance.mx", "Alcance-Demo-Coordina-26"
SECRET = "web-load-bench-" + "7e3a9c1f" * 7


def server_env(url: str, port: int) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "TEST_", "GUNICORN_", "FLASK_"))
    }
    env.update(
        {
            "APP_CONFIG": "production",
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "ALLOW_SQLITE_IN_PRODUCTION": "1",
            "REDIS_URL": redis_url() or "",
            "SMS_BACKEND": "simulator",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "ALCANCE_LANG": "en",
        }
    )
    return env


def prepare(url: str, env: dict, contacts: int) -> dict:
    """Tables, the demo (production password hashing), extra contacts. Returns ids."""
    from sqlalchemy import func, select

    from app.campaigns.models import Campaign
    from app.contacts.models import Contact
    from app.demo import DEMO_SLUG
    from app.extensions import db
    from app.organizations.models import Organization

    app = make_app(url)
    with app.app_context():
        db.engine.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "seed-demo", "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError("seed-demo failed:\n" + done.stderr[-2000:])
    with app.app_context():
        org_id = db.session.scalar(select(Organization.id).where(Organization.slug == DEMO_SLUG))
        seed_contacts(org_id, contacts)
        campaign_id = db.session.scalar(
            select(Campaign.id).where(Campaign.organization_id == org_id).order_by(Campaign.id)
        )
        total = db.session.scalar(select(func.count()).select_from(Contact))
        db.session.remove()
        db.engine.dispose()
    return {"org": org_id, "campaign": campaign_id, "contacts": total}


def start_server(env: dict, log) -> subprocess.Popen:
    """gunicorn with the checked-in config (app/gunicorn_conf.py), output to the file `log`;
    stop it with common.stop_process."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


# -- talking to the server -----------------------------------------------------------------------


class Browser:
    """Just enough of a browser: one cookie jar (Secure cookies too: we are the only client)."""

    def __init__(self, port: int):
        self.port, self.cookies = port, {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Cookie": self.cookie_header()} if self.cookies else {}
            body = None
            if form is not None:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, text, dict(response.headers)
        finally:
            conn.close()

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited early")
        try:
            status, _, _ = Browser(port).request("GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz")


def sign_in(port: int, email: str = EMAIL, password: str = PASSWORD) -> str:
    """Sign in through the real login form; returns the session's Cookie header."""
    browser = Browser(port)
    status, page, _ = browser.request("GET", "/login")
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    if status != 200 or not match:
        raise RuntimeError(f"no login form (HTTP {status})")
    status, _, headers = browser.request(
        "POST", "/login", {"csrf_token": match.group(1), "email": email, "password": password}
    )
    if status != 302:
        raise RuntimeError(f"sign-in failed (HTTP {status})")
    return browser.cookie_header()


def check_pages(port: int, cookie: str, paths: list[str]) -> None:
    browser = Browser(port)
    browser.cookies = dict(part.split("=", 1) for part in cookie.split("; "))
    for path in paths:
        for _ in range(3):  # also warms up a few gunicorn workers
            status, _, _ = browser.request("GET", path)
            if status != 200:
                raise RuntimeError(f"{path} answered HTTP {status} to the signed-in user")


# -- load generators ------------------------------------------------------------------------------


def run_wrk(
    port: int,
    cookie: str,
    paths: list[str],
    *,
    users: int,
    seconds: int,
    think: tuple[int, int] | None,
) -> dict:
    env = {
        **os.environ,
        "WRK_PATHS": ",".join(paths),
        "WRK_COOKIE": cookie,
        "WRK_THINK_MIN_MS": str(think[0] if think else 0),
        "WRK_THINK_MAX_MS": str(think[1] if think else 0),
    }
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(users),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "web_load.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    line = next((s for s in done.stdout.splitlines() if s.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError("wrk failed:\n" + done.stdout[-2000:] + done.stderr[-2000:])
    data = json.loads(line[len("WRK_JSON ") :])
    errors = (
        data["connect_errors"]
        + data["read_errors"]
        + data["write_errors"]
        + data["timeouts"]
        + data["non200"]
    )
    return {
        "requests": data["requests"],
        "seconds": data["duration_us"] / 1e6,
        "p50": data["p50_ms"],
        "p95": data["p95_ms"],
        "p99": data["p99_ms"],
        "max": data["max_ms"],
        "errors": errors,
        "generator": "wrk",
    }


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_python(
    port: int,
    cookie: str,
    paths: list[str],
    *,
    users: int,
    seconds: int,
    think: tuple[int, int] | None,
) -> dict:
    """Fallback: one thread per user, keep-alive connections, every latency recorded
    (also per path: "by_path" maps each path to its ascending latencies; "error_kinds"
    counts the errors by status or exception and path)."""
    samples: list[tuple[str, float]] = []
    error_kinds: Counter = Counter()
    errors = [0]
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds

    def user(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, bad, i, kinds = [], 0, n, Counter()
        try:
            while True:
                if think:
                    time.sleep(rng.uniform(*think) / 1000)
                if time.monotonic() >= deadline:
                    break
                i += 1
                path = paths[i % len(paths)]
                begin = time.perf_counter()
                try:
                    conn.request("GET", path, headers={"Cookie": cookie})
                    response = conn.getresponse()
                    response.read()
                    mine.append((path, (time.perf_counter() - begin) * 1000))
                    if response.status != 200:
                        bad += 1
                        kinds[f"HTTP {response.status} {path}"] += 1
                except (OSError, http.client.HTTPException) as exc:
                    bad += 1
                    kinds[f"{type(exc).__name__} {path}"] += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        finally:
            conn.close()
            with lock:
                samples.extend(mine)
                errors[0] += bad
                error_kinds.update(kinds)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    by_path = {path: [] for path in paths}
    for path, ms in samples:
        by_path[path].append(ms)
    for values in by_path.values():
        values.sort()
    latencies = sorted(ms for _, ms in samples)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": latencies[-1] if latencies else float("nan"),
        "errors": errors[0],
        "generator": "python",
        "by_path": by_path,
        "error_kinds": dict(error_kinds),  # "HTTP 502 /path" or "TimeoutError /path": count
    }


def run(backend: str, args) -> list[tuple]:
    generate = run_wrk if args.generator == "wrk" else run_python
    rows = []
    with database(backend) as url, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = server_env(url, port)
        ids = prepare(url, env, args.contacts)
        paths = [
            "/dashboard",
            "/contacts/",
            "/campaigns/",
            f"/campaigns/{ids['campaign']}",
            f"/reports/campaigns/{ids['campaign']}",
        ]
        log = open(os.path.join(tmp, "gunicorn.log"), "wb")  # noqa: SIM115  (closed in finally)
        server = start_server(env, log)
        try:
            wait_until_up(port, server)
            cookie = sign_in(port)
            check_pages(port, cookie, paths)
            runs = [("50 users", args.seconds, THINK_MS)]
            if args.saturate_seconds:
                runs.append(("saturation", args.saturate_seconds, None))
            for _label, seconds, think in runs:
                m = generate(port, cookie, paths, users=args.users, seconds=seconds, think=think)
                rps = m["requests"] / m["seconds"]
                name = (
                    f"web {backend} {args.users} users (think {think[0] / 1000:g}-"
                    f"{think[1] / 1000:g} s), {seconds} s"
                    if think
                    else f"web {backend} {args.users} conns, no think time, {seconds} s"
                )
                ok = m["p95"] < TARGET_P95_MS
                rows += [
                    (f"{name}: requests/s", f"{rps:,.1f}", "", None),
                    (f"{name}: p95 ms", f"{m['p95']:,.0f}", f"< {TARGET_P95_MS:.0f}", ok),
                    (f"{name}: p50 / p99 ms", f"{m['p50']:,.0f} / {m['p99']:,.0f}", "", None),
                    (f"{name}: errors", f"{m['errors']}", "0", m["errors"] == 0),
                ]
        except Exception:
            log.flush()
            print(Path(log.name).read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            stop_process(server, timeout=40)
            log.close()
    rows.insert(0, (f"web {backend}: contacts in the database", f"{ids['contacts']:,}", "", None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--saturate-seconds", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--generator", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python"
    )
    args = parser.parse_args()
    rows = []
    for backend in [args.backend] if args.backend else backends():
        rows += run(backend, args)
    print_table(
        f"Web load: gunicorn (app/gunicorn_conf.py), load generator {args.generator} "
        "(bench/web_load.py)",
        rows,
    )


if __name__ == "__main__":
    main()
