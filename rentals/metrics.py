"""Rentdesk's figures for Prometheus (/metrics): how long SMS take, how deep the queues are, how
SMS.online answers, what the rents cost.

Events (an SMS made from a webhook, a provider call) are counted in Redis as they happen, by whichever
process saw them, so every web and worker on every host adds to one set of figures and a restart loses
none of them. Facts the database holds already (rent attempts, spend, balances) are read from it at
each scrape, and the queues from the broker. prometheus-client writes the text format.

Counting is best effort: when Redis does not answer, a count is lost, never an SMS or a request, and
the process leaves Redis alone for a few seconds rather than wait on it at every event.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import cache
from queue import Queue

import redis
from django.conf import settings
from django.db import DatabaseError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from . import selectors
from .queues import BACKGROUND_QUEUE, URGENT_QUEUE

logger = logging.getLogger(__name__)

PREFIX = "rentdesk:metrics:"
# From a webhook's arrival: the 200 is answered once it is stored, and a person's open page shows the
# SMS within its 1.5-s check of it being made. Past a minute, the SMS waited on something.
SMS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf)
WEBHOOK_STORED = "webhook_stored_seconds"
WEBHOOK_ON_SCREEN = "webhook_on_screen_seconds"
PROVIDER_CALLS = "provider_calls"

# Set by Celery's before_task_publish (config/celery.py) on every task message, so a scrape can tell how
# long the oldest one has waited in its queue.
PUBLISHED_AT_HEADER = "rentdesk_published_at"
QUEUES = (URGENT_QUEUE, BACKGROUND_QUEUE)
# kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in lists of their own.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")

# After Redis failed to take a count, how long this process leaves it alone.
QUIET_AFTER_FAILURE = 10.0
_quiet_until = 0.0
_quiet_lock = threading.Lock()


@cache
def _redis(url: str) -> redis.Redis:
    # Short timeouts, as Rentdesk's other Redis calls on the SMS path: the event being counted matters,
    # its count does not (and a busy Redis must not silence a process's counts for QUIET_AFTER_FAILURE).
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _counted(write: Callable[[redis.client.Pipeline], object]) -> None:
    """Run ``write`` on a pipeline to Redis, unless Redis failed moments ago; a failure is logged once."""
    global _quiet_until
    if time.monotonic() < _quiet_until:
        return
    try:
        with _redis(settings.REDIS_URL).pipeline(transaction=False) as pipe:
            write(pipe)
            pipe.execute()
    except redis.RedisError as error:
        with _quiet_lock:
            _quiet_until = time.monotonic() + QUIET_AFTER_FAILURE
        logger.warning("metrics not counted for %.0f s: Redis did not answer (%s)", QUIET_AFTER_FAILURE, error)


def _observe(pipe: redis.client.Pipeline, name: str, seconds: float) -> None:
    seconds = max(seconds, 0.0)
    bucket = next(bound for bound in SMS_BUCKETS if seconds <= bound)
    key = PREFIX + name
    pipe.hincrby(key, f"le:{bucket}", 1)
    pipe.hincrby(key, "count", 1)
    pipe.hincrbyfloat(key, "sum", seconds)


def webhook_sms_made(*, received_at: datetime, stored_at: datetime | None, made_at: datetime) -> None:
    """An SMS made from a webhook delivery: how long it took from arrival to stored and to the screen."""

    def write(pipe: redis.client.Pipeline) -> None:
        if stored_at is not None:
            _observe(pipe, WEBHOOK_STORED, (stored_at - received_at).total_seconds())
        _observe(pipe, WEBHOOK_ON_SCREEN, (made_at - received_at).total_seconds())

    _counted(write)


def provider_call_answered(*, account: str, action: str, outcome: str) -> None:
    """A request sent to SMS.online (or that could not reach it) and what came of it: OK or a token.

    Counted by this process's counting thread: the call is made for a person who waits (a rent, an
    extension, a finish), and its answer is still to be recorded when this is called."""
    field = json.dumps([account, action, outcome])
    _later.put(lambda pipe: pipe.hincrby(PREFIX + PROVIDER_CALLS, field, 1))


class _CountedLater:
    """Counts handed to a thread of this process, which writes them to Redis as ``_counted`` does, a
    few times a second, so that whoever counts never waits on Redis (nor wakes the thread). A scrape
    answered by this process, and its exit, first let it write what it holds (``written``). Started
    in each process that counts (a forked worker starts its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: Queue[Callable[[redis.client.Pipeline], object]] = Queue()
        self._now = threading.Event()

    def put(self, write: Callable[[redis.client.Pipeline], object]) -> None:
        if self._pid != os.getpid():
            self._start()
        self._queue.put(write)

    def written(self, *, within: float) -> None:
        """Wait, at most ``within`` seconds, until every count handed over so far is written (or given up)."""
        if self._pid != os.getpid():
            return  # this process has counted nothing (a forked one's copy holds its parent's counts)
        self._now.set()
        with self._queue.all_tasks_done:
            self._queue.all_tasks_done.wait_for(lambda: not self._queue.unfinished_tasks, timeout=within)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # A forked process's copies hold its parent's counts, which the parent writes.
            self._queue, self._now = Queue(), threading.Event()
            thread = threading.Thread(target=self._write, args=(self._queue, self._now), daemon=True)
            thread.start()
            self._pid = os.getpid()

    @staticmethod
    def _write(counts: Queue[Callable[[redis.client.Pipeline], object]], now: threading.Event) -> None:
        while True:
            now.wait(COUNTS_WRITTEN_EVERY)
            now.clear()
            while not counts.empty():
                write = counts.get()
                try:
                    _counted(write)
                except Exception:  # a count is best effort: never the thread's end
                    logger.exception("metrics: a count could not be written")
                finally:
                    counts.task_done()


# How often the counting thread writes what it was handed.
COUNTS_WRITTEN_EVERY = 0.25
_later = _CountedLater()
# What the counting thread still holds at exit is written first (at most this long).
WRITTEN_AT_EXIT_SECONDS = 2.0
atexit.register(lambda: _later.written(within=WRITTEN_AT_EXIT_SECONDS))


# --- the scrape ----------------------------------------------------------------------------------


CONTENT_TYPE = CONTENT_TYPE_LATEST


def exposition() -> bytes:
    """Every figure, in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RentdeskCollector())
    return generate_latest(registry)


class _RentdeskCollector:
    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("rentdesk_build_info", "The running Rentdesk's version.", labels=["version"])
        info.add_metric([settings.RENTDESK_VERSION], 1)
        yield info
        yield from _part("rentdesk_database_up", "1 when the database answered this scrape.", _database_figures,
                         failures=(DatabaseError,))  # fmt: skip
        # ValueError: a broker URL that is not Redis's.
        yield from _part("rentdesk_redis_up", "1 when Redis (broker and counts) answered this scrape.",
                         lambda: [*_counts(), *_queues()], failures=(redis.RedisError, ValueError))  # fmt: skip


def _part(
    name: str, documentation: str, read: Callable[[], Iterable[Metric]], *, failures: tuple[type[Exception], ...]
) -> Iterator[Metric]:
    """Whether a part answered (gauge ``name``), then what ``read`` read from it: nothing when it did not,
    so that a database or a Redis away leaves the other's figures served."""
    up = GaugeMetricFamily(name, documentation)
    try:
        figures = list(read())
    except failures as error:
        logger.warning("metrics: %s is 0: %s", name, type(error).__name__)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    yield from figures


def _database_figures() -> Iterator[Metric]:
    attempts = CounterMetricFamily(
        "rentdesk_rent_attempts", "Rent attempts by state, and SMS.online's token where it refused.",
        labels=["state", "token"],
    )  # fmt: skip
    for row in selectors.rent_attempts_by_outcome():
        attempts.add_metric([row.state, row.token], row.count)
    yield attempts
    spend = GaugeMetricFamily(
        "rentdesk_account_spend_usd", "Paid to SMS.online for rents and extensions, refunds deducted (USD).",
        labels=["account"],
    )  # fmt: skip
    balance = GaugeMetricFamily(
        "rentdesk_account_balance_usd", "The balance SMS.online last reported (USD).", labels=["account"]
    )
    for account in selectors.accounts_for_metrics():
        spend.add_metric([account.name], float(account.spend))
        if account.balance is not None:
            balance.add_metric([account.name], float(account.balance))
    yield from (spend, balance)
    unprocessed = selectors.webhook_deliveries_unprocessed()
    yield GaugeMetricFamily(
        "rentdesk_webhook_deliveries_unprocessed", "Webhook deliveries stored and not yet made into an SMS.",
        value=unprocessed,
    )  # fmt: skip


def _counts() -> Iterator[Metric]:
    _later.written(within=1.0)  # what this process counted moments ago is in the figures
    client = _redis(settings.REDIS_URL)
    with client.pipeline(transaction=False) as pipe:
        for name in (WEBHOOK_STORED, WEBHOOK_ON_SCREEN, PROVIDER_CALLS):
            pipe.hgetall(PREFIX + name)
        stored, on_screen, calls = pipe.execute()
    yield _histogram("rentdesk_" + WEBHOOK_STORED, "From a webhook's arrival until the database held it.", stored)
    yield _histogram(
        "rentdesk_" + WEBHOOK_ON_SCREEN, "From a webhook's arrival until its SMS was made, for the screen.", on_screen
    )
    family = CounterMetricFamily(
        "rentdesk_provider_calls", "Requests to SMS.online by account, action and outcome (OK or its token).",
        labels=["account", "action", "outcome"],
    )  # fmt: skip
    for field, count in sorted(calls.items()):
        family.add_metric(json.loads(field), int(count))
    yield family


def _histogram(name: str, documentation: str, fields: dict[bytes, bytes]) -> HistogramMetricFamily:
    counted = {key.decode(): value.decode() for key, value in fields.items()}
    cumulative, buckets = 0, []
    for bound in SMS_BUCKETS:
        cumulative += int(counted.get(f"le:{bound}", 0))
        buckets.append(("+Inf" if bound == math.inf else str(bound), cumulative))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=float(counted.get("sum", 0)))


