"""Run every benchmark in bench/ and print ONE table (figure, value, target, result).

    .venv/bin/python bench/run_all.py [--only NAME ...] [--quick] [--markdown FILE]

`make bench` runs this. Each benchmark runs as its own subprocess (its output is kept in
bench/output/<name>.log); its figures are read from its `BENCH_JSON {...}` lines (printed by
bench/common.print_table) or, for a script that prints only a plain table, from that table.
A benchmark that is missing (e.g. bench/reports.py before it is written) is listed as
skipped; one that crashes or times out is listed as failed, and the others still run.
Benchmarks measure, they do not test: the exit status is 0 unless a benchmark crashed.

--quick runs every benchmark with small sizes to check the plumbing (figures meaningless).
"""

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUTPUT = BENCH / "output"

# (name, script, arguments, quick arguments, timeout in seconds)
BENCHMARKS = [
    ("contacts_import", "contacts_import.py", [], ["--rows", "3000"], 1200),
    ("fanout", "fanout.py", [], ["--contacts", "3000"], 900),
    ("dispatch", "dispatch.py", [], ["--messages", "300", "--limit", "20"], 1500),
    ("status_counts", "status_counts.py", [], ["--messages", "3000", "--runs", "3"], 900),
    ("reports", "reports.py", [], ["--contacts", "5000", "--events", "20000", "--runs", "1"], 2400),
    (
        "web_load",
        "web_load.py",
        [],
        ["--contacts", "2000", "--seconds", "5", "--saturate-seconds", "3"],
        1500,
    ),
    ("worker_memory", "worker_memory.py", [], ["--messages", "3000"], 2400),
    ("attendance_sheet", "attendance_sheet.py", [], ["--contacts", "2000", "--rows", "500"], 900),
]


def parse_json_lines(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        if line.startswith("BENCH_JSON "):
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line[len("BENCH_JSON ") :]))
    return rows


_RESULT = re.compile(r"^(?P<figure>.+?)\s{2,}(?P<value>\S.*?)\s{2,}(?P<rest>.*?)\s*$")


def parse_plain_table(text: str) -> list[dict]:
    """bench/common.print_table's layout without BENCH_JSON lines (an older script)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("figure ") or not line.strip() or line.startswith("BENCH_JSON"):
            continue
        passed = (
            True
            if line.rstrip().endswith("PASS")
            else False
            if line.rstrip().endswith("FAIL")
            else None
        )
        body = line.rstrip()[:-4].rstrip() if passed is not None else line.rstrip()
        parts = re.split(r"\s{2,}", body.strip())
        if len(parts) >= 2 and passed is not None:
            rows.append(
                {
                    "figure": parts[0],
                    "value": parts[1],
                    "target": parts[2] if len(parts) > 2 else "",
                    "pass": passed,
                }
            )
    return rows


def parse_contacts_import(text: str) -> list[dict]:
    """bench/contacts_import.py prints its own table: backend, run, rows, seconds, rows/s,
    peak RSS MB, created, updated, skipped, rejected, target, result."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or parts[0] not in ("sqlite", "postgresql") or not parts[2].isdigit():
            continue
        backend, run, n, seconds, rate, rss = parts[:6]
        label = f"contacts {run} {backend} {int(n):,} rows"
        rows += [
            {
                "figure": f"{label}: seconds",
                "value": f"{float(seconds):.1f}",
                "target": "< 20",
                "pass": float(seconds) < 20,
            },
            {
                "figure": f"{label}: rows/s",
                "value": f"{int(float(rate)):,}",
                "target": "",
                "pass": None,
            },
            {
                "figure": f"{label}: peak RSS MB",
                "value": rss,
                "target": "< 300",
                "pass": float(rss) < 300,
            },
            {
                "figure": f"{label}: created/updated/skipped/rejected",
                "value": "/".join(parts[6:10]),
                "target": "",
                "pass": None,
            },
        ]
    return rows


