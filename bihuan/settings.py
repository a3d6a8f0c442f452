"""Django settings for Bihuan.

Everything that differs between machines comes from the environment:
``DATABASE_URL``, ``BIHUAN_SECRET_KEY``, ``BIHUAN_DATA_KEY`` and ``BIHUAN_AUDIT_KEY``.
On a development machine the keys are generated into ``var/`` on first use, so that
``make demo`` needs nothing else; with ``BIHUAN_PRODUCTION=1`` a missing key is an error.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BIHUAN_VAR_DIR", BASE_DIR / "var"))
PRODUCTION = os.environ.get("BIHUAN_PRODUCTION") == "1"


def _key(env_name: str, filename: str, nbytes: int = 32) -> str:
    """Return a key from the environment, or from ``var/`` (creating it when allowed)."""
    value = os.environ.get(env_name)
    if value:
        return value
    path = VAR_DIR / filename
    if path.exists():
        return path.read_text().strip()
    if PRODUCTION:
        raise RuntimeError(f"{env_name} must be set in production")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value = "-"
    while value.startswith("-"):  # a leading "-" reads as an option on command lines
        value = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode()
    # O_EXCL so two processes starting at once agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


SECRET_KEY = _key("BIHUAN_SECRET_KEY", "secret_key", 48)
# Data-encryption key for protected personal fields (ID numbers, phones).
BIHUAN_DATA_KEY = _key("BIHUAN_DATA_KEY", "data_key", 32)
# Key for the per-entry MAC of the audit log; kept apart from the database.
BIHUAN_AUDIT_KEY = _key("BIHUAN_AUDIT_KEY", "audit_key", 32)
# Retired audit keys (``bihuan audit rotate-key``): older entries are verified with them.
# From the environment (comma-separated) and ``var/audit_keys.retired`` (one per line).
_retired_file = VAR_DIR / "audit_keys.retired"
BIHUAN_AUDIT_RETIRED_KEYS = [k for k in os.environ.get("BIHUAN_AUDIT_RETIRED_KEYS", "").split(",") if k] + (
    [k for k in _retired_file.read_text().split() if k] if _retired_file.exists() else [])

DEBUG = os.environ.get("BIHUAN_DEBUG") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("BIHUAN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("BIHUAN_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    # Two-factor login (accounts.otp): TOTP devices, and static devices for recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "bihuan.core",
    "bihuan.orgs",
    "bihuan.accounts",
    "bihuan.people",
    "bihuan.loop",
    "bihuan.plans",
    "bihuan.care",
    "bihuan.activities",
    "bihuan.ledgers",
    "bihuan.evaluation",
    "bihuan.reports",
    "bihuan.api",
    "bihuan.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bihuan.core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "bihuan.core.middleware.SessionRefreshMiddleware",
    "bihuan.core.middleware.LocaleMiddleware",
    # After the locale (refusals in the request's language), before anything reads the body.
    "bihuan.core.middleware.InputGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Second factor first (verify or enrol), then a required password change: see accounts/middleware.py.
    # Before the request context, so that a half-logged-in API call is anonymous in the audit too.
    "bihuan.accounts.middleware.SecondFactorMiddleware",
    "bihuan.core.middleware.RequestContextMiddleware",
    "bihuan.accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "bihuan.core.views.ServiceErrorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bihuan.urls"
WSGI_APPLICATION = "bihuan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bihuan.web.context.platform",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'bihuan.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers proceed while one writer commits; IMMEDIATE takes the
        # write lock at BEGIN so two writers queue instead of deadlocking.
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("BIHUAN_SQLITE_TEST_NAME", "")}
    # SQLite has one writer at a time: a session saved on every request would queue behind a
    # long import's transaction and fail, so that every page hung while a township imported.
    # Sessions live in files under var/ instead (server-side, revocable; PostgreSQL keeps them
    # in the database). Expired ones are cleared by the daily ``sessions.clear`` job.
    SESSION_ENGINE = "django.contrib.sessions.backends.file"
    SESSION_FILE_PATH = str(VAR_DIR / "sessions")
    Path(SESSION_FILE_PATH).mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
AUTHENTICATION_BACKENDS = ["bihuan.accounts.backends.LockoutModelBackend"]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Password policy (MLPS 2.0 "identification and authentication"; values per level in
# docs/architecture.md): length, character classes, no reuse of the last N passwords, optional expiry.
BIHUAN_PASSWORD_MIN_LENGTH = int(os.environ.get("BIHUAN_PASSWORD_MIN_LENGTH", "10"))
BIHUAN_PASSWORD_MIN_CLASSES = int(os.environ.get("BIHUAN_PASSWORD_MIN_CLASSES", "3"))
BIHUAN_PASSWORD_HISTORY = int(os.environ.get("BIHUAN_PASSWORD_HISTORY", "5"))
# 0 = passwords never expire; otherwise a login with an older password must change it first.
BIHUAN_PASSWORD_MAX_AGE_DAYS = int(os.environ.get("BIHUAN_PASSWORD_MAX_AGE_DAYS", "0"))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": BIHUAN_PASSWORD_MIN_LENGTH}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "bihuan.accounts.validators.CharacterClassValidator",
     "OPTIONS": {"min_classes": BIHUAN_PASSWORD_MIN_CLASSES}},
    {"NAME": "bihuan.accounts.validators.PasswordHistoryValidator",
     "OPTIONS": {"keep": BIHUAN_PASSWORD_HISTORY}},
]
# Lock an account for LOCKOUT_MINUTES after LOCKOUT_THRESHOLD consecutive failures.
LOCKOUT_THRESHOLD = int(os.environ.get("BIHUAN_LOCKOUT_THRESHOLD", "5"))
LOCKOUT_MINUTES = int(os.environ.get("BIHUAN_LOCKOUT_MINUTES", "15"))
# Refuse every login from a client address (an IPv6 /64) with this many failures in the last
# _MINUTES, whatever the usernames tried (accounts/throttle.py; counted in the database, so it
# holds across web workers).
BIHUAN_LOGIN_ADDRESS_THRESHOLD = int(os.environ.get("BIHUAN_LOGIN_ADDRESS_THRESHOLD", "20"))
BIHUAN_LOGIN_ADDRESS_MINUTES = int(os.environ.get("BIHUAN_LOGIN_ADDRESS_MINUTES", "15"))
# Behind a reverse proxy: take the client address from X-Forwarded-For (core.middleware.client_ip).
BIHUAN_TRUST_PROXY = os.environ.get("BIHUAN_TRUST_PROXY") == "1"
# The city's own map tile server ("https://tiles.example/{z}/{x}/{y}.png"); empty: no map, only
# coordinates (no outside tile server is ever used; loop.geo).
BIHUAN_TILE_URL = os.environ.get("BIHUAN_TILE_URL", "")
# Credit points (信用积分) expire at the end of the N-th year after the year they were awarded
# (1: points of 2026 lapse when 2027 ends); 0: they never expire (evaluation.points_expiry job).
BIHUAN_POINTS_EXPIRY_YEARS = int(os.environ.get("BIHUAN_POINTS_EXPIRY_YEARS", "1"))


# Administrators (whoever may create users and grant roles) and whoever may reveal numbers.
BIHUAN_2FA_DEFAULT_REQUIRED_FOR = ("accounts.user.manage,people.person.reveal,people.person.export_unmasked,"
                                   "loop.matter.reveal")


def _two_factor_required_for() -> list[str]:
    """Who must use a second factor: role codes and permissions (comma-separated; "none" for nobody).

    The environment wins; else ``var/2fa_required_for``, which ``bihuan seed --scale demo`` writes
    so that the demo logins need no authenticator app (ignored with BIHUAN_PRODUCTION=1)."""
    value = os.environ.get("BIHUAN_2FA_REQUIRED_FOR")
    if value is None and not PRODUCTION and (VAR_DIR / "2fa_required_for").exists():
        value = (VAR_DIR / "2fa_required_for").read_text()
    if value is None:
        value = BIHUAN_2FA_DEFAULT_REQUIRED_FOR
    return [v.strip() for v in value.split(",") if v.strip() and v.strip() != "none"]


BIHUAN_2FA_REQUIRED_FOR = _two_factor_required_for()
OTP_TOTP_ISSUER = "Bihuan"

# Sessions: idle expiry (renewed on every request) and gone when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("BIHUAN_SESSION_SECONDS", str(30 * 60)))
# The idle timeout slides: core.middleware.SessionRefreshMiddleware saves the session at most once a minute.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "bihuan" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app folders when collectstatic has not run (tests, first start).
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
# Uploaded imports larger than this are refused before parsing.
BIHUAN_MAX_IMPORT_BYTES = int(os.environ.get("BIHUAN_MAX_IMPORT_BYTES", str(100 * 1024 * 1024)))
# Stored uploads (MEDIA_ROOT/imports) older than this are removed by the daily job imports.cleanup.
BIHUAN_IMPORT_KEEP_DAYS = int(os.environ.get("BIHUAN_IMPORT_KEEP_DAYS", "30"))
# One attachment of the largest accepted size must fit in a JSON request, base64-encoded (4/3 of
# its size) with room for the other fields; a larger body is a 413 (core.middleware.InputGuardMiddleware).
BIHUAN_MAX_ATTACHMENT_BYTES = int(os.environ.get("BIHUAN_MAX_ATTACHMENT_BYTES", str(10 * 1024 * 1024)))
BIHUAN_MAX_REQUEST_BYTES = int(os.environ.get(
    "BIHUAN_MAX_REQUEST_BYTES", str((BIHUAN_MAX_ATTACHMENT_BYTES + 2) // 3 * 4 + 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = BIHUAN_MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Background jobs: django-q2 with the database as its queue (the "ORM broker"), so the same
# `bihuan worker` runs on SQLite and PostgreSQL with no extra server. See docs/operations.md.
Q_CLUSTER = {
    "name": "bihuan",
    "label": "后台任务",
    "orm": "default",
    # Task processes of one `bihuan worker` (a 2-core box: two, so an import and the sweep can overlap).
    "workers": int(os.environ.get("BIHUAN_WORKER_PROCESSES", "2")),
    "recycle": 200,
    # A task is killed after `timeout` s; an unacknowledged one is handed out again after `retry` s,
    # so retry must exceed timeout (a long import must never run twice).
    "timeout": int(os.environ.get("BIHUAN_JOB_TIMEOUT", "1800")),
    "retry": int(os.environ.get("BIHUAN_JOB_TIMEOUT", "1800")) + 300,
    "max_attempts": 1,  # a failed task is reported, not retried; periodic jobs simply run again
    "ack_failures": True,
    "catch_up": False,  # after downtime a periodic job runs once, not once per missed minute
    "poll": 1,  # seconds between queue polls when idle (one indexed SELECT)
    "queue_limit": 4,
    "save_limit": 200,  # successful task results kept (failures are kept until deleted)
    "sync": False,  # tests switch this on (tests/conftest.py) so tasks run inline
}
# After an audit entry commits, ask the worker to seal (at most once per this many seconds per
# process); the every-minute audit.seal job is the fallback. See docs/audit.md.
BIHUAN_AUDIT_SEAL_ON_COMMIT = os.environ.get("BIHUAN_AUDIT_SEAL_ON_COMMIT", "1") == "1"
BIHUAN_AUDIT_SEAL_DEBOUNCE_SECONDS = 2.0
# Signed checkpoints of the chain head, appended by the audit.seal job (at most once per this many
# seconds, when the head moved): ship the file elsewhere; `bihuan audit verify --checkpoint`.
BIHUAN_AUDIT_CHECKPOINT_FILE = Path(os.environ.get("BIHUAN_AUDIT_CHECKPOINT_FILE",
                                                   VAR_DIR / "audit_checkpoints.log"))
BIHUAN_AUDIT_CHECKPOINT_SECONDS = int(os.environ.get("BIHUAN_AUDIT_CHECKPOINT_SECONDS", "60"))

# Copies a web process keeps between requests (issue 18; docs/performance.md "Intake and transitions").
# Calendar overrides: an override saved in another process counts after at most this many seconds
# (at once in the process that saved it). 0: read on every request.
BIHUAN_CALENDAR_CACHE_SECONDS = float(os.environ.get("BIHUAN_CALENDAR_CACHE_SECONDS", "2"))
# A user's bindings: kept under a stamp on the user's row that every change of them renews, so a
# change counts on the next request in every process; this bound is only the backstop for a change
# made around the services (raw SQL). 0: read on every request.
BIHUAN_SCOPE_CACHE_SECONDS = float(os.environ.get("BIHUAN_SCOPE_CACHE_SECONDS", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_pii": {"()": "bihuan.core.protect.MaskingLogFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_pii"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("BIHUAN_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's access lines through the masking filter too (Django gives them their own handler).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # django-q2 logs every task it starts and finishes; `bihuan worker` prints its own lines.
        "django-q": {"level": os.environ.get("BIHUAN_QUEUE_LOG_LEVEL", "WARNING")},
    },
}
