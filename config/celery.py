"""The Celery app: Redis broker, settings under CELERY_*, tasks found in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import worker_ready

# Like wsgi.py: a worker started without the variable must not run on development settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("rentdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def refresh_stale_provider_data(sender: object, **kwargs: object) -> None:
    """A worker that starts asks for whatever provider data is stale (prices, stock, balances)."""
    app.send_task("rentals.tasks.refresh_stale_provider_data")
