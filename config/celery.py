"""The Celery app: Redis broker, settings under CELERY_*, tasks found in each app's tasks.py."""

import logging
import os
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, signals, states
from django.db import close_old_connections, connections

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


# Celery's Django fixup closes every database connection before and after each task, whatever
# CONN_MAX_AGE says, so each task opened its own: on PostgreSQL a new server process, several
# milliseconds on every webhook run and every poll. Past CELERY_DB_REUSE_MAX tasks the fixup still
# closes them; between, a task's connections are handled as Django handles a request's: reused until
# CONN_MAX_AGE, checked before reuse (CONN_HEALTH_CHECKS), and closed after any error, and after any
# task that failed (a query interrupted by the soft time limit may leave its connection unusable).
@signals.task_prerun.connect
def reuse_database_connections(sender: Any = None, **kwargs: Any) -> None:
    if not getattr(sender.request, "is_eager", False):  # an eager task runs in its caller's transaction
        close_old_connections()


@signals.task_postrun.connect
def close_database_connections_after(sender: Any = None, state: str | None = None, **kwargs: Any) -> None:
    if getattr(sender.request, "is_eager", False):
        return
    if state == states.SUCCESS:
        close_old_connections()
    else:
        for connection in connections.all(initialized_only=True):
            connection.close()


@signals.before_task_publish.connect
def stamp_published_at(headers: dict[str, object] | None = None, **kwargs: Any) -> None:
    """When each task message was sent: /metrics reports how long the oldest in each queue has waited."""
    from rentals.metrics import message_stamped

    message_stamped(headers)


@signals.celeryd_after_setup.connect
def log_worker_start(sender: str, instance: Any, **kwargs: Any) -> None:
    log_start("worker", list(instance.app.amqp.queues.consume_from))


@signals.beat_init.connect
def log_beat_start(sender: Any, **kwargs: Any) -> None:
    from rentals.queues import BACKGROUND_QUEUE, URGENT_QUEUE

    # Beat consumes nothing: these are the queues it sends the scheduled tasks to.
    log_start("beat", [BACKGROUND_QUEUE, URGENT_QUEUE])


@signals.worker_ready.connect
def refresh_stale_provider_data(sender: object, **kwargs: object) -> None:
    """A background worker that starts asks for whatever provider data is stale (prices, stock,
    balances): that work is its own, and the urgent worker, started beside it, would only ask twice."""
    from django.conf import settings

    background = app.conf.task_default_queue in app.amqp.queues.consume_from
    if settings.RENTDESK_REFRESH_ON_WORKER_START and background:
        app.send_task("rentals.tasks.refresh_stale_provider_data")
