"""Benchmark: the short-link redirect GET /l/<code> (a young person's tap on a link).

    .venv/bin/python bench/links.py [--contacts 50000] [--links-per-contact 2] [--rate 200]
                                    [--seconds 30] [--clients 16] [--workers 4]
                                    [--backend postgresql|sqlite]

One fresh database (PostgreSQL at $BENCH_DATABASE_URL, by default
postgresql+psycopg://postgres@127.0.0.1:5432/test, used only to create a throw-away
database; SQLite with --backend sqlite): an organization allowing example.org, --contacts
contacts (bench/common.seed_contacts), one delivered campaign message each (sent an hour
ago) and --links-per-contact tracked links in each copy (100,000 links by default).

Two gunicorn servers with the checked-in config (app/gunicorn_conf.py, --workers workers
× 2 threads) and three routes, each offered --rate requests/s for --seconds in all, open
loop (request i leaves at start + i / rate, from --clients threads on keep-alive
connections), each request a different random link, with a phone browser's User-Agent.
The three take turns in --slices slices (rotating who goes first), so whatever else runs
on the machine weighs on them alike:

- reference: bench/links_reference.py, a minimal Flask route doing one raw SQL lookup by
  code and a 302 (no checks, nothing counted);
- reference + count: the same, plus a raw `UPDATE ... clicks = clicks + 1`;
- the app: wsgi:app with the production config, GET /l/<code> as it runs: the lookup
  (link, allow-list, language, when the message left), the preview/click decision, the
  UPDATE ... RETURNING and, as most requests here are first clicks, the participation
  event (one statement with the UPDATE on PostgreSQL).

Per route: client-side latency from each request's scheduled departure to its response
(median, p95, p99: queueing included), server-side duration (gunicorn's access log %(M)s,
whole milliseconds), gunicorn's CPU time per request (/proc: the master, its workers and
the recycled ones, booting included; PostgreSQL's own CPU is not in it), worker recycles
(max_requests), the machine's load average, the rate achieved, errors. Target: the app's
client-side p95 < 20 ms at 200 requests/s on PostgreSQL. Afterwards the clicks and events
are checked: every request counted once, one "clicked" event per recipient and message.
"""

import argparse
import http.client
import os
import queue
import random
import re
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    ROOT,
    database,
    free_port,
    make_app,
    postgres_url,
    print_table,
    seed_contacts,
    stop_process,
)
from sqlalchemy import func, insert, select, text
from web_load import server_env, start_server, wait_until_up

TARGET_P95_MS = 20.0
BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(q / 100 * len(ordered)))  # nearest rank
    return ordered[min(rank, len(ordered)) - 1]


# --- setup -------------------------------------------------------------------------------------


