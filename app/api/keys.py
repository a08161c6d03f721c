"""API keys: created by an organization's admins, shown once, stored as a SHA-256 hash.

Why SHA-256 and not a slow password hash: the secret is 32 random bytes from `secrets`
(256 bits), so even a leaked hash cannot be brute-forced at any hashing speed; slow hashes
exist for low-entropy, human-chosen passwords. A fast, deterministic hash also lets every
request find its key with one indexed lookup (`secret_hash` is unique) instead of trying
a slow hash against every key.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.api.models import SCOPES, ApiKey
from app.errors import DomainError
from app.extensions import db
from app.security_log import security_event

TOKEN_PREFIX = "alc_"
PREFIX_SHOWN = len(TOKEN_PREFIX) + 6  # "alc_" and six characters: tells keys apart
MAX_TOKEN_CHARS = 200  # longer bearer values are refused unread
# last_used_at is written at most this often per key (no write on every request).
LAST_USED_RESOLUTION_SECONDS = 60


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once, never stored


def create_key(
    org_id: int,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    actor_id: int | None,
    now: datetime,
) -> NewKey:
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_l("Give the key a name."), field="name")
    chosen = [s for s in SCOPES if s in set(scopes)]
    if not chosen or len(chosen) != len(set(scopes)):
        raise DomainError(_l("Choose at least one scope from the list."), field="scopes")
    if expires_at is not None and expires_at <= now:
        raise DomainError(_l("The expiry must be in the future."), field="expires_at")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        organization_id=org_id,
        name=name[:80],
        prefix=secret[:PREFIX_SHOWN],
        secret_hash=hash_secret(secret),
        scopes=" ".join(chosen),
        created_by_id=actor_id,
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(key)
    db.session.commit()
    security_event(
        "api_key_created", key_id=key.id, org_id=org_id, user_id=actor_id, scopes=key.scopes
    )
    return NewKey(key, secret)


def revoke_key(key: ApiKey, *, actor_id: int | None, now: datetime) -> None:
    if key.revoked_at is not None:
        raise DomainError(_l("This key was already revoked."))
    key.revoked_at = now
    db.session.commit()
    security_event("api_key_revoked", key_id=key.id, org_id=key.organization_id, user_id=actor_id)


def org_keys(org_id: int) -> list[ApiKey]:
    return list(
        db.session.scalars(
            select(ApiKey).where(ApiKey.organization_id == org_id).order_by(ApiKey.id.desc())
        )
    )


class KeyRefused(Exception):
    """The bearer value names no usable key; `reason` is "missing", "unknown", "revoked"
    or "expired" (logged; the client is told only that the key is not valid)."""

    def __init__(self, reason: str, key: ApiKey | None = None):
        super().__init__(reason)
        self.reason, self.key = reason, key


def bearer_secret(header: str | None) -> str | None:
    scheme, _sep, value = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value if value and len(value) <= MAX_TOKEN_CHARS else None


def authenticate(header: str | None, *, now: datetime) -> ApiKey:
    """The key of an `Authorization: Bearer …` header, or KeyRefused. Notes the use."""
    secret = bearer_secret(header)
    if secret is None:
        raise KeyRefused("missing" if not header else "unknown")
    key = db.session.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret)))
    if key is None:
        raise KeyRefused("unknown")
    if key.revoked_at is not None:
        raise KeyRefused("revoked", key)
    if key.expires_at is not None and now >= key.expires_at:
        raise KeyRefused("expired", key)
    last = key.last_used_at
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return key
