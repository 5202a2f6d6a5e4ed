"""The catalog sync at provider scale: 180 countries at nine rent times, against a simulator in its own
process offering as many (``runsimulator --countries 180``), over real HTTP.

The tasks run here one after the other as a worker runs them: ``rentals.tasks.sync_catalog``, then each
task it queues (heard as Celery publishes it), each timed from start to end. Targets:
- no task holds a worker long: the longest at the default pace (SMSONLINE_POLL_RATE, 2/s) under 10 s;
- a sync asked for while one runs does nothing;
- the first pass asks each country at each rent time once, 180 x 9 requests, although its worker
  "dies" after the first tasks and a new sync takes the pass over once the dead run's lease lapses;
- a second pass over an unchanged catalog writes no offer row (each offer's reading time is set
  in one statement per country and rent time).
Only the first tasks run at the default pace (a whole pass takes 13.5 minutes at 2/s); the rest of
the pass, and the second pass, run at FAST_RATE.

Run: .venv/bin/python bench/catalog_sync.py   (BENCH_DATABASE_URL=postgres://... for PostgreSQL)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from _setup import django_on_scratch_database, finish, note, report, sized

from harness.servers import simulator_process

COUNTRIES = 180
RENT_TIMES = 9
TASKS_AT_DEFAULT_PACE = sized(10, 3)
TASKS_BESIDE_POLLING = sized(4, 2)
DEFAULT_RATE = 2.0
FAST_RATE = 500.0
MAX_TASK_SECONDS = 10.0
API_KEY = "bench-catalog-key-0123456789"


@contextmanager
def simulator() -> Iterator[str]:
    """A simulator in its own process offering COUNTRIES countries; its handler_api.php URL."""
    with simulator_process("--countries", str(COUNTRIES)) as base:
        yield base + "/stubs/handler_api.php"


class Worker:
    """Runs the tasks the code queues, in this process, one after the other, each timed."""

    def __init__(self) -> None:
        from celery.signals import after_task_publish

        self.queued: list[tuple[str, list[object]]] = []
        self.seconds: list[float] = []
        after_task_publish.connect(self._heard, weak=False)

    def _heard(self, sender: str, body: tuple, **kwargs: object) -> None:
        self.queued.append((sender, list(body[0])))

    def run(self, name: str, args: list[object] | None = None) -> object:
        import rentals.tasks  # noqa: F401 - registers the tasks
        from config.celery import app

        started = time.perf_counter()
        result = app.tasks[name](*(args or []))
        self.seconds.append(time.perf_counter() - started)
        return result

    def run_queued(self, *, at_most: int | None = None) -> None:
        """The queued tasks in order, and those they queue, until none is left (or ``at_most`` ran)."""
        ran = 0
        while self.queued and (at_most is None or ran < at_most):
            self.run(*self.queued.pop(0))
            ran += 1


def catalog(api_url: str) -> list[int]:
    """The account and the active countries: the simulator's COUNTRIES. Their provider ids."""
    from rentals.models import Country, ProviderAccount

    offered = requests.post(api_url.replace("/stubs/handler_api.php", "/_control/countries"),
                            json={"count": COUNTRIES}, timeout=10).json()["countries"]  # fmt: skip
    Country.objects.bulk_create([Country(provider_id=pid, name=f"Country {pid}") for pid in offered],
                                ignore_conflicts=True)  # fmt: skip
    Country.objects.update(is_active=True)
    account = ProviderAccount(name="Bench", api_url=api_url)
    account.set_api_key(API_KEY)
    account.save()
    return offered


def price_requests(api_url: str) -> list[tuple[str, str]]:
    received = requests.get(api_url.replace("/stubs/handler_api.php", "/_control/requests"), timeout=30).json()
    return [(r["country"], r["rent_time"]) for r in received if r["action"] == "getRentPrices"]


