"""Benchmark: dispatch throughput through the real TwilioGateway against a fake Twilio
HTTP server that answers each request after 100 ms, side by side with a raw SDK loop.

    .venv/bin/python bench/dispatch.py [--messages 6000] [--limit 100] [--threads 64]
        [--parts abcd] [--repeat 1]

On PostgreSQL ($BENCH_DATABASE_URL's server; a scratch database per run), each run starting
a fresh fake Twilio process (tests/fake_twilio.py):
(a) one `flask outreach worker --once --concurrency <threads>` process, no rate limit
    (TWILIO_MAX_MPS=0), vs a raw loop of the Twilio SDK (`client.messages.create`, same HTTP
    client and pool size, no database) with the same threads: target >= 0.8 x raw;
(b) TWILIO_MAX_MPS=--limit, 4 worker processes sharing the budget through Redis
    ($BENCH_REDIS_URL, default redis://127.0.0.1:6379/14), default (auto) sizing: sustained
    rate within 5 % of the limit (skipped when Redis does not answer);
(c) default settings (OUTREACH_CONCURRENCY/OUTREACH_BATCH auto) and no rate limit vs raw
    with the threads the worker chose: target >= 0.8 x raw;
(d) default settings with TWILIO_MAX_MPS=--limit, one worker: within 5 % of the limit;
(e) mixed channels (issue 19): the run of (a) with half the contacts on WhatsApp (opted in,
    inside the 24-hour window: free-form `whatsapp:` messages through the Messaging
    Service), next to the SMS-only run of (a), alternating: target >= 0.9 x SMS-only.
Every run checks exactly-once against the fake's record of creates (listed through its API):
no recipient twice, none missing, and every row `sent` with a SID the fake created for it.
Rates are sustained: messages between the first and the last send, over that time (process
start-up excluded). (a) and (c) also print the CPU time per message of the worker process and
of the raw loop's process (start-up included; the fake's and PostgreSQL's not).
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

from common import (
    ROOT,
    database,
    make_app,
    postgres_url,
    print_table,
    redis_url,
    seed_contacts,
    start_fake_twilio,
    stop_process,
)

LATENCY = 0.1
BODY = "Hola, infórmate sobre el fentanilo."


def seed(url: str, n: int, *, whatsapp_share: float = 0.0) -> None:
    from sqlalchemy import insert, select, update

    from app.campaigns.models import Campaign
    from app.contacts.models import Contact
    from app.extensions import db
    from app.organizations.services import create_organization
    from app.outbox.models import OutboxMessage

    app = make_app(url)
    with app.app_context():
        org = create_organization(
            slug="bench", name="Bench", country="MX", timezone="America/Tijuana"
        )
        # Any hour of the day the benchmark runs at must be "allowed" for this measurement.
        org.quiet_start, org.quiet_end = clock_time(0, 0), clock_time(23, 59, 59)
        org.opt_out_notice = "always"
        campaign = Campaign(
            organization_id=org.id,
            name="Bench",
            topic="fentanyl",
            strategy="education",
            level="universal",
            status="active",
        )
        db.session.add(campaign)
        db.session.commit()
        seed_contacts(org.id, n)
        now = datetime.now(UTC)
        # ... and the law's (Mexico 09:00-21:00, US 08:00-21:00, by the contact's zone): every
        # contact in a zone where it is early afternoon now (Etc/GMT-3 is UTC+3).
        ahead = (13 - now.hour + 12) % 24 - 12
        db.session.execute(update(Contact).values(timezone=f"Etc/GMT{-ahead:+d}"))
        db.session.commit()
        ids = db.session.scalars(select(Contact.id).order_by(Contact.id)).all()
        if whatsapp_share:  # every other contact (share 0.5) prefers WhatsApp, window open
            step = max(round(1 / whatsapp_share), 1)
            db.session.execute(
                update(Contact)
                .where(Contact.id.in_(ids[::step]))
                .values(
                    preferred_channel="whatsapp",
                    whatsapp_opt_in_at=now,
                    whatsapp_opt_in_source="bench",
                    last_whatsapp_in_at=now,
                )
            )
            db.session.commit()
        db.session.execute(
            insert(OutboxMessage),
            [
                dict(
                    organization_id=org.id,
                    campaign_id=campaign.id,
                    contact_id=cid,
                    language="es",
                    body=BODY,
                    due_at=now,
                    status="scheduled",
                    purpose="campaign",
                )
                for cid in ids
            ],
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def outbox_rows(url: str) -> list[tuple]:
    """(phone, status, sid, sent_at) of every outbox row."""
    from sqlalchemy import create_engine, select

    from app.contacts.models import Contact
    from app.outbox.models import OutboxMessage

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Contact.phone, OutboxMessage.status, OutboxMessage.twilio_sid, OutboxMessage.sent_at
            ).join(Contact, Contact.id == OutboxMessage.contact_id)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def fake_creates(twilio_env: dict) -> list[dict]:
    """Every message the fake Twilio created, through its list API (1,000 a page)."""
    import requests

    base = twilio_env["TWILIO_API_BASE_URL"].rstrip("/")
    account = twilio_env["TWILIO_ACCOUNT_SID"]
    url = f"{base}/2010-04-01/Accounts/{account}/Messages.json"
    found, page = [], 0
    with requests.Session() as session:
        session.trust_env = False
        while True:
            answer = session.get(
                url,
                params={"PageSize": 1000, "Page": page},
                auth=(account, twilio_env["TWILIO_AUTH_TOKEN"]),
                timeout=60,
            )
            answer.raise_for_status()
            payload = answer.json()
            found += payload["messages"]
            if not payload.get("next_page_uri"):
                return found
            page += 1


def exactly_once(created: list[dict], phones: list[str], rows: list[tuple] | None) -> str:
    """ "ok", or what went wrong: duplicates, missing recipients, rows not matching."""
    per_phone = Counter(_bare(m["to"]) for m in created)
    twice = sum(1 for n in per_phone.values() if n > 1)
    missing = len(set(phones) - set(per_phone))
    problems = [f"{twice} twice"] if twice else []
    problems += [f"{missing} missing"] if missing else []
    if rows is not None:
        by_sid = {m["sid"]: _bare(m["to"]) for m in created}
        bad = sum(
            1 for phone, status, sid, _ in rows if status != "sent" or by_sid.get(sid) != phone
        )
        problems += [f"{bad} rows not sent with their SID"] if bad else []
    return "ok" if not problems else ", ".join(problems)


def _bare(address: str) -> str:
    """A WhatsApp message's "whatsapp:+52…" address as the contact's phone."""
    return address.removeprefix("whatsapp:")


def channels(url: str) -> Counter:
    """Outbox rows per channel (and WhatsApp form)."""
    from sqlalchemy import create_engine, func, select

    from app.outbox.models import OutboxMessage

    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            select(OutboxMessage.channel, OutboxMessage.whatsapp_form, func.count()).group_by(
                OutboxMessage.channel, OutboxMessage.whatsapp_form
            )
        ).all()
    engine.dispose()
    return Counter({f"{c}{'/' + f if f else ''}": n for c, f, n in found})


def sustained(moments: list) -> float:
    moments = sorted(moments)
    if len(moments) < 2:
        return 0.0
    span = moments[-1] - moments[0]
    span = span.total_seconds() if hasattr(span, "total_seconds") else span
    return (len(moments) - 1) / span if span > 0 else 0.0


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_env(url: str, twilio_env: dict, *, mps: float, redis: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    return {
        **env,
        **twilio_env,
        "APP_CONFIG": "development",
        "DATABASE_URL": url,
        "SMS_BACKEND": "twilio",
        "TWILIO_MAX_MPS": str(mps),
        "SECRET_KEY": "bench" * 13,
        "PUBLIC_BASE_URL": "https://alcance.example.org",
        "REDIS_URL": redis or "",
    }


def run_workers(
    url: str,
    twilio_env: dict,
    *,
    workers: int,
    mps: float,
    threads: int | None = None,
    redis: str | None = None,
) -> dict:
    """Run `workers` processes to the end; returns rate, exactly-once check, chosen threads."""
    env = worker_env(url, twilio_env, mps=mps, redis=redis)
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "outreach", "worker", "--once"]
    if threads:
        args += ["--concurrency", str(threads)]
    cpu = children_cpu()
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / f"worker{i}.log" for i in range(workers)]
        procs = []
        for log in logs:
            with open(log, "w") as out:
                procs.append(
                    subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out)
                )
        for proc in procs:
            proc.wait()
        cpu = children_cpu() - cpu
        sized = [re.findall(r"dispatch sized threads=(\d+)", log.read_text()) for log in logs]
        for proc, log in zip(procs, logs, strict=True):
            if proc.returncode:
                print(
                    f"  worker exited {proc.returncode}:\n{log.read_text()[-3000:]}",
                    file=sys.stderr,
                )
    rows = outbox_rows(url)
    created = fake_creates(twilio_env)
    return {
        "channels": dict(channels(url)),
        "rate": sustained([sent_at for _, status, _, sent_at in rows if status == "sent"]),
        "check": exactly_once(created, [phone for phone, *_ in rows], rows),
        "threads": [int(s[-1]) for s in sized if s],
        "cpu_ms": 1000 * cpu / max(len(rows), 1),
    }


def run_raw(twilio_env: dict, *, n: int, threads: int) -> dict:
    """The raw SDK loop in its own process (as a worker is): rate and exactly-once check."""
    cpu = children_cpu()
    answer = subprocess.run(
        [sys.executable, __file__, "--raw", str(n), "--threads", str(threads)],
        cwd=ROOT,
        env={**os.environ, **twilio_env},
        capture_output=True,
        text=True,
        check=True,
    )
    cpu = children_cpu() - cpu
    rate = json.loads(answer.stdout.strip().splitlines()[-1])["rate"]
    phones = [raw_phone(i) for i in range(n)]
    return {
        "rate": rate,
        "check": exactly_once(fake_creates(twilio_env), phones, None),
        "cpu_ms": 1000 * cpu / n,
    }


def raw_phone(i: int) -> str:
    return f"+52664{i:07d}"


def raw_loop(n: int, threads: int) -> None:
    """`threads` threads call `client.messages.create` for n recipients; prints the rate."""
    from twilio.rest import Client

    from app.messaging.twilio_gateway import AlcanceTwilioHttpClient

    env = os.environ
    http = AlcanceTwilioHttpClient(
        base_url=env["TWILIO_API_BASE_URL"], timeout=(5.0, 15.0), pool_maxsize=threads
    )
    client = Client(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"], http_client=http)
    client.messages  # noqa: B018  build the SDK's lazy objects before the threads
    service = env["TWILIO_MESSAGING_SERVICE_SID"]
    lock, done, next_index = threading.Lock(), [], iter(range(n))

    def loop():
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            client.messages.create(to=raw_phone(i), body=BODY, messaging_service_sid=service)
            with lock:
                done.append(time.monotonic())

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    print(json.dumps({"rate": sustained(done), "sent": len(done)}), flush=True)


def fresh_run(function, *args, **kwargs) -> dict:
    """`function(twilio_env, ...)` against a fake Twilio process of its own (a clean record)."""
    fake, twilio_env = start_fake_twilio(LATENCY)
    try:
        return function(twilio_env, *args, **kwargs)
    finally:
        stop_process(fake)


def alcance(twilio_env: dict, n: int, *, whatsapp_share: float = 0.0, **options) -> dict:
    with database("postgresql") as url:
        seed(url, n, whatsapp_share=whatsapp_share)
        return run_workers(url, twilio_env, **options)


def mixed_rows(label: str, mixed: dict, sms: dict) -> list[tuple]:
    ratio = mixed["rate"] / sms["rate"] if sms["rate"] else 0.0
    return [
        (f"{label}: mixed msg/s", f"{mixed['rate']:,.0f}", "", None),
        ("  SMS-only msg/s (same threads)", f"{sms['rate']:,.0f}", "", None),
        ("  mixed / SMS-only", f"{ratio:.2f}", ">= 0.9", ratio >= 0.9),
        ("  rows per channel (mixed)", json.dumps(mixed["channels"], sort_keys=True), "", None),
        (
            "  exactly once (mixed; SMS-only)",
            f"{mixed['check']}; {sms['check']}",
            "ok; ok",
            mixed["check"] == sms["check"] == "ok",
        ),
    ]


def compare_rows(label: str, ours: dict, raw: dict, threads) -> list[tuple]:
    ratio = ours["rate"] / raw["rate"] if raw["rate"] else 0.0
    return [
        (f"{label}: Alcance msg/s", f"{ours['rate']:,.0f}", "", None),
        (f"  raw SDK loop, {threads} threads, msg/s", f"{raw['rate']:,.0f}", "", None),
        ("  Alcance / raw", f"{ratio:.2f}", ">= 0.8", ratio >= 0.8),
        (
            "  exactly once (Alcance; raw)",
            f"{ours['check']}; {raw['check']}",
            "ok; ok",
            ours["check"] == raw["check"] == "ok",
        ),
        (
            "  CPU ms/message, Alcance; raw (with start-up)",
            f"{ours['cpu_ms']:.2f}; {raw['cpu_ms']:.2f}",
            "",
            None,
        ),
    ]


def limit_rows(label: str, ours: dict, limit: float) -> list[tuple]:
    return [
        (
            f"{label}, msg/s",
            f"{ours['rate']:,.1f}",
            f"{limit * 0.95:g}-{limit * 1.05:g}",
            abs(ours["rate"] - limit) <= 0.05 * limit,
        ),
        (
            "  exactly once; threads chosen",
            f"{ours['check']}; {ours['threads']}",
            "ok",
            ours["check"] == "ok",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--limit", type=float, default=100.0)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--backend", choices=("postgresql",), default="postgresql")
    parser.add_argument("--parts", default="abcd", help="which of (a)-(e) to run, e.g. ae")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run (a) this many times, interleaved with raw"
    )
    parser.add_argument("--raw", type=int, help=argparse.SUPPRESS)  # the raw loop's process
    args = parser.parse_args()
    if args.raw:
        raw_loop(args.raw, args.threads)
        return
    title = (
        f"Dispatch via TwilioGateway vs raw SDK, fake Twilio latency {LATENCY * 1000:.0f} ms "
        "(bench/dispatch.py)"
    )
    if not postgres_url():
        print_table(title, [("dispatch postgresql", "no PostgreSQL", "", None)])
        return
    n, limit, threads, shared = args.messages, args.limit, args.threads, redis_url()
    per_limit = max(int(limit * 30), 50)  # about 30 s at the limit
    rows, parts = [], args.parts
    # (a) explicit threads, no limit, vs raw with the same threads (alternating: the machine
    # is noisy, compare each run's ratio).
    for run in range(args.repeat if "a" in parts else 0):
        ours = fresh_run(alcance, n, workers=1, mps=0, threads=threads)
        raw = fresh_run(run_raw, n=n, threads=threads)
        label = f"(a) 1 worker, {threads} threads, no limit" + (f" #{run + 1}" if run else "")
        rows += compare_rows(label, ours, raw, threads)
    # (b) the shared limit, 4 workers, auto sizing.
    if "b" not in parts:
        pass
    elif shared:
        ours = fresh_run(alcance, per_limit, workers=4, mps=limit, redis=shared)
        rows += limit_rows(f"(b) limit {limit:g}/s, 4 workers, Redis, auto", ours, limit)
    else:
        rows.append((f"(b) limit {limit:g}/s, 4 workers, Redis", "no Redis", "", None))
    # (c) default (auto) sizing, no limit, vs raw with the threads the worker chose.
    if "c" in parts:
        ours = fresh_run(alcance, n, workers=1, mps=0)
        chosen = ours["threads"][0] if ours["threads"] else threads
        raw = fresh_run(run_raw, n=n, threads=chosen)
        rows += compare_rows("(c) 1 worker, auto sizing, no limit", ours, raw, chosen)
    # (d) default (auto) sizing under a limit, one worker.
    if "d" in parts:
        ours = fresh_run(alcance, per_limit, workers=1, mps=limit)
        rows += limit_rows(f"(d) limit {limit:g}/s, 1 worker, auto", ours, limit)
    # (e) half the contacts on WhatsApp vs SMS only, same threads, alternating.
    for run in range(args.repeat if "e" in parts else 0):
        mixed = fresh_run(alcance, n, workers=1, mps=0, threads=threads, whatsapp_share=0.5)
        sms = fresh_run(alcance, n, workers=1, mps=0, threads=threads)
        label = f"(e) 1 worker, {threads} threads, half WhatsApp" + (f" #{run + 1}" if run else "")
        rows += mixed_rows(label, mixed, sms)
    print_table(title, rows)


if __name__ == "__main__":
    main()
