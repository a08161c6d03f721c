"""Changing the password is limited exactly like signing in: a stolen session cannot be
used to guess the current password."""

from app.extensions import db
from tests.support import STRONG_PASSWORD, csrf_token_from

NEW_PASSWORD = "Otra-Frase-Muy-Segura-2026"
LOCKED_EN = "Too many failed attempts. Wait 15 minutes and try again."
LOCKED_ES = "Demasiados intentos fallidos. Espera 15 minutos e inténtalo de nuevo."


def change(client, current, new=NEW_PASSWORD, lang="en"):
    token = csrf_token_from(client.get(f"/account/password?lang={lang}"))
    return client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": current, "new_password": new},
    )


def test_wrong_current_passwords_lock_the_account(app, client, make_user, login):
    user = make_user()
    login(user)
    before = user.password_hash
    for _ in range(5):
        response = change(client, "wrong-current-pw")
        assert response.status_code == 400
        assert "The current password is not correct." in response.get_data(as_text=True)
    # Even the right current password is refused now, in the reader's language...
    response = change(client, STRONG_PASSWORD, lang="es")
    assert response.status_code == 400 and LOCKED_ES in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == before
    # ...and the same account limit holds for signing in.
    other = app.test_client()
    token = csrf_token_from(other.get("/login?lang=en"))
    response = other.post(
        "/login", data={"csrf_token": token, "email": user.email, "password": STRONG_PASSWORD}
    )
    assert response.status_code == 400 and LOCKED_EN in response.get_data(as_text=True)


def test_failed_sign_ins_count_against_change_password(app, client, make_user, login):
    user = make_user()
    login(user)
    other = app.test_client()
    for _ in range(5):
        token = csrf_token_from(other.get("/login"))
        other.post(
            "/login",
            data={"csrf_token": token, "email": user.email, "password": "wrong-password-123"},
        )
    response = change(client, STRONG_PASSWORD)
    assert response.status_code == 400 and LOCKED_EN in response.get_data(as_text=True)


def test_the_address_limit_applies_too(app, client, make_user, login):
    app.config["LOGIN_LIMIT_PER_IP"] = "3 per 15 minutes"
    user = make_user()
    login(user)  # a successful sign-in does not count against the address
    for _ in range(3):
        assert change(client, "wrong-current-pw").status_code == 400
    response = change(client, STRONG_PASSWORD)
    assert response.status_code == 400 and LOCKED_EN in response.get_data(as_text=True)


def test_the_right_password_clears_earlier_failures(client, make_user, login):
    user = make_user()
    login(user)
    for _ in range(4):
        change(client, "wrong-current-pw")
    assert change(client, STRONG_PASSWORD).status_code == 302
