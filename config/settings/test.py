"""Settings for the test suite: fast hashing, in-memory email, same database rules as production."""

from .base import *  # noqa: F403
from .base import BASE_DIR, CACHES, DATABASES, env

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's default in-memory database: tests that rent from two threads at once
    # need SQLite's real locking, which a shared in-memory database does not have.
    (BASE_DIR / ".local").mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".local" / "test-db.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
RENTDESK_TEAM_EMAIL = "team@rentdesk.example.test"
if "EMAIL_URL" not in env.ENVIRON:  # a worker started by a test sets its own (a file backend)
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PUBLIC_BASE_URL = "https://rentdesk.example.test"

if "REDIS_URL" not in env.ENVIRON:
    # Tasks queued by the code under test go nowhere unless a test runs a worker (which sets REDIS_URL).
    CELERY_BROKER_URL = "memory://"

# The simulator the tests talk to listens on loopback.
SMSONLINE_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]
# Each test process counts API requests on its own (a test asks for the limit it checks).
CACHES["api"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api"}

# Workers a test starts do the test's work only: no catalog sync of their own on start (it runs for
# half a minute and would hold their shutdown). tests/admin/test_daily_use.py runs that task directly.
RENTDESK_REFRESH_ON_WORKER_START = env.bool("RENTDESK_REFRESH_ON_WORKER_START", default=False)
