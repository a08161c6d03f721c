"""Rate limits shared by every process: Redis when REDIS_URL is set, memory otherwise."""
import hashlib

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimits:
    """Counts events per key in a moving window (e.g. failed logins per account)."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app) -> None:
        redis_url = app.config.get("REDIS_URL")
        prefix = app.config.get("RATELIMIT_KEY_PREFIX", "alcance")
        if redis_url:
            storage = storage_from_string(redis_url, key_prefix=prefix)
        else:
            storage = storage_from_string("memory://")
        app.extensions["rate_limits"] = MovingWindowRateLimiter(storage)

    @staticmethod
    def _limiter() -> MovingWindowRateLimiter:
        return current_app.extensions["rate_limits"]

    @staticmethod
    def _key(value: str) -> str:
        # Keys never hold an e-mail or IP in clear text.
        secret = current_app.config["SECRET_KEY"].encode()
        return hashlib.sha256(secret + value.encode()).hexdigest()[:32]

    def exceeded(self, limit: str, scope: str, value: str) -> bool:
        return not self._limiter().test(parse(limit), scope, self._key(value))

    def hit(self, limit: str, scope: str, value: str) -> None:
        self._limiter().hit(parse(limit), scope, self._key(value))

    def clear(self, limit: str, scope: str, value: str) -> None:
        self._limiter().clear(parse(limit), scope, self._key(value))


rate_limits = RateLimits()
