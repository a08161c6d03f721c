"""Every data request of /api/v1: the bearer key, its rate limit, its language, its
scopes, and one security event per request (ids only: no names, phones or query text)."""

from contextlib import ExitStack
from functools import wraps

from flask import current_app, g, request
from flask_babel import force_locale
from flask_babel import gettext as _
from limits import parse

from app.api.keys import KeyRefused, authenticate
from app.api.models import ApiKey
from app.api.problems import ApiProblem
from app.extensions import db
from app.i18n import regional_locale
from app.organizations.models import Organization
from app.ratelimit import rate_limits
from app.security_log import security_event
from app.timeutil import utcnow

DEFAULT_RATE_LIMIT = "300 per minute"


def _header_language() -> str | None:
    return request.accept_languages.best_match(current_app.config["LANGUAGES"])


def _use_language(language: str) -> None:
    stack = g.setdefault("_api_locale", ExitStack())
    stack.close()
    stack.enter_context(force_locale(regional_locale(language)))


def current_key() -> ApiKey:
    return g.api_key


def _authenticate() -> None:
    g.api_key = None
    _use_language(_header_language() or current_app.config["BABEL_DEFAULT_LOCALE"])
    try:
        key = authenticate(request.headers.get("Authorization"), now=utcnow())
    except KeyRefused as refused:
        security_event(
            "api_key_refused",
            reason=refused.reason,
            key_id=refused.key.id if refused.key else None,
            endpoint=request.endpoint,
        )
        raise ApiProblem(
            "unauthorized",
            _("Send a valid API key: Authorization: Bearer <key>."),
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        ) from None
    g.api_key = key
    if _header_language() is None:
        org = db.session.get(Organization, key.organization_id)
        _use_language(org.default_language if org else "es")
    limit = current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT
    if rate_limits.take(limit, "api-key", str(key.id)) is None:
        seconds = parse(limit).get_expiry()  # at most a window away
        raise ApiProblem(
            "rate_limited",
            _("Too many requests with this key: wait and try again."),
            headers={"Retry-After": str(int(seconds))},
        )


def _log(response):
    if request.method == "GET" and response.status_code == 200 and response.is_json:
        response.add_etag()
        response.make_conditional(request)
    key = g.get("api_key")
    security_event(
        "api_request",
        key_id=key.id if key else None,
        org_id=key.organization_id if key else None,
        method=request.method,
        endpoint=request.endpoint,
        status=response.status_code,
    )
    return response


def _release(_error=None) -> None:
    stack = g.pop("_api_locale", None)
    if stack is not None:
        stack.close()


def guard(blueprint) -> None:
    """Put an API blueprint behind keys: call once when the blueprint is defined."""
    blueprint.before_request(_authenticate)
    blueprint.after_request(_log)
    blueprint.teardown_request(_release)


def scope_required(blueprint, scope: str):
    """A view that needs `scope`: 403 problem without it; documented in the OpenAPI
    operation (security requirement and description)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = current_key()
            if not key.has_scope(scope):
                security_event(
                    "api_scope_denied",
                    key_id=key.id,
                    org_id=key.organization_id,
                    scope=scope,
                    endpoint=request.endpoint,
                )
                raise ApiProblem(
                    "insufficient_scope",
                    _("This key needs the scope %(scope)s.", scope=scope),
                    scope=scope,
                )
            return view(*args, **kwargs)

        return blueprint.doc(security=[{"bearerAuth": [scope]}])(wrapped)

    return decorator
