"""Security event log: UTC timestamps, ids only, never e-mails, names or phone numbers."""

import hashlib
import hmac
import logging

from flask import current_app, has_request_context, request

logger = logging.getLogger("alcance.security")


def pseudonymous_ip() -> str | None:
    """A keyed hash of the client address: lets operators correlate attacks without
    storing the address itself."""
    if not has_request_context() or not request.remote_addr:
        return None
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, request.remote_addr.encode(), hashlib.sha256).hexdigest()[:16]


def security_event(event: str, **fields) -> None:
    fields.setdefault("ip", pseudonymous_ip())
    details = " ".join(f"{k}={v}" for k, v in sorted(fields.items()) if v is not None)
    logger.info(
        "security_event=%s %s", event, details, extra={"security_event": event, "fields": fields}
    )
