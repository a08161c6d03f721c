"""Roles and what each may do. Views declare a permission; roles map to permissions here."""

from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user

from app.security_log import security_event

PERMISSIONS = {
    "admin": {"manage_users", "manage_settings", "coordinate", "view_reports", "view_contacts"},
    "coordinator": {"coordinate", "view_reports", "view_contacts"},
    # Evaluators read de-identified reports only: never names or phone numbers.
    "evaluator": {"view_reports"},
}


def role_has(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, set())


def permission_required(permission: str):
    """Signed-in users whose role grants `permission` pass; others get 403 (logged)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.can(permission):
                security_event(
                    "permission_denied",
                    user_id=current_user.id,
                    org_id=current_user.organization_id,
                    permission=permission,
                    endpoint=request.endpoint,
                )
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
