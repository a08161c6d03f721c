"""`make test-any-date`: the suite (browser journeys aside) with the process clock shifted.

Runs pytest three times under Debian's libfaketime: `+0d` (libfaketime itself, no shift:
tells its own side effects apart from real date dependence), two years ahead (`+731d`)
and about 400 days ahead at another hour of the day (`+9609h` = 400 days and 9 hours).
Prints each run's figures and every test that fails in a shifted run but passes in the
`+0d` one; exits 1 when there is any such test, or when a run could not run at all.

Extra arguments go to every pytest run (e.g. `tests/outreach`); TEST_DATABASE_URL and
TEST_REDIS_URL pass through, so the same check runs on PostgreSQL.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = [("+0d", "no shift"), ("+731d", "two years ahead"), ("+9609h", "400 days and 9 hours ahead")]


def outcomes(junit: Path) -> dict[str, str]:
    """test id -> passed | failed | skipped, from a JUnit XML report."""
    result = {}
    for case in ET.parse(junit).iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            result[test_id] = "failed"
        elif "skipped" in kinds:
            result[test_id] = "skipped"
        else:
            result[test_id] = "passed"
    return result


def run(offset: str, workdir: Path, extra: list[str]) -> dict[str, str] | None:
    junit = workdir / f"junit{offset}.xml"
    command = [
        "faketime",
        "-f",
        offset,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--ignore=tests/e2e",
        f"--junitxml={junit}",
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if k != "FAKETIME_DONT_FAKE_MONOTONIC"}
    completed = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    tail = completed.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"   {tail[0]}", flush=True)
    return outcomes(junit) if junit.exists() else None


def main(extra: list[str]) -> int:
    if shutil.which("faketime") is None:
        print("faketime is not installed (apt-get install faketime)", file=sys.stderr)
        return 2
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for offset, label in RUNS:
            print(f"== faketime {offset} ({label})", flush=True)
            results[offset] = run(offset, Path(tmp), extra)
    base = results["+0d"]
    if base is None or any(r is None for r in results.values()):
        print("a run produced no report: see its output above", file=sys.stderr)
        return 1
    print(f"\n{'run':<10}{'passed':>8}{'failed':>8}{'skipped':>9}")
    for offset, _ in RUNS:
        counts = [
            sum(1 for o in results[offset].values() if o == k)
            for k in ("passed", "failed", "skipped")
        ]
        print(f"{offset:<10}{counts[0]:>8}{counts[1]:>8}{counts[2]:>9}")
    regressions = {
        offset: sorted(
            t for t, o in results[offset].items() if o == "failed" and base.get(t) != "failed"
        )
        for offset, _ in RUNS[1:]
    }
    libfaketime_only = sorted(t for t, o in base.items() if o == "failed")
    if libfaketime_only:
        print("\nfailing already at +0d (libfaketime itself, not the date):")
        print("\n".join(f"  {t}" for t in libfaketime_only))
    bad = False
    for offset, tests in regressions.items():
        if tests:
            bad = True
            print(f"\nfails at {offset} but passes at +0d (depends on the date or hour):")
            print("\n".join(f"  {t}" for t in tests))
    if not bad:
        print("\nno test depends on the date or the hour")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
