"""Configuration from environment variables, with development defaults.

Every setting is documented in README.md ("Configuration").
"""

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"
DEFAULT_SECRET_KEY = "dev-insecure-change-me"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_int_or_auto(name: str) -> int | str:
    """A whole number, or "auto" (the default: unset, empty or "auto")."""
    value = (os.environ.get(name) or "auto").strip().lower()
    return value if value == "auto" else int(value)


def database_url(url: str) -> str:
    """Accept the common 'postgres://' and 'postgresql://' spellings and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict:
    # hide_parameters: database errors (and echo) never print statement parameters, which
    # hold phone numbers and SMS text (see app/logging_setup.py).
    options: dict = {"pool_pre_ping": True, "hide_parameters": True}
    if url.startswith("postgresql") and not _env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Behind PgBouncer in transaction mode a session's prepared statements may be on
        # another server connection: psycopg must not prepare them (README, "Running a
        # national program").
        options["connect_args"] = {"prepare_threshold": None}
    return options


class Config:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'alcance.sqlite3'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = engine_options(SQLALCHEMY_DATABASE_URI)
    REDIS_URL = os.environ.get("REDIS_URL", "")

    LANGUAGES = ("es", "en")
    BABEL_DEFAULT_LOCALE = "es"
    BABEL_DEFAULT_TIMEZONE = "America/Mexico_City"
    BABEL_TRANSLATION_DIRECTORIES = os.environ.get(
        "BABEL_TRANSLATION_DIRECTORIES", str(BASE_DIR / "translations")
    )

    # Uploads (contact and attendance CSVs) are the largest requests.
    MAX_CONTENT_LENGTH = _env_int("MAX_UPLOAD_MB", 16) * 1024 * 1024

    SESSION_COOKIE_NAME = "alcance_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = _env_int("SESSION_HOURS", 12) * 3600
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
    SECURITY_HSTS = False

    # argon2id cost (RFC 9106 second recommended option; above OWASP's minimum).
    PASSWORD_HASH_TIME_COST = 3
    PASSWORD_HASH_MEMORY_KIB = 64 * 1024
    PASSWORD_MIN_LENGTH = 12

    # Failed-login budget, shared by all processes through REDIS_URL when set.
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "20 per 15 minutes")

    PROXY_FIX = _env_int("PROXY_FIX", 0)  # number of trusted proxies in front of the app
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    LOG_JSON = _env_bool("LOG_JSON", False)
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")  # enables /metrics
    RETENTION_MONTHS = _env_int("RETENTION_MONTHS", 0)  # 0 = keep contacts until erased
    # PostgreSQL: monthly participation-event partitions kept created this many months ahead.
    PARTITION_MONTHS_AHEAD = _env_int("PARTITION_MONTHS_AHEAD", 3)
    # PostgreSQL: finished messages due this many (30-day) months ago move from the live
    # outbox to its archive, which every page still reads (app/outbox/archive.py; 0 = off).
    OUTBOX_ARCHIVE_MONTHS = _env_int("OUTBOX_ARCHIVE_MONTHS", 6)
    # Report figures and their rendered tables are reused for this many seconds: shared by
    # every process through Redis when REDIS_URL is set, else per process (0 = always fresh).
    REPORTS_CACHE_SECONDS = _env_int("REPORTS_CACHE_SECONDS", 60)
    # Event exports larger than this are written by a worker job, then downloaded.
    EXPORT_INLINE_MAX_EVENTS = _env_int("EXPORT_INLINE_MAX_EVENTS", 50_000)

    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
    TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
    TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
    SMS_BACKEND = os.environ.get(
        "SMS_BACKEND", "twilio" if os.environ.get("TWILIO_ACCOUNT_SID") else "simulator"
    )

    TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "")  # tests/benchmarks only
    # The provider's send rate (messages/s, all workers together); 0 = no limit. The worker
    # sizes its threads from it (app/outbox/dispatch.py, plan_dispatch).
    TWILIO_MAX_MPS = float(os.environ.get("TWILIO_MAX_MPS", "10"))
    # "auto": threads ≈ TWILIO_MAX_MPS × observed provider latency × 1.5, within
    # [OUTREACH_CONCURRENCY_MIN, OUTREACH_CONCURRENCY_MAX] (the max when there is no limit);
    # a number fixes it. OUTREACH_BATCH "auto" = 10 × the threads.
    OUTREACH_CONCURRENCY = _env_int_or_auto("OUTREACH_CONCURRENCY")
    OUTREACH_CONCURRENCY_MIN = _env_int("OUTREACH_CONCURRENCY_MIN", 4)
    OUTREACH_CONCURRENCY_MAX = _env_int("OUTREACH_CONCURRENCY_MAX", 64)
    OUTREACH_BATCH = _env_int_or_auto("OUTREACH_BATCH")
    # Database connections a worker's sending threads share (statements of ~1 ms each).
    OUTREACH_DB_CONNECTIONS = _env_int("OUTREACH_DB_CONNECTIONS", 8)
    # Sends to more recipients than this are fanned out by a worker job, not in the request.
    OUTREACH_INLINE_FANOUT = _env_int("OUTREACH_INLINE_FANOUT", 2000)
    # An experiment whose audience is larger starts in a worker (about 8 s per 100,000).
    EXPERIMENT_INLINE_START = _env_int("EXPERIMENT_INLINE_START", 5000)
    OUTREACH_LEASE_SECONDS = _env_int("OUTREACH_LEASE_SECONDS", 120)
    OUTREACH_RECONCILE_GRACE_SECONDS = _env_int("OUTREACH_RECONCILE_GRACE_SECONDS", 600)
    # Where signed webhooks wait while the database is unreachable (webhooks/spool.py); holds
    # phone numbers and bodies (0700/0600). Empty: the instance directory.
    INBOUND_SPOOL_DIR = os.environ.get("INBOUND_SPOOL_DIR", "")
    OUTREACH_UNKNOWN_ESCALATION_SECONDS = _env_int("OUTREACH_UNKNOWN_ESCALATION_SECONDS", 21600)
    # Estimated price of one outbound SMS segment by recipient country, for the cost shown
    # before a send is scheduled (always labelled an estimate). Defaults: Twilio's public
    # list prices (US long code $0.0083, carrier fees excluded; Mexico about $0.115);
    # override them with SMS_PRICE_MX / SMS_PRICE_US and the currency with
    # SMS_PRICE_CURRENCY (ISO 4217).
    SMS_PRICE_CURRENCY = os.environ.get("SMS_PRICE_CURRENCY", "USD")
    SMS_PRICE_PER_SEGMENT = {
        country: os.environ.get(f"SMS_PRICE_{country}") or default
        for country, default in {"MX": "0.1150", "US": "0.0083"}.items()
    }

    @staticmethod
    def validate(config) -> None:
        """Fail fast on settings that would be unsafe; overridden in production."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("TEST_DATABASE_URL") or "sqlite://")
    REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
    # Cheap hashes keep the suite fast; production cost is tested separately.
    PASSWORD_HASH_TIME_COST = 1
    PASSWORD_HASH_MEMORY_KIB = 1024
    SMS_BACKEND = "fake"
    PUBLIC_BASE_URL = "https://alcance.example.org"
    REPORTS_CACHE_SECONDS = 0  # tests see every event at once; tests/reports/test_cache.py
    # Never instance/: a test must not replay a developer's spooled webhooks (created lazily).
    INBOUND_SPOOL_DIR = str(Path(tempfile.gettempdir()) / f"alcance-test-spool-{os.getpid()}")


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_NAME = "__Host-alcance_session"
    SESSION_COOKIE_SECURE = True
    SECURITY_HSTS = True
    PREFERRED_URL_SCHEME = "https"

    @staticmethod
    def validate(config) -> None:
        key = config.get("SECRET_KEY") or ""
        if not key or key == DEFAULT_SECRET_KEY or len(key) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in "
                "production (for example: "
                "python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and not _env_bool(
            "ALLOW_SQLITE_IN_PRODUCTION", False
        ):
            raise RuntimeError(
                "DATABASE_URL must point at PostgreSQL in production "
                "(set ALLOW_SQLITE_IN_PRODUCTION=1 for a single-laptop deployment)."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