def _queues() -> Iterator[Metric]:
    depth = GaugeMetricFamily("rentdesk_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"])
    oldest = GaugeMetricFamily(
        "rentdesk_queue_oldest_task_age_seconds", "How long the oldest task waiting in each queue has waited.",
        labels=["queue"],
    )  # fmt: skip
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)
    now = time.time()
    for queue in QUEUES:
        waiting, published = _queue_read(client, queue)
        depth.add_metric([queue], waiting)
        oldest.add_metric([queue], max(now - min(published), 0.0) if published else 0.0)
    yield from (depth, oldest)


def _queue_read(client: redis.Redis, queue: str) -> tuple[int, list[float]]:
    """How many tasks wait in ``queue``, and when the oldest of each of its lists was published."""
    keys = [queue + suffix for suffix in _PRIORITY_SUFFIXES]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
            pipe.lindex(key, -1)  # kombu pushes on the left and takes from the right: the oldest
        answers = pipe.execute()
    lengths, tails = answers[0::2], answers[1::2]
    return sum(lengths), [at for at in (_published_at(tail) for tail in tails) if at is not None]


def _published_at(message: bytes | None) -> float | None:
    if message is None:
        return None
    try:
        return float(json.loads(message)["headers"][PUBLISHED_AT_HEADER])
    except (ValueError, KeyError, TypeError):  # sent before this header was set, or not Celery's
        return None


def message_stamped(headers: dict[str, object] | None) -> None:
    """Mark a task message with when it was published (Celery's before_task_publish)."""
    if headers is not None:
        headers.setdefault(PUBLISHED_AT_HEADER, time.time())