def run_one(name: str, script: str, args: list[str], timeout: int) -> tuple[list[dict], str, float]:
    """Returns (figures, status, seconds); status is "ok", "missing", "crashed" or "timeout"."""
    path = BENCH / script
    if not path.exists():
        return [], "missing", 0.0
    OUTPUT.mkdir(exist_ok=True)
    log_path = OUTPUT / f"{name}.log"
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        log.write(f"$ {sys.executable} {path.relative_to(ROOT)} {' '.join(args)}\n")
        log.flush()
        proc = subprocess.Popen(
            [sys.executable, str(path), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        out = []

        def pump():  # keep the log current while the benchmark runs
            for line in proc.stdout:
                out.append(line)
                log.write(line)
                log.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        loads, stop = [], threading.Event()

        def sample_load():  # other work on the machine distorts every figure: record it
            while not stop.wait(5.0):
                loads.append(load_average())

        sampler = threading.Thread(target=sample_load, daemon=True)
        sampler.start()
        try:
            proc.wait(timeout=timeout)
            status = "ok" if proc.returncode == 0 else "crashed"
        except subprocess.TimeoutExpired:
            status = "timeout"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reader.join(timeout=10)
            proc.stdout.close()
            stop.set()
            sampler.join()
    text = "".join(out)
    figures = parse_json_lines(text)
    if not figures:
        figures = (
            parse_contacts_import(text) if name == "contacts_import" else parse_plain_table(text)
        )
    if status == "crashed" and name == "contacts_import" and figures:
        status = "ok"  # it exits 1 when a target is missed, after printing its table
    if loads:
        figures.append(
            {
                "figure": f"machine load during this benchmark (1-min average, "
                f"{os.cpu_count()} CPUs): mean / max",
                "value": f"{sum(loads) / len(loads):.1f} / {max(loads):.1f}",
                "target": "",
                "pass": None,
            }
        )
    return figures, status, time.monotonic() - started


def load_average() -> float:
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def machine() -> dict:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as lines:
        for line in lines:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as lines:
        for line in lines:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "nproc": os.cpu_count(),
        "memory": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "load": open("/proc/loadavg").read().split()[:3]
        if os.path.exists("/proc/loadavg")
        else "?",
    }


def render(results: list[tuple], markdown: bool) -> str:
    header = ("benchmark", "figure", "value", "target", "result")
    lines = []
    rows = []
    for name, figures, status, _seconds in results:
        if status == "missing":
            rows.append((name, "(script not present: skipped)", "", "", "SKIP"))
            continue
        for f in figures:
            passed = f.get("pass")
            rows.append(
                (
                    name,
                    str(f.get("figure", "")),
                    str(f.get("value", "")),
                    str(f.get("target", "")),
                    "" if passed is None else ("PASS" if passed else "FAIL"),
                )
            )
        if status != "ok":
            rows.append(
                (name, f"(benchmark {status}: see bench/output/{name}.log)", "", "", "FAIL")
            )
    if markdown:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("| " + " | ".join("---" for _ in header) + " |")
        for row in rows:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    fmt = "  ".join(
        f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" if i < 4 else "{}" for i, w in enumerate(widths)
    )
    lines.append(fmt.format(*header))
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(fmt.format(*row))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=[b[0] for b in BENCHMARKS])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", help="also write the table as Markdown to this file")
    args = parser.parse_args()
    OUTPUT.mkdir(exist_ok=True)
    info = machine()
    started = datetime.now(UTC)
    print(
        f"Alcance benchmarks: {started:%Y-%m-%d %H:%M} UTC, {info['nproc']} CPUs "
        f"({info['cpu']}), {info['memory']}, Python {info['python']}, "
        f"load average {' '.join(info['load'])}",
        flush=True,
    )
    results = []
    for name, script, full, quick, timeout in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        print(f"== {name} ...", flush=True)
        figures, status, seconds = run_one(name, script, quick if args.quick else full, timeout)
        print(
            f"   {status} in {seconds:.0f} s, {len(figures)} figures "
            f"(log: bench/output/{name}.log)",
            flush=True,
        )
        results.append((name, figures, status, seconds))
    total = sum(r[3] for r in results)
    load = Path("/proc/loadavg").read_text().split()[:3] if os.path.exists("/proc/loadavg") else "?"
    print(
        f"\nAll benchmarks ({total / 60:.1f} min; load average at the end {' '.join(load)})"
        + (" -- QUICK sizes, figures not meaningful" if args.quick else "")
        + "\n"
    )
    print(render(results, markdown=False))
    counts = {"PASS": 0, "FAIL": 0}
    for _, figures, _status, _ in results:
        for f in figures:
            if f.get("pass") is not None:
                counts["PASS" if f["pass"] else "FAIL"] += 1
    print(f"\n{counts['PASS']} targets met, {counts['FAIL']} missed")
    if args.markdown:
        Path(args.markdown).write_text(render(results, markdown=True) + "\n")
    return 1 if any(r[2] in ("crashed", "timeout") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
