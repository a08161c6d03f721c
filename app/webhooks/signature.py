"""Twilio webhook authentication: X-Twilio-Signature over PUBLIC_BASE_URL + path + query.

A wrong PUBLIC_BASE_URL makes every webhook fail this check, so rejections are made visible:
counted by reason (shared by every process through Redis when it answers, else per process),
the last rejected URL and moment kept for the admin status page and /metrics, and a WARNING
logged at most once per interval naming the URL that was validated.
"""

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import wraps

from flask import abort, current_app, request

from app.messaging.twilio_gateway import signature_is_valid
from app.ratelimit import WARN_EVERY_SECONDS, Every, rate_limits
from app.security_log import security_event
from app.timeutil import utcnow

logger = logging.getLogger("alcance.webhooks")

REASONS = ("invalid", "missing", "no_auth_token")
_REDIS_KEY = "webhook-rejections"


def public_url() -> str:
    """The URL Twilio called, as the public sees it (not as the proxy forwarded it)."""
    query = request.query_string.decode("latin-1")
    return current_app.config["PUBLIC_BASE_URL"] + request.path + (f"?{query}" if query else "")


def twilio_signature_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        token = current_app.config["TWILIO_AUTH_TOKEN"]
        signature = request.headers.get("X-Twilio-Signature", "")
        url = public_url()
        if not token or not signature_is_valid(token, url, request.form, signature):
            reason = "no_auth_token" if not token else "invalid" if signature else "missing"
            security_event("webhook_signature_rejected", endpoint=request.endpoint, reason=reason)
            record_rejection(url, reason=reason, now=utcnow())
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@dataclass(frozen=True)
class Rejections:
    """Rejected webhook signatures: counts by reason and the last one."""

    counts: dict = field(default_factory=dict)
    last_url: str | None = None
    last_at: datetime | None = None
    last_reason: str | None = None
    shared: bool = False  # read from Redis (every process), else this process only

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _Local:
    """This process's record, kept whatever Redis does."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = Rejections()
        self.warn = Every(WARN_EVERY_SECONDS)
        self.since_warning = 0


def _local() -> _Local:
    return current_app.extensions.setdefault("webhook_rejections", _Local())


def record_rejection(url: str, *, reason: str, now: datetime) -> None:
    """Count one rejected webhook and warn (once per interval) naming the validated URL.

    The query string is left out of logs and the record: only the address matters to spot
    a wrong PUBLIC_BASE_URL, and a forged request could put anything there."""
    url = url.split("?", 1)[0][:300]
    local = _local()
    with local.lock:
        seen = local.seen
        counts = {**seen.counts, reason: seen.counts.get(reason, 0) + 1}
        local.seen = replace(seen, counts=counts, last_url=url, last_at=now, last_reason=reason)
        local.since_warning += 1
        warn, rejected = local.warn.due(), local.since_warning
        if warn:
            local.since_warning = 0
    if warn:
        logger.warning(
            "Twilio webhook rejected (%s signature): validated against %s (PUBLIC_BASE_URL=%s, "
            "request host %s); %d rejected since the last warning. If Twilio calls another "
            "address, fix PUBLIC_BASE_URL (and PROXY_FIX behind a proxy).",
            reason,
            url,
            current_app.config["PUBLIC_BASE_URL"],
            request.host[:100],
            rejected,
        )

    def store(r):
        key = r.key(_REDIS_KEY)
        pipe = r.client.pipeline()
        pipe.hincrby(key, f"count:{reason}", 1)
        pipe.hset(key, mapping={"last_url": url, "last_at": now.isoformat(), "last_reason": reason})
        pipe.execute()

    rate_limits.limiter().with_redis(store)


def rejections() -> Rejections:
    """Every process's rejections when Redis answers, else this process's."""
    ok, raw = rate_limits.limiter().with_redis(lambda r: r.client.hgetall(r.key(_REDIS_KEY)))
    if not ok:
        with _local().lock:
            return _local().seen
    data = {k.decode(): v.decode() for k, v in raw.items()}
    counts = {k.removeprefix("count:"): int(v) for k, v in data.items() if k.startswith("count:")}
    last_at = datetime.fromisoformat(data["last_at"]) if data.get("last_at") else None
    return Rejections(
        counts=counts,
        last_url=data.get("last_url"),
        last_at=last_at,
        last_reason=data.get("last_reason"),
        shared=True,
    )
