"""Password hashing (argon2id) and the password policy (length + guessability)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn

MAX_PASSWORD_LENGTH = 128


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["PASSWORD_HASH_TIME_COST"],
        memory_cost=cfg["PASSWORD_HASH_MEMORY_KIB"],
        parallelism=1,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


# A precomputed hash lets failed logins for unknown e-mails cost the same time as real ones.
_DUMMY = {}


def burn_verify_time(password: str) -> None:
    key = (
        current_app.config["PASSWORD_HASH_TIME_COST"],
        current_app.config["PASSWORD_HASH_MEMORY_KIB"],
    )
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not-a-real-password-for-timing")
    verify_password(_DUMMY[key], password)


def password_problem(password: str, *, user_inputs: list[str] = ()) -> str | None:
    """Why `password` is not acceptable (translated), or None when it is."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return str(_l("Use at least %(n)d characters.", n=minimum))
    if len(password) > MAX_PASSWORD_LENGTH:
        return str(_l("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH))
    # zxcvbn knows the common-password lists; score < 3 means guessable in < 10^8 tries.
    if zxcvbn(password, user_inputs=[u for u in user_inputs if u])["score"] < 3:
        return str(_l("This password is too common or easy to guess. Try a longer phrase."))
    return None