def prepare(url: str, contacts: int, per_contact: int) -> dict:
    """Organization, contacts, a delivered message each with its links. Returns the codes."""
    from app.campaigns.models import Campaign, CampaignMessage
    from app.contacts.models import Contact
    from app.extensions import db
    from app.links.finalize import new_code
    from app.links.models import TrackedLink
    from app.organizations.services import create_organization
    from app.outbox.models import OutboxMessage

    app = make_app(url)
    started = time.perf_counter()
    with app.app_context():
        org = create_organization(
            slug="bench", name="Bench", country="MX", timezone="America/Mexico_City"
        )
        org.link_hosts = "example.org"
        campaign = Campaign(
            organization_id=org.id,
            name="Enlaces",
            topic="fentanyl",
            strategy="information_dissemination",
            level="universal",
            status="active",
        )
        db.session.add(campaign)
        db.session.flush()
        message = CampaignMessage(
            organization_id=org.id,
            campaign_id=campaign.id,
            label="Guía",
            body_es="Lee la guía: {link:https://example.org/guia}",
            body_en="Read the guide: {link:https://example.org/guide}",
        )
        db.session.add(message)
        db.session.commit()
        seed_contacts(org.id, contacts)
        contact_ids = list(
            db.session.scalars(select(Contact.id).where(Contact.organization_id == org.id))
        )
        sent = datetime.now(UTC) - timedelta(hours=1)
        codes = set()
        while len(codes) < len(contact_ids) * per_contact:
            codes.add(new_code())
        codes = list(codes)
        for start in range(0, len(contact_ids), 10_000):
            chunk = contact_ids[start : start + 10_000]
            rows = [
                dict(
                    organization_id=org.id,
                    campaign_id=campaign.id,
                    message_id=message.id,
                    contact_id=contact_id,
                    language="es",
                    body="Lee la guía",
                    due_at=sent,
                    status="delivered",
                    prepared_at=sent,
                    send_started_at=sent,
                    sent_at=sent,
                    final_at=sent + timedelta(seconds=5),
                    attempts=1,
                )
                for contact_id in chunk
            ]
            db.session.execute(insert(OutboxMessage), rows)
            outbox = db.session.execute(
                select(OutboxMessage.id, OutboxMessage.contact_id).where(
                    OutboxMessage.contact_id.in_(chunk)
                )
            ).all()
            links = []
            for outbox_id, contact_id in outbox:
                for _ in range(per_contact):
                    links.append(
                        dict(
                            organization_id=org.id,
                            code=codes[len(links) + start * per_contact],
                            outbox_id=outbox_id,
                            contact_id=contact_id,
                            campaign_id=campaign.id,
                            message_id=message.id,
                            destination="https://example.org/guia",
                            created_at=sent,
                            expires_at=sent + timedelta(days=90),
                            clicks=0,
                            previews=0,
                        )
                    )
            db.session.execute(insert(TrackedLink), links)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in ("tracked_links", "outbox_messages", "contacts", "organizations"):
                    conn.execute(text(f"VACUUM ANALYZE {table}"))
        total = db.session.scalar(select(func.count()).select_from(TrackedLink))
        db.session.remove()
        db.engine.dispose()
    return {"app": app, "codes": codes, "links": total, "setup_s": time.perf_counter() - started}


# --- load --------------------------------------------------------------------------------------


