"""Run the whole suite on SQLite and, when PostgreSQL answers, on PostgreSQL too (used by
`make test`).

The two passes run at the same time: each pytest process is single-threaded, so on two
cores this halves the wall time of running them one after the other. Each pass writes to
its own log, printed whole when it ends, so the two outputs never interleave. Exit status:
non-zero when either pass fails.

Usage: python tests/run_passes.py PG_URL REDIS_URL [pytest args...]
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services_up import main as service_up  # noqa: E402


def start(name: str, env: dict, args: list[str], logdir: Path):
    log = open(logdir / f"{name.split()[0].lower()}.log", "w+b")  # noqa: SIM115 (closed in main)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return {"name": name, "proc": proc, "log": log, "started": time.monotonic()}


def progress(p) -> str:
    """The pass's last progress line (pytest -q prints `....  [ 42%]`)."""
    with open(p["log"].name, "rb") as log:
        text = log.read().decode("utf-8", "replace")
    done = re.findall(r"\[\s*(\d+)%\]", text)
    failures = sum(
        line.count("F") + line.count("E") for line in re.findall(r"^[.sxXFE]+", text, re.M)
    )
    minutes = (time.monotonic() - p["started"]) / 60
    return f"{minutes:.0f} min, {done[-1] if done else 0}% done, {failures} failed so far"


def main(argv: list[str]) -> int:
    pg_url, redis_url, args = argv[0], argv[1], argv[2:]
    base = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}
    logdir = Path(tempfile.mkdtemp(prefix="alcance-test-"))
    passes = [start("SQLite", base, args, logdir)]
    if service_up("postgres", pg_url) == 0:
        env = dict(base, TEST_DATABASE_URL=pg_url)
        if service_up("redis", redis_url) == 0:
            env["TEST_REDIS_URL"] = redis_url
        else:
            print(f"== Redis not reachable at {redis_url}: its tests are skipped ==", flush=True)
        passes.append(start(f"PostgreSQL at {pg_url}", env, args, logdir))
    else:
        print(f"== PostgreSQL not reachable at {pg_url}: PostgreSQL run skipped ==", flush=True)
    print("== running: " + ", ".join(p["name"] for p in passes) + " ==", flush=True)

    def dump_and_stop(signum, frame):  # a CI timeout: show how far each pass got
        for p in pending:
            p["proc"].terminate()
            p["log"].flush()
            p["log"].seek(0)
            print(f"\n== {p['name']}: stopped (signal {signum}); its output so far ==", flush=True)
            sys.stdout.buffer.write(p["log"].read())
        sys.stdout.flush()
        sys.exit(1)

    signal.signal(signal.SIGTERM, dump_and_stop)
    failed = []
    pending = list(passes)
    last_beat = time.monotonic()
    while pending:
        if time.monotonic() - last_beat >= 600:
            last_beat = time.monotonic()
            for p in pending:
                print(f"== {p['name']}: {progress(p)} ==", flush=True)
        for p in list(pending):
            code = p["proc"].poll()
            if code is None:
                continue
            pending.remove(p)
            minutes = (time.monotonic() - p["started"]) / 60
            print(f"\n== {p['name']}: exit {code} after {minutes:.1f} min ==", flush=True)
            p["log"].seek(0)
            sys.stdout.buffer.write(p["log"].read())
            sys.stdout.flush()
            p["log"].close()
            if code != 0:
                failed.append(p["name"])
        time.sleep(1)
    if failed:
        print(f"\n== failed: {', '.join(failed)} ==", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
