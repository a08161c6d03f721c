"""Prism, the OpenAPI mock server, for the contract tests of the Twilio gateways
(tests/messaging/test_contract_prism.py: the Messages API; tests/whatsapp/
test_contract_prism.py: the Content API). Each spec gets its own Prism on a free port.

Prism is pinned in tests/contract/package.json (`make prism` installs it). The tests skip,
loudly, only when node/npm or the spec is missing; a missing Prism install is installed
here with `npm ci`, and a Prism that does not start fails the test.
"""

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACT_DIR = REPO / "tests" / "contract"
PRISM_BIN = CONTRACT_DIR / "node_modules" / ".bin" / "prism"
SPECS_DIR = REPO.parent / "shared" / "twilio"
STARTUP_TIMEOUT = 90  # seconds; the 1.8 MB Messages spec takes 2-15 s to load


def spec_path(filename: str, env_var: str) -> Path | None:
    """Twilio's OpenAPI spec `filename` from ../shared/twilio, or the file `env_var` names."""
    candidates = [SPECS_DIR / filename]
    if os.environ.get(env_var):
        candidates.append(Path(os.environ[env_var]))
    return next((p for p in candidates if p.is_file()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_prism() -> None:
    if PRISM_BIN.exists():
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=CONTRACT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 or not PRISM_BIN.exists():
        pytest.fail(
            "`npm ci` in tests/contract failed (run `make prism`):\n"
            + result.stdout[-2000:]
            + result.stderr[-2000:]
        )


@contextmanager
def prism_mock(filename: str, env_var: str, log_dir: Path):
    """A Prism mock of spec `filename` on a free port: yields its base URL.

    Skips (loudly) without node/npm or the spec; fails when Prism does not start."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"CONTRACT TESTS SKIPPED: {' and '.join(missing)} not found on PATH; install "
            "Node.js 18+ and run `make prism` to check the gateway against Twilio's spec"
        )
    spec = spec_path(filename, env_var)
    if spec is None:
        pytest.skip(
            f"CONTRACT TESTS SKIPPED: Twilio's OpenAPI spec not found at "
            f"{SPECS_DIR / filename} and {env_var} is not set"
        )
    ensure_prism()
    port = free_port()
    log_path = log_dir / "prism.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(PRISM_BIN), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
            cwd=CONTRACT_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while b"Prism is listening" not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Prism did not start:\n" + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
