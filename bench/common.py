"""Shared benchmark plumbing: throw-away databases, an app per backend, bulk demo rows.

Benchmarks measure; they assert nothing. Each prints a table of figures and targets.
"""

import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"  # not 15: `make test` uses that one
ZONES = [  # (country, state, municipality, time zone, weight)
    ("MX", "02", "Tijuana", "America/Tijuana", 20),
    ("MX", "09", "Coyoacán", "America/Mexico_City", 25),
    ("MX", "14", "Guadalajara", "America/Mexico_City", 10),
    ("MX", "19", "Monterrey", "America/Monterrey", 10),
    ("MX", "08", "Juárez", "America/Ciudad_Juarez", 8),
    ("MX", "23", "Benito Juárez", "America/Cancun", 5),
    ("MX", "31", "Mérida", "America/Merida", 5),
    ("MX", "26", "Hermosillo", "America/Hermosillo", 5),
    ("US", "CA", "San Diego", "America/Los_Angeles", 7),
    ("US", "AZ", "Phoenix", "America/Phoenix", 3),
    ("US", "TX", "El Paso", "America/Denver", 2),
]


def postgres_url() -> str | None:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL)
    try:
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return None
    return url


@contextmanager
def database(backend: str, *, prefix: str = "alcance_bench_", keep: bool = False):
    """A fresh, empty database URL for `backend` ("sqlite" or "postgresql"), removed after
    unless `keep` (PostgreSQL: then named `prefix` + random hex, left for inspection)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    from sqlalchemy import create_engine, text

    base = postgres_url()
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def backends() -> list[str]:
    return ["sqlite"] + (["postgresql"] if postgres_url() else [])


def make_app(url: str, **settings):
    from app import create_app
    from app.extensions import db
    from config import TestingConfig

    class BenchConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        TESTING = False

    for key, value in settings.items():
        setattr(BenchConfig, key, value)
    app = create_app(BenchConfig)
    with app.app_context():
        db.create_all()
    return app


def seed_contacts(org_id: int, n: int, *, seed: int = 7, batch: int = 10_000) -> None:
    """Insert `n` eligible adult contacts spread over the border and central zones."""
    from datetime import datetime

    from sqlalchemy import insert

    from app.contacts.models import Contact
    from app.extensions import db

    rng = random.Random(seed)
    weights = [z[4] for z in ZONES]
    consent = datetime(2026, 1, 10, 12, tzinfo=UTC)
    rows = []
    for i in range(n):
        country, state, town, tz, _ = rng.choices(ZONES, weights)[0]
        # US numbers need an exchange of 200 or more to be valid (the inbound path checks).
        phone = f"+52664{i:07d}" if country == "MX" else f"+1619{2_000_000 + i:07d}"
        rows.append(
            dict(
                organization_id=org_id,
                phone=phone,
                first_name=rng.choice(["Ana", "José", "Itzel", "Brayan", None]),
                language=rng.choice(["es", "es", "en"]),
                birth_year=rng.randint(1998, 2007),
                country=country,
                state_code=state,
                municipality=town,
                timezone=tz,
                consent_source="school",
                consent_at=consent,
                guardian_consent=True,
                undeliverable=False,
                created_at=consent,
                updated_at=consent,
            )
        )
        if len(rows) == batch:
            db.session.execute(insert(Contact), rows)
            rows = []
    if rows:
        db.session.execute(insert(Contact), rows)
    db.session.commit()
    # What a real import of this size ends with (contacts/import_jobs.py): fresh statistics.
    from app.contacts.statistics import refresh_planner_statistics

    refresh_planner_statistics()


def redis_url() -> str | None:
    """$BENCH_REDIS_URL (default redis://127.0.0.1:6379/14) when it answers, else None."""
    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        return None
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake_twilio(latency: float) -> tuple[subprocess.Popen, dict]:
    """The fake Twilio API (tests/fake_twilio.py) in its own process; returns (process, env)
    where env holds TWILIO_API_BASE_URL and the credentials it accepts. Terminate it after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0", "--latency", str(latency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    process.stdout.close()
    env = dict(re.findall(r"(\w+)=(\S+)", line))
    if "TWILIO_API_BASE_URL" not in env:
        process.kill()
        process.wait()
        raise RuntimeError(f"fake Twilio did not start: {line!r}")
    return process, env


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def emit_json(table: str, figure: str, value, target="", passed=None, **extra) -> None:
    """One machine-readable figure for bench/run_all.py: a `BENCH_JSON {...}` line."""
    record = {
        "table": table,
        "figure": figure,
        "value": value,
        "target": target,
        "pass": passed,
        **extra,
    }
    print("BENCH_JSON " + json.dumps(record, ensure_ascii=False, default=str), flush=True)


def print_table(title: str, rows: list[tuple]) -> None:
    """rows: (figure, value, target, passed: bool | None). Also emits a BENCH_JSON line per
    row, which bench/run_all.py collects into the one table of `make bench`."""
    print(f"\n{title}")
    print(f"{'figure':<48} {'value':>14} {'target':>14}  result")
    for figure, value, target, passed in rows:
        result = "" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{figure:<48} {value:>14} {target:>14}  {result}")
    for figure, value, target, passed in rows:
        emit_json(title, figure.strip(), value, target, passed)
    sys.stdout.flush()
