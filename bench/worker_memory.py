"""Benchmark: a worker's memory stays flat across a 100,000-message dispatch.

    .venv/bin/python bench/worker_memory.py [--messages 100000] [--backend postgresql|sqlite]
                                            [--latency 0.02] [--concurrency 16]

One `flask --app wsgi outreach worker --once` process sends --messages due outbox rows through
the real TwilioGateway to the fake Twilio server (its own process, --latency seconds per
request). Every second the worker's resident set (VmRSS from /proc/<pid>/status) and the number
of rows sent so far are sampled. Compared: the RSS after warm-up (the first sample with at
least 10 % sent) and at the end (the last sample before the worker exits, with at least 95 %
sent). Target: growth within 10 %.

Default backend: PostgreSQL when it answers (the production database), else SQLite; the run
takes minutes, so one backend unless --backend all.
"""

import argparse
import subprocess
import sys
import time

from common import ROOT, backends, database, print_table, start_fake_twilio, stop_process
from dispatch import seed, worker_env

TARGET_GROWTH = 0.10
WARM_UP = 0.10


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run(backend: str, args) -> list[tuple]:
    from sqlalchemy import create_engine, text

    fake, twilio_env = start_fake_twilio(args.latency)
    samples = []  # (seconds, rss KiB, sent)
    try:
        with database(backend) as url:
            seed(url, args.messages)
            env = worker_env(url, twilio_env, mps=100_000)
            engine = create_engine(url)
            started = time.monotonic()
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flask",
                    "--app",
                    "wsgi",
                    "outreach",
                    "worker",
                    "--once",
                    "--concurrency",
                    str(args.concurrency),
                    "--batch",
                    str(args.batch),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                while worker.poll() is None:
                    rss = rss_kib(worker.pid)
                    with engine.connect() as conn:
                        sent = conn.execute(
                            text("SELECT count(*) FROM outbox_messages WHERE status = 'sent'")
                        ).scalar()
                    if rss is not None and worker.poll() is None:
                        samples.append((time.monotonic() - started, rss, sent))
                    time.sleep(1.0)
            finally:
                stop_process(worker)
            seconds = time.monotonic() - started
            with engine.connect() as conn:
                sent = conn.execute(
                    text("SELECT count(*) FROM outbox_messages WHERE status = 'sent'")
                ).scalar()
            engine.dispose()
    finally:
        stop_process(fake)
    n = args.messages
    warm = next((s for s in samples if s[2] >= WARM_UP * n), None)
    end = next((s for s in reversed(samples) if s[2] >= 0.95 * n), None)
    label = f"worker RSS {backend}, {n:,} messages"
    if warm is None or end is None or warm is end:
        return [(f"{label}: not enough samples", f"{len(samples)}", "", False)]
    growth = (end[1] - warm[1]) / warm[1]
    peak = max(s[1] for s in samples)
    return [
        (f"{label}: sent", f"{sent:,}", f"{n:,}", sent == n),
        (f"{label}: msg/s (incl. start-up)", f"{sent / seconds:,.0f}", "", None),
        (f"{label}: RSS at {WARM_UP:.0%} sent, MB", f"{warm[1] / 1024:,.1f}", "", None),
        (f"{label}: RSS at end ({end[2] / n:.0%} sent), MB", f"{end[1] / 1024:,.1f}", "", None),
        (
            f"{label}: RSS growth after warm-up",
            f"{growth:+.1%}",
            f"<= +{TARGET_GROWTH:.0%}",
            growth <= TARGET_GROWTH,
        ),
        (f"{label}: peak RSS, MB ({len(samples)} samples)", f"{peak / 1024:,.1f}", "", None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"))
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    available = backends()
    if args.backend == "all":
        chosen = available
    elif args.backend:
        chosen = [args.backend]
    else:
        chosen = [available[-1]]  # PostgreSQL when it answers
    rows = []
    for backend in chosen:
        rows += run(backend, args)
    print_table(
        f"Worker memory across a dispatch, fake Twilio latency {args.latency * 1000:.0f} ms "
        "(bench/worker_memory.py)",
        rows,
    )


if __name__ == "__main__":
    main()
