"""The Celery app: Redis broker, settings under CELERY_*, tasks found in each app's tasks.py."""

import logging
import os
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, signals

# Like wsgi.py: a worker started without the variable must not run on development settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("rentdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("rentdesk.startup")


def broker_location(url: str) -> str:
    """The broker's scheme, host, port and database: never its user or password."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def log_start(role: str, queues: list[str]) -> None:
    """One line that says which configuration a process runs: the first thing to read in its log."""
    logger.info(
        "Rentdesk %s starting: settings %s, broker %s, queues %s",
        role,
        os.environ["DJANGO_SETTINGS_MODULE"],
        broker_location(app.conf.broker_url),
        ", ".join(sorted(queues)),
    )


@signals.celeryd_after_setup.connect
def log_worker_start(sender: str, instance: Any, **kwargs: Any) -> None:
    log_start("worker", list(instance.app.amqp.queues.consume_from))


@signals.beat_init.connect
def log_beat_start(sender: Any, **kwargs: Any) -> None:
    # Beat consumes nothing: these are the queues it sends the scheduled tasks to.
    log_start("beat", [app.conf.task_default_queue])


@signals.worker_ready.connect
def refresh_stale_provider_data(sender: object, **kwargs: object) -> None:
    """A worker that starts asks for whatever provider data is stale (prices, stock, balances)."""
    from django.conf import settings

    if settings.RENTDESK_REFRESH_ON_WORKER_START:
        app.send_task("rentals.tasks.refresh_stale_provider_data")
