"""Accounts: authentication, session invalidation, and user management within an org."""

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.auth.models import ROLES, User, new_session_token
from app.errors import DomainError
from app.extensions import db
from app.passwords import (
    burn_verify_time,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from app.ratelimit import rate_limits
from app.security_log import security_event
from app.timeutil import utcnow


class LoginError(DomainError):
    pass


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


LOCKED_OUT = _l("Too many failed attempts. Wait 15 minutes and try again.")


def _take_attempt(email: str, ip: str):
    """Count one password check against the account and the address limits, atomically and
    before the check: concurrent guesses cannot all slip under the limit. Returns the two
    slots, or None (nothing counted) when either limit is used up."""
    cfg = current_app.config
    account = rate_limits.take(cfg["LOGIN_LIMIT_PER_ACCOUNT"], "login-account", email)
    if account is None:
        return None
    address = rate_limits.take(cfg["LOGIN_LIMIT_PER_IP"], "login-ip", ip)
    if address is None:
        rate_limits.give_back(account)  # this attempt was never checked
        return None
    return account, address


def _attempt_succeeded(email: str, slots) -> None:
    """The right password: the account's failures are forgiven, and a success does not
    count against the address (many colleagues may sign in from one office)."""
    rate_limits.clear("login-account", email)
    rate_limits.give_back(slots[1])


def authenticate(email: str, password: str, *, ip: str, now=None) -> User:
    """Check credentials under the per-account and per-IP failure limits.

    Raises LoginError with one generic message for unknown e-mail and wrong password
    alike, and a distinct one while a limit is exceeded (no password is checked then).
    """
    email = normalize_email(email)
    slots = _take_attempt(email, ip)
    if slots is None:
        security_event("login_locked_out")
        raise LoginError(LOCKED_OUT)

    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        burn_verify_time(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.active
    if not ok:  # the slots taken above stay: they are this failure
        security_event("login_failed", user_id=user.id if user else None)
        raise LoginError(_l("Invalid e-mail or password."))

    _attempt_succeeded(email, slots)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now or utcnow()
    db.session.commit()
    security_event("login_succeeded", user_id=user.id, org_id=user.organization_id)
    return user


def end_all_sessions(user: User, *, reason: str) -> None:
    """Invalidate every session of `user` (logout, password change, deactivation)."""
    user.session_token = new_session_token()
    db.session.commit()
    security_event("sessions_revoked", user_id=user.id, reason=reason)


def change_password(user: User, *, current: str, new: str, ip: str, now=None) -> None:
    """Replace the password after checking the current one, under the same limits as
    signing in (a stolen session must not become a password-guessing oracle)."""
    slots = _take_attempt(user.email, ip)
    if slots is None:
        security_event("password_change_locked_out", user_id=user.id)
        raise DomainError(LOCKED_OUT, field="current_password")
    if not verify_password(user.password_hash, current):
        security_event("password_change_failed", user_id=user.id)
        raise DomainError(_l("The current password is not correct."), field="current_password")
    _attempt_succeeded(user.email, slots)
    problem = password_problem(
        new, user_inputs=[user.email, user.organization.name, user.organization.slug]
    )
    if problem:
        raise DomainError(problem, field="new_password")
    user.password_hash = hash_password(new)
    user.password_changed_at = now or utcnow()
    end_all_sessions(user, reason="password_changed")


def create_user(organization, *, email: str, role: str, password: str, language=None) -> User:
    """Create a user in `organization`. Raises DomainError and changes nothing on bad input."""
    email = normalize_email(email)
    if role not in ROLES:
        raise DomainError(_l("Unknown role."), field="role")
    if db.session.scalar(select(func.count()).where(User.email == email)):
        raise DomainError(_l("A user with this e-mail already exists."), field="email")
    problem = password_problem(password, user_inputs=[email, organization.name, organization.slug])
    if problem:
        raise DomainError(problem, field="password")
    user = User(
        organization=organization,
        email=email,
        role=role,
        password_hash=hash_password(password),
        preferred_language=language,
    )
    db.session.add(user)
    db.session.commit()
    security_event("user_created", user_id=user.id, org_id=organization.id, role=role)
    return user


def update_user(actor: User, user: User, *, role: str, active: bool) -> None:
    """Change a user's role or active flag. An admin cannot demote or lock themselves out."""
    if role not in ROLES:
        raise DomainError(_l("Unknown role."), field="role")
    if user.id == actor.id and (role != "admin" or not active):
        raise DomainError(_l("You cannot remove your own administrator access."), field="role")
    if user.role != role:
        security_event("role_changed", user_id=user.id, by=actor.id, old=user.role, new=role)
        user.role = role
    if user.active and not active:
        user.active = False
        end_all_sessions(user, reason="deactivated")
        security_event("user_deactivated", user_id=user.id, by=actor.id)
    elif not user.active and active:
        user.active = True
        security_event("user_reactivated", user_id=user.id, by=actor.id)
    db.session.commit()
