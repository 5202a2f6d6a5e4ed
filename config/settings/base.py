"""Settings shared by every environment; each value comes from the environment (django-environ).

Local use needs no variables at all: every setting has a development default here, and
``config.settings.production`` refuses to start where a default would be unsafe.
"""

import tomllib
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES
from django.core.exceptions import ImproperlyConfigured

from rentals import queues

from . import readers

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# Variables already in the environment win over the file; RENTDESK_ENV_FILE points elsewhere (/dev/null:
# no file, as under systemd, whose EnvironmentFile sets the variables).
ENV_FILE = env.str("RENTDESK_ENV_FILE", default="")
if ENV_FILE and not Path(ENV_FILE).exists():
    # A typo would otherwise show as whichever required setting the file holds ("Set DJANGO_SECRET_KEY").
    raise ImproperlyConfigured(f"RENTDESK_ENV_FILE names {ENV_FILE}, which does not exist.")
environ.Env.read_env(ENV_FILE or str(BASE_DIR / ".env"))

# Development-only secrets: public, so production rejects them (see production.py).
INSECURE_DEV_SECRET_KEY = "django-insecure-rentdesk-local-development-only"
INSECURE_DEV_ENCRYPTION_KEY = "cmVudGRlc2stbG9jYWwtZGV2LW9ubHkta2V5LTMyYiE="

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_DEV_SECRET_KEY)
# Old keys after a rotation (docs/deploy.md, "Rotating the keys"): what was signed with them (sessions,
# password-reset links, auto-renew's nonces) stays valid until they are removed from the list.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
# This release (pyproject.toml; CHANGELOG.md says what each one changed): on /healthz and in the admin.
with (BASE_DIR / "pyproject.toml").open("rb") as _project:
    RENTDESK_VERSION = tomllib.load(_project)["project"]["version"]
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "simple_history",
    "import_export",
    "rangefilter",
    "config.apps.LoginSecurityConfig",  # django-axes, named in the reader's language
    "django_otp",
    "config.apps.AuthenticatorsConfig",  # django_otp.plugins.otp_totp, likewise
    "ninja",  # serves the API's documentation page from its own static files, nothing from a CDN
    "csp",
    "rentals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads a query string or a form: a charset that is not text is answered 415.
    "rentals.middleware.TextCharsetsOnlyMiddleware",
    "rentals.middleware.UserTimezoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "rentals.middleware.UnstorableInputMiddleware",
    "rentals.middleware.AdminListInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "rentals.two_factor.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login attempt itself.
    "axes.middleware.AxesMiddleware",
]

# --- Content-Security-Policy (django-csp) -------------------------------------------------------
# Scripts and stylesheets come from this site's own static files, never from a page: an injected
# <script>, onclick= or style= runs nowhere. django-admin-rangefilter's date filter writes its
# script and style inline with the request's nonce (request.csp_nonce), which the header then names;
# django-import-export's export form carries an onchange handler and two style attributes, each
# allowed by its hash alone ('unsafe-hashes' allows no other attribute).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # onchange="onSelectToggleChange(event)"
        "script-src": [SELF, NONCE, UNSAFE_HASHES, "'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='"],
        "style-src": [SELF, NONCE, UNSAFE_HASHES,
                      "'sha256-mHgUAqxc8GPXM/QhzkHrHujcrQTU9fd6ZjWz+icxKcA='",  # style="padding: 0;"
                      "'sha256-+YWRMZ88jMyO7jVlBA52tZADiPobPIUA8LAWee68Fvs='"],  # style="font-weight: bold;"
        "img-src": [SELF, "data:"],  # the admin's and Swagger UI's icons are data: URLs
        "worker-src": [SELF],  # the code finder's clock (static/rentals/code_finder_timer.js)
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}  # fmt: skip

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": readers.database(env, "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes counts failed logins first; a locked-out username never reaches the password check.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The admin speaks the browser's language, or the one a user picks in the header.
LANGUAGES = [("en", "English"), ("uk", "Українська")]
# The team's language: reminders, alerts and forwarded SMS are written in it (rentals/wording/notices.py), and
# the admin speaks it to a browser that asks for neither of the two.
LANGUAGE_CODE = readers.language(env, "RENTDESK_LANGUAGE", default="en", languages=LANGUAGES)
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and times written one way on every page, and our corrections to a language's formats
# (config/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# Anyone who may view the inventory may export what they see.
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# History is a record: nobody reverts it from the admin.
SIMPLE_HISTORY_REVERT_DISABLED = True

STATIC_URL = "static/"
# Where collectstatic gathers the files gunicorn serves in production (WhiteNoise).
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / ".local" / "static")))