def offer(port: int, paths: list[str], clients: int, rate: float) -> dict:
    """GET every path, path i leaving at start + i / rate; latencies from that moment."""
    work: queue.Queue = queue.Queue()
    for index, path in enumerate(paths):
        work.put((index, path))
    latencies, errors, lock = [], [0], threading.Lock()
    begin = time.perf_counter() + 0.1
    headers = {"User-Agent": BROWSER, "Accept-Language": "es-MX,es;q=0.9"}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while True:
            try:
                index, path = work.get_nowait()
            except queue.Empty:
                break
            due = begin + index / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 302 and "Set-Cookie" not in response.headers
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append((time.perf_counter() - max(due, begin)) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - begin
    return {"latencies": latencies, "errors": errors[0], "rps": len(paths) / elapsed}


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master `root`, its live
    workers and the workers it has reaped (recycled ones: the master's children times)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root:
            total += sum(int(x) for x in fields[11:15]) / tick
        elif int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


ACCESS = re.compile(r'"GET /[lu]/\w+" (\d{3}) \S+ (\d+)ms')


def server_ms(log_path: Path, offset: int) -> tuple[list[float], int]:
    data = log_path.read_bytes()
    found = [float(m.group(2)) for m in ACCESS.finditer(data[offset:].decode("utf-8", "replace"))]
    return found, len(data)


class Server:
    """A gunicorn serving `module`, its access log and CPU time."""

    def __init__(self, env: dict, module: str, tmp: str, name: str):
        self.name, self.port = name, int(env["GUNICORN_BIND"].rsplit(":", 1)[1])
        self.log_path = Path(tmp) / f"{name}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess_start(env, module, log)
        wait_until_up(self.port, self.process)

    def offset(self) -> int:
        return len(self.log_path.read_bytes())

    def since(self, offset: int) -> list[float]:
        return server_ms(self.log_path, offset)[0]

    def recycled(self) -> int:
        """Workers booted after the first ones (gunicorn's max_requests recycling: a new
        worker imports the application again, on the same CPUs)."""
        return max(
            0, self.log_path.read_text(errors="replace").count("Booting worker") - WORKERS[0]
        )

    def errors(self) -> list[str]:
        text_ = self.log_path.read_text(errors="replace")
        return [line for line in text_.splitlines() if " ERROR " in line or "Traceback" in line]

    def stop(self) -> None:
        stop_process(self.process)


WORKERS = [4]


def interleaved(phases: list, slices: int, clients: int, rate: float) -> dict:
    """Offer each phase's paths in `slices` turns, the phases taking turns (rotating who
    goes first), so the machine's other load falls on all of them alike."""
    results = {
        name: {"latencies": [], "server": [], "errors": 0, "cpu": 0.0, "n": 0, "s": 0.0}
        for name, *_ in phases
    }
    for turn in range(slices):
        order = phases[turn % len(phases) :] + phases[: turn % len(phases)]
        for name, server, paths in order:
            chunk = paths[turn::slices]
            offset, cpu = server.offset(), tree_cpu(server.process.pid)
            figures = offer(server.port, chunk, clients, rate)
            time.sleep(0.3)
            mine = results[name]
            mine["cpu"] += tree_cpu(server.process.pid) - cpu
            mine["server"] += server.since(offset)
            mine["latencies"] += figures["latencies"]
            mine["errors"] += figures["errors"]
            mine["n"] += len(chunk)
            mine["s"] += len(chunk) / figures["rps"]
    for mine in results.values():
        mine["rps"] = mine["n"] / mine["s"]
        mine["cpu_ms"] = mine["cpu"] * 1000 / mine["n"]
    return results


def subprocess_start(env: dict, module: str, log):
    if module == "wsgi:app":
        return start_server(env, log)
    import subprocess

    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", module],
        cwd=ROOT,
        env={**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def counted(app, codes: list[str]) -> dict:
    """What the app recorded for the links it was offered: clicks, previews, "clicked"
    events, and the events expected (one per recipient and message: a contact whose two
    links were both offered clicked the message once)."""
    from app.extensions import db
    from app.links.models import TrackedLink
    from app.participation.models import ParticipationEvent

    mine = TrackedLink.code.in_(codes)
    with app.app_context():
        clicks, previews, contacts = db.session.execute(
            select(
                func.coalesce(func.sum(TrackedLink.clicks), 0),
                func.coalesce(func.sum(TrackedLink.previews), 0),
                func.count(func.distinct(TrackedLink.contact_id)),
            ).where(mine)
        ).one()
        events = db.session.scalar(
            select(func.count())
            .select_from(ParticipationEvent)
            .where(ParticipationEvent.kind == "clicked")
        )
        db.session.remove()
        db.engine.dispose()
    return {
        "clicks": int(clicks),
        "previews": int(previews),
        "events": events,
        "expected": contacts,
    }


def load_average() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def run(backend: str, args) -> list[tuple]:
    with database(backend) as url, tempfile.TemporaryDirectory() as tmp:
        print(f"[{backend}] seeding {args.contacts:,} contacts and their links…", flush=True)
        ready = prepare(url, args.contacts, args.links_per_contact)
        rng = random.Random(5)
        codes = ready["codes"][:]
        rng.shuffle(codes)
        n = int(args.rate * args.seconds)
        warm_n = int(args.rate * 2)
        # Each phase gets links of its own: the app's are all first clicks (the heavier path).
        ref_codes, count_codes = codes[: warm_n + n], codes[warm_n + n : 2 * (warm_n + n)]
        app_codes = codes[2 * (warm_n + n) : 3 * (warm_n + n)]
        WORKERS[0] = args.workers
        servers = []
        try:
            for module, name in (("links_reference:app", "reference"), ("wsgi:app", "app")):
                env = server_env(url, free_port())
                env.update(
                    {
                        "GUNICORN_WORKERS": str(args.workers),
                        "GUNICORN_THREADS": "2",
                        "LOG_JSON": "0",
                    }
                )
                servers.append(Server(env, module, tmp, name))
            reference, app_server = servers
            phases = [
                ("lookup", reference, [f"/l/{c}" for c in ref_codes]),
                ("count", reference, [f"/u/{c}" for c in count_codes]),
                ("app", app_server, [f"/l/{c}" for c in app_codes]),
            ]
            for _name, server, paths in phases:  # warm every worker
                offer(server.port, paths[:warm_n], args.clients, args.rate)
            phases = [(name, server, paths[warm_n:]) for name, server, paths in phases]
            before = load_average()
            print(
                f"[{backend}] {n:,} requests at {args.rate:g}/s to each of the reference's "
                f"two routes and the app, in {args.slices} turns (load {before})…",
                flush=True,
            )
            results = interleaved(phases, args.slices, args.clients, args.rate)
            after = load_average()
            recycled = {server.name: server.recycled() for server in servers}
            for server in servers:
                if server.errors():
                    print(f"[{server.name}] server errors: {server.errors()[:3]}", flush=True)
        finally:
            for server in servers:
                server.stop()
        recorded = counted(ready["app"], app_codes)
    reference, ours = {"lookup": results["lookup"], "count": results["count"]}, results["app"]

    def ms(values, q):
        return f"{percentile(values, q):,.1f}"

    rows = [
        ("tracked links in the table", f"{ready['links']:,}", "", None),
        ("setup s", f"{ready['setup_s']:.1f}", "", None),
        ("machine load average before / after", f"{before} / {after}", "", None),
        (
            "gunicorn workers recycled: reference / app",
            f"{recycled['reference']} / {recycled['app']}",
            "",
            None,
        ),
    ]
    for label, figures in (
        ("reference (raw lookup)", reference["lookup"]),
        ("reference + raw UPDATE", reference["count"]),
        ("app GET /l/<code>", ours),
    ):
        rows += [
            (
                f"{label}: client median / p95 / p99 ms",
                "/".join(ms(figures["latencies"], q) for q in (50, 95, 99)),
                "",
                None,
            ),
            (
                f"{label}: server median / p95 ms",
                "/".join(ms(figures["server"], q) for q in (50, 95)),
                "",
                None,
            ),
            (f"{label}: gunicorn CPU ms per request", f"{figures['cpu_ms']:.2f}", "", None),
            (
                f"{label}: requests/s, errors",
                f"{figures['rps']:,.0f}, {figures['errors']}",
                "",
                None,
            ),
        ]
    p95 = percentile(ours["latencies"], 95)
    rows += [
        (
            f"app redirect client p95 ms at {args.rate:g}/s",
            f"{p95:,.1f}",
            f"< {TARGET_P95_MS:.0f}",
            p95 < TARGET_P95_MS and ours["errors"] == 0,
        ),
        (
            "app clicks / previews counted",
            f"{recorded['clicks']:,} / {recorded['previews']:,}",
            f"{warm_n + n:,} / 0",
            recorded["clicks"] == warm_n + n and recorded["previews"] == 0,
        ),
        (
            "app clicked events / recipients who clicked",
            f"{recorded['events']:,} / {recorded['expected']:,}",
            "equal",
            recorded["events"] == recorded["expected"],
        ),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--links-per-contact", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--slices", type=int, default=6, help="turns the three phases take")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    backend = args.backend or ("postgresql" if postgres_url() else "sqlite")
    if backend == "postgresql" and not postgres_url():
        sys.exit("PostgreSQL is not reachable (BENCH_DATABASE_URL)")
    needed = 3 * int(args.rate * (args.seconds + 2))
    if needed > args.contacts * args.links_per_contact:
        sys.exit(f"not enough links for three phases: raise --contacts (need {needed:,})")
    rows = run(backend, args)
    print_table(
        f"Short-link redirect ({backend}): {args.rate:g} requests/s for {args.seconds:g} s, "
        "next to a minimal Flask route",
        rows,
    )


if __name__ == "__main__":
    main()
