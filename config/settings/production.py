"""Production: no development default is accepted for a secret or for the hosts served."""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from . import readers
from .base import *  # noqa: F403
from .base import INSECURE_DEV_ENCRYPTION_KEY, INSECURE_DEV_SECRET_KEY, SMSONLINE_ALLOWED_HOSTS, env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
API_KEY_ENCRYPTION_KEYS = readers.fernet_keys(env, "API_KEY_ENCRYPTION_KEYS")
DATABASES = {"default": env.db("DATABASE_URL")}
PUBLIC_BASE_URL = readers.http_url(env, "PUBLIC_BASE_URL", base_only=True).rstrip("/")
SMSONLINE_API_URL = readers.http_url(env, "SMSONLINE_API_URL", default="https://api.sms.online/stubs/handler_api.php")

if SECRET_KEY == INSECURE_DEV_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a random string of 32+ characters.")
if not PUBLIC_BASE_URL.startswith("https://"):
    # Webhook URLs carry each rental's secret token: never over plain http.
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be an https:// URL in production.")
SMSONLINE_REQUIRE_HTTPS = True
RENTDESK_REQUIRE_2FA = env.bool("RENTDESK_REQUIRE_2FA", default=True)
_allowed_by_name = {host.strip("[]").lower() for host in SMSONLINE_ALLOWED_HOSTS}
if not SMSONLINE_API_URL.startswith("https://") and urlsplit(SMSONLINE_API_URL).hostname not in _allowed_by_name:
    # Plain http is left for an allowed host, which accounts may reach only on this machine's loopback.
    raise ImproperlyConfigured("SMSONLINE_API_URL must be an https:// URL in production: the API key travels in it.")
if INSECURE_DEV_ENCRYPTION_KEY in API_KEY_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("API_KEY_ENCRYPTION_KEYS must not contain the development key.")

SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
vars().update(env.email_url("EMAIL_URL"))  # production sends real mail: say where
