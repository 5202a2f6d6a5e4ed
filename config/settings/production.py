"""Production: no development default is accepted for a secret or for the hosts served.

Rentdesk runs behind a TLS proxy (nginx in deploy/nginx/): HTTPS is enforced here by default, and
the proxy's X-Forwarded-Proto header is believed only when DJANGO_TRUST_X_FORWARDED_PROTO says a
proxy sets it (otherwise any client could claim to be on HTTPS).
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from . import readers
from .base import *  # noqa: F403
from .base import (
    INSECURE_DEV_ENCRYPTION_KEY,
    INSECURE_DEV_SECRET_KEY,
    MIDDLEWARE,
    SECRET_KEY_FALLBACKS,
    SMSONLINE_ALLOWED_HOSTS,
    env,
)

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
API_KEY_ENCRYPTION_KEYS = readers.fernet_keys(env, "API_KEY_ENCRYPTION_KEYS")
DATABASES = {"default": readers.database(env, "DATABASE_URL")}
# Each gunicorn thread keeps its connection between requests (checked before reuse) instead of
# opening one per webhook.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
PUBLIC_BASE_URL = readers.http_url(env, "PUBLIC_BASE_URL", base_only=True).rstrip("/")
SMSONLINE_API_URL = readers.http_url(env, "SMSONLINE_API_URL", default="https://api.sms.online/stubs/handler_api.php")

if SECRET_KEY == INSECURE_DEV_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a random string of 50+ characters.")
if any(old == INSECURE_DEV_SECRET_KEY or len(old) < 50 for old in SECRET_KEY_FALLBACKS):
    # An old key still signs in whoever holds a session made with it: it must have been a real one.
    raise ImproperlyConfigured("Each of DJANGO_SECRET_KEY_FALLBACKS must be a former key of 50+ random characters.")
if not PUBLIC_BASE_URL.startswith("https://"):
    # Webhook URLs carry each rental's secret token: never over plain http.
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be an https:// URL in production.")
SMSONLINE_REQUIRE_HTTPS = True
RENTDESK_REQUIRE_2FA = env.bool("RENTDESK_REQUIRE_2FA", default=True)
_allowed_by_name = {host.strip("[]").lower() for host in SMSONLINE_ALLOWED_HOSTS}
if not SMSONLINE_API_URL.startswith("https://") and urlsplit(SMSONLINE_API_URL).hostname not in _allowed_by_name:
    # Plain http is left for an allowed host, which accounts may reach only on this machine's loopback.
    raise ImproperlyConfigured("SMSONLINE_API_URL must be an https:// URL in production: the API key travels in it.")
if TELEGRAM_BOT_TOKEN and not TELEGRAM_API_URL.startswith("https://"):
    raise ImproperlyConfigured("TELEGRAM_API_URL must be an https:// URL in production: the bot token travels in it.")
if INSECURE_DEV_ENCRYPTION_KEY in API_KEY_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("API_KEY_ENCRYPTION_KEYS must not contain the development key.")

# --- HTTPS behind a proxy ------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Probes on the host itself (systemd, monitoring) ask gunicorn over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# The directive alone commits nothing: a domain enters browsers' preload list only when its owner
# submits the bare domain, which Rentdesk never serves.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if env.bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Whose failed logins count together (django-axes): the address the proxy appended to
# X-Forwarded-For, rather than the proxy's own (rentals/client_address.py).
RENTDESK_TRUST_X_FORWARDED_FOR = env.bool("DJANGO_TRUST_X_FORWARDED_FOR", default=False)

# --- Static files: collected once (collectstatic), served by gunicorn through WhiteNoise ----------
# Hashed names let browsers cache them for ever; the compressed copies are made at collectstatic.
MIDDLEWARE = [*MIDDLEWARE]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.static_files.ReleaseTolerantStaticFilesStorage"},
}

vars().update(env.email_url("EMAIL_URL"))  # production sends real mail: say where
