"""Local development: everything works with no environment variables set."""

from .base import *  # noqa: F403
from .base import env

# Locally every notification shows in the worker's console output.
RENTDESK_TEAM_EMAIL = env.str("RENTDESK_TEAM_EMAIL", default="ops-team@localhost")
# ... as the email it is: Celery would otherwise log each line a task prints (the console email
# backend's output) as "WARNING celery.redirected".
CELERY_WORKER_REDIRECT_STDOUTS = False

# The shipped simulator listens on loopback.
SMSONLINE_ALLOWED_HOSTS = env.list("SMSONLINE_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "::1"])
