"""Sessions: a copied cookie stops working after logout, password change or deactivation,
for every role; the cookie never carries the user id; login rotates the session; and the
login rate limit holds across several gunicorn workers sharing Redis."""

import http.client
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from limits import parse

from app.auth.services import update_user
from config import Config
from tests.security.helpers import sign_in
from tests.support import STRONG_PASSWORD, csrf_token

ROOT = Path(__file__).resolve().parents[2]
NEW_PASSWORD = "Otra-Frase-Muy-Segura-Para-2026"
ROLES = ("evaluator", "coordinator", "admin")


def _steal(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = app.test_client()
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def _signed_in(client) -> bool:
    response = client.get("/account/password")
    return response.status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_copied_cookie_dies_with_logout(world, role):
    app = world.app
    client = sign_in(app, world.users[role])
    thief = _steal(app, client)
    assert _signed_in(thief)  # the copy works while the session lives
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert not _signed_in(client) and not _signed_in(thief)
    # nor does the copy get to do anything that changes state
    assert thief.post("/account/password", data={}).status_code in (302, 400)


@pytest.mark.parametrize("role", ROLES)
def test_copied_cookie_dies_with_password_change(world, role):
    app = world.app
    user = world.users[role]
    client = sign_in(app, user)
    thief = _steal(app, client)
    other_device = sign_in(app, user)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client),
            "current_password": STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    for c in (client, thief, other_device):
        assert not _signed_in(c)
    assert _signed_in(sign_in(app, user, NEW_PASSWORD))


@pytest.mark.parametrize("role", ("evaluator", "coordinator"))
def test_copied_cookie_dies_with_deactivation(world, role):
    app = world.app
    user = world.users[role]
    client = sign_in(app, user)
    thief = _steal(app, client)
    update_user(world.users["admin"], user, role=user.role, active=False)
    assert not _signed_in(client) and not _signed_in(thief)


@pytest.mark.parametrize("role", ROLES)
def test_cookie_carries_a_random_token_not_the_user_id(world, role):
    app = world.app
    user = world.users[role]
    client = sign_in(app, user)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert data["_user_id"] == user.session_token and len(user.session_token) >= 32
    assert data["_user_id"] != str(user.id)
    assert cookie.http_only and cookie.same_site == "Lax"
    # A forged cookie (another user's id, signed with a guessed key) is nobody.
    forged = app.test_client()
    from itsdangerous import URLSafeTimedSerializer

    bad = URLSafeTimedSerializer(
        "dev-insecure-change-me",
        salt="cookie-session",
        signer_kwargs={"key_derivation": "hmac", "digest_method": __import__("hashlib").sha1},
    ).dumps({"_user_id": user.session_token, "_fresh": True})
    forged.set_cookie(app.config["SESSION_COOKIE_NAME"], bad)
    assert not _signed_in(forged)


