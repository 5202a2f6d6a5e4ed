"""gunicorn's settings for `make serve`, Procfile.production and deploy/systemd/rentdesk-web.service.

Every value can be changed from the environment, so the same command runs on a laptop, in CI and
on a server. The defaults suit 2 cores: requests mostly wait on PostgreSQL, Redis or SMS.online,
so a few threads per process serve more of them than extra processes would, in less memory.
"""

import os
from pathlib import Path

import environ

# The same environment file as Django's settings, so `RENTDESK_ENV_FILE=/etc/rentdesk/rentdesk.env
# make serve` finds WEB_BIND and the rest there too (systemd's EnvironmentFile sets them already).
environ.Env.read_env(os.environ.get("RENTDESK_ENV_FILE", str(Path(__file__).resolve().parent.parent / ".env")))


def whole_number(name: str, default: int, maximum: int) -> int:
    """A count from the environment; anything else stops gunicorn with a sentence naming the variable."""
    raw = os.environ.get(name, str(default))
    if not (raw.strip().isascii() and raw.strip().isdigit()) or not 1 <= int(raw) <= maximum:
        raise SystemExit(f"{name} must be a whole number from 1 to {maximum}, not {raw!r}.")
    return int(raw)


wsgi_app = "config.wsgi:application"
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000").split(",")
workers = whole_number("WEB_CONCURRENCY", 2, maximum=64)
threads = whole_number("WEB_THREADS", 8, maximum=256)
worker_class = "gthread"
# Connections waiting for a free thread queue here rather than being refused: a burst of webhooks
# waits a moment instead of being reset (SMS.online never sends one again).
backlog = whole_number("WEB_BACKLOG", 2048, maximum=65535)

# A SIGTERM stops accepting and lets requests in flight finish. A rent can wait on SMS.online for
# SMSONLINE_CONNECT_TIMEOUT + SMSONLINE_TIMEOUT (35 s by default), so give it more than that;
# systemd's TimeoutStopSec is longer still.
graceful_timeout = whole_number("WEB_GRACEFUL_TIMEOUT", 45, maximum=3600)
timeout = 60
keepalive = 5  # the proxy reuses its connections to gunicorn
# A unix socket (WEB_BIND=unix:...) is made for the rentdesk user and its group only: nginx joins the
# group (docs/deploy.md). gunicorn's own default, 0, lets every local user connect, and the socket's
# requests are believed about the client's address (RENTDESK_TRUSTED_PROXIES' "unix").
umask = 0o007

# Django alone decides whether a request came over HTTPS (DJANGO_TRUST_X_FORWARDED_PROTO):
# gunicorn would otherwise believe X-Forwarded-Proto from any local process.
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = ""

# Errors to stderr (the journal); the proxy keeps the access log. gunicorn writes a request's URI when
# the application fails under it ("Error handling request /hooks/sms/<token>/"): its error log passes
# through the filter Django's handlers have, which masks webhook tokens and API keys.
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "filters": {"redact_secrets": {"()": "rentals.logging.RedactSecretsFilter"}},
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr",
            "filters": ["redact_secrets"],
        },
        "nowhere": {"class": "logging.NullHandler"},
    },
    "root": {"level": loglevel.upper(), "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
        # With a logging config, gunicorn would log each request here: the proxy's access log does.
        "gunicorn.access": {"handlers": ["nowhere"], "propagate": False},
    },
}  # fmt: skip
proc_name = "rentdesk-web"
# Where the master's pid is kept, for `make reload` (scripts/reload_web.py); unset: not written.
pidfile = os.environ.get("WEB_PIDFILE") or None
# gunicorn's runtime control socket sits at one path per user: several gunicorns on a host (web
# processes, tests) would take it from each other, and nothing here uses it.
control_socket_disable = True