# --- Logins ----------------------------------------------------------------------------------
# After this many failed logins for one username from one address, that pair is locked out for a
# while (django-axes; Access attempts in the admin lists lockouts, and deleting one lifts it): a
# colleague signing in from elsewhere is not locked out with the one guessing. Behind a proxy the
# address is the one the proxy saw (rentals/client_address.py, DJANGO_TRUST_X_FORWARDED_FOR).
AXES_FAILURE_LIMIT = readers.whole_number(env, "RENTDESK_LOGIN_FAILURE_LIMIT", default=5, maximum=100)
AXES_COOLOFF_TIME = timedelta(
    minutes=readers.whole_number(env, "RENTDESK_LOGIN_LOCKOUT_MINUTES", default=15, maximum=7 * 24 * 60)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["otp_token"]
AXES_CLIENT_IP_CALLABLE = "rentals.client_address.client_address"
RENTDESK_TRUST_X_FORWARDED_FOR = False  # production reads it from the environment
# Whose X-Forwarded-For is believed: the proxy's own address (nginx on this host by default), and
# "unix" for gunicorn's unix socket, which only local processes reach. A request straight to gunicorn
# from anywhere else counts by its own address, whatever header it sends.
RENTDESK_TRUSTED_PROXIES = readers.proxy_addresses(
    env, "RENTDESK_TRUSTED_PROXIES", default=["127.0.0.1", "::1", "unix"]
)
# Two-factor sign-in (TOTP) for staff who may rent, extend or change keys: on by default in
# production; anyone can turn it on for themselves from the admin header.
RENTDESK_REQUIRE_2FA = env.bool("RENTDESK_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = "Rentdesk"
# Nobody reads another person's secret from the admin (its QR code pages answer 403).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- SMS.online -------------------------------------------------------------------------------
# The handler_api.php URL given to new accounts; each account keeps its own copy.
# Locally `make run` serves the web app on WEB_PORT and the simulator on SIMULATOR_PORT.
WEB_PORT = env.int("WEB_PORT", default=8000)
SIMULATOR_PORT = env.int("SIMULATOR_PORT", default=8001)
SMSONLINE_API_URL = readers.http_url(
    env, "SMSONLINE_API_URL", default=f"http://127.0.0.1:{SIMULATOR_PORT}/stubs/handler_api.php"
)
SMSONLINE_CONNECT_TIMEOUT = readers.seconds(env, "SMSONLINE_CONNECT_TIMEOUT", default=5.0)
SMSONLINE_TIMEOUT = readers.seconds(env, "SMSONLINE_TIMEOUT", default=30.0)
# Hosts an API URL may name although they resolve to loopback, private or link-local addresses
# (every other such URL is refused: an API key must not reach whatever listens there).
SMSONLINE_ALLOWED_HOSTS = env.list("SMSONLINE_ALLOWED_HOSTS", default=[])
# API keys travel in the query string: production sends them over https only.
SMSONLINE_REQUIRE_HTTPS = False
# Status polls per second per account: the provider has an unpublished rate limit.
SMSONLINE_POLL_RATE = readers.per_second(env, "SMSONLINE_POLL_RATE", default=2.0)

# The provider writes naive timestamps (endDate, ban times) in its own timezone.
PROVIDER_TIMEZONE = readers.timezone_name(env, "PROVIDER_TIMEZONE", default="UTC")

# Where SMS.online can reach this deployment; per-rental webhook URLs start with it.
PUBLIC_BASE_URL = readers.http_url(
    env, "PUBLIC_BASE_URL", default=f"http://127.0.0.1:{WEB_PORT}", base_only=True
).rstrip("/")

# Fernet keys that encrypt provider API keys at rest, comma separated: the first encrypts, all
# decrypt, so a key can be rotated by putting the new one first (then `manage.py rotate_api_keys`).
API_KEY_ENCRYPTION_KEYS = readers.fernet_keys(env, "API_KEY_ENCRYPTION_KEYS", default=[INSECURE_DEV_ENCRYPTION_KEY])

# --- Notifications ---------------------------------------------------------------------------
# EMAIL_URL: smtp://user:password@host:587 (use +tls), consolemail:// (the local default), ...
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Rentdesk <rentdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The team's address: every expiry reminder and account alert goes there too.
RENTDESK_TEAM_EMAIL = env.str("RENTDESK_TEAM_EMAIL", default="")
# Chat channels as apprise URLs, comma separated: slack://..., tgram://bot-token/chat-id, ...
RENTDESK_CHAT_URLS = env.list("RENTDESK_CHAT_URLS", default=[])
# Where each incoming SMS is forwarded unless its rental or its assignee chose otherwise: apprise URLs.
RENTDESK_SMS_CHAT_URLS = env.list("RENTDESK_SMS_CHAT_URLS", default=[])
# Chat posts never go to loopback, private, link-local, multicast or reserved addresses, except to the
# hosts named here (a team's own chat server): names, addresses or networks, comma separated.
RENTDESK_CHAT_ALLOWED_HOSTS = readers.host_allowances(env, "RENTDESK_CHAT_ALLOWED_HOSTS")
# A chat service that is down is tried again after 10 s, 20 s, 40 s... (at most 10 minutes apart),
# and given up on after this many attempts (about 40 minutes with the defaults).
RENTDESK_SMS_FORWARD_RETRY_SECONDS = readers.seconds(env, "RENTDESK_SMS_FORWARD_RETRY_SECONDS", default=10.0)
RENTDESK_SMS_FORWARD_ATTEMPTS = readers.positive_int(env, "RENTDESK_SMS_FORWARD_ATTEMPTS", default=10, maximum=50)
# Hours before the end date at which a reminder goes out.
RENTDESK_REMINDER_HOURS = readers.positive_hours(env, "RENTDESK_REMINDER_HOURS", default=[72, 24, 2])

# --- Telegram ------------------------------------------------------------------------------------
# The team's bot, made with @BotFather (docs/telegram.md); empty: no bot, no "Connect Telegram".
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
# The Bot API's address: Telegram's, or the simulator's stand-in (`make run`, the tests).
TELEGRAM_API_URL = readers.http_url(env, "TELEGRAM_API_URL", default="https://api.telegram.org", base_only=True).rstrip(
    "/"
)
# Renting from the bot (people with the rent permission, a confirm button, the same budgets and records).
RENTDESK_TELEGRAM_RENT = env.bool("RENTDESK_TELEGRAM_RENT", default=False)

# --- The API for scripts ------------------------------------------------------------------------
# Requests per minute per person (all their tokens together), counted in Redis so that every web
# process counts the same.
RENTDESK_API_REQUESTS_PER_MINUTE = readers.positive_int(env, "RENTDESK_API_REQUESTS_PER_MINUTE", default=120,
                                                        maximum=100_000)  # fmt: skip
# Tokens one person may have in use at once (revoked ones do not count).
RENTDESK_API_TOKENS_PER_PERSON = readers.positive_int(env, "RENTDESK_API_TOKENS_PER_PERSON", default=5, maximum=1000)
# Invalid tokens one address may send in a minute; past it, every token from it is answered 429 until
# the minute ends (answered at once: no web thread waits).
RENTDESK_API_INVALID_TOKENS_PER_MINUTE = readers.positive_int(env, "RENTDESK_API_INVALID_TOKENS_PER_MINUTE",
                                                              default=20, maximum=100_000)  # fmt: skip
# Requests each web process lets wait for an SMS at once (each holds a thread while it waits): the
# other threads stay free for webhooks and pages. Size it below gunicorn's threads per process.
RENTDESK_API_WAIT_SLOTS = readers.positive_int(env, "RENTDESK_API_WAIT_SLOTS", default=2, maximum=1000)
# Requests from the admin and the API each web process lets be at SMS.online at once (a quote, a rent,
# an extension, finish, cancel, "Check for SMS now"); the others are answered "busy, try again in N s"
# at once. With the wait slots above, keep it two below gunicorn's threads per process, so that a
# webhook and a page always find a thread whatever scripts and people do (check --deploy says so).
RENTDESK_WEB_PROVIDER_CALLS = readers.positive_int(env, "RENTDESK_WEB_PROVIDER_CALLS", default=3, maximum=1000)
# gunicorn's threads per process (config/gunicorn.py reads the same variable), for that check.
RENTDESK_WEB_THREADS = readers.positive_int(env, "WEB_THREADS", default=8, maximum=256)

# --- Webhooks while the database is away ---------------------------------------------------------
# SMS.online sends each SMS once: a webhook the database cannot store is kept in the broker's Redis,
# answered 200 and stored once the database can (rentals.tasks.store_kept_webhooks). Its token cannot
# be checked meanwhile, so at most this many deliveries and megabytes are kept; past either, 503.
RENTDESK_WEBHOOK_SPOOL_ENTRIES = readers.positive_int(env, "RENTDESK_WEBHOOK_SPOOL_ENTRIES", default=50_000,
                                                      maximum=10_000_000)  # fmt: skip
RENTDESK_WEBHOOK_SPOOL_MEGABYTES = readers.positive_int(env, "RENTDESK_WEBHOOK_SPOOL_MEGABYTES", default=64,
                                                        maximum=100_000)  # fmt: skip

# --- Retention ------------------------------------------------------------------------------
# How many days records are kept before rentals.tasks.purge_old_records (nightly) removes them; 0 or
# empty: kept forever. Webhook deliveries are the bodies as received, counted from when they became an
# SMS (one not yet processed is kept whatever its age); provider errors are the error events, except
# those of a rent attempt whose outcome is still open. The SMS themselves stay: with
# RENTDESK_KEEP_SMS_TEXT_DAYS set, the text of an older SMS is replaced by a note and its code blanked.
RENTDESK_KEEP_WEBHOOK_DELIVERIES_DAYS = readers.days_or_forever(env, "RENTDESK_KEEP_WEBHOOK_DELIVERIES_DAYS",
                                                                default=30)  # fmt: skip
RENTDESK_KEEP_PROVIDER_ERRORS_DAYS = readers.days_or_forever(env, "RENTDESK_KEEP_PROVIDER_ERRORS_DAYS", default=90)
RENTDESK_KEEP_SMS_TEXT_DAYS = readers.days_or_forever(env, "RENTDESK_KEEP_SMS_TEXT_DAYS", default=None)

# --- Monitoring ---------------------------------------------------------------------------------
# /metrics answers Prometheus only with `Authorization: Bearer <this>`; empty: /metrics is not served.
RENTDESK_METRICS_TOKEN = env.str("RENTDESK_METRICS_TOKEN", default="")

# --- Celery ----------------------------------------------------------------------------------
# Unset locally: `make run` starts a Redis on REDIS_PORT (scripts/redis_server.py).
REDIS_URL = env.str("REDIS_URL", default=f"redis://127.0.0.1:{env.int('REDIS_PORT', default=6390)}/0")
CELERY_BROKER_URL = REDIS_URL
# A starting worker reads stale prices, stock and balances at once rather than at their schedules.
RENTDESK_REFRESH_ON_WORKER_START = env.bool("RENTDESK_REFRESH_ON_WORKER_START", default=True)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # The API's request counts, shared by every process. Short timeouts: when Redis is away, a request is
    # counted by its own process ("api-process"), not held (rentals/api/security.py).
    "api": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    },
    "api-process": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api-process"},
}
# A task not acknowledged within this time is handed to another worker: every time limit below
# must stay under it, or a long task would run twice. It is also how long the tasks a dead worker
# held (SIGKILL, out of memory, a lost host) wait in Redis. It stays an hour on purpose: Redis cannot
# tell a dead worker from a busy one, so a short timeout would hand a long poll, or a retry waiting
# on its countdown, to a second worker while the first still runs it. The work itself comes back
# from the database instead, within two minutes (`make faults`, S1): a webhook delivery still
# unprocessed after 30 s is queued again (poll_sms, every 15 s), an account's polling lease lapses
# about a minute after its last request, and the periodic jobs run again on their schedule.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_DB_REUSE_MAX = 1000  # tasks between two closings by Celery itself; see config/celery.py
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves it for another (tasks are idempotent)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Two queues by urgency, each consumed by its own worker process (rentals/queues.py says which tasks go
# where; Procfile.production and docs/deploy.md start both workers).
CELERY_TASK_DEFAULT_QUEUE = queues.BACKGROUND_QUEUE
CELERY_TASK_ROUTES = queues.TASK_ROUTES
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# django-celery-beat's DatabaseScheduler behind a lock in Redis: however many beats run, one sends
# tasks, and its lock is the heartbeat /healthz reads (rentals/beat.py says why).
CELERY_BEAT_SCHEDULER = "rentals.beat:SingleBeatScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers keep the LOGGING below, whose handlers carry the API-key redaction filter.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "rentals.logging.RedactSecretsFilter"},
        "quiet_live_checks": {"()": "rentals.logging.QuietLiveChecksFilter"},
        "health_answers": {"()": "rentals.logging.HealthAnswersFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 logs every request line, query string included: the API key travels there.
        "urllib3": {"level": "WARNING"},
        # django-axes logs every sign-in at INFO; lockouts, which matter, come at WARNING.
        "axes": {"level": "WARNING"},
        # Django's own handlers (its debug console, mail_admins) would bypass the redaction filter.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # A health address's 503 is its answer (what is down), not an error of the request.
        "django.request": {"handlers": ["console"], "level": "INFO", "propagate": False, "filters": ["health_answers"]},
        # runserver's request lines, through the filter too (Django gives them a handler of their own).
        # Less the open pages' successful live checks, one every 1.5 s per page.
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["quiet_live_checks"],
        },
    },
}
