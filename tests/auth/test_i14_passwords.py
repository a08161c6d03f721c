"""Weak Spanish passwords are refused like English ones (issue 14): zxcvbn gets a list of
common Spanish and Mexican passwords, accent-free forms, and what others know of the user."""

import pytest

from app.auth.models import User
from app.auth.services import create_user
from app.errors import DomainError
from app.extensions import db
from app.passwords import guessable_inputs, password_problem
from tests.factories import make_org, make_user
from tests.support import STRONG_PASSWORD, csrf_token_from

TOO_COMMON_ES = "Esta contraseña es demasiado común o fácil de adivinar."
TOO_COMMON_EN = "This password is too common or easy to guess."


@pytest.mark.parametrize(
    "password",
    [
        "contraseña123",
        "Contrasena2026",
        "tequiero123",  # too short as well
        "tequieromucho1",
        "Guadalupana2025",
        "Contraseña-2026",
    ],
)
def test_common_spanish_passwords_are_refused(app, password):
    assert password_problem(password) is not None


def test_the_organization_name_and_e_mail_with_digits_are_refused(app):
    inputs = ["ana.lopez@example.org", "Jóvenes Fuertes Tijuana", "jovenes-fuertes"]
    for password in ("JovenesFuertes2026", "jóvenesfuertes2026!", "ana.lopez2026!"):
        assert password_problem(password, user_inputs=inputs) is not None, password
        assert password_problem(password) is None, password  # strong without the inputs


def test_user_inputs_cover_local_part_words_and_accent_free_forms():
    inputs = guessable_inputs(["ana.lopez@example.org", "Jóvenes Fuertes", None, ""])
    assert {"ana.lopez", "lopez", "jóvenes", "jovenes", "jovenesfuertes"} <= set(inputs)


def test_a_strong_passphrase_is_accepted(app):
    org = make_org(name="Jóvenes Fuertes Tijuana", slug="jovenes-fuertes")
    user = create_user(
        org, email="ana@example.org", role="coordinator", password="mi perro come tacos los martes"
    )
    assert user.id is not None


def test_long_passphrases_up_to_the_maximum_are_scored(app):
    # zxcvbn refuses more than 72 characters unless told otherwise: no error, an answer.
    assert password_problem("una frase larga de veras " * 5) is None


def test_creating_a_user_with_the_organization_name_is_refused_in_spanish(app, client, login):
    admin = make_user(role="admin", language="es")
    admin.organization.name = "Jóvenes Fuertes"
    db.session.commit()
    login(admin)
    token = csrf_token_from(client.get("/users"))
    response = client.post(
        "/users",
        data={
            "csrf_token": token,
            "email": "nueva@example.org",
            "role": "coordinator",
            "language": "es",
            "password": "JovenesFuertes2026",
        },
    )
    assert response.status_code == 400
    assert TOO_COMMON_ES in response.get_data(as_text=True)
    assert db.session.query(User).filter_by(email="nueva@example.org").count() == 0


def test_changing_to_a_spanish_common_password_is_refused_in_english(app, client, login):
    user = make_user(language="en")
    login(user)
    token = csrf_token_from(client.get("/account/password"))
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": STRONG_PASSWORD,
            "new_password": "contraseña123",
        },
    )
    assert response.status_code == 400
    assert TOO_COMMON_EN in response.get_data(as_text=True)


def test_service_refuses_with_a_field_error(app):
    with pytest.raises(DomainError) as error:
        create_user(
            make_org(), email="b@example.org", role="coordinator", password="Contrasena2026"
        )
    assert error.value.field == "password"
