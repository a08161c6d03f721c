"""RFC 9457 problem details for every API error: `application/problem+json` with a stable
`code` (clients branch on it), and `title`/`detail` in the request's language (the key's
organization language, or Accept-Language when it names one the app speaks)."""

import json

from flask import Response, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"

# code -> (HTTP status, title). Codes are part of the API: never rename one.
PROBLEMS = {
    "bad_request": (400, _l("Bad request")),
    "invalid_cursor": (400, _l("Invalid cursor")),
    "unauthorized": (401, _l("Missing or invalid API key")),
    "insufficient_scope": (403, _l("The API key lacks a scope")),
    "person_files_off": (403, _l("Per-person files are not shared")),
    "not_found": (404, _l("Not found")),
    "method_not_allowed": (405, _l("Method not allowed")),
    "idempotency_in_progress": (409, _l("A request with this Idempotency-Key is running")),
    "conflict": (409, _l("Conflict with the current state")),
    "payload_too_large": (413, _l("Request too large")),
    "unsupported_media_type": (415, _l("Send JSON")),
    "validation_failed": (422, _l("The request is not valid")),
    "idempotency_key_reused": (422, _l("Idempotency-Key reused with another request")),
    "rate_limited": (429, _l("Too many requests")),
    "internal_error": (500, _l("Internal error")),
}
_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "insufficient_scope",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


class ApiProblem(Exception):
    """Raised by API code; the error handler answers it as problem details."""

    def __init__(self, code: str, detail=None, *, headers=None, **extra):
        super().__init__(code)
        self.code, self.detail, self.headers, self.extra = code, detail, headers or {}, extra


def problem_response(code: str, detail=None, *, headers=None, **extra) -> Response:
    status, title = PROBLEMS[code]
    body = {
        "type": f"{API_PREFIX}/docs#problem-{code}",
        "title": str(title),
        "status": status,
        "code": code,
        "instance": request.path,
    }
    if detail is not None:
        body["detail"] = str(detail)
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_exception(error: Exception) -> Response:
    if isinstance(error, ApiProblem):
        return problem_response(error.code, error.detail, headers=error.headers, **error.extra)
    if not isinstance(error, HTTPException) or (error.code or 500) >= 500:
        return problem_response("internal_error", _("Something went wrong on our side."))
    code = _BY_STATUS.get(error.code, "bad_request")
    data = getattr(error, "data", None) or {}
    extra = {}
    if code == "validation_failed" and ("messages" in data or "errors" in data):
        # webargs/marshmallow: {"json": {"field": ["message"]}, "query": {...}}
        extra["errors"] = data.get("errors") or data.get("messages")
        detail = _("Some fields are not valid: see errors.")
    else:
        detail = None
    headers = dict(data.get("headers") or {})
    if getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem_response(code, detail, headers=headers, **extra)


def is_api_request() -> bool:
    path = request.path
    if path == f"{API_PREFIX}/docs":  # an HTML page
        return False
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def api_errors_or(handler):
    """An app error handler that answers API requests with problem details and passes every
    other request to `handler` (the HTML error pages)."""

    def handle(error):
        if is_api_request():
            return from_exception(error)
        return handler(error)

    return handle