@contextmanager
def offer_writes() -> Iterator[Counter]:
    """Counts the statements that write offers: those that only set the reading time, and the others."""
    from django.db import connection

    counts: Counter = Counter()

    def count(execute: Callable, sql: str, params: object, many: bool, context: dict) -> object:
        if sql.startswith(('INSERT INTO "rentals_offer"', 'UPDATE "rentals_offer"', 'DELETE FROM "rentals_offer"')):
            counts["reading time" if sql.startswith('UPDATE "rentals_offer" SET "checked_at" =') else "other"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield counts


@contextmanager
def polling_takes_every_moment() -> Iterator[None]:
    """Rentals awaiting a code book every moment of the account, as polling does when more of them
    await a code than its rate can poll: the sync's requests give way, for a while each."""
    from django.db import connection

    from rentals.models import ProviderAccount
    from rentals.services.pacing import account_pacing

    pacing, stop = account_pacing(ProviderAccount.objects.get().pk), threading.Event()

    def book() -> None:
        while not stop.is_set():
            pacing.wait(urgent=True)
        connection.close()

    thread = threading.Thread(target=book)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def first_tasks(worker: Worker, api_url: str) -> None:
    """The first tasks at the default pace, alone on the account and then beside busy polling."""
    from django.conf import settings

    settings.SMSONLINE_POLL_RATE = DEFAULT_RATE
    worker.run("rentals.tasks.sync_catalog")
    worker.run_queued(at_most=TASKS_AT_DEFAULT_PACE)
    alone = max(worker.seconds)
    report(
        f"catalog sync, {COUNTRIES} countries: the longest task at {DEFAULT_RATE:g} requests/s",
        f"{alone:.1f} s (over {len(worker.seconds)} tasks, {len(price_requests(api_url))} requests)",
        f"< {MAX_TASK_SECONDS:g} s",
        alone < MAX_TASK_SECONDS,
    )
    ran_before, asked_before = len(worker.seconds), len(price_requests(api_url))
    with polling_takes_every_moment():
        worker.run_queued(at_most=TASKS_BESIDE_POLLING)
    beside = max(worker.seconds[ran_before:])
    report(
        "catalog sync: the longest task while polling takes every moment of the account",
        f"{beside:.1f} s (over {TASKS_BESIDE_POLLING} tasks, {len(price_requests(api_url)) - asked_before} requests)",
        f"< {MAX_TASK_SECONDS:g} s",
        beside < MAX_TASK_SECONDS,
    )


def first_pass(worker: Worker, api_url: str) -> int:
    """The first tasks at the default pace; the worker dies; a new sync takes over at FAST_RATE. The
    tasks of the run that died."""
    from django.conf import settings
    from django.utils import timezone

    from rentals.models import CatalogSync

    first_tasks(worker, api_url)
    died_after = len(worker.seconds)
    queued_before = len(worker.queued)
    answer = worker.run("rentals.tasks.sync_catalog")
    queued = len(worker.queued) - queued_before
    report("catalog sync: a second sync asked for while one runs", f"{answer!r}, queued {queued} tasks",
           "does nothing", queued == 0)  # fmt: skip
    worker.queued.clear()  # the worker dies with the next step; its run's lease lapses (RUN_LEASE later)
    CatalogSync.objects.update(leased_until=timezone.now())
    settings.SMSONLINE_POLL_RATE = FAST_RATE
    worker.run("rentals.tasks.sync_catalog")
    worker.run_queued()
    return died_after


def main() -> None:
    os.environ.pop("REDIS_URL", None)  # the test settings' in-memory broker: what is queued stays here
    django_on_scratch_database()
    logging.disable(logging.WARNING)  # a line per request otherwise, and kombu on the in-memory broker
    from rentals.models import CatalogSync

    worker = Worker()
    with simulator() as api_url:
        catalog(api_url)
        died_after = first_pass(worker, api_url)
        asked = price_requests(api_url)
        report(
            f"catalog sync: the first pass's requests, its run cut off after {died_after} tasks and taken over",
            f"{len(asked)} for {COUNTRIES} x {RENT_TIMES}, {len(asked) - len(set(asked))} asked twice",
            f"== {COUNTRIES * RENT_TIMES}, none twice",
            len(asked) == len(set(asked)) == COUNTRIES * RENT_TIMES,
        )
        first = CatalogSync.objects.get()
        started, ran_before = time.perf_counter(), len(worker.seconds)
        with offer_writes() as writes:
            worker.run("rentals.tasks.sync_catalog")
            worker.run_queued()
        second = CatalogSync.objects.get()
        seconds, tasks = time.perf_counter() - started, len(worker.seconds) - ran_before
    report(
        "catalog sync: offer rows written by a second pass, nothing changed",
        f"{second.last_pass_offers_written} (the first pass wrote {first.last_pass_offers_written}); "
        f"{writes['other']} statements writing prices or stock, {writes['reading time']} setting reading times",
        "0",
        second.last_pass_offers_written == writes["other"] == 0,
    )
    note(
        f"catalog sync: a pass at {FAST_RATE:g} requests/s",
        f"{seconds:.1f} s in {tasks} tasks ({second.last_pass_requests} requests), the longest "
        f"{max(worker.seconds[ran_before:]):.2f} s; at {DEFAULT_RATE:g}/s a pass takes "
        f"{second.last_pass_requests / DEFAULT_RATE / 60:.1f} min",
    )
    finish()


if __name__ == "__main__":
    main()
