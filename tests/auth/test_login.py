from app.auth.models import User
from app.extensions import db
from tests.support import STRONG_PASSWORD, csrf_token_from


def post_login(client, email, password, **kw):
    token = csrf_token_from(client.get("/login"))
    return client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password}, **kw
    )


def test_login_and_logout(client, make_user):
    user = make_user(email="Ana@Example.org")
    response = post_login(client, " ana@example.ORG ", STRONG_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    token = csrf_token_from(client.get("/dashboard"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard").status_code == 302  # back to login
    db.session.refresh(user)
    assert user.last_login_at is not None


def test_failed_login_is_generic_and_translated(client, make_user):
    make_user(email="ana@example.org")
    wrong = post_login(
        client, "ana@example.org", "wrong-password-123", headers={"Accept-Language": "es"}
    )
    unknown = post_login(
        client, "nadie@example.org", "wrong-password-123", headers={"Accept-Language": "es"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Correo electrónico o contraseña incorrectos." in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_inactive_user_cannot_sign_in(client, make_user):
    user = make_user()
    user.active = False
    db.session.commit()
    assert post_login(client, user.email, STRONG_PASSWORD).status_code == 400


def test_rate_limit_per_account(app, client, make_user):
    user = make_user()
    for _ in range(5):
        assert post_login(client, user.email, "wrong-password-123").status_code == 400
    # Even the right password is refused while the account is locked.
    response = post_login(client, user.email, STRONG_PASSWORD, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Too many failed attempts" in response.get_data(as_text=True)


def test_rate_limit_per_ip_across_accounts(app, client, make_user):
    app.config["LOGIN_LIMIT_PER_IP"] = "3 per 15 minutes"
    users = [make_user() for _ in range(4)]
    for u in users[:3]:
        post_login(client, u.email, "wrong-password-123")
    response = post_login(
        client, users[3].email, STRONG_PASSWORD, headers={"Accept-Language": "en"}
    )
    assert "Too many failed attempts" in response.get_data(as_text=True)


def test_successful_login_resets_account_failures(client, make_user):
    user = make_user()
    for _ in range(4):
        post_login(client, user.email, "wrong-password-123")
    assert post_login(client, user.email, STRONG_PASSWORD).status_code == 302


def test_copied_cookie_rejected_after_logout(app, client, make_user, login):
    user = make_user()
    login(user)
    stolen = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    token = csrf_token_from(client.get("/dashboard"))
    client.post("/logout", data={"csrf_token": token})
    attacker = app.test_client()
    attacker.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    assert attacker.get("/dashboard").status_code == 302


def test_copied_cookie_rejected_after_password_change(app, client, make_user, login):
    user = make_user()
    login(user)
    other_device = app.test_client()
    login(user, c=other_device)
    token = csrf_token_from(client.get("/account/password"))
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": STRONG_PASSWORD,
            "new_password": "Otra-Frase-Muy-Segura-2026",
        },
    )
    assert response.status_code == 302
    assert other_device.get("/dashboard").status_code == 302
    assert client.get("/dashboard").status_code == 302
    assert (
        post_login(app.test_client(), user.email, "Otra-Frase-Muy-Segura-2026").status_code == 302
    )


def test_password_change_rejects_weak_and_wrong_current(client, make_user, login):
    user = make_user()
    login(user)
    before = user.password_hash
    cases = [
        (
            {"current_password": "wrong-current-pw", "new_password": "Otra-Frase-Muy-Segura-2026"},
            "La contraseña actual no es correcta.",
        ),
        (
            {"current_password": STRONG_PASSWORD, "new_password": "corto"},
            "Usa al menos 12 caracteres.",
        ),
        ({"current_password": STRONG_PASSWORD, "new_password": "password1234"}, "demasiado común"),
    ]
    for data, message in cases:
        token = csrf_token_from(client.get("/account/password?lang=es"))
        response = client.post("/account/password", data={"csrf_token": token, **data})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == before


def test_login_rejects_missing_csrf(client, make_user):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": STRONG_PASSWORD})
    assert response.status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_logout_requires_csrf(client, make_user, login):
    login(make_user())
    assert client.post("/logout").status_code == 400
    assert client.get("/dashboard").status_code == 200


def test_next_parameter_cannot_redirect_offsite(client, make_user):
    user = make_user()
    token = csrf_token_from(client.get("/login"))
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        client.get("/")  # keep a session
        response = client.post(
            f"/login?next={target}",
            data={"csrf_token": token, "email": user.email, "password": STRONG_PASSWORD},
        )
        assert response.headers["Location"].endswith("/dashboard")
        client.delete_cookie("alcance_session")
        token = csrf_token_from(client.get("/login"))


def test_passwords_hashed_with_argon2id(make_user):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$")


def test_production_hash_cost_meets_owasp(app):
    from config import Config

    # OWASP: argon2id with at least m=19 MiB, t=2 (or m=46 MiB, t=1).
    assert Config.PASSWORD_HASH_MEMORY_KIB >= 19 * 1024 and Config.PASSWORD_HASH_TIME_COST >= 2


def test_security_events_logged_without_personal_data(client, make_user, caplog):
    user = make_user(email="secreto@example.org")
    caplog.set_level("INFO", logger="alcance.security")
    post_login(client, user.email, "wrong-password-123")
    post_login(client, user.email, STRONG_PASSWORD)
    text = caplog.text
    assert "security_event=login_failed" in text and "security_event=login_succeeded" in text
    assert "secreto" not in text and "127.0.0.1" not in text


def test_user_loader_uses_session_token_not_id(make_user):
    user = make_user()
    assert user.get_id() == user.session_token != str(user.id)
    assert db.session.get(User, user.id) is user
