"""Sign-in limits: one atomic check-and-consume before any password is verified (memory and
Redis), and a per-process fallback when Redis does not answer."""

import logging
import os
import threading
import time
import uuid

import pytest

from app.auth import services
from app.ratelimit import rate_limits
from tests.support import STRONG_PASSWORD, csrf_token_from

DOWN_REDIS = "redis://127.0.0.1:6390/0"  # nothing listens there: "Redis down"
CONCURRENT = 40


def use_backend(app, backend: str) -> None:
    """Re-initialise the limits on memory, on the test Redis, or on a Redis that is down."""
    if backend == "redis":
        url = os.environ.get("TEST_REDIS_URL")
        if not url:
            pytest.skip("needs Redis (TEST_REDIS_URL)")
    else:
        url = {"memory": "", "down": DOWN_REDIS}[backend]
    app.config["REDIS_URL"] = url
    app.config["RATELIMIT_KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    rate_limits.init_app(app)


def post_login(client, email, password, **kw):
    token = csrf_token_from(client.get("/login"))
    return client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password}, **kw
    )


def run_together(n: int, target) -> list:
    """Run target(i) in n threads released at the same moment; return what each returned."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = target(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_take_is_atomic(app, backend):
    use_backend(app, backend)

    def take(_i):
        with app.app_context():
            return rate_limits.take("5 per 15 minutes", "login-account", "ana@example.org")

    granted = [slot for slot in run_together(CONCURRENT, take) if slot is not None]
    assert len(granted) == 5


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_concurrent_wrong_passwords_get_only_the_limit_of_checks(
    app, make_user, monkeypatch, backend
):
    """40 wrong passwords at once from 40 addresses: exactly 5 (the account limit) are
    checked; the others are refused before any password is verified."""
    use_backend(app, backend)
    user = make_user()
    checks, lock = [], threading.Lock()
    real_verify = services.verify_password

    def counting_verify(hashed, password):
        with lock:
            checks.append(password)
        time.sleep(0.05)  # a slow hash: the window the old check-then-hit lost
        return real_verify(hashed, password)

    monkeypatch.setattr(services, "verify_password", counting_verify)

    def attempt(i):
        with app.app_context():
            try:
                services.authenticate(user.email, "wrong-password-123", ip=f"10.0.0.{i}")
            except services.LoginError as error:
                return str(error.message)
        return "signed in"

    outcomes = run_together(CONCURRENT, attempt)
    assert len(checks) == 5
    assert outcomes.count("Invalid e-mail or password.") == 5
    assert outcomes.count("Too many failed attempts. Wait 15 minutes and try again.") == 35


def test_a_successful_sign_in_is_not_counted_against_the_address(app, client, make_user):
    app.config["LOGIN_LIMIT_PER_IP"] = "3 per 15 minutes"
    users = [make_user() for _ in range(5)]
    for user in users:  # five people signing in from one office
        assert post_login(app.test_client(), user.email, STRONG_PASSWORD).status_code == 302
    assert post_login(client, users[0].email, "wrong-password-123").status_code == 400
    assert post_login(client, users[1].email, STRONG_PASSWORD).status_code == 302


def test_sign_in_falls_back_to_a_per_process_limit_when_redis_is_down(
    app, client, make_user, caplog
):
    use_backend(app, "down")
    user = make_user()
    caplog.set_level(logging.INFO, logger="alcance")
    assert post_login(app.test_client(), user.email, STRONG_PASSWORD).status_code == 302
    for _ in range(5):
        assert post_login(client, user.email, "wrong-password-123").status_code == 400
    response = post_login(client, user.email, STRONG_PASSWORD, headers={"Accept-Language": "en"})
    assert response.status_code == 400  # still limited, in this process's memory
    assert "Too many failed attempts" in response.get_data(as_text=True)
    warnings = [
        r for r in caplog.records if r.name == "alcance.ratelimit" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1 and "per-process" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert user.email not in caplog.text
    assert rate_limits.status().fallbacks >= 7 and not rate_limits.status().shared


def test_limits_are_shared_again_once_redis_answers(app, caplog):
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    from app.ratelimit import RedisWindows

    use_backend(app, "down")
    limiter = app.extensions["rate_limits"]
    caplog.set_level(logging.INFO, logger="alcance")
    with app.app_context():
        assert rate_limits.take("5 per 15 minutes", "login-account", "x") is not None
        assert not rate_limits.status().shared
        limiter.redis = RedisWindows(url, limiter.redis.prefix)  # Redis is back
        limiter.retry_at = 0.0  # and the pause before trying it again is over
        assert rate_limits.take("5 per 15 minutes", "login-account", "x") is not None
        assert rate_limits.status().shared
    messages = [r.getMessage() for r in caplog.records if r.name == "alcance.ratelimit"]
    assert len(messages) == 2 and "answers again" in messages[1]
