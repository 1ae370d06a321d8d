"""One settings module, configured by environment variables.

Defaults run out of the box (SQLite in WAL mode, database-backed tasks, local-memory
cache); PostgreSQL, Redis and a Redis-backed queue switch on when their URLs are set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("PUBLIKUM_DATA_DIR", Path.cwd() / "var")).resolve()

env = environ.Env()

DEFAULT_SECRET_KEY = "publikum-insecure-development-key-change-me"  # noqa: S105

MODE = env.str("PUBLIKUM_MODE", default="development")
if MODE not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"PUBLIKUM_MODE must be 'development' or 'production', not {MODE!r}."
    )
PRODUCTION = MODE == "production"

SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION:
    if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "Production mode refuses to start with the default or a short SECRET_KEY: "
            "set SECRET_KEY to a random string of at least 32 characters."
        )
    if DEBUG:
        raise ImproperlyConfigured(
            "Production mode refuses to start with DEBUG on: set DEBUG=false."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "Production mode needs ALLOWED_HOSTS (comma-separated host names)."
        )
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    # E-mail services (anymail): no models; its app registers anymail's configuration checks.
    "anymail",
    "publikum.core",
    "publikum.programme",
    "publikum.audience",
    "publikum.bookings",
    "publikum.journeys",
    "publikum.discovery",
    "publikum.assistant",
    "publikum.conversations",
    "publikum.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "publikum.core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "publikum.urls"
WSGI_APPLICATION = "publikum.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "publikum.core.context_processors.tenancy",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------
DATA_DIR.mkdir(parents=True, exist_ok=True)
_default_db = f"sqlite:///{DATA_DIR / 'publikum.sqlite3'}"
DATABASES = {"default": env.db_url("DATABASE_URL", default=_default_db)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions take
    # the write lock at BEGIN so concurrent writers wait (busy timeout) instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache and Redis ----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES: dict[str, Any] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- background work ----------------------------------------------------------------------
# "database" (default) or "rq" (a Redis-backed distributed queue; needs REDIS_URL).
TASK_QUEUE = env.str("PUBLIKUM_TASK_QUEUE", default="database")
TASK_QUEUES = ["default", "mail", "periodic"]
if TASK_QUEUE == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("PUBLIKUM_TASK_QUEUE=rq needs REDIS_URL.")
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600} for name in TASK_QUEUES}
    TASKS: dict[str, Any] = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": TASK_QUEUES}
    }
elif TASK_QUEUE == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": TASK_QUEUES}}
elif TASK_QUEUE == "immediate":
    TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": TASK_QUEUES,
        }
    }
else:
    raise ImproperlyConfigured(
        f"PUBLIKUM_TASK_QUEUE must be 'database', 'rq' or 'immediate', not {TASK_QUEUE!r}."
    )
# Seconds between ticks of the periodic scheduler inside the worker.
TICK_SECONDS = env.float("PUBLIKUM_TICK_SECONDS", default=10.0)

# --- email --------------------------------------------------------------------------------
_email = env.email_url("EMAIL_URL", default="smtp://127.0.0.1:1025")
# An e-mail service instead of SMTP: EMAIL_BACKEND=anymail.backends.postmark.EmailBackend
# (or mailgun, brevo, amazon_ses, ...), its keys in PUBLIKUM_ANYMAIL (below).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=_email["EMAIL_BACKEND"])
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Publikum <noreply@publikum.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# django-anymail: the service's keys as JSON in PUBLIKUM_ANYMAIL, with anymail's names, e.g.
# '{"POSTMARK_SERVER_TOKEN": "..."}' or '{"MAILGUN_API_KEY": "...",
# "MAILGUN_WEBHOOK_SIGNING_KEY": "..."}'.
ANYMAIL: dict[str, Any] = env.json("PUBLIKUM_ANYMAIL", default={})
if not isinstance(ANYMAIL, dict) or "WEBHOOK_SECRET" in ANYMAIL:
    raise ImproperlyConfigured(
        "PUBLIKUM_ANYMAIL must be a JSON object of anymail settings; the webhook secret goes "
        "into PUBLIKUM_ANYMAIL_WEBHOOK_SECRET."
    )
# "user:password": the basic auth the service's bounce and complaint webhooks must send
# (https://user:password@host/anymail/<service>/tracking/). Without it anymail would accept
# every post and let anyone mark contacts as bounced; a random secret that nobody knows makes
# the webhook URLs refuse everything (400) instead.
_webhook_secret = env.str("PUBLIKUM_ANYMAIL_WEBHOOK_SECRET", default="")
if _webhook_secret and ":" not in _webhook_secret:
    raise ImproperlyConfigured(
        "PUBLIKUM_ANYMAIL_WEBHOOK_SECRET must be 'user:password' (HTTP basic auth)."
    )
ANYMAIL["WEBHOOK_SECRET"] = _webhook_secret or f"unset:{secrets.token_urlsafe(32)}"
# The local SMTP sink of `publikum serve --smtp-sink` (demo and development).
SMTP_SINK_HOST = env.str("PUBLIKUM_SMTP_SINK_HOST", default="127.0.0.1")
SMTP_SINK_PORT = env.int("PUBLIKUM_SMTP_SINK_PORT", default=1025)
# The inbox's inbound addresses: inbox+<org>@ and inbox+<org>.<thread>@ this domain (its MX
# points at `publikum serve --smtp-inbound PORT` or at an e-mail service; docs/inbox.md).
PUBLIKUM_INBOUND_DOMAIN = env.str("PUBLIKUM_INBOUND_DOMAIN", default="inbox.publikum.localhost")
PUBLIKUM_INBOUND_SMTP_HOST = env.str("PUBLIKUM_INBOUND_SMTP_HOST", default="127.0.0.1")
PUBLIKUM_INBOUND_SMTP_PORT = env.int("PUBLIKUM_INBOUND_SMTP_PORT", default=0)

# --- internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- static files -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True
# Uploaded images of programme items. `publikum serve` serves them itself; behind a proxy,
# let the proxy serve MEDIA_ROOT at MEDIA_URL (docs/operations.md).
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("PUBLIKUM_MEDIA_ROOT", default=str(DATA_DIR / "media")))
WHITENOISE_AUTOREFRESH = DEBUG

# --- bookings -----------------------------------------------------------------------------
BOOKINGS_MAX_TICKETS = env.int("PUBLIKUM_BOOKINGS_MAX_TICKETS", default=20)
BOOKINGS_WAITLIST_OFFER_HOURS = env.int("PUBLIKUM_WAITLIST_OFFER_HOURS", default=24)
# Scheme and host of the links in mails that no request triggers (waiting-list offers, a
# cancelled date); mails sent while serving a request use that request's host.
PUBLIC_URL = env.str("PUBLIKUM_PUBLIC_URL", default="http://127.0.0.1:8000")
# How long a booking waits for the lock of a date before it is retried (PostgreSQL).
BOOKINGS_LOCK_TIMEOUT_MS = env.int("PUBLIKUM_BOOKINGS_LOCK_TIMEOUT_MS", default=5000)
# Never change these two: only the control test of the capacity guarantee does, to show
# that the concurrency test detects overselling when the lock is gone.
BOOKINGS_LOCK_DATES = env.bool("PUBLIKUM_UNSAFE_BOOKINGS_LOCK_DATES", default=True)
BOOKINGS_RACE_PAUSE_SECONDS = env.float("PUBLIKUM_UNSAFE_BOOKINGS_RACE_PAUSE", default=0.0)
if PRODUCTION and (not BOOKINGS_LOCK_DATES or BOOKINGS_RACE_PAUSE_SECONDS):
    raise ImproperlyConfigured(
        "Production mode refuses PUBLIKUM_UNSAFE_BOOKINGS_*: they let dates be oversold."
    )

# Journeys: a webhook step posts only to https addresses that are not private, loopback or
# link-local (SSRF). For a receiver on the same machine or network in development:
# PUBLIKUM_UNSAFE_WEBHOOK_ALLOW_PRIVATE=true; production refuses it.
JOURNEYS_WEBHOOK_ALLOW_PRIVATE = env.bool("PUBLIKUM_UNSAFE_WEBHOOK_ALLOW_PRIVATE", default=False)
if PRODUCTION and JOURNEYS_WEBHOOK_ALLOW_PRIVATE:
    raise ImproperlyConfigured(
        "Production mode refuses PUBLIKUM_UNSAFE_WEBHOOK_ALLOW_PRIVATE: it lets journeys post "
        "to private addresses."
    )

# --- security and limits --------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("PUBLIKUM_MAX_BODY_BYTES", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
# Upper bound for uploads (imports); the API rejects larger bodies with 413 before reading.
MAX_UPLOAD_BYTES = env.int("PUBLIKUM_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
RATELIMIT_ENABLE = env.bool("PUBLIKUM_RATELIMIT", default=True)
TRUSTED_PROXY_COUNT = env.int("PUBLIKUM_TRUSTED_PROXY_COUNT", default=0)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "mail.log": {"level": "WARNING"},
    },
}