def test_login_rotates_the_session(world):
    """No session fixation: the pre-login session (and its CSRF token) is discarded."""
    app = world.app
    client = app.test_client()
    anonymous_token = csrf_token(client)
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    response = client.post(
        "/login",
        data={
            "csrf_token": anonymous_token,
            "email": world.users["coordinator"].email,
            "password": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 302
    after = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert after != before
    # the token issued before login no longer validates a state-changing request
    assert client.post("/logout", data={"csrf_token": anonymous_token}).status_code == 400
    assert _signed_in(client)
    # a planted pre-login cookie does not become a signed-in session either
    planted = app.test_client()
    planted.set_cookie(app.config["SESSION_COOKIE_NAME"], before)
    assert not _signed_in(planted)


# --- the login limit across gunicorn workers -----------------------------------------------------


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flask(env, *args, stdin=None):
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


class Server:
    def __init__(self, port: int, log: Path):
        self.port, self.log = port, log

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(
                method, path, body=body, headers={"Connection": "close", **(headers or {})}
            )
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            conn.close()

    def posts(self) -> list[tuple[str, str]]:
        """(worker pid, status) of every POST /login in the access log, in order."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [
            (m.group(1), m.group(2))
            for m in (re.match(r"^<?(\d+)>? POST /login (\d{3})$", line.strip()) for line in lines)
            if m
        ]

    def attempt(self, email: str, password: str) -> tuple[str, str]:
        """One sign-in attempt on fresh connections: (answering worker pid, page text).
        0–2 connections are left half-open meanwhile, each holding a (sync) worker busy,
        so that successive attempts land on different workers."""
        status, headers, body = self.request("GET", "/login", headers={"Accept-Language": "en"})
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body).group(1)
        holders = []
        for _ in range(random.randint(0, 2)):
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finish
            holders.append(s)
        time.sleep(0.05)
        seen = len(self.posts())
        try:
            status, _h, page = self.request(
                "POST",
                "/login",
                body=urlencode({"csrf_token": token, "email": email, "password": password}),
                headers={
                    "Cookie": cookie,
                    "Accept-Language": "en",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
        finally:
            for s in holders:
                s.close()
        deadline = time.time() + 5
        while len(self.posts()) <= seen and time.time() < deadline:
            time.sleep(0.02)
        posts = self.posts()
        assert len(posts) == seen + 1, posts
        return posts[-1][0], f"{status} {page}"


@pytest.fixture
def gunicorn_server(tmp_path):
    redis_url = _redis_url()
    if redis_url is None:
        message = (
            "== Redis does not answer at TEST_REDIS_URL / 127.0.0.1:6379: the "
            "multi-worker login limit test is SKIPPED =="
        )
        print("\n" + message, file=sys.stderr)
        pytest.skip(message)
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("== gunicorn is not installed in the virtualenv: SKIPPED ==")
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEST_", "FLASK_", "GUNICORN_", "LOGIN_LIMIT"))
    }
    env.update(
        APP_CONFIG="development",
        DATABASE_URL=f"sqlite:///{tmp_path / 'login.sqlite3'}",
        SECRET_KEY=secrets.token_hex(32),
        REDIS_URL=redis_url,
        SMS_BACKEND="simulator",
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="1",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_TIMEOUT="30",
        ALCANCE_LANG="en",
        PYTHONUNBUFFERED="1",
    )
    _flask(env, "db", "upgrade")
    _flask(
        env,
        "orgs",
        "create",
        "sec-gunicorn",
        "--name",
        "Seguridad",
        "--country",
        "MX",
        "--timezone",
        "America/Tijuana",
    )
    email = f"lock-{secrets.token_hex(4)}@example.org"
    _flask(
        env,
        "users",
        "create",
        "--org",
        "sec-gunicorn",
        "--email",
        email,
        "--role",
        "coordinator",
        "--password-stdin",
        stdin=STRONG_PASSWORD + "\n",
    )
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "python:app.gunicorn_conf",
                "--access-logformat",
                "%(p)s %(m)s %(U)s %(s)s",
                "--no-control-socket",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(port, log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                if server.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.2)
        server.email = email
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_login_limit_holds_across_gunicorn_workers(gunicorn_server, capsys):
    server = gunicorn_server
    limit = parse(Config.LOGIN_LIMIT_PER_ACCOUNT).amount
    failures = []
    for _ in range(limit):
        pid, page = server.attempt(server.email, "wrong-password-123")
        assert page.startswith("400") and "Invalid e-mail or password." in page, page[:200]
        failures.append(pid)
    # Locked: even the right password is refused, whichever worker answers. Keep trying
    # until at least two different workers have refused it (at most one of them can have
    # seen all the failures itself, so the count must be shared through Redis).
    refused_by = []
    for _ in range(40):
        pid, page = server.attempt(server.email, STRONG_PASSWORD)
        assert page.startswith("400") and "Too many failed attempts" in page, (pid, page[:300])
        refused_by.append(pid)
        if len(set(refused_by)) >= 2 and len(refused_by) >= 3:
            break
    own_failures = {pid: failures.count(pid) for pid in set(refused_by)}
    assert len(set(refused_by)) >= 2, refused_by
    assert any(n < limit for n in own_failures.values()), own_failures
    with capsys.disabled():
        print(
            f"\n[login limit] {limit} failures answered by workers {failures}; "
            f"right password refused by workers {refused_by} "
            f"(3 gunicorn workers, Redis)"
        )
