"""Configuration, read once from the environment (12-factor).

Every default serves a laptop: SQLite under ``var/``, a Celery broker on SQLite
(kombu's SQLAlchemy transport) and a mail catcher on localhost:8025, so the whole
service runs with no server installed. Production overrides them through the
environment; see ``.env.example`` for the full list.
"""

from __future__ import annotations

import os
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ROOT = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("VAR_DIR", ROOT / "var"))

DEFAULT_SECRET_KEY = "dev-only-secret-change-me"  # noqa: S105 - refused in production
# The address of the sample clinic: a production install must enter its own.
SAMPLE_POSTAL_ADDRESS = "1 Harbour Street, Portsmouth PO1 1AA"
SAMPLE_CLINIC_NAME = "Harbour Massage Clinic"


class ConfigError(RuntimeError, SystemExit):
    """A setting that cannot be used. Uncaught, it ends the process (exit status 1)
    with its message alone, where a RuntimeError printed some 30 lines of traceback
    above the one line an operator needs; code that expects a RuntimeError still
    catches it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = f"configuration error: {message}"  # what SystemExit prints


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word not in _TRUE | _FALSE:  # MAIL_USE_TLS=ture must not quietly mean off
        raise ConfigError(f"{name} must be true or false; got {value!r}")
    return word in _TRUE


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number; got {value!r}") from None


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return default if value is None else float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number; got {value!r}") from None


def _cors_origins(value: str) -> list[str]:
    """Origins as browsers send them: ``https://host[:port]``, no path, no slash (one
    with a slash or without a scheme would silently match no request)."""
    origins = []
    for entry in value.split(","):
        origin = entry.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ConfigError(
                "CORS_ORIGINS must list origins such as https://www.example-clinic.com "
                f"(scheme and host, no path); got {entry.strip()!r}"
            )
        origins.append(origin)
    return origins


def secret_is_strong(secret: str) -> bool:
    """Long enough, and neither the development default nor a placeholder copied
    from ``.env.example`` (``change-me-...``)."""
    return len(secret) >= 32 and "change-me" not in secret.lower()


def _sqlite_url(name: str) -> str:
    return f"sqlite:///{VAR_DIR / name}"


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "development"

    SECRET_KEY = _env("SECRET_KEY", DEFAULT_SECRET_KEY)
    BASE_URL = _env("BASE_URL", "http://localhost:5000").rstrip("/")

    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", _sqlite_url("campaign.sqlite"))
    # No pool_pre_ping: campaign.database checks pooled connections without a round trip.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    CELERY_BROKER_URL = _env("CELERY_BROKER_URL", "sqla+" + _sqlite_url("broker.sqlite"))
    REDIS_URL = os.environ.get("REDIS_URL") or None

    MAIL_SERVER = _env("MAIL_SERVER", "localhost")
    MAIL_PORT = _env_int("MAIL_PORT", 8025)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", f"{SAMPLE_CLINIC_NAME} <news@localhost>")
    MAIL_TIMEOUT = _env_float("MAIL_TIMEOUT", 30.0)

    # Reply-To of every email until an admin sets one on Clinic details (none: the sender).
    MAIL_REPLY_TO = os.environ.get("MAIL_REPLY_TO") or None
    # Where mail clients send the List-Unsubscribe mailto (default: the sender address).
    UNSUBSCRIBE_MAILTO = os.environ.get("UNSUBSCRIBE_MAILTO") or None

    CLINIC_NAME = _env("CLINIC_NAME", SAMPLE_CLINIC_NAME)
    CLINIC_POSTAL_ADDRESS = _env("CLINIC_POSTAL_ADDRESS", SAMPLE_POSTAL_ADDRESS)
    CLINIC_TIMEZONE = _env("CLINIC_TIMEZONE", "Europe/London")

    SEND_RATE_PER_SECOND = _env_float("SEND_RATE_PER_SECOND", 20.0)
    # Sending engine: deliveries claimed at a time, claim lease, retries of 4xx answers.
    SEND_BATCH_SIZE = _env_int("SEND_BATCH_SIZE", 50)
    SEND_LEASE_SECONDS = _env_int("SEND_LEASE_SECONDS", 300)
    SEND_MAX_ATTEMPTS = _env_int("SEND_MAX_ATTEMPTS", 5)
    SEND_RETRY_BASE_SECONDS = _env_int("SEND_RETRY_BASE_SECONDS", 60)
    CAMPAIGN_PARALLEL = _env_int("CAMPAIGN_PARALLEL", 2)
    # How often beat looks for due campaigns (and stalled sends).
    DISPATCH_INTERVAL_SECONDS = _env_float("DISPATCH_INTERVAL_SECONDS", 60.0)
    # A send task works this long, then hands over to a fresh task.
    CAMPAIGN_SLICE_SECONDS = _env_int("CAMPAIGN_SLICE_SECONDS", 15)
    # Hard bounces (5xx) after which a subscriber is marked bounced.
    BOUNCE_LIMIT = _env_int("BOUNCE_LIMIT", 2)
    CORS_ORIGINS = _cors_origins(_env("CORS_ORIGINS", ""))

    # Double opt-in.
    CONFIRM_MAX_AGE_SECONDS = _env_int("CONFIRM_MAX_AGE_SECONDS", 7 * 24 * 3600)
    # RFC 8058 asks that unsubscribe links keep working; we promise at least 60 days.
    UNSUBSCRIBE_MAX_AGE_SECONDS = _env_int("UNSUBSCRIBE_MAX_AGE_SECONDS", 400 * 24 * 3600)
    CONFIRMATION_RESEND_INTERVAL_SECONDS = _env_int("CONFIRMATION_RESEND_INTERVAL_SECONDS", 600)
    # Confirmations mailed again to one address, however many IPs ask: anyone can type
    # it, and a stranger's signups every interval would be 144 emails a day.
    CONFIRMATION_RESEND_LIMIT = _env("CONFIRMATION_RESEND_LIMIT", "3 per day")
    CONSENT_WORDING_VERSION = _env("CONSENT_WORDING_VERSION", "2026-11-v1")
    SIGNUP_RATE_LIMIT = _env("SIGNUP_RATE_LIMIT", "20 per minute;200 per hour")

    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    # Password attempts per login address, from any number of IPs; a login gives them back.
    LOGIN_ACCOUNT_FAILURE_LIMIT = _env("LOGIN_ACCOUNT_FAILURE_LIMIT", "10 per 15 minutes")
    # Lookups and redemptions per staff account and IP.
    DESK_RATE_LIMIT = _env("DESK_RATE_LIMIT", "120 per minute")
    # This many invalid coupon codes in this window pauses the account.
    INVALID_CODE_BURST = _env("INVALID_CODE_BURST", "10 per 5 minutes")
    INVALID_CODE_LOCK_MINUTES = _env_int("INVALID_CODE_LOCK_MINUTES", 5)
    # A staff login session unused this long has ended (the desk's tablet stays logged
    # in while it is used; a forgotten laptop does not).
    STAFF_SESSION_IDLE_DAYS = _env_int("STAFF_SESSION_IDLE_DAYS", 30)

    # How many reverse proxies sit in front of the app (their X-Forwarded-* are trusted).
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)
    LOG_JSON = _env_bool("LOG_JSON", False)

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
    # CSV imports of an existing list may be larger than any other request.
    IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 50 * 1024 * 1024)
    # A newsletter image as uploaded: a phone's photo is 3 to 12 MB before it is scaled.
    IMAGE_MAX_BYTES = _env_int("IMAGE_MAX_BYTES", 20 * 1024 * 1024)
    # The mail catcher's reading page (/dev/mail) exists only where this is on.
    DEV_MAIL_VIEWER = _env_bool("DEV_MAIL_VIEWER", True)
    DEV_MAIL_DIR = _env("DEV_MAIL_DIR", str(VAR_DIR / "mail"))

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    @staticmethod
    def validate(config: dict) -> None:
        """Refuse settings that are unsafe for this environment."""
        if config["STAFF_SESSION_IDLE_DAYS"] < 1:  # 0 would end every login at once
            raise ConfigError(
                "STAFF_SESSION_IDLE_DAYS must be at least 1; "
                f"got {config['STAFF_SESSION_IDLE_DAYS']!r}"
            )
        try:
            make_url(config["SQLALCHEMY_DATABASE_URI"])
        except ArgumentError:  # else every process dies in a traceback, doctor too
            # Not echoed: a mistyped URL still holds its password.
            raise ConfigError(
                "DATABASE_URL cannot be read as a database URL; write it as "
                "postgresql+psycopg://user:password@host:5432/name or "
                "sqlite:////path/to/file.sqlite"
            ) from None
        for name, (least, meaning) in _MINIMUMS.items():
            value = config[name]
            if not value >= least:  # also NaN
                raise ConfigError(f"{name} must be at least {least} ({meaning}); got {value!r}")
        if not 1 <= config["MAIL_PORT"] <= 65535:
            raise ConfigError(f"MAIL_PORT must be a port, 1 to 65535; got {config['MAIL_PORT']!r}")
        for name in RATE_LIMITS:
            try:  # else the first request that is limited answers 500
                parse_many(config[name])
            except ValueError:
                raise ConfigError(
                    f'{name} must be limits such as "20 per minute;200 per hour"; '
                    f"got {config[name]!r}"
                ) from None
        rate = config["SEND_RATE_PER_SECOND"]
        if not rate >= 0:  # also NaN; 0 is the documented "no limit" (bench.send)
            raise ConfigError(
                "SEND_RATE_PER_SECOND must be a number of messages a second (0: no limit); "
                f"got {rate!r}"
            )


# The lowest value each number can work with, and what it counts. Below it a setting
# is worse than wrong, and silently so: a dispatch interval of 0 had beat queue
# thousands of tasks a second, a body limit of -1 refused every form, staff login too.
_MINIMUMS = {
    "SEND_BATCH_SIZE": (1, "deliveries claimed at a time"),
    "SEND_LEASE_SECONDS": (1, "seconds"),
    "SEND_MAX_ATTEMPTS": (1, "attempts per reader"),
    "SEND_RETRY_BASE_SECONDS": (1, "seconds"),
    "CAMPAIGN_PARALLEL": (1, "senders per newsletter"),
    "DISPATCH_INTERVAL_SECONDS": (1, "seconds"),
    "CAMPAIGN_SLICE_SECONDS": (1, "seconds"),
    "BOUNCE_LIMIT": (1, "hard bounces"),
    "CONFIRM_MAX_AGE_SECONDS": (60, "seconds"),
    # RFC 8058 asks that unsubscribe links keep working; PRODUCT.md promises 60 days.
    "UNSUBSCRIBE_MAX_AGE_SECONDS": (60 * 24 * 3600, "seconds: 60 days"),
    "CONFIRMATION_RESEND_INTERVAL_SECONDS": (0, "seconds"),
    "INVALID_CODE_LOCK_MINUTES": (0, "minutes"),
    "TRUSTED_PROXIES": (0, "proxies"),
    "MAX_CONTENT_LENGTH": (1024, "bytes"),
    "IMPORT_MAX_BYTES": (1024, "bytes"),
    "IMAGE_MAX_BYTES": (1024, "bytes"),
    "MAIL_TIMEOUT": (0.1, "seconds"),
}
RATE_LIMITS = (
    "SIGNUP_RATE_LIMIT",
    "LOGIN_RATE_LIMIT",
    "LOGIN_ACCOUNT_FAILURE_LIMIT",
    "DESK_RATE_LIMIT",
    "INVALID_CODE_BURST",
    "CONFIRMATION_RESEND_LIMIT",
)


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SIGNUP_RATE_LIMIT = "1000 per minute"
    LOGIN_RATE_LIMIT = "1000 per minute"
    DESK_RATE_LIMIT = "10000 per minute"
    # Tests read mail from a real SMTP sink, so mail is sent for real.
    MAIL_SUPPRESS_SEND = False
    DEV_MAIL_VIEWER = False


class ProductionConfig(Config):
    ENV_NAME = "production"
    DEV_MAIL_VIEWER = False
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True

    @staticmethod
    def validate(config: dict) -> None:
        Config.validate(config)
        if not secret_is_strong(config["SECRET_KEY"]):
            raise ConfigError(
                "SECRET_KEY is unset, a placeholder or the development default: set "
                "SECRET_KEY to a random value of at least 32 characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        if config.get("DEBUG"):
            raise ConfigError("DEBUG must be off in production.")


def _broker_transport_options(broker_url: str) -> dict:
    if broker_url.startswith(("redis://", "rediss://")):
        # Redis redelivers an unacknowledged task after this many seconds. It must
        # exceed the longest task and the longest countdown we schedule: send slices
        # run CAMPAIGN_SLICE_SECONDS (15 s), and a send waiting for its next retry
        # re-queues itself at most 3600 s ahead (the retry backoff's cap). Shorter,
        # and a waiting task is handed to a second worker while the first holds it.
        return {"visibility_timeout": 2 * 3600}
    # kombu's SQLAlchemy transport passes its options to create_engine(): none here.
    return {}


def _ascii_domain(domain: str) -> str:
    """An internationalised domain in the ASCII form mail and links need
    (``bücher.de`` as ``xn--bcher-kva.de``); one that is not a domain stays as it is,
    for ``flask doctor`` to report."""
    if domain.isascii():
        return domain
    import idna  # email-validator's: IDNA 2008, as subscribers' addresses are read

    try:
        return idna.encode(domain, uts46=True).decode()
    except idna.IDNAError:
        return domain


def ascii_base_url(url: str) -> str:
    """``BASE_URL`` as every link and header can carry it: an accented host in its
    ASCII form and an accented path percent-encoded (a List-Unsubscribe header must be
    ASCII, and a link is the same either way)."""
    parts = urlsplit(url)
    host, netloc = parts.hostname or "", parts.netloc
    if not host.isascii():  # hostname is lower-cased: so must the netloc be to find it
        netloc = netloc.lower().replace(host, _ascii_domain(host))
    path = quote(parts.path, safe="/%:@!$&'()*+,;=")
    return urlunsplit(parts._replace(netloc=netloc, path=path)).rstrip("/")


def normalised_sender(sender: str) -> str:
    """``MAIL_DEFAULT_SENDER`` as ``Name <address>`` however it was written (a space
    around it, the old ``address (Name)`` form), with its domain in ASCII form; the name
    may stay accented (the From header encodes it). Every header is built from this
    form: one written otherwise came out as a From of encoded words with no address in
    it, which Gmail refuses. Not one address, it stays as written for ``flask doctor``
    to report."""
    from email.headerregistry import Address
    from email.policy import SMTP

    sender = sender.strip()
    try:
        header = SMTP.header_factory("From", sender)
        (mailbox,) = header.addresses
    except (ValueError, IndexError):
        return sender
    if header.defects or not mailbox.username or not mailbox.domain:
        return sender
    name = mailbox.display_name or parseaddr(sender)[0]  # "address (Name)": the comment
    try:
        return str(Address(name, mailbox.username, _ascii_domain(mailbox.domain)))
    except ValueError:  # a line break or the like in the name: doctor says so
        return sender


def derived_settings(config: dict) -> dict:
    """Settings computed from others, applied after any override."""
    return {
        "BASE_URL": ascii_base_url(config["BASE_URL"]),
        "MAIL_DEFAULT_SENDER": normalised_sender(config["MAIL_DEFAULT_SENDER"]),
        "RATELIMIT_STORAGE_URI": config["REDIS_URL"] or "memory://",
        "CELERY": {
            "broker_url": config["CELERY_BROKER_URL"],
            "task_ignore_result": True,
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "worker_hijack_root_logger": False,
            "broker_connection_retry_on_startup": True,
            "timezone": "UTC",
            "broker_transport_options": _broker_transport_options(config["CELERY_BROKER_URL"]),
        },
    }


CONFIGS = {
    "development": Config,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def refuse_a_dotenv_only_flask_reads() -> None:
    """Every process reads its settings from the environment alone.

    The ``flask`` command loads a ``.env`` (or ``.flaskenv``) from the working
    directory up when python-dotenv is installed (the dev install has it); celery and
    gunicorn never do. ``flask db upgrade`` and the worker would then quietly use
    different databases, so a ``flask`` command that has read such a file stops here.
    """
    if "FLASK_RUN_FROM_CLI" not in os.environ:  # set by the flask command only
        return
    try:
        import dotenv
        from flask.cli import get_load_dotenv
    except ImportError:
        return  # without python-dotenv the flask command reads no file either
    found = [p for p in (dotenv.find_dotenv(n, usecwd=True) for n in (".flaskenv", ".env")) if p]
    # A FLASK_SKIP_DOTENV inside the file is set only once the file has been read.
    skipped = not get_load_dotenv() and not any(
        "FLASK_SKIP_DOTENV" in dotenv.dotenv_values(path) for path in found
    )
    if found and not skipped:
        raise ConfigError(
            f"the flask command read {', '.join(found)}, which celery and gunicorn never "
            "read: export its settings to every process (set -a; . ./.env; set +a) and "
            "set FLASK_SKIP_DOTENV=1, or move the file out of the way."
        )


def config_for(name: str | None = None) -> Config:
    """The config object for ``name`` or for ``APP_ENV`` (default: development)."""
    refuse_a_dotenv_only_flask_reads()
    name = name or os.environ.get("APP_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}; got {name!r}") from None


def check_settings() -> None:
    """Read and check the environment's settings as ``create_app`` does, without
    building an app: gunicorn's master calls it, so a setting that cannot work stops
    the start once instead of every worker failing and respawning without end."""
    settings = config_for()
    values = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
    values.update(derived_settings(values))
    CONFIGS[values["ENV_NAME"]].validate(values)
