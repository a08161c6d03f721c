"""Password hashing (argon2id) and the password policy (length + guessability)."""

import re
import unicodedata
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from zxcvbn import matching, zxcvbn

MAX_PASSWORD_LENGTH = 128
SPANISH_WORDS = Path(__file__).resolve().parent / "data" / "common_passwords_es.txt"


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


def strip_accents(text: str) -> str:
    """ "Contraseña" → "Contrasena": people type Spanish words both ways."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@cache
def _add_spanish_dictionary() -> None:
    """Give zxcvbn (English lists only) the common Spanish and Mexican passwords and words,
    each also without accents, ranked in file order (most common first)."""
    words = []
    for line in SPANISH_WORDS.read_text(encoding="utf-8").splitlines():
        word = line.strip().lower()
        if word and not word.startswith("#"):
            words += [word, strip_accents(word)]
    matching.add_frequency_lists({"spanish_common": list(dict.fromkeys(words))})


def guessable_inputs(values) -> list[str]:
    """What an attacker knows about the person, as zxcvbn `user_inputs`: each value, its
    accent-free form, an e-mail's local part, and each word of 3+ letters in it."""
    inputs = []
    for value in values:
        value = (value or "").strip().lower()
        if not value:
            continue
        local = value.split("@", 1)[0]
        words = [w for w in re.split(r"[\W_]+", value) if len(w) >= 3]
        for item in (value, local, "".join(words), *words):
            inputs += [item, strip_accents(item)]
    return list(dict.fromkeys(i for i in inputs if i))


def _score(password: str, inputs: list[str]) -> int:
    _add_spanish_dictionary()
    forms = dict.fromkeys([password, strip_accents(password)])
    return min(
        zxcvbn(form, user_inputs=inputs, max_length=MAX_PASSWORD_LENGTH)["score"] for form in forms
    )


def password_problem(password: str, *, user_inputs: list[str] = ()) -> str | None:
    """Why `password` is not acceptable (translated), or None when it is.

    `user_inputs`: what others know of the person (e-mail, organization name and slug):
    a password built from them is refused like a common one."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return str(_l("Use at least %(n)d characters.", n=minimum))
    if len(password) > MAX_PASSWORD_LENGTH:
        return str(_l("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH))
    # zxcvbn knows the English and (added above) Spanish common-password lists; score < 3
    # means guessable in fewer than 10^8 tries. Accent-free forms score too ("contrasena").
    if _score(password, guessable_inputs(user_inputs)) < 3:
        return str(_l("This password is too common or easy to guess. Try a longer phrase."))
    return None
